from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-12-01T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Sign-in sessions for the pages, lockout after failed sign-ins, the shared page secret"

SQL = r"""
-- a session is stored by the SHA-256 of its cookie value, so a database read gives no usable cookie
CREATE TABLE web_sessions (
    token_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id);
CREATE INDEX web_sessions_last_seen_idx ON web_sessions (last_seen_at);

ALTER TABLE users
    ADD COLUMN failed_signins integer NOT NULL DEFAULT 0 CHECK (failed_signins >= 0),
    ADD COLUMN locked_at timestamptz,
    ADD COLUMN password_changed_at timestamptz;

-- one row per secret every serving process must share (the CSRF token key)
CREATE TABLE web_secrets (
    name text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 40),
    value text NOT NULL CHECK (length(value) >= 32)
);

-- a mediator's work list: the committee's open disputes by deadline
CREATE INDEX disputes_org_open_deadline_idx ON disputes (org_id, deadline, id) WHERE status = 'open';

-- the court-handoff page shows each referral's and entrustment's latest webhook
CREATE INDEX webhook_outbox_dispute_idx ON webhook_outbox ((payload -> 'data' ->> 'dispute_id'), created_at);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
