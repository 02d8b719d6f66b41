"""The upgrade fixture: a database made by a release, kept in tests/upgrade_data/ and used by
tests/test_upgrade.py, which restores it, runs `tiaojie migrate` and compares every dispute
and every monthly figure with what that release answered.

    tests/upgrade_data/release.dump                 pg_dump (custom format, compressed) of the release's
    tests/upgrade_data/release.dump.manifest.json   database, as `tiaojie backup` writes them
    tests/upgrade_data/expected.json.gz             what that release answered over its API: every dispute
                                                    (GET /disputes/{id}) and the county's monthly figures for
                                                    every month (GET /stats/monthly), and the frozen clock

Regenerate it at a release (after the release's last migration, never in between):

    .venv/bin/python -m tests.upgrade

It starts an embedded PostgreSQL in a temporary folder, migrates it, loads the demo county at
scale 0.05 with the clock frozen at FROZEN_AT (so the same code makes the same data), reads
the answers, backs up and stops. The comparison is by subset (keys an answer gained later are
ignored, every key it had must answer the same), so adding a field is not a failure; changing
or dropping one is, and needs a regeneration argued in its commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

HERE = Path(__file__).parent / "upgrade_data"
DUMP = HERE / "release.dump"
EXPECTED = HERE / "expected.json.gz"
FROZEN_AT = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
SCALE = 0.05
COUNTY = "511325"


@contextlib.asynccontextmanager
async def on_database(url: str) -> AsyncIterator[None]:
    """Point the process-wide engine and pool at `url` for the block, then back to what they were
    (the test session's database)."""
    from mediation.piccolo_conf import DB

    saved = DB.pool, dict(DB.config)
    DB.config = {"dsn": url}
    DB.pool = await asyncpg.create_pool(dsn=url, min_size=1, max_size=10)
    try:
        yield
    finally:
        await DB.pool.close()
        DB.pool, DB.config = saved


async def read_answers(url: str, at: dt.datetime) -> dict[str, Any]:
    """Every dispute and the county's monthly figures for every month it has disputes in, as the
    API answers them with the clock at `at`."""
    import referrals
    from api.app import create_app
    from mediation import accounts, clock

    referrals.install()
    clock.freeze(at)
    try:
        async with on_database(url):
            async with asyncpg.create_pool(url, min_size=1, max_size=2) as raw:
                months = [r["m"] for r in await raw.fetch(
                    """SELECT DISTINCT to_char(registered_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS m
                       FROM disputes ORDER BY 1""")]
            token = await accounts.create_token(role="admin", name=f"upgrade-{at.timestamp():.0f}-{id(at)}",
                                                expires_in_days=1, actor="test")
            h = {"Authorization": f"Bearer {token.token}"}
            transport = httpx.ASGITransport(app=create_app(manage_database=False, run_worker=False))
            async with httpx.AsyncClient(transport=transport, base_url="http://upgrade/api/v1", timeout=60) as c:
                ids, cursor = [], None
                while True:
                    r = await c.get("/disputes", params={"limit": 500, **({"cursor": cursor} if cursor else {})},
                                    headers=h)
                    assert r.status_code == 200, r.text
                    page = r.json()
                    ids += [item["id"] for item in page["items"]]
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
                disputes = {}
                for dispute_id in ids:
                    r = await c.get(f"/disputes/{dispute_id}", headers=h)
                    assert r.status_code == 200, r.text
                    body = r.json()
                    body.pop("etag", None)
                    disputes[body["case_no"]] = body
                monthly = {}
                for month in months:
                    r = await c.get("/stats/monthly", params={"region": COUNTY, "month": month}, headers=h)
                    assert r.status_code == 200, r.text
                    monthly[month] = r.json()
    finally:
        clock.freeze(None)
    return {"frozen_at": at.isoformat(), "disputes": disputes, "monthly": monthly}


def differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where `actual` differs from `expected`, keys `actual` has in addition not counted."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key, value in expected.items():
            if key not in actual:
                found.append(f"{where}.{key}: missing")
            else:
                found += differences(value, actual[key], f"{where}.{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in differences(e, a, f"{where}[{i}]")]
    return [] if expected == actual else [f"{where}: {expected!r} became {actual!r}"]


async def regenerate() -> None:
    from mediation import backup, clock, db, demo
    from mediation.embedded import EmbeddedPostgres
    import referrals

    folder = Path(tempfile.mkdtemp(prefix="tiaojie-upgrade-"))
    server = EmbeddedPostgres(folder)
    try:
        url = server.start()
        await db.migrate(url)
        await db.connect(url)
        referrals.install()
        clock.freeze(FROZEN_AT)
        try:
            print(await demo.load(scale=SCALE))
        finally:
            clock.freeze(None)
        await db.disconnect()
        HERE.mkdir(exist_ok=True)
        manifest = await backup.backup(url, DUMP)   # before reading: its admin token is not in the dump
        answers = await read_answers(url, FROZEN_AT)
        answers["migrations"] = manifest.migrations
        EXPECTED.write_bytes(gzip.compress(json.dumps(answers, ensure_ascii=False, sort_keys=True).encode(), mtime=0))
        print(f"{DUMP} ({manifest.size} bytes), {EXPECTED} ({EXPECTED.stat().st_size} bytes): "
              f"{len(answers['disputes'])} disputes, {len(answers['monthly'])} months")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(regenerate())
