from migrations.sql import raw_sql_migration

ID = "2026-12-01T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Tokens expire and remember when they were last used; a metrics role that may read /metrics only"

SQL = r"""
ALTER TABLE api_tokens
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN last_used_at timestamptz,
    DROP CONSTRAINT api_tokens_role_check,
    ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('admin', 'bureau', 'mediator', 'court', 'metrics')),
    ADD CONSTRAINT api_tokens_expiry_check CHECK (expires_at IS NULL OR expires_at > created_at);
"""


forwards = raw_sql_migration(ID, DESCRIPTION, SQL)
