from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-12-01T14:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "statistics: the open-at-month-end index"

SQL = r"""
-- open at the end of any month: the span (registered_at, concluded_at] holds that instant
-- (mediation.stats.OPEN_SPAN; the same expression, so the planner uses it)
CREATE INDEX disputes_open_span_idx ON disputes USING gist (
    tstzrange(registered_at, CASE WHEN concluded_at IS NULL THEN NULL
                                  ELSE greatest(registered_at, concluded_at) END, '(]'));
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
