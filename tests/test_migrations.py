"""The migrations are the schema's one source of truth, and a migration's DDL commits
with Piccolo's record of it: one transaction writes both, or neither."""

from __future__ import annotations

import pytest

from migrations.sql import run_sql


async def test_a_migration_s_ddl_and_its_record_share_one_transaction(pool):
    async with pool.acquire() as conn:
        recorded = await conn.fetchval(
            "SELECT xmin::text FROM migration WHERE app_name = 'tiaojie' AND name = '2026-11-24T21:40:00:000000'")
        # the row type of a table that migration created (TRUNCATE rewrites pg_class rows, not pg_type's)
        created = await conn.fetchval("SELECT xmin::text FROM pg_type WHERE typname = 'regions'")
    assert recorded is not None and recorded == created


async def test_migration_sql_refuses_to_run_outside_the_migration_transaction(pool):
    with pytest.raises(RuntimeError, match="migration transaction"):
        await run_sql("CREATE TABLE stray (id int)")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT to_regclass('stray')") is None


def test_there_are_no_piccolo_table_classes_to_drift_from_the_schema():
    import importlib.util

    assert importlib.util.find_spec("mediation.tables") is None
