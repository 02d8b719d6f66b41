"""Page benchmark (issue 8): server time of the mediator's work list, the dispute page and
the bureau's month page on the demo county (西充县, ~3,000 disputes), goal p95 < 100 ms each.

The app runs in this process (Litestar over httpx's ASGI transport, the service's own
pool), so each figure is the time from request to the last byte of the answer: sign-in
session lookup, the queries, template rendering — no network, no client parsing.

    .venv/bin/python bench/pages.py                    # 300 requests per page, after 30 warm-up
    .venv/bin/python bench/pages.py --requests 1000

Uses TIAOJIE_DATABASE_URL when set (the demo county must be loaded there, or is loaded),
else an embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common

PASSWORD = "bench password 1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def timed(client, url: str, n: int, warm: int) -> list[float]:
    for _ in range(warm):
        r = await client.get(url)
        assert r.status_code == 200, (url, r.status_code)
    out = []
    for _ in range(n):
        started = time.perf_counter()
        r = await client.get(url)
        out.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return out


async def main(args) -> None:
    import httpx

    from api.app import create_app
    from mediation import accounts, db, demo, web_sessions
    from referrals import demo as court_demo

    database = common.Database()
    url = database.start()
    try:
        await db.migrate(url)
        await db.connect(url)
        t0 = time.perf_counter()
        await demo.load_if_empty()
        await court_demo.load()
        print(f"demo county ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        async with db.connection() as conn:
            busiest = await conn.fetchrow(
                """SELECT o.id, o.name, count(*) AS open FROM disputes d JOIN orgs o ON o.id = d.org_id
                   WHERE d.status = 'open' GROUP BY o.id, o.name ORDER BY count(*) DESC LIMIT 1""")
            total = await conn.fetchval("SELECT count(*) FROM disputes")
            dispute_ids = [r["id"] for r in await conn.fetch(
                "SELECT id FROM disputes WHERE $1 = ANY(handler_org_ids) ORDER BY id", busiest["id"])]
            events = await conn.fetchval("SELECT max(n) FROM (SELECT count(*) AS n FROM dispute_events "
                                         "WHERE dispute_id = ANY($1::uuid[]) GROUP BY dispute_id) x", dispute_ids)
        name = f"bench-{random.randrange(10**6)}"
        await accounts.create_user(username=name, role="mediator", org_id=busiest["id"], password=PASSWORD)
        signed = await web_sessions.sign_in(name, PASSWORD)
        await accounts.create_user(username=name + "-bureau", role="bureau", region="511325", password=PASSWORD)
        bureau = await web_sessions.sign_in(name + "-bureau", PASSWORD)
        app = create_app(manage_database=False, run_worker=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     cookies={"tj_session": signed.token}) as client:
            work = await timed(client, "/ui/work", args.requests, args.warm)
            pages: list[float] = []
            rng = random.Random(7)
            for _ in range(args.warm):
                await client.get(f"/ui/disputes/{rng.choice(dispute_ids)}")
            for _ in range(args.requests):
                pages.extend(await timed(client, f"/ui/disputes/{rng.choice(dispute_ids)}", 1, 0))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     cookies={"tj_session": bureau.token}) as client:
            month = await timed(client, "/ui/bureau", args.requests, args.warm)
        print(f"\nMachine: {common.machine()}; load average while measuring: "
              f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}\n")
        print(f"Demo county: {total} disputes; the busiest committee ({busiest['name']}) holds {busiest['open']} "
              f"open disputes and has handled {len(dispute_ids)} (up to {events} events each).\n")
        print("| page | requests | p50 ms | p95 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, values in (("work list /ui/work", work), ("dispute page /ui/disputes/{id}", pages),
                              ("bureau month page /ui/bureau (last month)", month)):
            print(f"| {label} | {len(values)} | {statistics.median(values):.1f} | {percentile(values, 95):.1f} | "
                  f"{percentile(values, 99):.1f} | {max(values):.1f} |")
    finally:
        await db.disconnect()
        database.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warm", type=int, default=30)
    asyncio.run(main(parser.parse_args()))
