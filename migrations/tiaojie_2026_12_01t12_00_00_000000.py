from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-12-01T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "quarantined_disputes: where disputes that break the fixed time bounds are set aside"

SQL = r"""
-- a dispute moved aside by mediation.bounds.quarantine: the row and every row referring to
-- it, as one JSON record; its case number stays taken
CREATE TABLE quarantined_disputes (
    dispute_id uuid PRIMARY KEY,
    case_no text NOT NULL UNIQUE,
    reasons text[] NOT NULL,
    record jsonb NOT NULL,
    actor text NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
