from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-12-01T14:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "statistics: a county's disputes concluded in a month and open at its end"

SQL = r"""
-- a county's (or township's, village's) month: stats._in_scope adds the county's six digits,
-- so the concluded and open-at-the-end sets are read for that county alone instead of
-- intersecting the province-wide time indexes with every dispute the county ever had
-- (both grow with the data: 9.5 and 11.7 ms of the busiest county's month at 300k disputes)
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE INDEX disputes_county_concluded_idx ON disputes (substr(region_code, 1, 6), concluded_at)
    WHERE concluded_at IS NOT NULL;
CREATE INDEX disputes_county_open_span_idx ON disputes USING gist (substr(region_code, 1, 6),
    tstzrange(registered_at, CASE WHEN concluded_at IS NULL THEN NULL ELSE greatest(registered_at, concluded_at) END,
              '(]'));
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
