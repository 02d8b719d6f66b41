from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from mediation import bounds
from migrations.sql import connection, run_sql

ID = "2026-12-01T12:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "CHECK constraints for the fixed bounds of business times (2000-01-01, 1949-10-01, 10 years)"


class BoundsViolated(Exception):
    """Rows break the bounds: nothing was changed; the message lists their case numbers."""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        found = await bounds.violations(connection())
        if found:
            raise BoundsViolated(bounds.refusal(found))
        await run_sql(bounds.constraints_sql())

    manager.add_raw(run)
    return manager
