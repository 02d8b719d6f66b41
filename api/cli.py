"""The `tiaojie` command line (API.md, "Operations").

Adding a command is local: one decorated function. A command that needs the database is
an `async def` under `@database_command()`, which starts (or joins) the database, waits for
it, applies pending migrations and pools, runs the function and stops again; errors are
printed once, on stderr, by `main`:

    @cli.command("example")
    @click.argument("name")
    @database_command()
    async def example(name: str) -> None:
        \"\"\"One line for `tiaojie --help`.\"\"\"
        ...

`database_command(create=True)` only for commands that may make a new, empty database
(serve, migrate, demo, restore); every other command refuses a data folder without one
and says where it looked.

Exit codes: 0 done; 1 the database or a file could not be used; 2 the input was refused
(a usage error, or the service refused the change: nothing was written); 130 interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from api import logs
from mediation.errors import DomainError
from mediation.settings import Settings, load

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}


class Failed(click.ClickException):
    """Something outside the input went wrong (the database, a file): exit 1."""

    exit_code = 1


class Refused(click.ClickException):
    """The input was refused: exit 2."""

    exit_code = 2


class IdType(click.ParamType):
    name = "ID"

    def convert(self, value: Any, param, ctx) -> uuid.UUID:
        if isinstance(value, uuid.UUID):
            return value
        try:
            return uuid.UUID(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an id", param, ctx)


ID = IdType()


# ---------------------------------------------------------------- running against the database

async def _with_database(work: Callable[..., Awaitable[Any]], *, create: bool,
                         settings: Settings | None = None, migrate_schema: bool = True, pool: bool = True,
                         url: bool = False) -> Any:
    """Run `work()` (or `work(url)` with `url=True`) against the started database."""
    from mediation.db import Database

    database = Database(settings or load(), create=create)
    try:
        started = await database.start(migrate_schema=migrate_schema, pool=pool)
        return await (work(started) if url else work())
    finally:
        with contextlib.suppress(Exception):
            await database.stop()


def database_command(*, create: bool = False) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Any]]:
    """Turn `async def f(**options)` into a click callback run against the database."""

    def wrap(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def callback(**kwargs: Any) -> Any:
            return asyncio.run(_with_database(lambda: fn(**kwargs), create=create))
        return callback
    return wrap


def _progress(done: int, total: int, label: str = "") -> None:
    if sys.stderr.isatty():
        print(f"\r{label} {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    elif done == total or done % max(1, total // 10) == 0:
        print(f"{label} {done}/{total}", file=sys.stderr, flush=True)


def _say(text: str) -> None:
    """Progress and results for people go to stderr; stdout carries only what a script reads."""
    click.echo(text, err=True)


def _when(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    for line in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


# ---------------------------------------------------------------- the commands

@click.group(context_settings=CONTEXT)
def cli() -> None:
    """调解 tiaojie: people's-mediation case tracking and the court handoff.

    \b
    The database: TIAOJIE_DATABASE_URL (a postgresql:// URL), or when unset the embedded
    PostgreSQL in TIAOJIE_DATA_DIR (default ./.tiaojie, relative to where you run it).
    """


def _duration(ctx, param, value: str) -> float:
    from mediation.backup import parse_every

    try:
        return parse_every(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@cli.command()
@click.option("--host", default="127.0.0.1", help="Address to listen on.")
@click.option("--port", default=8000, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--demo", is_flag=True, help="Load the demo county when the database holds no disputes.")
@click.option("--print-admin-token", is_flag=True,
              help="Create an admin token (valid 7 days) and show it on the terminal only, never in the log.")
@click.option("--admin-token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Create an admin token (valid 7 days) and write it to this file, readable by you alone. "
                   "[default: none]")
@click.option("--workers", default=1, type=click.IntRange(1, 32),
              help="Server processes sharing the port, each with its own connection pool and delivery worker; "
                   "the embedded PostgreSQL, the migrations and --demo run once, before them.")
@click.option("--backup-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Take scheduled backups into this folder (tiaojie-<UTC time>.dump and its manifest). "
                   "[default: none]")
@click.option("--backup-every", "backup_every", default="24h", metavar="DURATION", callback=_duration,
              help="With --backup-dir: how often, e.g. 30m, 6h, 24h, 7d.")
@click.option("--keep", default=14, type=click.IntRange(1, 10000),
              help="With --backup-dir: how many of the newest scheduled backups to keep; older ones are deleted.")
def serve(host: str, port: int, demo: bool, print_admin_token: bool, admin_token_file: Path | None,
          workers: int, backup_dir: Path | None, backup_every: float, keep: int) -> None:
    """Apply pending migrations, then serve the API, the web pages and the delivery worker."""
    import uvicorn

    from api import server
    from api.app import create_app
    from mediation.backup import Schedule
    from mediation.embedded import EmbeddedPostgres

    terminal = _terminal() if print_admin_token else None
    settings = load()
    embedded = schedule = None
    if settings.database_url is None:
        # started here once, so the preparation below and the app share one start
        embedded = EmbeddedPostgres(settings.data_dir, wait_seconds=settings.db_wait_seconds)
        settings = dataclasses.replace(settings, database_url=embedded.start())
    try:
        token = asyncio.run(_with_database(lambda: _prepare_serve(demo, bool(terminal or admin_token_file)),
                                           create=True, settings=settings))
        if token is not None:
            _hand_over_admin_token(token, terminal, admin_token_file)
        if backup_dir is not None:   # in this process alone, whatever --workers says
            schedule = Schedule(settings.database_url, backup_dir.resolve(), every=backup_every, keep=keep).start()
        url = f"http://{host}:{port}"
        _say(f"\ntiaojie serving at {url}  (API docs: {url}/schema, health: {url}/healthz)"
             + (f" with {workers} processes" if workers > 1 else ""))
        if workers > 1:
            if not server.serve_processes(database_url=settings.database_url, host=host, port=port, workers=workers):
                raise Failed("a server process did not start (its log lines are above)")
            return
        app = create_app(settings=settings)
        # uvicorn re-raises the signal that stopped it once it has shut down: SIGTERM's default
        # action would end the process before the finally below stops the embedded PostgreSQL
        previous = signal.signal(signal.SIGTERM, _terminated)
        try:
            with contextlib.suppress(KeyboardInterrupt, _Terminated):  # Ctrl-C / SIGTERM is how it stops
                uvicorn.Server(server.config(app, host=host, port=port)).run()
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        if terminal is not None:
            terminal.close()
        if schedule is not None:
            schedule.stop()
        if embedded is not None:
            embedded.stop()


class _Terminated(Exception):
    pass


def _terminated(signum, frame) -> None:
    raise _Terminated


async def _prepare_serve(demo: bool, admin_token: bool) -> str | None:
    if demo:
        from mediation import demo as county_demo
        from referrals import demo as court_demo

        summary = await county_demo.load_if_empty(progress=_progress)
        if summary:
            _say(summary)
            _say(await court_demo.load())
    if admin_token:
        from mediation import accounts

        created = await accounts.create_token(role="admin", name=f"admin-{uuid.uuid4().hex[:8]}",
                                              expires_in_days=7, actor="cli")
        return created.token
    return None


def _terminal():
    """The controlling terminal, which a service log redirect does not capture."""
    try:
        return open("/dev/tty", "w")  # noqa: SIM115 - closed by serve
    except OSError:
        raise Refused("--print-admin-token needs a terminal to show the token on (it never goes into the log); "
                      "use --admin-token-file FILE instead") from None


def _hand_over_admin_token(token: str, terminal, path: Path | None) -> None:
    if terminal is not None:
        terminal.write(f"\nadmin token (valid 7 days, shown only here): {token}\n")
        terminal.flush()
    if path is not None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(token + "\n")
        _say(f"admin token written to {path} (readable by its owner alone)")


@cli.command()
@database_command()
async def worker() -> None:
    """Run the webhook delivery worker alone (run several for scale)."""
    from referrals.worker import run_forever

    await run_forever()


@cli.command()
@click.option("--check", is_flag=True,
              help="Only list the pending migrations; exit 0 when there are none, 1 when there are.")
def migrate(check: bool) -> None:
    """Apply pending migrations (under an advisory lock) and exit."""
    if check:
        asyncio.run(_with_check())
        return

    async def work() -> None:
        _say("migrations applied")
    asyncio.run(_with_database(work, create=True))


async def _unmigrated(work: Callable[[str], Awaitable[Any]]) -> Any:
    """Run `work(url)` on the existing database without migrating it first."""
    from mediation.db import Database

    database = Database(load(), create=False)
    try:
        return await work(await database.start(migrate_schema=False, pool=False))
    finally:
        await database.stop()


async def _with_check() -> None:
    from mediation import db

    pending = await _unmigrated(db.pending_migrations)
    if not pending:
        _say("no pending migrations")
        return
    for migration_id, description in pending:
        click.echo(f"{migration_id}  {description}")
    raise click.exceptions.Exit(1)


# -- tokens

@cli.group()
def token() -> None:
    """API tokens (stored only as hashes; shown once, when created)."""


def _token_roles() -> list[str]:
    from mediation.accounts import TOKEN_ROLES

    return list(TOKEN_ROLES)


@token.command("create")
@click.option("--role", required=True, type=click.Choice(_token_roles()),
              help="admin, bureau (needs --region), mediator (needs --org), court (needs --court), or metrics "
                   "(reads /metrics only).")
@click.option("--region", default=None, help="Bureau tokens: the region code (6, 9 or 12 digits). [default: none]")
@click.option("--org", type=ID, default=None, help="Mediator tokens: the organisation's id. [default: none]")
@click.option("--court", type=ID, default=None, help="Court tokens: the court's id. [default: none]")
@click.option("--name", default=None, help="A unique name to list and revoke it by. [default: ROLE-<8 hex>]")
@click.option("--expires-in", "expires_in", type=click.IntRange(1, 3650), default=365, metavar="DAYS",
              help="Days until the token stops working.")
@database_command()
async def token_create(role: str, region: str | None, org: uuid.UUID | None, court: uuid.UUID | None,
                       name: str | None, expires_in: int) -> None:
    """Create a token and print it alone on stdout."""
    from mediation import accounts

    created = await accounts.create_token(role=role, region=region, org_id=org, court_id=court, name=name,
                                          expires_in_days=expires_in, actor="cli")
    click.echo(created.token)
    _say(f"token {created.name} created ({role}, expires in {expires_in} days)")


@token.command("list")
@database_command()
async def token_list() -> None:
    """List tokens: name, role, scope, created, expires, last used, state (never the token)."""
    from mediation import accounts

    rows = await accounts.list_tokens()
    _table(("NAME", "ROLE", "SCOPE", "CREATED", "EXPIRES", "LAST USED", "STATE"),
           [(t.name, t.role, t.scope or "-", _when(t.created_at), _when(t.expires_at) if t.expires_at else "never",
             _when(t.last_used_at), t.state) for t in rows])


@token.command("revoke")
@click.argument("name_or_prefix")
@database_command()
async def token_revoke(name_or_prefix: str) -> None:
    """Revoke a token by its name or its first characters (at least 6); running servers stop
    accepting it within 3 s."""
    from mediation import accounts

    name = await accounts.revoke_token(name_or_prefix, actor="cli")
    _say(f"revoked {name}")


# -- users

@cli.group()
def user() -> None:
    """People who sign in to the web pages."""


def _read_password() -> str:
    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    if not password:
        raise Refused("--password-stdin: no password on standard input")
    return password


#: what the command line does to accounts is recorded as done by "cli"
def _cli_admin():
    from mediation.access import Principal

    return Principal(role="admin", actor="cli")


def _check_password(password: str | None) -> None:
    from mediation import web_sessions
    from mediation.errors import Collector

    errors = Collector()
    web_sessions.check_new_password(errors, "password", password)
    errors.raise_if_any()


@user.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "bureau", "mediator"]),
              help="admin, bureau (needs --region) or mediator (needs --org).")
@click.option("--region", default=None, help="Bureau users: the region code. [default: none]")
@click.option("--org", type=ID, default=None, help="Mediator users: the organisation's id. [default: none]")
@click.option("--password-stdin", is_flag=True, help="Read the password (one line) from standard input.")
@click.option("--disabled", is_flag=True,
              help="Create the account without a password, disabled until `tiaojie user password` sets one.")
def user_create(username: str, role: str, region: str | None, org: uuid.UUID | None, password_stdin: bool,
                disabled: bool) -> None:
    """Create a sign-in account; prints its id."""
    from mediation import accounts

    if not password_stdin and not disabled:
        raise Refused("give a password with --password-stdin, or ask for a disabled account with --disabled")
    if password_stdin and disabled:
        raise Refused("--password-stdin and --disabled exclude each other")
    password = _read_password() if password_stdin else None
    if password is not None:
        _check_password(password)

    async def work() -> None:
        user_id = await accounts.create_user(username=username, role=role, region=region, org_id=org,
                                             password=password, disabled=disabled, actor="cli")
        click.echo(user_id)
    asyncio.run(_with_database(work, create=False))


@user.command("list")
@database_command()
async def user_list() -> None:
    """List sign-in accounts: username, role, scope, created, state (never a password)."""
    from mediation import web_sessions

    def state(u: dict) -> str:
        return "disabled" if u["disabled_at"] else "locked" if u["locked_at"] else "active"

    rows = await web_sessions.list_users()
    _table(("USERNAME", "ROLE", "SCOPE", "CREATED", "STATE"),
           [(u["username"], u["role"], u["org_name"] or (f"{u['region_name']} {u['region_code']}"
                                                          if u["region_code"] else "-"),
             _when(u["created_at"]), state(u)) for u in rows])


@user.command("disable")
@click.argument("username")
@database_command()
async def user_disable(username: str) -> None:
    """Disable an account: it can no longer sign in, and its open sessions end."""
    from mediation import accounts, web_sessions

    user_id, _ = await accounts.user_by_name(username)
    await web_sessions.set_disabled(_cli_admin(), user_id, True)
    _say(f"user {username} disabled")


@user.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the new password from standard input.")
def user_password(username: str, password_stdin: bool) -> None:
    """Set an account's password (its other sessions end); an account created with
    --disabled is enabled by its first password."""
    from mediation import accounts, web_sessions

    if not password_stdin:
        raise Refused("--password-stdin is required")
    password = _read_password()
    _check_password(password)

    async def work() -> None:
        user_id, had_password = await accounts.user_by_name(username)
        await web_sessions.reset_password(_cli_admin(), user_id, password)
        if not had_password:
            await web_sessions.set_disabled(_cli_admin(), user_id, False)
        _say(f"password of {username} set" + ("; the account is enabled" if not had_password else ""))
    asyncio.run(_with_database(work, create=False))


# -- regions, demo, court simulator

@cli.group()
def regions() -> None:
    """Region codes (统计用区划代码)."""


@regions.command("import")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@database_command()
async def regions_import(file: Path) -> None:
    """Load a division-code CSV (code,name), or a folder holding provinces/cities/areas/streets.csv."""
    from mediation import regions as region_codes

    result = await region_codes.import_file(file, progress=lambda d, t: _progress(d, t, "regions"))
    skipped = result.skipped or []
    if result.read == 0:
        raise Refused(f"{file}: no region rows found (expected a CSV with the columns code,name, or a folder "
                      "holding provinces.csv, cities.csv, areas.csv, streets.csv)")
    _say(f"read {result.read}, written {result.written}, skipped {len(skipped)}"
         + (f" (parent missing: {', '.join(skipped[:10])}…)" if skipped else ""))


@cli.group()
def calendar() -> None:
    """The working-day calendar (法定节假日与调休) that court periods are counted on."""


@calendar.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default=None, help="Where the days come from, e.g. the State Council notice's number. "
              "[default: the file name]")
@database_command()
async def calendar_import(file: Path, source: str | None) -> None:
    """Load (or replace) one year from a CSV of date,kind,name (kind: holiday or adjusted_workday);
    the open deadlines that depend on that year are recomputed."""
    from mediation import workdays

    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{file}: not UTF-8 text") from None
    result = await workdays.import_file(text, source=source or file.name, actor="cli")
    _say(f"{result.year}: {result.days} days loaded; {result.recomputed} open deadlines recomputed")


@calendar.command("show")
@click.argument("year", type=int)
@database_command()
async def calendar_show(year: int) -> None:
    """Print a loaded year as the CSV `calendar import` reads (its source on stderr)."""
    from mediation import workdays

    loaded = await workdays.read_year(year)
    _say(f"{loaded.year}: {loaded.source}, loaded {_when(loaded.loaded_at)}")
    click.echo("date,kind,name")
    for day in loaded.days:
        click.echo(f"{day.date.isoformat()},{day.kind},{day.name}")


@cli.command()
@database_command(create=True)
async def demo() -> None:
    """Load the demo county 西充县 with its court (idempotent)."""
    from mediation import demo as county_demo
    from referrals import demo as court_demo

    summary = await county_demo.load(progress=_progress)
    court_summary = await court_demo.load()
    _say(summary)
    _say(court_summary)


# -- stored data

@cli.group()
def data() -> None:
    """Stored rows that break the fixed time bounds (docs/data-bounds.md).

    \b
    These commands do not migrate first: they are what unblocks a migration that refused.
    """


def _violations(found) -> None:
    for v in found:
        click.echo(str(v))
    if found:
        _say(f"{len({v.case_no for v in found})} dispute(s) break the bounds: correct them (docs/data-bounds.md) "
             "or `tiaojie data quarantine CASE_NO...`")
        raise click.exceptions.Exit(1)
    _say("no stored row breaks the bounds")


@data.command("check")
def data_check() -> None:
    """List the disputes whose stored times break the fixed bounds; exit 1 when there are any."""
    from mediation import bounds

    moved, found = asyncio.run(_unmigrated(bounds.check_or_quarantine))
    _violations(found)


@data.command("quarantine")
@click.argument("case_nos", nargs=-1, required=True, metavar="CASE_NO...")
def data_quarantine(case_nos: tuple[str, ...]) -> None:
    """Move the disputes CASE_NO... and every row referring to them into quarantined_disputes
    (one JSON record each, audited), then list what still breaks the bounds."""
    from mediation import bounds

    moved, found = asyncio.run(_unmigrated(lambda url: bounds.check_or_quarantine(url, list(case_nos))))
    _say(f"quarantined {len(moved)}: {', '.join(moved) or 'none of those case numbers exists'}")
    _violations(found)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Write a consistent snapshot of the database to FILE (pg_dump, safe while serving) and
    FILE.manifest.json beside it (row counts and checksum)."""
    from mediation import backup as backups

    async def work(url: str) -> None:
        manifest = await backups.backup(url, file)
        _say(f"backup written to {file} ({manifest.size} bytes, {sum(manifest.counts.values())} rows in "
             f"{len(manifest.counts)} tables); keep {backups.manifest_path(file).name} with it")
    _on_raw_database(work, create=False)


def _on_raw_database(work: Callable[[str], Awaitable[None]], *, create: bool) -> None:
    """Backup and restore see the database as it is: no migration, no pool."""
    from mediation import backup as backups

    try:
        asyncio.run(_with_database(work, create=create, migrate_schema=False, pool=False, url=True))
    except backups.TargetNotEmpty as e:
        raise Refused(str(e)) from None
    except backups.BackupError as e:
        raise Failed(str(e)) from None


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace whatever the target database holds.")
def restore(file: Path, force: bool) -> None:
    """Restore a backup into an empty data folder or database (checks its checksum and
    row counts); refuses one that holds data unless --force."""
    from mediation import backup as backups

    async def work(url: str) -> None:
        manifest = await backups.restore(url, file, force=force)
        _say(f"restored {file} (taken {manifest.created_at}): {sum(manifest.counts.values())} rows in "
             f"{len(manifest.counts)} tables, counts checked")
    _on_raw_database(work, create=True)


@cli.command("court-sim")
@click.option("--host", default="127.0.0.1", help="Address to listen on.")
@click.option("--port", default=8900, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--secret", required=True, help="The court's webhook secret (whsec_…) to verify signatures with.")
def court_sim(host: str, port: int, secret: str) -> None:
    """A reference webhook receiver that verifies signatures (for court developers)."""
    from referrals.court_sim import main as sim_main

    code = sim_main(port=port, secret=secret, host=host)
    if code:
        raise click.exceptions.Exit(code)


# ---------------------------------------------------------------- entry point

def _error(message: str) -> None:
    click.echo(f"tiaojie: {message}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; every error is printed once, on stderr, and sets the exit code."""
    from mediation.db import DatabaseUnavailable
    from mediation.embedded import NoDatabase, StartFailed

    logs.configure(os.environ.get("TIAOJIE_LOG_LEVEL", "INFO"))
    try:
        # without standalone mode, click answers an explicit Exit's code instead of raising it
        code = cli.main(args=argv, prog_name="tiaojie", standalone_mode=False)
        return code if isinstance(code, int) and not isinstance(code, bool) else 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx is not None else "tiaojie"
        _error(f"{e.format_message()}\n  (see `{where} --help`)")
        return 2
    except click.ClickException as e:
        _error(e.format_message())
        return e.exit_code
    except click.exceptions.Abort:
        return 130
    except DomainError as e:
        _error(e.detail)
        errors = list(getattr(e, "errors", None) or [])
        if [f"{err.field}: {err.message}" for err in errors] != [e.detail]:   # not what the line above said
            for err in errors:
                click.echo(f"  {err.field}: {err.message}", err=True)
        return 2
    except (NoDatabase, DatabaseUnavailable, StartFailed) as e:
        _error(str(e))
        return 1
    except OSError as e:
        _error(f"{e.strerror or e}: {e.filename}" if getattr(e, "filename", None) else str(e))
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
