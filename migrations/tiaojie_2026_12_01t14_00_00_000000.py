from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-12-01T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "statistics: frozen monthly reports (上报)"

SQL = r"""
CREATE TABLE stats_reports (
    id uuid PRIMARY KEY,
    region_code text NOT NULL REFERENCES regions (code),
    month text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    -- the region's scope prefix and the month's bounds, so a write is checked by one index look-up
    prefix text NOT NULL,
    period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL CHECK (period_end > period_start),
    figures jsonb NOT NULL,
    frozen_at timestamptz NOT NULL,
    frozen_by text NOT NULL,
    reopened_at timestamptz,
    reopened_by text,
    CHECK ((reopened_at IS NULL) = (reopened_by IS NULL))
);
-- at most one frozen report per region and month; reopened ones stay as history
CREATE UNIQUE INDEX stats_reports_frozen_idx ON stats_reports (region_code, month) WHERE reopened_at IS NULL;
CREATE INDEX stats_reports_period_idx ON stats_reports (period_start, period_end) WHERE reopened_at IS NULL;
CREATE INDEX stats_reports_history_idx ON stats_reports (region_code, month, frozen_at DESC);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
