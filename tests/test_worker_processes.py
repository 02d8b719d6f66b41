"""`tiaojie worker` as real processes on the test database: one killed with SIGKILL in
the middle of sending loses nothing, and two on one database never send the same event at
the same time. Leases, timeouts and the schedule are shortened through the worker's
environment variables so each test runs in seconds."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mediation import db
from referrals.court_sim import Reply
from tests import test_delivery
from tests.test_delivery import enqueue, eventually, make_court, rows, settled

receiver = test_delivery.receiver  # the fixture: a court endpoint on 127.0.0.1

WORKER_ENV = {
    "TIAOJIE_WORKER_LEASE_SECONDS": "3",
    "TIAOJIE_WORKER_TIMEOUT_SECONDS": "2",
    "TIAOJIE_WORKER_POLL_SECONDS": "0.2",
    "TIAOJIE_WORKER_SCHEDULE": "0,0.3,0.3,0.3,0.3,0.3",
    "TIAOJIE_LOG_LEVEL": "INFO",
}


class WorkerProcess:
    def __init__(self, database_url: str, log: Path) -> None:
        self.log = log
        env = {**os.environ, **WORKER_ENV, "TIAOJIE_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
        self._log_file = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main(['worker']))"],
            env=env, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def started(self, timeout: float = 30) -> None:
        async def ready():
            assert self.proc.poll() is None, self.log.read_text()
            return b"worker.started" in self.log.read_bytes()
        await eventually(ready, timeout=timeout, interval=0.1)
        await asyncio.sleep(0.3)  # its LISTEN connection comes up beside the loop

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    async def terminate(self, timeout: float = 15) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode


@pytest.fixture
def workers(database_url, tmp_path):
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        w = WorkerProcess(database_url, tmp_path / f"worker-{len(started)}.log")
        started.append(w)
        return w

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


async def test_a_worker_killed_mid_send_loses_nothing_after_a_restart(pool, receiver, workers):
    holding = threading.Event()
    holding.set()
    release = threading.Event()

    def behaviour(got):
        if holding.is_set():  # keep the request open: the worker is killed while it waits
            return Reply(status=503, hold=release)
        return Reply(status=204)

    court = receiver(behaviour)
    court_id, _ = await make_court(court.url)
    first = await enqueue(court_id, 20)
    w1 = workers()
    await w1.started()
    await eventually(lambda: len({r.webhook_id for r in court.received}) == 20, timeout=10)
    w1.kill()
    async with db.connection() as conn:
        leased = await conn.fetch("SELECT locked_by, attempts FROM webhook_outbox WHERE id = ANY($1)", first)
    assert {(r["locked_by"].split(":")[1], r["attempts"]) for r in leased} == {(str(w1.pid), 0)}
    holding.clear()
    release.set()
    later = await enqueue(court_id, 5)  # committed while no worker runs

    w2 = workers()
    await w2.started()
    await eventually(lambda: settled(*first, *later), timeout=20)
    delivered = court.delivered()
    assert set(delivered) == {*first, *later}
    for msg in first:  # sent again under the same webhook-id, the identical body
        seen = court.attempts(msg)
        assert len(seen) >= 2 and delivered[msg][0] >= 2
        assert len({r.body for r in seen}) == 1
    final = await rows(*first, *later)
    assert {r["status"] for r in final.values()} == {"delivered"}
    assert {final[m]["attempts"] for m in first} == {1}  # the killed attempt was never recorded
    assert await w2.terminate() == 0


async def test_two_worker_processes_never_send_one_event_at_once_and_deliver_everything(pool, receiver, workers):
    court = receiver(lambda got: Reply(status=204, delay=0.05))
    court_id, _ = await make_court(court.url)
    w1, w2 = workers(), workers()
    await asyncio.gather(w1.started(), w2.started())
    ids = await enqueue(court_id, 400)

    holders: set[str] = set()

    async def all_settled():
        async with db.connection() as conn:
            holders.update(r["locked_by"] for r in await conn.fetch(
                "SELECT DISTINCT locked_by FROM webhook_outbox WHERE locked_by IS NOT NULL"))
        return await settled(*ids)

    await eventually(all_settled, timeout=60, interval=0.02)
    assert set(court.delivered()) == set(ids)
    assert court.overlaps == []
    per_id: dict[str, int] = {}
    for r in court.received:
        per_id[r.webhook_id] = per_id.get(r.webhook_id, 0) + 1
    assert set(per_id.values()) == {1}  # leases never expired here: each event went out once
    assert court.max_in_flight > 32  # both processes were sending at once (32 in flight each at most)
    assert {h.split(":")[1] for h in holders} == {str(w1.pid), str(w2.pid)}
    assert [await w1.terminate(), await w2.terminate()] == [0, 0]
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM webhook_outbox WHERE locked_by IS NOT NULL") == 0
