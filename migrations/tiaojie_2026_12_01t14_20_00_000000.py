from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-12-01T14:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "statistics: disputes concluded in a month, province-wide"

SQL = r"""
-- a province's or city's month: the concluded set by time alone (the region index leads
-- with the region, which a 2- or 4-digit prefix barely narrows)
CREATE INDEX disputes_concluded_idx ON disputes (concluded_at) WHERE concluded_at IS NOT NULL;
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
