from migrations.sql import raw_sql_migration

ID = "2026-12-01T13:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "/metrics counts dead deliveries from an index, not a scan of every delivery ever sent"

SQL = r"""
CREATE INDEX webhook_outbox_dead_idx ON webhook_outbox (dead_at) WHERE status = 'dead';
"""

forwards = raw_sql_migration(ID, DESCRIPTION, SQL)
