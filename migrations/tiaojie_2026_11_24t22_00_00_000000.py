from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-11-24T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "诉调对接: court secrets, rosters, idempotency keys, webhook outbox"

SQL = r"""
CREATE TABLE court_secrets (
    id uuid PRIMARY KEY,
    court_id uuid NOT NULL REFERENCES courts (id),
    secret text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);
CREATE INDEX court_secrets_court_idx ON court_secrets (court_id, created_at DESC);

CREATE TABLE court_roster (
    court_id uuid NOT NULL REFERENCES courts (id),
    org_id uuid NOT NULL REFERENCES orgs (id),
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (court_id, org_id)
);

ALTER TABLE disputes ADD CONSTRAINT disputes_court_fk FOREIGN KEY (court_id) REFERENCES courts (id);
ALTER TABLE disputes ADD COLUMN entrustment_kind text CHECK (entrustment_kind IN ('pre_filing', 'in_litigation'));
ALTER TABLE disputes ADD COLUMN entrustment_procedure text CHECK (entrustment_procedure IN ('ordinary', 'simple'));

CREATE TABLE idempotency_keys (
    court_id uuid NOT NULL REFERENCES courts (id),
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash text NOT NULL,
    status_code integer,
    response jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (court_id, key)
);

CREATE TABLE webhook_outbox (
    id text PRIMARY KEY,
    court_id uuid NOT NULL REFERENCES courts (id),
    event_type text NOT NULL CHECK (event_type IN ('referral.created', 'entrustment.concluded')),
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    locked_by text,
    last_status integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    dead_at timestamptz
);
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_outbox_court_idx ON webhook_outbox (court_id, status, created_at);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
