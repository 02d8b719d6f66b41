"""Webhook delivery (`referrals.worker`) against real receivers on 127.0.0.1, and the
deliveries admin API. The worker gets a compressed schedule, a short timeout and a short
lease so every rule — retries, dead, Retry-After, 410, leases, NOTIFY — runs in seconds."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import random
import threading
import time
import uuid

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from mediation import db
from referrals import outbox, signing
from referrals.court_sim import Receiver, Reply
from referrals.worker import (
    DEFAULT_SCHEDULE,
    Job,
    Outcome,
    Worker,
    WorkerSettings,
    retry_after_seconds,
)

COUNTY = "511325000000"


# -- set-up helpers


async def make_court(url: str | None, *, secrets: list[str] | None = None, expired: list[str] | None = None,
                     disabled: bool = False) -> tuple[uuid.UUID, list[str]]:
    """A court row made by SQL (no dependency on the courts service), with its secrets:
    `secrets` current (the first is the newest), `expired` ones already past."""
    court_id = uuid.uuid4()
    secrets = secrets if secrets is not None else [signing.new_secret()]
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO regions (code, name, level, prefix) VALUES ($1, '西充县', 'county', '511325') "
                           "ON CONFLICT DO NOTHING", COUNTY)
        await conn.execute(
            "INSERT INTO courts (id, name, code, region_code, webhook_url, webhook_disabled_at) "
            "VALUES ($1, '西充县人民法院', $2, $3, $4, CASE WHEN $5 THEN now() END)",
            court_id, f"C{court_id.hex[:10]}", COUNTY, url, disabled)
        base = dt.datetime.now(dt.UTC)
        for i, s in enumerate(secrets):
            # the newest has no expiry; an older current one expires within 24 h of rotation
            await conn.execute(
                "INSERT INTO court_secrets (id, court_id, secret, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                uuid.uuid4(), court_id, s, base - dt.timedelta(hours=i), None if i == 0 else base + dt.timedelta(hours=20))
        for s in expired or []:
            await conn.execute(
                "INSERT INTO court_secrets (id, court_id, secret, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                uuid.uuid4(), court_id, s, base - dt.timedelta(days=3), base - dt.timedelta(days=2))
    return court_id, secrets


async def enqueue(court_id: uuid.UUID, n: int = 1, event_type: str = "referral.created") -> list[str]:
    ids = []
    async with db.transaction() as conn:
        for _ in range(n):
            ids.append(await outbox.enqueue(conn, court_id=court_id, event_type=event_type, data={
                "referral_id": uuid.uuid4(), "dispute_id": uuid.uuid4(), "case_no": "511325-2026-000001",
                "kind": "litigation", "status": "pending"}))
    return ids


async def rows(*ids: str) -> dict[str, dict]:
    async with db.connection() as conn:
        found = await conn.fetch("SELECT *, payload::text AS body FROM webhook_outbox WHERE id = ANY($1)", list(ids))
    return {r["id"]: dict(r) for r in found}


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """Await until `check()` (sync or async) answers truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        await asyncio.sleep(interval)


async def settled(*ids: str) -> bool:
    return all(r["status"] != "pending" for r in (await rows(*ids)).values())


@pytest.fixture
def receiver():
    started: list[Receiver] = []

    def start(behaviour=None, **kw) -> Receiver:
        r = Receiver(behaviour=behaviour, **kw).start()
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


@pytest.fixture
async def worker(pool):
    started: list[Worker] = []

    async def start(**kw) -> Worker:
        kw.setdefault("schedule", (0, 0.2, 0.2))
        kw.setdefault("timeout", 0.5)
        kw.setdefault("lease", 2.0)
        kw.setdefault("poll_interval", 0.2)
        w = Worker(pool=pool, **kw)
        await w.start()
        started.append(w)
        await asyncio.wait_for(w.listening.wait(), 10)
        return w

    yield start
    for w in started:
        await w.stop()


# -- signatures and the body


async def test_delivery_is_signed_verifiable_by_standardwebhooks_and_sends_the_stored_payload(receiver, worker):
    court_id, (secret,) = await make_court(None)
    court = receiver()
    async with db.connection() as conn:
        await conn.execute("UPDATE courts SET webhook_url = $2 WHERE id = $1", court_id, court.url)
    (msg,) = await enqueue(court_id)
    now = after_enqueue()
    await worker(clock=lambda: now)
    await eventually(lambda: settled(msg))

    (got,) = court.received
    assert got.webhook_id == msg
    assert got.headers["content-type"] == "application/json"
    assert int(got.timestamp) == int(now.timestamp())   # the worker's clock, injected
    payload = Webhook(secret).verify(got.body, got.headers)
    row = (await rows(msg))[msg]
    assert got.body == row["body"].encode()
    assert payload == json.loads(row["body"])
    assert payload["type"] == "referral.created"
    assert set(payload) == {"type", "timestamp", "data"}
    assert set(payload["data"]) == {"referral_id", "dispute_id", "case_no", "kind", "status"}
    assert row["status"] == "delivered"
    assert row["attempts"] == 1
    assert row["last_status"] == 204
    assert row["last_error"] is None
    assert row["delivered_at"] is not None and row["dead_at"] is None
    assert row["locked_by"] is None and row["locked_until"] is None


async def test_during_rotation_every_unexpired_secret_signs_and_an_expired_one_does_not(receiver, worker):
    new, old, gone = signing.new_secret(), signing.new_secret(), signing.new_secret()
    court = receiver(secrets=[old])  # a court that has not picked up the new secret yet
    court_id, _ = await make_court(court.url, secrets=[new, old], expired=[gone])
    (msg,) = await enqueue(court_id)
    await worker()
    await eventually(lambda: settled(msg))

    (got,) = court.received
    assert got.verified is True
    entries = got.signature.split(" ")
    assert len(entries) == 2
    assert entries[0] == signing.sign(new, msg, int(got.timestamp), got.body)
    assert entries[1] == signing.sign(old, msg, int(got.timestamp), got.body)
    Webhook(new).verify(got.body, got.headers)
    Webhook(old).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(gone).verify(got.body, got.headers)
    assert (await rows(msg))[msg]["status"] == "delivered"


async def test_a_court_refusing_the_signature_gets_retries_then_the_event_is_dead(receiver, worker):
    court = receiver(secrets=[signing.new_secret()])  # holds a secret we never issued
    court_id, _ = await make_court(court.url)
    (msg,) = await enqueue(court_id)
    await worker(schedule=(0, 0.1, 0.1))
    await eventually(lambda: settled(msg))
    row = (await rows(msg))[msg]
    assert (row["status"], row["attempts"], row["last_status"], row["last_error"]) == ("dead", 3, 401, "HTTP 401")
    assert [r.verified for r in court.received] == [False, False, False]


# -- the retry rules, with a receiver that fails at random


FAILURES = {
    "500": lambda hang: Reply(status=500),
    "503": lambda hang: Reply(status=503),
    "404": lambda hang: Reply(status=404),
    "429": lambda hang: Reply(status=429),
    "302": lambda hang: Reply(status=302, headers={"location": "/elsewhere"}),
    "hang": lambda hang: Reply(status=500, delay=hang),
    "drop": lambda hang: Reply(drop=True),
}


async def test_a_receiver_failing_at_random_ends_every_event_delivered_or_dead_exactly_per_the_rules(receiver, worker):
    schedule = (0, 0.2, 0.2, 0.25, 0.3)
    timeout, hang = 0.5, 1.0
    rng = random.Random(20261125)
    # per event, how many attempts fail before one succeeds; ≥ len(schedule) means never
    plan: dict[int, list[str]] = {}
    for i in range(40):
        fails = rng.choice([0, 0, 1, 1, 2, 3, 4, 5, 5])
        plan[i] = [rng.choice(list(FAILURES)) for _ in range(fails)]
    by_id: dict[str, list[str]] = {}

    def behaviour(got):
        failures = by_id[got.webhook_id]
        if got.attempt <= len(failures):
            return FAILURES[failures[got.attempt - 1]](hang)
        return Reply(status=rng.choice([200, 201, 202, 204]))

    court = receiver(behaviour)
    court_id, (secret,) = await make_court(court.url)
    ids = await enqueue(court_id, len(plan))
    for i, msg in enumerate(ids):
        by_id[msg] = plan[i]
    await worker(schedule=schedule, timeout=timeout, lease=3.0, concurrency=8)
    await eventually(lambda: settled(*ids), timeout=60, interval=0.2)
    await asyncio.sleep(0.5)  # nothing more may arrive once everything settled

    final = await rows(*ids)
    assert set(by_id) == set(ids) and len(set(ids)) == len(ids)
    for msg in ids:
        failures, row, seen = by_id[msg], final[msg], court.attempts(msg)
        if len(failures) >= len(schedule):
            assert row["status"] == "dead", (msg, failures)
            assert row["attempts"] == len(schedule)
            assert len(seen) == len(schedule)
            assert row["dead_at"] is not None and row["delivered_at"] is None
            last = failures[len(schedule) - 1]
            assert row["last_status"] == {"hang": None, "drop": None}.get(last, int(last) if last.isdigit() else None)
            if last == "hang":
                assert row["last_error"] == "no answer within 0.5 s"
            if last == "302":
                assert row["last_error"] == "HTTP 302 (redirects are not followed)"
        else:
            assert row["status"] == "delivered", (msg, failures, row["last_error"])
            assert row["attempts"] == len(failures) + 1
            assert len(seen) == len(failures) + 1
            assert row["last_error"] is None
        # the same event every time: one id, identical bytes, each attempt signed afresh and valid
        assert {r.body for r in seen} == {row["body"].encode()}
        assert all(r.webhook_id == msg for r in seen)
        for r in seen:
            signing.verify(secret, r.body, r.headers, now=int(r.timestamp))
        # gaps only lengthen: attempt n+1 comes no sooner than schedule[n] after attempt n
        for n in range(1, len(seen)):
            assert seen[n].at - seen[n - 1].at >= schedule[n] - 0.01, (msg, n)
    # a request still open at the receiver is one the worker gave up on (its timeout)
    assert all("hang" in by_id[msg] for msg in court.overlaps)
    assert "/elsewhere" not in {r.path for r in court.received}


def test_next_delay_follows_the_schedule_jitter_only_lengthens_and_the_schedule_ends_in_dead():
    w = Worker(rng=random.Random(1))
    assert w.schedule == DEFAULT_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    assert sum(DEFAULT_SCHEDULE) / 86400 == pytest.approx(3.15, abs=0.01)  # "about three days"
    for attempts, gap in enumerate(DEFAULT_SCHEDULE[1:], start=1):
        delays = [w.next_delay(attempts) for _ in range(200)]
        assert all(gap <= d <= gap * 1.10 for d in delays)
        assert max(delays) > gap * 1.05  # there is jitter
    assert w.next_delay(10) is None  # ten attempts, then dead
    # Retry-After: the later of it and the schedule, capped at the longest gap
    assert 300 <= w.next_delay(2, retry_after=10) <= 330
    assert w.next_delay(1, retry_after=60) == 60
    assert w.next_delay(1, retry_after=10**9) == 86400
    assert w.next_delay(10, retry_after=1) is None
    no_jitter = Worker(jitter=0)
    assert [no_jitter.next_delay(n) for n in range(1, 11)] == [*DEFAULT_SCHEDULE[1:], None]


def test_retry_after_reads_seconds_and_http_dates():
    now = dt.datetime(2026, 11, 25, 8, 0, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds(" 7 ", now) == 7
    assert retry_after_seconds("Wed, 25 Nov 2026 08:01:30 GMT", now) == 90
    assert retry_after_seconds("Wed, 25 Nov 2026 07:00:00 GMT", now) == 0  # already past
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("-5", now) is None
    assert retry_after_seconds(None, now) is None


def test_settings_come_from_the_environment_and_the_lease_must_outlast_the_timeout():
    s = WorkerSettings.from_env({"TIAOJIE_WORKER_SCHEDULE": "0, 1,2", "TIAOJIE_WORKER_LEASE_SECONDS": "4",
                                 "TIAOJIE_WORKER_TIMEOUT_SECONDS": "1.5", "TIAOJIE_WORKER_POLL_SECONDS": "0.3",
                                 "TIAOJIE_WORKER_CONCURRENCY": "5", "TIAOJIE_WORKER_JITTER": "0"})
    assert s == WorkerSettings(schedule=(0, 1, 2), lease=4, timeout=1.5, poll_interval=0.3, concurrency=5, jitter=0)
    assert WorkerSettings.from_env({}) == WorkerSettings(schedule=DEFAULT_SCHEDULE, lease=30, timeout=10,
                                                         poll_interval=1, concurrency=32, jitter=0.1)
    with pytest.raises(ValueError):
        Worker(lease=10, timeout=10)
    with pytest.raises(ValueError):
        Worker(schedule=())


async def test_retry_after_is_honoured_in_seconds_and_as_an_http_date_when_later_than_the_schedule(receiver, worker):
    first: dict[str, object] = {}

    def behaviour(got):
        return first[got.webhook_id]() if got.attempt == 1 else Reply(status=204)

    court = receiver(behaviour)
    court_id, _ = await make_court(court.url)
    seconds, date, shorter = await enqueue(court_id, 3)
    clock = [after_enqueue()]
    first[seconds] = lambda: Reply(status=429, headers={"retry-after": "2"})
    first[date] = lambda: Reply(status=503, headers={"retry-after": email.utils.format_datetime(
        clock[0] + dt.timedelta(seconds=3), usegmt=True)})
    first[shorter] = lambda: Reply(status=429, headers={"retry-after": "0"})  # sooner than the schedule: schedule wins
    await worker(schedule=(0, 1.0, 1.0), jitter=0, clock=lambda: clock[0], poll_interval=0.05)
    await eventually(lambda: all_attempted(seconds, date, shorter), timeout=15)
    due = {m: r["next_attempt_at"] - clock[0] for m, r in (await rows(seconds, date, shorter)).items()}
    assert due == {seconds: dt.timedelta(seconds=2), date: dt.timedelta(seconds=3), shorter: dt.timedelta(seconds=1)}
    clock[0] += dt.timedelta(seconds=3)
    await eventually(lambda: settled(seconds, date, shorter), timeout=15)
    final = await rows(seconds, date, shorter)
    assert {r["status"] for r in final.values()} == {"delivered"}
    assert [final[m]["attempts"] for m in (seconds, date, shorter)] == [2, 2, 2]


async def test_a_redirect_is_a_failure_and_is_not_followed(receiver, worker):
    target = receiver()
    court = receiver(lambda got: Reply(status=307, headers={"location": target.url}))
    court_id, _ = await make_court(court.url)
    (msg,) = await enqueue(court_id)
    now = after_enqueue()
    await worker(schedule=(0, 30), jitter=0, clock=lambda: now)
    await eventually(lambda: len(court.received) == 1)
    await eventually(lambda: _attempted(msg))
    row = (await rows(msg))[msg]
    assert (row["status"], row["attempts"], row["last_status"]) == ("pending", 1, 307)
    assert row["last_error"] == "HTTP 307 (redirects are not followed)"
    assert row["next_attempt_at"] == now + dt.timedelta(seconds=30)
    assert target.received == []


async def _attempted(msg: str) -> bool:
    return (await rows(msg))[msg]["attempts"] >= 1


async def all_attempted(*ids: str) -> bool:
    return all(r["attempts"] >= 1 for r in (await rows(*ids)).values())


def after_enqueue() -> dt.datetime:
    """A fixed time for a worker's injected clock, at or after the rows just enqueued
    fell due (their due time is the database's now() when they were written)."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).replace(microsecond=0)


# -- 410 and courts without a usable webhook


async def test_410_disables_the_court_and_its_events_wait_until_the_url_is_enabled_again(receiver, worker):
    gone = threading.Event()
    gone.set()
    court = receiver(lambda got: Reply(status=410) if gone.is_set() else Reply(status=204))
    other = receiver()
    court_id, _ = await make_court(court.url)
    other_id, _ = await make_court(other.url)
    ids = await enqueue(court_id, 3)
    (unaffected,) = await enqueue(other_id)
    await worker(schedule=(0, 0.1, 0.1), poll_interval=0.1)

    async def disabled():
        async with db.connection() as conn:
            return await conn.fetchval("SELECT webhook_disabled_at FROM courts WHERE id = $1", court_id)

    await eventually(disabled)
    await eventually(lambda: settled(unaffected))
    await asyncio.sleep(0.3)  # let any send already in flight finish
    seen = len(court.received)
    assert 1 <= seen <= 3
    # a new event for the disabled court is not attempted either
    (later,) = await enqueue(court_id)
    await asyncio.sleep(1.0)
    assert len(court.received) == seen
    waiting = await rows(*ids, later)
    assert {r["status"] for r in waiting.values()} == {"pending"}
    assert {r["attempts"] for r in waiting.values()} == {0}  # 410 and waiting eat nothing of the schedule
    assert {r["last_status"] for r in waiting.values()} <= {410, None}
    assert (await rows(unaffected))[unaffected]["status"] == "delivered"

    # an admin sets the URL again (what PATCH /courts/{id} does)
    gone.clear()
    async with db.transaction() as conn:
        await conn.execute("UPDATE courts SET webhook_disabled_at = NULL WHERE id = $1", court_id)
        await conn.execute("UPDATE webhook_outbox SET next_attempt_at = now() WHERE court_id = $1 "
                           "AND status = 'pending'", court_id)
        await conn.execute(f"NOTIFY {outbox.NOTIFY_CHANNEL}")
    await eventually(lambda: settled(*ids, later), timeout=5)
    final = await rows(*ids, later)
    assert {r["status"] for r in final.values()} == {"delivered"}
    assert {r["attempts"] for r in final.values()} == {1}
    assert set(court.delivered()) == {*ids, later}  # the same webhook-ids as before the 410


async def test_events_of_a_court_without_url_or_disabled_wait_unattempted_until_a_url_is_set(receiver, worker):
    court = receiver()
    no_url, _ = await make_court(None)
    disabled, _ = await make_court(court.url, disabled=True)
    waiting = [*await enqueue(no_url, 2), *await enqueue(disabled, 2)]
    await worker(poll_interval=0.1)
    await asyncio.sleep(1.0)
    assert court.received == []
    before = await rows(*waiting)
    assert {(r["status"], r["attempts"], r["locked_by"]) for r in before.values()} == {("pending", 0, None)}
    async with db.transaction() as conn:
        await conn.execute("UPDATE courts SET webhook_url = $2 WHERE id = $1", no_url, court.url)
        await conn.execute("UPDATE courts SET webhook_disabled_at = NULL WHERE id = $1", disabled)
        await conn.execute(f"NOTIFY {outbox.NOTIFY_CHANNEL}")
    await eventually(lambda: settled(*waiting), timeout=5)
    assert set(court.delivered()) == set(waiting)


# -- leases


async def test_a_worker_whose_lease_was_taken_over_cannot_overwrite_the_newer_result(pool):
    court_id, _ = await make_court("http://127.0.0.1:9/unused")
    (msg,) = await enqueue(court_id)
    async with db.connection() as conn:
        await conn.execute("UPDATE webhook_outbox SET locked_by = 'B', locked_until = now() + interval '30 s' "
                           "WHERE id = $1", msg)
    stale = Worker(pool=pool, worker_id="A")
    job = Job(id=msg, court_id=court_id, url="http://127.0.0.1:9/unused", body=b"{}", attempts=0, secrets=())
    for outcome in (Outcome("failed", status=500, error="HTTP 500"), Outcome("delivered", status=204),
                    Outcome("gone", status=410, error="gone")):
        await stale._record(job, outcome)
    row = (await rows(msg))[msg]
    assert (row["status"], row["attempts"], row["locked_by"], row["last_status"]) == ("pending", 0, "B", None)
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT webhook_disabled_at FROM courts WHERE id = $1", court_id) is None


async def test_rows_of_a_worker_that_vanished_come_back_when_the_lease_expires(pool, receiver, worker):
    court = receiver()
    court_id, _ = await make_court(court.url)
    ids = await enqueue(court_id, 2)
    fake = [dt.datetime.now(dt.UTC)]
    async with db.connection() as conn:  # claimed by a worker that then died
        await conn.execute("UPDATE webhook_outbox SET locked_by = 'dead-worker', locked_until = $2 "
                           "WHERE id = ANY($1)", ids, fake[0] + dt.timedelta(seconds=30))
    await worker(poll_interval=0.05, clock=lambda: fake[0])
    await asyncio.sleep(0.5)  # many claim rounds while the lease holds, by the worker's clock
    assert court.received == []
    fake[0] += dt.timedelta(seconds=30, microseconds=1)
    await eventually(lambda: settled(*ids), timeout=10)
    assert set(court.delivered()) == set(ids)
    assert {int(r.timestamp) for r in court.received} == {int(fake[0].timestamp())}


async def test_stop_waits_for_sends_in_flight_and_hands_back_no_lease(pool, receiver):
    release = threading.Event()
    court = receiver(lambda got: Reply(status=204, hold=release))
    court_id, _ = await make_court(court.url)
    ids = await enqueue(court_id, 3)
    w = await Worker(pool=pool, schedule=(0, 0.2), timeout=3, lease=5, poll_interval=0.1).start()
    await eventually(lambda: len(court.received) == 3)
    stopping = asyncio.create_task(w.stop())
    await asyncio.sleep(0.3)
    assert not stopping.done()  # waits for the answers
    release.set()
    await asyncio.wait_for(stopping, 5)
    final = await rows(*ids)
    assert {(r["status"], r["locked_by"]) for r in final.values()} == {("delivered", None)}


# -- NOTIFY


async def test_delivery_follows_commit_within_a_second_by_notify_alone(receiver, worker):
    court = receiver()
    court_id, _ = await make_court(court.url)
    w = await worker(poll_interval=60)  # polling cannot explain anything below
    await asyncio.sleep(0.5)  # the worker found nothing and sleeps on its minute-long poll
    # with a minute-long poll, any delivery well inside the minute came from NOTIFY; no
    # tighter bound is asserted, so a loaded machine cannot fail it (bench/ measures latency)
    for _ in range(3):
        (msg,) = await enqueue(court_id)
        await eventually(lambda msg=msg: msg in court.delivered(), timeout=30, interval=0.01)

    # the LISTEN connection is cut: the worker reconnects by itself and NOTIFY works again
    old_pid = w.listen_pid
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", old_pid)
    await eventually(lambda: w.listen_pid != old_pid and w.listening.is_set(), timeout=10)
    await asyncio.sleep(0.3)
    (msg,) = await enqueue(court_id)
    await eventually(lambda: msg in court.delivered(), timeout=30, interval=0.01)


async def test_an_idle_worker_wakes_exactly_when_a_retry_falls_due(receiver, worker):
    court = receiver(lambda got: Reply(status=503) if got.attempt == 1 else Reply(status=204))
    court_id, _ = await make_court(court.url)
    await worker(schedule=(0, 1.5), jitter=0, poll_interval=60)
    (msg,) = await enqueue(court_id)
    await eventually(lambda: msg in court.delivered(), timeout=30, interval=0.01)
    a, b = court.attempts(msg)
    assert b.at - a.at >= 1.5  # not before it fell due; the minute-long poll did not wake it
    assert b.at - a.at < 30


# -- the deliveries admin API


async def test_dead_deliveries_are_listed_for_admins_and_a_retry_starts_them_over(client, world, receiver, worker):
    healthy = threading.Event()
    court = receiver(lambda got: Reply(status=204) if healthy.is_set() else Reply(status=500))
    court_id, _ = await make_court(court.url)
    other_id, _ = await make_court(None)
    ids = await enqueue(court_id, 3)
    (waiting,) = await enqueue(other_id, event_type="entrustment.concluded")
    await worker(schedule=(0, 0.1))
    await eventually(lambda: settled(*ids))

    r = await client.get("/api/v1/deliveries", params={"status": "dead"}, headers=world.h("admin"))
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 3 and page["next_cursor"] is None
    assert {i["id"] for i in page["items"]} == set(ids)
    item = next(i for i in page["items"] if i["id"] == ids[0])
    assert set(item) == {"id", "court_id", "event_type", "status", "attempts", "next_attempt_at", "last_status",
                         "last_error", "created_at", "delivered_at", "dead_at"}
    assert (item["court_id"], item["event_type"], item["status"], item["attempts"], item["last_status"],
            item["last_error"], item["delivered_at"]) == (str(court_id), "referral.created", "dead", 2, 500,
                                                          "HTTP 500", None)
    assert item["dead_at"].endswith("+08:00")

    r = await client.get("/api/v1/deliveries", params={"status": "pending"}, headers=world.h("admin"))
    assert [(i["id"], i["court_id"], i["event_type"], i["attempts"]) for i in r.json()["items"]] == [
        (waiting, str(other_id), "entrustment.concluded", 0)]
    r = await client.get("/api/v1/deliveries", params={"court_id": str(other_id)}, headers=world.h("admin"))
    assert r.json()["total"] == 1
    r = await client.get("/api/v1/deliveries", params={"status": "delivered"}, headers=world.h("admin"))
    assert r.json() == {"items": [], "total": 0, "next_cursor": None}

    # pages: newest first, the cursor walks all of them once
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/api/v1/deliveries", params=params, headers=world.h("admin"))
        body = r.json()
        assert body["total"] == 4 and len(body["items"]) <= 2
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([*ids, waiting]) and len(seen) == 4
    created = [i["created_at"] for i in (await client.get("/api/v1/deliveries", headers=world.h("admin"))).json()["items"]]
    assert created == sorted(created, reverse=True)

    # refusals
    for who in ("village_a1", "bureau_county"):
        assert (await client.get("/api/v1/deliveries", headers=world.h(who))).status_code == 403
        r = await client.post(f"/api/v1/deliveries/{ids[0]}/retry", headers=world.h(who))
        assert r.status_code == 403
    assert (await client.get("/api/v1/deliveries")).status_code == 401
    assert (await client.post(f"/api/v1/deliveries/{ids[0]}/retry")).status_code == 401
    r = await client.get("/api/v1/deliveries", params={"status": "lost"}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"
    r = await client.get("/api/v1/deliveries", params={"cursor": "garbage"}, headers=world.h("admin"))
    assert r.status_code == 422
    r = await client.post("/api/v1/deliveries/msg_unknown/retry", headers=world.h("admin"))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(f"/api/v1/deliveries/{waiting}/retry", headers=world.h("admin"))
    assert r.status_code == 409
    assert (await rows(ids[0]))[ids[0]]["status"] == "dead"  # refused retries changed nothing

    # the retry: pending, a fresh schedule, the workers woken; the same webhook-id arrives
    healthy.set()
    before = len(court.attempts(ids[0]))
    r = await client.post(f"/api/v1/deliveries/{ids[0]}/retry", headers=world.h("admin"))
    assert r.status_code == 200, r.text
    again = r.json()
    assert (again["id"], again["status"], again["attempts"], again["dead_at"]) == (ids[0], "pending", 0, None)
    await eventually(lambda: settled(ids[0]), timeout=3)
    row = (await rows(ids[0]))[ids[0]]
    assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 1, 204)
    assert len(court.attempts(ids[0])) == before + 1
    assert ids[0] in court.delivered()
    r = await client.post(f"/api/v1/deliveries/{ids[0]}/retry", headers=world.h("admin"))
    assert r.status_code == 409
    async with db.connection() as conn:
        audit = await conn.fetch("SELECT actor, action, entity, entity_id FROM audit_log WHERE entity = 'delivery'")
    assert [tuple(a) for a in audit] == [("token:admin", "retry", "delivery", ids[0])]


async def test_start_in_process_runs_the_worker_serve_uses_until_stopped(pool, receiver, monkeypatch):
    from referrals.worker import start_in_process

    monkeypatch.setenv("TIAOJIE_WORKER_CONCURRENCY", "4")
    court = receiver()
    court_id, _ = await make_court(court.url)
    w = await start_in_process()
    try:
        assert (w.concurrency, w.lease, w.timeout, w.schedule) == (4, 30, 10, DEFAULT_SCHEDULE)
        await asyncio.wait_for(w.listening.wait(), 10)
        (msg,) = await enqueue(court_id)
        await eventually(lambda: settled(msg), timeout=3)
    finally:
        await w.stop()
    (later,) = await enqueue(court_id)
    await asyncio.sleep(0.5)
    assert set(court.delivered()) == {msg}  # a stopped worker sends nothing more
    assert (await rows(later))[later]["status"] == "pending"


async def test_with_an_injected_clock_the_real_schedule_runs_to_dead_in_seconds(receiver, worker):
    court = receiver(lambda got: Reply(status=503))
    court_id, _ = await make_court(court.url)
    (msg,) = await enqueue(court_id)
    fake = [dt.datetime.now(dt.UTC)]
    await worker(schedule=DEFAULT_SCHEDULE, jitter=0, clock=lambda: fake[0], poll_interval=0.05)
    for n, gap in enumerate(DEFAULT_SCHEDULE[1:], start=1):
        await eventually(lambda n=n: len(court.received) == n, timeout=5)
        row = await eventually(lambda n=n: _row_with_attempts(msg, n), timeout=5)
        assert row["status"] == "pending"
        assert row["next_attempt_at"] == fake[0] + dt.timedelta(seconds=gap)
        assert int(court.received[-1].timestamp) == int(fake[0].timestamp())  # the attempt's own time
        await asyncio.sleep(0.15)
        assert len(court.received) == n  # not due yet by the worker's clock
        fake[0] += dt.timedelta(seconds=gap)
    await eventually(lambda: settled(msg), timeout=5)
    row = (await rows(msg))[msg]
    assert (row["status"], row["attempts"], row["dead_at"]) == ("dead", 10, fake[0])
    assert len(court.received) == 10


async def _row_with_attempts(msg: str, n: int):
    row = (await rows(msg))[msg]
    return row if row["attempts"] == n else None
