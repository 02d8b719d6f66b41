"""Run a migration's raw SQL inside the migration's transaction.

Piccolo's column `choices` create no constraints and its migrations cannot express
deferrable foreign keys or trigram indexes, so the schema is written as SQL here: the
migrations in this folder are the one source of truth for the schema (there are no
Piccolo table classes to keep in step).

`mediation.db.migrate` runs all pending migrations in one transaction on Piccolo's
engine; the DDL runs on that transaction's connection, so a migration's DDL and
Piccolo's record of it (the `migration` row) commit together, or neither does."""

import asyncpg
from piccolo.engine import engine_finder


def connection() -> asyncpg.Connection:
    """The migration transaction's connection, for a migration that reads or rewrites rows
    as well (a connection of its own would not see the tables this run creates, and would
    commit apart from the record)."""
    transaction = engine_finder().current_transaction.get()
    if transaction is None:
        raise RuntimeError("a migration's SQL runs inside the migration transaction (mediation.db.migrate)")
    return transaction.connection


async def run_sql(sql: str) -> None:
    await connection().execute(sql)


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
