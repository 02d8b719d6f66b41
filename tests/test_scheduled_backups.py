"""Scheduled backups with retention (`tiaojie serve --backup-dir DIR --backup-every 24h --keep 14`),
run with an interval of one second: backups appear, restore, the older ones beyond --keep are
deleted, and two schedules on one database (two serve processes) take one backup per interval,
not one each."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from datetime import UTC, datetime

import pytest

from mediation import backup as backups
from tests.conftest import scratch_database
from tests.served import cli, database_url_for, free_port
from tests.test_serve_processes import Started


def test_durations_read_as_a_clerk_writes_them():
    assert [backups.parse_every(t) for t in ("30m", "6h", "24h", "7d", "90s", " 2H ")] == [
        1800, 21600, 86400, 604800, 90, 7200]
    for bad in ("", "24", "1.5h", "0h", "-1h", "3x", "h"):
        with pytest.raises(ValueError):
            backups.parse_every(bad)


def test_retention_keeps_the_newest_and_touches_no_other_file(tmp_path):
    for stamp in ("20261101T020000Z", "20261102T020000Z", "20261103T020000Z"):
        (tmp_path / f"tiaojie-{stamp}.dump").write_bytes(b"x")
        backups.manifest_path(tmp_path / f"tiaojie-{stamp}.dump").write_text("{}")
    (tmp_path / "tiaojie-by-hand.dump").write_bytes(b"mine")
    (tmp_path / "notes.txt").write_text("keep me")
    gone = backups.prune(tmp_path, 2)
    assert [p.name for p in gone] == ["tiaojie-20261101T020000Z.dump"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt", "tiaojie-20261102T020000Z.dump", "tiaojie-20261102T020000Z.dump.manifest.json",
        "tiaojie-20261103T020000Z.dump", "tiaojie-20261103T020000Z.dump.manifest.json", "tiaojie-by-hand.dump"]


async def test_two_schedules_on_one_database_take_one_backup_per_interval(database_url, pool, world, tmp_path,
                                                                         monkeypatch):
    taken: list[str] = []
    take = backups.backup

    async def recorded(url, file):
        taken.append(file.name)
        return await take(url, file)
    monkeypatch.setattr(backups, "backup", recorded)

    stopping = threading.Event()
    started = time.monotonic()
    schedules = [asyncio.create_task(backups.run_schedule(database_url, tmp_path, every=1, keep=3, stopping=stopping))
                 for _ in range(2)]
    while len(taken) < 5 and time.monotonic() - started < 60:
        await asyncio.sleep(0.1)
    stopping.set()
    await asyncio.gather(*schedules)
    elapsed = time.monotonic() - started

    assert len(taken) >= 5 and len(taken) == len(set(taken))
    # one per interval, though two schedules run: names are to the second, so the bound is loose
    # by one, and what shows it is that no two backups' times are less than the interval apart
    assert len(taken) <= elapsed + 2
    stamps = [datetime.strptime(n[8:24], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) for n in taken]
    assert all((b - a).total_seconds() >= 1 for a, b in zip(stamps, stamps[1:]))
    kept = [f.name for _, f in backups.scheduled_backups(tmp_path)]
    assert kept == taken[-3:]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, *(k + ".manifest.json" for k in kept)])

    # the newest restores, with the counts of the database it came from
    async with scratch_database(database_url, "tiaojie_scheduled_restore") as target:
        manifest = await backups.restore(target, tmp_path / kept[-1])
        assert manifest.counts["orgs"] == await pool.fetchval("SELECT count(*) FROM orgs") > 0


async def test_serve_with_workers_takes_scheduled_backups_that_restore(database_url, pool, tmp_path):
    name = "tiaojie_scheduled_serve"
    await pool.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await pool.execute(f"CREATE DATABASE {name}")
    env = {**os.environ, "TIAOJIE_DATABASE_URL": database_url_for(database_url, name), "PYTHONUNBUFFERED": "1"}
    port, folder = free_port(), tmp_path / "backups"
    s = Started(env, tmp_path / "serve.log", "serve", "--workers", "2", "--port", str(port),
                "--backup-dir", str(folder), "--backup-every", "1s", "--keep", "2")
    try:
        s.answering(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120
        while s.log.read_text().count('"backup.taken"') < 4:
            assert time.monotonic() < deadline and s.proc.poll() is None, s.log.read_text()[-3000:]
            await asyncio.sleep(0.2)
    finally:
        assert s.stop() == 0
    kept = backups.scheduled_backups(folder)
    assert len(kept) == 2
    async with scratch_database(database_url, "tiaojie_scheduled_serve_restore") as target:
        out = cli({**env, "TIAOJIE_DATABASE_URL": target}, "restore", str(kept[-1][1]))
        assert out == ""
        restored = await backups.table_counts(target)
        assert restored["calendar_days"] > 0 and restored["migration"] > 10
    await pool.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
