"""The database engine, the connection pool, transactions and migrations."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import AsyncIterator

os.environ.setdefault("PICCOLO_CONF", "mediation.piccolo_conf")

import asyncpg  # noqa: E402

from mediation.piccolo_conf import DB  # noqa: E402

MIGRATION_LOCK_KEY = 0x7469616F6A6965  # "tiaojie"


def configure(url: str) -> None:
    """Point the (single, process-wide) engine at a database URL."""
    DB.config = {"dsn": url}


async def connect(url: str, *, min_size: int = 2, max_size: int = 20) -> None:
    configure(url)
    if DB.pool is not None:
        await DB.close_connection_pool()
    DB.pool = await asyncpg.create_pool(
        dsn=url,
        min_size=min_size,
        max_size=max_size,
        command_timeout=60,
        max_inactive_connection_lifetime=300,
    )


async def disconnect() -> None:
    if DB.pool is not None:
        pool, DB.pool = DB.pool, None
        await pool.close()


def pool() -> asyncpg.Pool:
    if DB.pool is None:
        raise RuntimeError("the database pool is not started")
    return DB.pool


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[asyncpg.Connection]:
    """One business action: yields the connection of a Piccolo transaction, so Piccolo
    queries and raw SQL inside the block commit or roll back together."""
    async with DB.transaction() as tx:
        yield tx.connection


@contextlib.asynccontextmanager
async def connection() -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection for reads (autocommit)."""
    current = DB.current_transaction.get()
    if current is not None:
        yield current.connection
        return
    async with pool().acquire() as conn:
        yield conn


async def ping() -> bool:
    try:
        async with pool().acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1", timeout=2)
        return True
    except Exception:
        return False


async def migrate(url: str, *, quiet: bool = True) -> None:
    """Apply pending migrations under a PostgreSQL advisory lock, so several processes
    starting at once migrate exactly once."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    configure(url)
    lock_conn = await asyncpg.connect(url)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        out = io.StringIO()
        redirect = contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext()
        with redirect:
            result = await run_forwards(app_name="tiaojie", migration_id="all")
        if not result.success:
            raise RuntimeError(f"migration failed: {result.message}\n{out.getvalue()}")
    finally:
        with contextlib.suppress(Exception):
            await lock_conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        await lock_conn.close()
