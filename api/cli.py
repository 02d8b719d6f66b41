"""The `tiaojie` command line (API.md, "Command line")."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from api import logs
from mediation.errors import DomainError
from mediation.settings import load


@contextlib.asynccontextmanager
async def database() -> AsyncIterator[str]:
    from api.app import Database

    db_ = Database(load())
    url = await db_.start()
    try:
        yield url
    finally:
        await db_.stop()


def _run(work: Callable[[], Awaitable[int | None]]) -> int:
    try:
        return asyncio.run(work()) or 0
    except DomainError as e:
        print(f"tiaojie: {e.detail}", file=sys.stderr)
        for err in getattr(e, "errors", []):
            print(f"  {err.field}: {err.message}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"tiaojie: {e.strerror or e}: {e.filename}" if getattr(e, "filename", None) else f"tiaojie: {e}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def cmd_migrate(args) -> int:
    async def work():
        async with database():
            print("migrations applied", file=sys.stderr)
    return _run(work)


def cmd_serve(args) -> int:
    import uvicorn

    from api import server
    from api.app import create_app
    from mediation import demo
    from referrals import demo as court_demo

    settings = load()

    async def prepare() -> str | None:
        async with database():
            token = None
            if args.demo:
                summary = await demo.load_if_empty(progress=_progress)
                if summary:
                    print(summary, file=sys.stderr)
                    print(await court_demo.load(), file=sys.stderr)
            if args.print_admin_token:
                from mediation import accounts

                created = await accounts.create_token(role="admin", name=f"admin-{uuid.uuid4().hex[:8]}")
                token = created.token
            return token

    token = asyncio.run(prepare())
    app = create_app(settings=settings)
    url = f"http://{args.host}:{args.port}"
    print(f"\ntiaojie serving at {url}  (API docs: {url}/schema, health: {url}/healthz)", file=sys.stderr)
    if token:
        print(f"admin token: {token}\n", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C / SIGINT is how it stops, as with uvicorn.run
        uvicorn.Server(server.config(app, host=args.host, port=args.port)).run()
    return 0


def cmd_worker(args) -> int:
    async def work():
        from referrals.worker import run_forever

        async with database():
            await run_forever()
    return _run(work)


def cmd_token_create(args) -> int:
    async def work():
        from mediation import accounts

        async with database():
            created = await accounts.create_token(
                role=args.role, region=args.region, org_id=_uuid(args.org), court_id=_uuid(args.court),
                name=args.name, actor="cli")
        print(created.token)
    return _run(work)


def cmd_token_revoke(args) -> int:
    async def work():
        from mediation import accounts

        async with database():
            name = await accounts.revoke_token(args.name_or_prefix, actor="cli")
        print(f"revoked {name}", file=sys.stderr)
    return _run(work)


def cmd_user_create(args) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None

    async def work():
        from mediation import accounts

        async with database():
            user_id = await accounts.create_user(username=args.username, role=args.role, region=args.region,
                                                 org_id=_uuid(args.org), password=password, actor="cli")
        print(user_id)
    return _run(work)


def _progress(done: int, total: int, label: str = "") -> None:
    if sys.stderr.isatty():
        print(f"\r{label} {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    elif done == total or done % max(1, total // 10) == 0:
        print(f"{label} {done}/{total}", file=sys.stderr, flush=True)


def cmd_regions_import(args) -> int:
    if not Path(args.file).exists():
        print(f"tiaojie: no such file or folder: {args.file}", file=sys.stderr)
        return 2

    async def work():
        from mediation import regions

        async with database():
            result = await regions.import_file(Path(args.file), progress=lambda d, t: _progress(d, t, "regions"))
        print(f"read {result.read}, written {result.written}, skipped {len(result.skipped or [])}"
              + (f" (parent missing: {', '.join((result.skipped or [])[:10])}…)" if result.skipped else ""),
              file=sys.stderr)
        return 0
    return _run(work)


def cmd_demo(args) -> int:
    async def work():
        from mediation import demo
        from referrals import demo as court_demo

        async with database():
            summary = await demo.load(progress=_progress)
            court_summary = await court_demo.load()
        print(summary, file=sys.stderr)
        print(court_summary, file=sys.stderr)
    return _run(work)


def cmd_court_sim(args) -> int:
    from referrals.court_sim import main as sim_main

    return sim_main(port=args.port, secret=args.secret, host=args.host)


def _uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise SystemExit(f"tiaojie: {value!r} is not an id") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tiaojie", description="调解 — people's mediation case tracking")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="migrate, then serve the API, pages and the delivery worker")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--demo", action="store_true", help="load the demo county when the database has no disputes")
    s.add_argument("--print-admin-token", action="store_true", help="create and print an admin token")
    s.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="run the webhook delivery worker alone").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply pending migrations and exit").set_defaults(func=cmd_migrate)

    t = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    tc = t.add_parser("create", help="create a token and print it alone on stdout")
    tc.add_argument("--role", required=True, choices=["admin", "bureau", "mediator", "court"])
    tc.add_argument("--region")
    tc.add_argument("--org")
    tc.add_argument("--court")
    tc.add_argument("--name")
    tc.set_defaults(func=cmd_token_create)
    tr = t.add_parser("revoke", help="revoke a token by name or prefix")
    tr.add_argument("name_or_prefix")
    tr.set_defaults(func=cmd_token_revoke)

    u = sub.add_parser("user", help="people who sign in to the pages").add_subparsers(dest="user_command", required=True)
    uc = u.add_parser("create")
    uc.add_argument("username")
    uc.add_argument("--role", required=True, choices=["admin", "bureau", "mediator"])
    uc.add_argument("--region")
    uc.add_argument("--org")
    uc.add_argument("--password-stdin", action="store_true")
    uc.set_defaults(func=cmd_user_create)

    r = sub.add_parser("regions", help="region codes").add_subparsers(dest="regions_command", required=True)
    ri = r.add_parser("import", help="load a division-code CSV (or a folder of them)")
    ri.add_argument("file")
    ri.set_defaults(func=cmd_regions_import)

    sub.add_parser("demo", help="load the demo county (idempotent)").set_defaults(func=cmd_demo)

    cs = sub.add_parser("court-sim", help="a reference webhook receiver that verifies signatures")
    cs.add_argument("--host", default="127.0.0.1")
    cs.add_argument("--port", type=int, default=8900)
    cs.add_argument("--secret", required=True)
    cs.set_defaults(func=cmd_court_sim)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure(os.environ.get("TIAOJIE_LOG_LEVEL", "INFO"))
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
