"""The database engine, the connection pool, transactions and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("PICCOLO_CONF", "mediation.piccolo_conf")

import asyncpg  # noqa: E402

import structlog  # noqa: E402

from mediation.piccolo_conf import DB  # noqa: E402

log = structlog.get_logger("tiaojie.db")

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
        # pg_stat_activity tells which process holds a connection (several serve processes, workers)
        server_settings={"application_name": f"tiaojie-{os.getpid()}"},
    )


async def disconnect() -> None:
    await disconnect_read()
    if DB.pool is not None:
        pool, DB.pool = DB.pool, None
        await pool.close()


#: the pool on TIAOJIE_READ_DATABASE_URL (a streaming replica), when one is configured
_read_pool: asyncpg.Pool | None = None


async def connect_read(url: str, *, min_size: int = 1, max_size: int = 10) -> None:
    """Statistics read from this database (a streaming replica of the primary) from now on."""
    global _read_pool
    await disconnect_read()
    _read_pool = await asyncpg.create_pool(dsn=url, min_size=min_size, max_size=max_size, command_timeout=60,
                                           max_inactive_connection_lifetime=300)


async def disconnect_read() -> None:
    global _read_pool
    if _read_pool is not None:
        read_pool, _read_pool = _read_pool, None
        await read_pool.close()


@contextlib.asynccontextmanager
async def read_connection() -> AsyncIterator[asyncpg.Connection]:
    """A connection for the statistics' reads: the replica's pool when one is configured, the
    primary's otherwise; inside a transaction, the transaction's (it must see its own writes)."""
    if _read_pool is None or DB.current_transaction.get() is not None:
        async with connection() as conn:
            yield conn
        return
    async with _read_pool.acquire() as conn:
        yield conn


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
        # one transaction: each migration's DDL (migrations.sql.run_sql) and Piccolo's record of it commit together
        with redirect:
            async with DB.transaction():
                result = await run_forwards(app_name="tiaojie", migration_id="all")
        if not result.success:
            raise RuntimeError(f"migration failed: {result.message}\n{out.getvalue()}")
    finally:
        with contextlib.suppress(Exception):
            await lock_conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        await lock_conn.close()


def known_migrations() -> list[tuple[str, str]]:
    """(id, description) of every migration this release ships, oldest first."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    from migrations.piccolo_app import APP_CONFIG

    modules = BaseMigrationManager().get_migration_modules(APP_CONFIG.migrations_folder_path)
    return [(mid, getattr(modules[mid], "DESCRIPTION", "")) for mid in sorted(modules)]


async def pending_migrations(url: str | None = None) -> list[tuple[str, str]]:
    """Migrations this release ships that the database has not applied, oldest first; on
    the pool when no URL is given."""
    if url is None:
        async with connection() as conn:
            applied = await _applied(conn)
    else:
        conn = await asyncpg.connect(url, timeout=30)
        try:
            applied = await _applied(conn)
        finally:
            await conn.close()
    return [(mid, desc) for mid, desc in known_migrations() if mid not in applied]


_schema_current = False


async def pending_migrations_cached() -> list[tuple[str, str]]:
    """As pending_migrations on the pool; once none are pending, the answer is kept (a
    schema does not go back), so /readyz costs one ping."""
    global _schema_current
    if _schema_current:
        return []
    pending = await pending_migrations()
    _schema_current = not pending
    return pending


async def _applied(conn) -> set[str]:
    if not await conn.fetchval("SELECT to_regclass('public.migration') IS NOT NULL"):
        return set()
    return {r["name"] for r in await conn.fetch("SELECT name FROM migration WHERE app_name = 'tiaojie'")}


# ---------------------------------------------------------------- coming back after a crash

class DatabaseUnavailable(Exception):
    """The database did not accept connections within the configured wait, or it holds no
    tiaojie schema where a command needs one."""


#: refusals that waiting cures: nobody listening yet, or PostgreSQL starting / in crash recovery
_TRANSIENT = (OSError, asyncio.TimeoutError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError,
              asyncpg.ConnectionDoesNotExistError)


def safe_url(url: str) -> str:
    """The URL without its password, for log lines and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


async def wait_until_ready(url: str, *, wait_seconds: float, clock=time.monotonic) -> None:
    """Until the database accepts a connection (crash recovery included), saying what it
    waits for every 10 s, for at most `wait_seconds`. A wrong password or database name is
    not waited for."""
    started = clock()
    said: float | None = None
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=10)
        except _TRANSIENT as e:
            waited = clock() - started
            if waited > wait_seconds:
                raise DatabaseUnavailable(
                    f"the database at {safe_url(url)} did not accept connections within {wait_seconds:.0f} s "
                    f"(TIAOJIE_DB_WAIT_SECONDS): {_reason(e)}") from None
            if said is None or waited - said >= 10:
                said = waited
                log.info("db.waiting", detail=f"waiting for the database at {safe_url(url)} to accept connections "
                                              f"({_reason(e)}): {waited:.0f} s so far, at most {wait_seconds:.0f} s "
                                              "(TIAOJIE_DB_WAIT_SECONDS)")
            await asyncio.sleep(0.5)
            continue
        await conn.close()
        if said is not None:
            log.info("db.ready", detail=f"the database accepts connections after {clock() - started:.0f} s")
        return


def _reason(e: BaseException) -> str:
    if isinstance(e, asyncpg.CannotConnectNowError):
        return f"it is starting or recovering: {e}"
    if isinstance(e, ConnectionRefusedError | FileNotFoundError):
        return "nothing listens there yet"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


async def has_schema(url: str) -> bool:
    """Whether the database holds a tiaojie schema (at least one applied migration)."""
    conn = await asyncpg.connect(url, timeout=30)
    try:
        if not await conn.fetchval("SELECT to_regclass('public.migration') IS NOT NULL"):
            return False
        return bool(await conn.fetchval("SELECT count(*) FROM migration WHERE app_name = 'tiaojie'"))
    finally:
        await conn.close()


class Database:
    """The database a process works on: the embedded PostgreSQL under TIAOJIE_DATA_DIR when
    no URL is configured (started or joined), waited for until it accepts connections,
    migrated and pooled.

    `create=False` (every command but serve, migrate, demo and restore) never makes a new
    database: an empty data folder or an external database without the schema is refused
    with a message that says where it looked."""

    def __init__(self, settings, *, create: bool = True) -> None:
        self.settings = settings
        self.create = create
        self.embedded = None
        self.url: str | None = settings.database_url

    async def start(self, *, migrate_schema: bool = True, pool: bool = True) -> str:
        wait = self.settings.db_wait_seconds
        if self.url is None:
            from mediation.embedded import EmbeddedPostgres

            self.embedded = EmbeddedPostgres(Path(self.settings.data_dir), wait_seconds=wait)
            self.url = await asyncio.to_thread(self.embedded.start, create=self.create)
        await wait_until_ready(self.url, wait_seconds=wait)
        if not self.create and not await has_schema(self.url):
            raise DatabaseUnavailable(
                f"the database at {safe_url(self.url)} holds no tiaojie data; run `tiaojie migrate` to set it up, "
                "or point TIAOJIE_DATABASE_URL (or TIAOJIE_DATA_DIR) at the right one")
        if migrate_schema:
            await migrate(self.url)
        if pool:
            await connect(self.url)
            read_url = getattr(self.settings, "read_database_url", None)
            if read_url:
                await wait_until_ready(read_url, wait_seconds=wait)
                await connect_read(read_url)
        return self.url

    async def stop(self) -> None:
        await disconnect()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
            self.embedded = None
