"""Run a migration's raw SQL in one transaction on the configured engine's database.

Piccolo's column `choices` create no constraints and its migrations cannot express
deferrable foreign keys or trigram indexes, so the schema is written as SQL here."""

import asyncpg
from piccolo.engine import engine_finder


async def run_sql(sql: str) -> None:
    engine = engine_finder()
    conn = await asyncpg.connect(**engine.config)
    try:
        async with conn.transaction():
            await conn.execute(sql)
    finally:
        await conn.close()


def raw_sql_migration(migration_id: str, description: str, sql: str):
    """The `forwards` of a migration that is one SQL script: `forwards = raw_sql_migration(ID, DESCRIPTION, SQL)`."""
    from piccolo.apps.migrations.auto.migration_manager import MigrationManager

    async def forwards():
        manager = MigrationManager(migration_id=migration_id, app_name="tiaojie", description=description)

        async def run():
            await run_sql(sql)

        manager.add_raw(run)
        return manager

    return forwards
