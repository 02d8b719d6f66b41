"""The webhook delivery worker: takes due rows off `webhook_outbox` and POSTs them to the
courts, signed per Standard Webhooks.

How it stays safe with many workers on many machines:

- A claim is one short statement (`SELECT … FOR UPDATE SKIP LOCKED` inside an UPDATE that
  sets a lease `locked_until` and `locked_by`), committed before any HTTP is sent; two
  workers never claim the same row while its lease runs.
- HTTP happens outside any transaction, bounded by a total timeout shorter than the lease.
- Every result is written only `WHERE locked_by = <this worker>`: a worker whose lease ran
  out (it stalled, its row was claimed again) cannot overwrite the newer result.
- A worker that dies leaves leases behind; the rows are due again when they expire. So a
  court may see an event twice (at least once, always the same `webhook-id`), never zero
  times.

It wakes on `LISTEN tiaojie_outbox` (a dedicated connection that reconnects by itself), so
delivery follows commit within a second, and polls as a fallback: every `poll_interval`
seconds, and exactly when the next row is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import email.utils
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import httpx
import structlog

from mediation import clock as _clock
from mediation import db
from mediation.errors import Conflict, Invalid, NotFound
from mediation.pagination import Keyset, keyset_page
from referrals import signing, webhook_http
from referrals.outbox import NOTIFY_CHANNEL

log = structlog.get_logger("tiaojie.worker")

# gaps between attempts (seconds): the first attempt at once, then 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 14 h, 20 h and 24 h — about three days — then dead
DEFAULT_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_POLL_SECONDS = 1.0
# claims at most this often: at hundreds of commits a second every NOTIFY would otherwise
# cost each worker a claim query; this gathers them for at most 10 ms
DEFAULT_CLAIM_INTERVAL = 0.01
DEFAULT_CONCURRENCY = 32
DEFAULT_JITTER = 0.10  # a gap grows by 0–10 %, never shrinks
MAX_RETRY_AFTER_SECONDS = 86400.0  # no receiver parks an event for longer than the longest gap
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "tiaojie-webhooks/1"
#: `last_error` for failures below HTTP: the same words whatever the socket said, so the
#: deliveries list cannot tell an admin which ports of an address are open ("connection
#: refused" vs. a reset vs. a TLS alert). HTTP status codes are kept.
COULD_NOT_CONNECT = "could not connect to the court's endpoint"
EXCHANGE_FAILED = "the court's endpoint broke off the exchange without an HTTP answer"
STATUSES = ("pending", "delivered", "dead")


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    lease: float = DEFAULT_LEASE_SECONDS
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    poll_interval: float = DEFAULT_POLL_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY
    jitter: float = DEFAULT_JITTER

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> WorkerSettings:
        """`TIAOJIE_WORKER_SCHEDULE` (comma-separated gaps in seconds),
        `TIAOJIE_WORKER_LEASE_SECONDS`, `…_TIMEOUT_SECONDS`, `…_POLL_SECONDS`,
        `TIAOJIE_WORKER_CONCURRENCY`, `TIAOJIE_WORKER_JITTER` (a fraction). Meant for tests and
        benchmarks; the defaults are the contract."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("TIAOJIE_WORKER_SCHEDULE"):
            values["schedule"] = tuple(float(x) for x in env["TIAOJIE_WORKER_SCHEDULE"].split(",") if x.strip())
        for field, name, kind in (("lease", "LEASE_SECONDS", float), ("timeout", "TIMEOUT_SECONDS", float),
                                  ("poll_interval", "POLL_SECONDS", float), ("concurrency", "CONCURRENCY", int),
                                  ("jitter", "JITTER", float)):
            if env.get(f"TIAOJIE_WORKER_{name}"):
                values[field] = kind(env[f"TIAOJIE_WORKER_{name}"])
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    court_id: uuid.UUID
    url: str
    body: bytes
    attempts: int  # before this one
    secrets: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | gone | failed
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, from the receiver's Retry-After


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """`Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dsn() -> str:
    from mediation.piccolo_conf import DB

    dsn = (DB.config or {}).get("dsn")
    if not dsn:
        raise RuntimeError("the database is not configured")
    return dsn


_CLAIM = """
WITH due AS (
    -- per court that can receive, its oldest due rows in index order (court_id, next_attempt_at),
    -- so a claim reads about as many rows as it takes, however long the backlog
    SELECT d.id, d.next_attempt_at
    FROM courts c
    CROSS JOIN LATERAL (
        SELECT o.id, o.next_attempt_at
        FROM webhook_outbox o
        WHERE o.court_id = c.id AND o.status = 'pending'
          AND o.next_attempt_at <= coalesce($1, now())
          AND (o.locked_until IS NULL OR o.locked_until < coalesce($1, now()))
        ORDER BY o.next_attempt_at
        LIMIT $2
        FOR UPDATE OF o SKIP LOCKED
    ) d
    WHERE c.webhook_url IS NOT NULL AND c.webhook_url <> ''
      AND c.webhook_disabled_at IS NULL
      AND EXISTS (SELECT 1 FROM court_secrets s
                  WHERE s.court_id = c.id AND (s.expires_at IS NULL OR s.expires_at > coalesce($1, now())))
    ORDER BY d.next_attempt_at
    LIMIT $2
)
UPDATE webhook_outbox o
SET locked_until = coalesce($1, now()) + make_interval(secs => $3), locked_by = $4
FROM due, courts c
WHERE o.id = due.id AND c.id = o.court_id
RETURNING o.id, o.court_id, o.payload::text AS body, o.attempts, c.webhook_url,
    ARRAY(SELECT s.secret FROM court_secrets s
          WHERE s.court_id = o.court_id AND (s.expires_at IS NULL OR s.expires_at > coalesce($1, now()))
          ORDER BY s.created_at DESC) AS secrets
"""

# seconds until the next retry falls due, so an idle worker sleeps exactly that long (an
# index scan in due order that stops at the first row of a court that can receive)
_NEXT_DUE = """
SELECT extract(epoch FROM o.next_attempt_at - coalesce($1, now()))::float8
FROM webhook_outbox o
JOIN courts c ON c.id = o.court_id
WHERE o.status = 'pending' AND o.next_attempt_at > coalesce($1, now())
  AND c.webhook_url IS NOT NULL AND c.webhook_url <> '' AND c.webhook_disabled_at IS NULL
ORDER BY o.next_attempt_at
LIMIT 1
"""

_DELIVERED = """
UPDATE webhook_outbox o
SET status = 'delivered', delivered_at = coalesce(d.at, now()), attempts = o.attempts + 1, last_status = d.status,
    last_error = NULL, locked_until = NULL, locked_by = NULL
FROM unnest($1::text[], $2::int[], $3::timestamptz[]) AS d(id, status, at)
WHERE o.id = d.id AND o.locked_by = $4 AND o.status = 'pending'
"""


class _GroupWriter:
    """Writes successes in groups: while one UPDATE runs, the next ones queue up and go
    in the following one, so a busy worker commits (and fsyncs) far fewer times than it
    delivers, and an idle one writes each at once."""

    def __init__(self, write: Callable[[list[tuple[Job, Outcome, dt.datetime | None]]], Any]) -> None:
        self._write = write
        self._queue: list[tuple[tuple[Job, Outcome, dt.datetime | None], asyncio.Future]] = []
        self._running = False
        self._task: asyncio.Task | None = None  # held so the loop does not drop it

    async def submit(self, item: tuple[Job, Outcome, dt.datetime | None]) -> None:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if not self._running:
            self._running = True
            self._task = asyncio.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:500], self._queue[500:]
                try:
                    await self._write([item for item, _ in batch])
                except BaseException as e:  # noqa: BLE001 — handed to every waiter
                    for _, f in batch:
                        if not f.done():
                            f.set_exception(e)
                else:
                    for _, f in batch:
                        if not f.done():
                            f.set_result(None)
        finally:
            self._running = False


class Worker:
    """One delivery worker. Everything that shapes time is injectable: `schedule` (the
    gaps), `clock` (a callable answering an aware datetime), `lease`, `timeout`,
    `poll_interval`; so is the `http` client (an `httpx.AsyncClient`) and the id.

    Without a `clock`, due times and leases are read off the database's clock, the one
    every worker on every machine shares, so a machine whose clock is off can neither
    send early nor take over a lease that is still running elsewhere."""

    def __init__(self, *, pool: asyncpg.Pool | None = None, dsn: str | None = None,
                 settings: WorkerSettings | None = None, schedule: Sequence[float] | None = None,
                 clock: Callable[[], dt.datetime] | None = None, http: httpx.AsyncClient | None = None,
                 worker_id: str | None = None, lease: float | None = None, timeout: float | None = None,
                 poll_interval: float | None = None, concurrency: int | None = None,
                 jitter: float | None = None, rng: random.Random | None = None, listen: bool = True,
                 claim_interval: float = DEFAULT_CLAIM_INTERVAL) -> None:
        s = settings or WorkerSettings()
        self.schedule = tuple(float(x) for x in (schedule if schedule is not None else s.schedule))
        self.lease = float(lease if lease is not None else s.lease)
        self.timeout = float(timeout if timeout is not None else s.timeout)
        self.poll_interval = float(poll_interval if poll_interval is not None else s.poll_interval)
        self.concurrency = int(concurrency if concurrency is not None else s.concurrency)
        self.jitter = float(jitter if jitter is not None else s.jitter)
        self.claim_interval = float(claim_interval)
        if len(self.schedule) < 1 or any(g < 0 for g in self.schedule):
            raise ValueError("the schedule needs at least one gap, none negative")
        if self.lease <= self.timeout:
            raise ValueError("the lease must outlast the HTTP timeout, or a slow send could be claimed twice")
        if self.concurrency < 1 or self.jitter < 0:
            raise ValueError("concurrency must be ≥ 1 and jitter ≥ 0")
        self.clock = clock
        self.id = worker_id or default_worker_id()
        self._pool = pool
        self._dsn = dsn
        self._http = http
        self._client: webhook_http.Client | None = None
        self._rng = rng or random.Random()
        self._listen = listen
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None
        self._listen_task: asyncio.Task | None = None
        self.listening = asyncio.Event()  # set while the LISTEN connection is up (tests wait on it)
        self.listen_pid: int | None = None  # its server process id
        self._successes = _GroupWriter(self._write_delivered)
        self._next_due: float | None = None  # time.monotonic() when the next retry falls due
        self._last_claim = 0.0
        self._batch = max(1, self.concurrency // 4)
        self._backlog = False  # the last claim filled every free slot: more rows are due
        self._log = log.bind(worker=self.id)

    # -- life cycle

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool or db.pool()

    async def start(self) -> Worker:
        self._open_client()
        if self._listen:
            self._listen_task = asyncio.create_task(self._listen_forever(), name="tiaojie-outbox-listen")
        self._loop_task = asyncio.create_task(self._run(), name="tiaojie-outbox-worker")
        self._log.info("worker.started", concurrency=self.concurrency, lease=self.lease, timeout=self.timeout,
                       schedule=list(self.schedule))
        return self

    async def stop(self) -> None:
        """Stop claiming, let the sends in flight finish (each ends within the timeout),
        and hand back any lease still held so another worker need not wait for it."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
        if self._in_flight:
            _done, pending = await asyncio.wait(set(self._in_flight), timeout=self.timeout + 1)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        if self._listen_task is not None:
            self._listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listen_task
        with contextlib.suppress(Exception):
            async with self.pool.acquire() as conn:
                await conn.execute("UPDATE webhook_outbox SET locked_until = NULL, locked_by = NULL "
                                   "WHERE locked_by = $1 AND status = 'pending'", self.id)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._log.info("worker.stopped")

    def wake(self) -> None:
        self._wake.set()

    # -- the loop

    async def _run(self) -> None:
        failures = 0
        refresh = True  # ask the database when the next retry falls due
        while not self._stopping:
            since = time.monotonic() - self._last_claim
            if since < self.claim_interval:
                await asyncio.sleep(self.claim_interval - since)
            self._wake.clear()
            self._last_claim = time.monotonic()
            free = self.concurrency - len(self._in_flight)
            if self._backlog and 0 < free < self._batch and self._in_flight:
                # draining a backlog: claim in batches, not a row per finished send (a claim
                # is a write transaction; PostgreSQL's CPU per delivery follows their number)
                refresh = not await self._sleep(self.poll_interval)
                continue
            try:
                claimed = await self._claim(free) if free > 0 else 0
                if free > 0:
                    self._backlog = claimed == free
                failures = 0
            except Exception as e:  # noqa: BLE001 — the database is away, or the pool closing: try again
                failures += 1
                self._log.warning("worker.claim_failed", error=type(e).__name__)
                await self._sleep(min(5.0, 0.2 * 2 ** min(failures, 5)))
                continue
            if self._stopping:
                break
            if free > 0 and claimed == free:
                continue  # there may be more due right now
            if free <= 0:
                refresh = not await self._sleep(self.poll_interval)
                continue
            if refresh or self._next_due is None or self._next_due <= time.monotonic():
                # after a poll, at start, or when the remembered time has passed; a NOTIFY
                # wake-up (a new event, due at once) needs no look
                self._next_due = await self._query_next_due()
            wait = self.poll_interval
            if self._next_due is not None:
                # a hair late rather than early, so the row is due when we look
                wait = min(wait, max(0.0, self._next_due - time.monotonic()) + 0.005)
            refresh = not await self._sleep(wait)

    async def _sleep(self, seconds: float) -> bool:
        """Wait until woken (True) or `seconds` pass (False)."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, seconds))
            return True
        except TimeoutError:
            return False

    async def _query_next_due(self) -> float | None:
        """When the next retry falls due, on this process's monotonic clock."""
        try:
            async with self.pool.acquire() as conn:
                seconds = await conn.fetchval(_NEXT_DUE, self._now())
        except Exception as e:  # noqa: BLE001 — the poll still runs
            self._log.warning("worker.next_due_failed", error=type(e).__name__)
            return None
        return None if seconds is None else time.monotonic() + seconds

    def _note_due(self, delay: float) -> None:
        """A retry this worker scheduled: wake then, without asking the database."""
        at = time.monotonic() + delay
        if self._next_due is None or at < self._next_due:
            self._next_due = at
            self._wake.set()

    def _now(self) -> dt.datetime | None:
        """The injected clock's time, or None: the SQL then takes the database's now()."""
        return None if self.clock is None else self.clock()

    def _wall(self) -> dt.datetime:
        return self.clock() if self.clock is not None else dt.datetime.now(dt.UTC)

    async def _claim(self, limit: int) -> int:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(_CLAIM, self._now(), limit, self.lease, self.id)
        for r in rows:
            job = Job(id=r["id"], court_id=r["court_id"], url=r["webhook_url"], body=r["body"].encode(),
                      attempts=r["attempts"], secrets=tuple(r["secrets"]))
            task = asyncio.create_task(self._deliver(job), name=f"deliver-{job.id}")
            self._in_flight.add(task)
            task.add_done_callback(self._done)
        return len(rows)

    def _done(self, task: asyncio.Task) -> None:
        self._in_flight.discard(task)
        free = self.concurrency - len(self._in_flight)
        if free == 1 and not self._backlog or free == self._batch or not self._in_flight:
            self._wake.set()   # room to claim again: one slot, or a batch while draining a backlog
        if not task.cancelled() and task.exception() is not None:
            self._log.error("worker.deliver_crashed", error=repr(task.exception()))

    def _open_client(self) -> None:
        """The HTTP client: an injected httpx client (tests, embedding), else one
        `webhook_http.Client` for all send slots (its keep-alive pool holds up to
        `concurrency` connections per court)."""
        if self._client is None and self._http is None:
            self._client = webhook_http.Client(user_agent=USER_AGENT, max_idle_per_origin=self.concurrency)

    # -- one delivery

    async def send(self, job: Job) -> Outcome:
        if not job.secrets:
            return Outcome("failed", error="no current signing secret")
        headers = signing.headers(job.id, int(self._wall().timestamp()), job.body, job.secrets)
        self._open_client()
        try:
            async with asyncio.timeout(self.timeout):   # the whole exchange, however the bytes trickle
                status, answer_headers = await self._post(job, headers)
        except (webhook_http.ConnectFailed, httpx.ConnectError, httpx.ConnectTimeout):
            return Outcome("failed", error=COULD_NOT_CONNECT)
        except (TimeoutError, httpx.TimeoutException):  # before OSError: TimeoutError is one
            return Outcome("failed", error=f"no answer within {self.timeout:g} s")
        except OSError:
            return Outcome("failed", error=COULD_NOT_CONNECT)
        except (webhook_http.ExchangeFailed, httpx.HTTPError, ValueError):
            return Outcome("failed", error=EXCHANGE_FAILED)
        if 200 <= status < 300:
            return Outcome("delivered", status=status)
        if status == 410:
            return Outcome("gone", status=status, error="HTTP 410 Gone: the court's webhook is disabled")
        note = " (redirects are not followed)" if 300 <= status < 400 else ""
        return Outcome("failed", status=status, error=f"HTTP {status}{note}",
                       retry_after=retry_after_seconds(answer_headers.get("retry-after"), self._wall()))

    async def _post(self, job: Job, headers: dict[str, str]) -> tuple[int, Any]:
        """POST the event; at most 64 KiB of answer is read."""
        if self._client is not None:
            answer = await self._client.post(job.url, job.body, headers, max_body=MAX_RESPONSE_BYTES)
            return answer.status, answer.headers
        assert self._http is not None
        async with self._http.stream("POST", job.url, content=job.body, headers=headers) as resp:
            read = 0
            async for chunk in resp.aiter_raw():
                read += len(chunk)
                if read > MAX_RESPONSE_BYTES:
                    break
        return resp.status_code, resp.headers

    def next_delay(self, attempts: int, retry_after: float | None = None) -> float | None:
        """Seconds until the next attempt after `attempts` failed ones, or None when the
        schedule is spent (dead). Jitter only lengthens; a Retry-After later than the
        schedule wins (capped at a day, so no receiver parks an event for ever)."""
        if attempts >= len(self.schedule):
            return None
        gap = self.schedule[attempts]
        delay = gap * (1 + self._rng.uniform(0, self.jitter))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return delay

    async def _deliver(self, job: Job) -> None:
        outcome = await self.send(job)
        try:
            await self._record(job, outcome)
        except Exception as e:  # noqa: BLE001
            # the lease runs out and the row is sent again: at least once, same webhook-id
            self._log.warning("worker.record_failed", message_id=job.id, error=type(e).__name__)

    async def _record(self, job: Job, outcome: Outcome) -> None:
        now = self._now()  # None: the database's now()
        attempt = job.attempts + 1
        fields = {"message_id": job.id, "court_id": str(job.court_id), "attempt": attempt, "status": outcome.status}
        if outcome.kind == "delivered":
            await self._successes.submit((job, outcome, now))
            self._log.debug("webhook.delivered", **fields)
            return
        async with self.pool.acquire() as conn:
            if outcome.kind == "gone":
                # not an attempt against the schedule: the court told us to stop, the event
                # waits (due at once) until an admin sets a URL again
                async with conn.transaction():
                    mine = await conn.execute(
                        "UPDATE webhook_outbox SET last_status = 410, last_error = $3, "
                        "next_attempt_at = coalesce($4, now()), locked_until = NULL, locked_by = NULL "
                        "WHERE id = $1 AND locked_by = $2 AND status = 'pending'", job.id, self.id, outcome.error, now)
                    if not mine.endswith(" 0"):
                        await conn.execute(
                            "UPDATE courts SET webhook_disabled_at = coalesce($2, now()) WHERE id = $1 "
                            "AND webhook_url = $3 AND webhook_disabled_at IS NULL", job.court_id, now, job.url)
                self._log.warning("webhook.gone_court_disabled", **fields)
                return
            delay = self.next_delay(attempt, outcome.retry_after)
            if delay is None:
                await conn.execute(
                    "UPDATE webhook_outbox SET status = 'dead', dead_at = coalesce($3, now()), "
                    "attempts = attempts + 1, last_status = $4, last_error = $5, locked_until = NULL, locked_by = NULL "
                    "WHERE id = $1 AND locked_by = $2 AND status = 'pending'",
                    job.id, self.id, now, outcome.status, outcome.error)
                self._log.warning("webhook.dead", **fields, error=outcome.error)
                return
            await conn.execute(
                "UPDATE webhook_outbox SET attempts = attempts + 1, "
                "next_attempt_at = coalesce($3, now()) + make_interval(secs => $6), last_status = $4, "
                "last_error = $5, locked_until = NULL, locked_by = NULL "
                "WHERE id = $1 AND locked_by = $2 AND status = 'pending'",
                job.id, self.id, now, outcome.status, outcome.error, delay)
        self._note_due(delay)
        self._log.info("webhook.retry_scheduled", **fields, error=outcome.error, delay=round(delay, 3))

    async def _write_delivered(self, batch: list[tuple[Job, Outcome, dt.datetime | None]]) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(_DELIVERED, [j.id for j, _, _ in batch], [o.status for _, o, _ in batch],
                               [at for _, _, at in batch], self.id)

    # -- LISTEN on a connection of its own

    async def _listen_forever(self) -> None:
        backoff = 0.2
        while not self._stopping:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn or _dsn(), timeout=10)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
                self.listen_pid = conn.get_server_pid()
                self.listening.set()
                self._wake.set()  # anything committed while we were not listening
                backoff = 0.2
                while not lost.is_set() and not self._stopping:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), timeout=15)
                    if not lost.is_set():
                        await conn.fetchval("SELECT 1", timeout=5)  # a dead peer shows up here
                if lost.is_set():
                    self._log.warning("worker.listen_lost", error="connection closed")
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 — any failure means: reconnect
                self._log.warning("worker.listen_lost", error=type(e).__name__)
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), timeout=2)
            if not self._stopping:
                await asyncio.sleep(backoff)
                backoff = min(5.0, backoff * 2)


# -- entry points


async def start_in_process(settings: WorkerSettings | None = None) -> Worker:
    """The worker inside `tiaojie serve` (the pool is already connected)."""
    return await Worker(settings=settings or WorkerSettings.from_env()).start()


async def run_forever(settings: WorkerSettings | None = None) -> None:
    """`tiaojie worker`: runs until SIGTERM or SIGINT, then stops gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    worker = await Worker(settings=settings or WorkerSettings.from_env()).start()
    try:
        await stop.wait()
    finally:
        await worker.stop()


# -- the admin view (GET /deliveries, POST /deliveries/{id}/retry)


def _item(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": r["id"], "court_id": r["court_id"], "event_type": r["event_type"], "status": r["status"],
        "attempts": r["attempts"], "next_attempt_at": _clock.local(r["next_attempt_at"]),
        "last_status": r["last_status"], "last_error": r["last_error"], "created_at": _clock.local(r["created_at"]),
        "delivered_at": _clock.local(r["delivered_at"]), "dead_at": _clock.local(r["dead_at"]),
    }


#: outbox ids are text (`msg_…`), not UUIDs
_NEWEST_FIRST = Keyset(columns=("created_at", "id"), keys=("created_at", "id"), parsers=(dt.datetime.fromisoformat, str))

_COLUMNS = ("id, court_id, event_type, status, attempts, next_attempt_at, last_status, last_error, created_at, "
            "delivered_at, dead_at")


async def list_deliveries(*, status: str | None = None, court_id: uuid.UUID | None = None, limit: int = 50,
                          cursor: str | None = None) -> dict[str, Any]:
    """Newest first."""
    if status is not None and status not in STATUSES:
        raise Invalid.field("status", "must be one of {choices}", choices=", ".join(STATUSES))
    conds, args = ["TRUE"], []
    if status is not None:
        args.append(status)
        conds.append(f"status = ${len(args)}")
    if court_id is not None:
        args.append(court_id)
        conds.append(f"court_id = ${len(args)}")
    where = " AND ".join(conds)
    async with db.connection() as conn:
        page = await keyset_page(conn, select=_COLUMNS, source="webhook_outbox", where=where, args=args,
                                 keyset=_NEWEST_FIRST, limit=limit, cursor=cursor)
    return {"items": [_item(r) for r in page.rows], "total": page.total, "next_cursor": page.next_cursor}


async def retry_delivery(message_id: str, *, actor: str) -> dict[str, Any]:
    """A dead delivery starts over: pending, no attempts, due now; the workers are woken."""
    from mediation import audit

    async with db.transaction() as conn:
        row = await conn.fetchrow("SELECT status FROM webhook_outbox WHERE id = $1 FOR UPDATE", message_id)
        if row is None:
            raise NotFound("no such delivery")
        if row["status"] != "dead":
            raise Conflict("only a dead delivery can be retried; this one is {status}", status=row["status"])
        updated = await conn.fetchrow(
            f"UPDATE webhook_outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), dead_at = NULL, "
            f"locked_until = NULL, locked_by = NULL WHERE id = $1 RETURNING {_COLUMNS}", message_id)
        await audit.record(conn, actor=actor, action="retry", entity="delivery", entity_id=message_id)
        await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return _item(updated)
