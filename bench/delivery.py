"""Webhook delivery benchmark: N events (default 10,000) through the outbox to a local
court receiver (a separate process) that fails 30 % of first attempts with 503, sent by
two `tiaojie worker` processes.

Reports deliveries per second, commit-to-delivery latency p50/p99 (commit time taken
right after each enqueueing transaction commits, delivery time taken by the receiver
when it answers 2xx; both `time.time()` on this machine), and that nothing was lost
(every id answered 2xx at the receiver and `delivered` in the database, none dead).

The first retry gap is compressed from 5 s to 1 s (`TIAOJIE_WORKER_SCHEDULE`), so the
30 % that fail first come back within the run; everything else is the production
configuration (32 in flight per worker, 10 s timeout, 30 s lease, 1 s poll, NOTIFY).

    .venv/bin/python bench/delivery.py                 # paced at 400 events/s
    .venv/bin/python bench/delivery.py --rate 0        # as fast as the producers commit
    TIAOJIE_DATABASE_URL=postgresql://… .venv/bin/python bench/delivery.py

Targets 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402

COMPRESSED_SCHEDULE = "0,1,300,1800,7200,18000,36000,50400,72000,86400"  # 5 s → 1 s, the rest as in production
COUNTY = "511325000000"


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a live process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def postgres_cpu_seconds(postmaster: int | None) -> float | None:
    """The whole embedded server: the postmaster, the backends it already reaped
    (cutime/cstime) and the live ones."""
    if postmaster is None:
        return None
    try:
        fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
        total = sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    except (OSError, ValueError):
        return None
    return total + sum(cpu_seconds(int(c)) or 0.0 for c in children)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the receiver process

def run_receiver(port: int, secret: str, fail_first: float, out: Path) -> int:
    from referrals.court_sim import Receiver, Reply

    rng = random.Random(7)
    lock = threading.Lock()
    failed_first = [0]

    def behaviour(got):
        if got.attempt == 1:
            with lock:
                fail = rng.random() < fail_first
            if fail:
                failed_first[0] += 1
                return Reply(status=503)
        return Reply(status=204)

    receiver = Receiver(behaviour=behaviour, secrets=[secret], port=port)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    receiver.start()
    print("receiver ready", flush=True)
    while not done.wait(0.2):
        pass
    receiver.stop()
    out.write_text(json.dumps({
        "delivered": receiver.delivered(),
        "requests": len(receiver.received),
        "refused_signatures": sum(1 for r in receiver.received if r.verified is False),
        "failed_first": failed_first[0],
        "overlaps": len(receiver.overlaps),
        "max_in_flight": receiver.max_in_flight,
        "first_request": min((r.at for r in receiver.received), default=None),
    }))
    return 0


def run_fast_receiver(port: int, secret: str, fail_first: float, out: Path) -> int:
    """The same answers and record as `run_receiver`, on one asyncio event loop with a
    bare HTTP/1.1 parser (keep-alive, Content-Length bodies): a court that costs a few
    hundredths of a millisecond per request, so the workers are what is measured. Every
    signature is still verified (`referrals.signing.verify`)."""
    from referrals import signing

    rng = random.Random(7)
    delivered: dict[str, tuple[int, float]] = {}
    attempts: dict[str, int] = {}
    stats = {"requests": 0, "refused": 0, "failed_first": 0, "first": None, "in_flight": 0, "max_in_flight": 0}
    no_content = b"HTTP/1.1 204 No Content\r\n\r\n"
    unavailable = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"
    refused = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"

    class Court(asyncio.Protocol):
        def connection_made(self, transport) -> None:
            self.transport, self.buffer = transport, b""
            stats["in_flight"] += 1
            stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])

        def connection_lost(self, exc) -> None:
            stats["in_flight"] -= 1

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = self.buffer[:end].decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
                length = int(headers.get("content-length", "0"))
                if len(self.buffer) < end + 4 + length:
                    return
                body, self.buffer = self.buffer[end + 4:end + 4 + length], self.buffer[end + 4 + length:]
                self.transport.write(self.answer(headers, body))

        def answer(self, headers: dict[str, str], body: bytes) -> bytes:
            now = time.time()
            stats["requests"] += 1
            stats["first"] = stats["first"] or now
            try:
                signing.verify(secret, body, headers)
            except signing.SignatureError:
                stats["refused"] += 1
                return refused
            msg = headers["webhook-id"]
            attempt = attempts[msg] = attempts.get(msg, 0) + 1
            if attempt == 1 and rng.random() < fail_first:
                stats["failed_first"] += 1
                return unavailable
            delivered.setdefault(msg, (attempt, now))
            return no_content

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        server = await loop.create_server(Court, "127.0.0.1", port, backlog=1024)
        print("receiver ready", flush=True)
        await done.wait()
        server.close()

    asyncio.run(serve())
    out.write_text(json.dumps({
        "delivered": delivered, "requests": stats["requests"], "refused_signatures": stats["refused"],
        "failed_first": stats["failed_first"], "overlaps": 0, "max_in_flight": stats["max_in_flight"],
        "first_request": stats["first"]}))
    return 0


# ---------------------------------------------------------------- the run

async def prepare(url: str, receiver_url: str, secret: str) -> uuid.UUID:
    import asyncpg

    from mediation import db

    await db.migrate(url)
    conn = await asyncpg.connect(url)
    try:
        court_id = uuid.uuid4()
        await conn.execute("INSERT INTO regions (code, name, level, prefix) VALUES ($1, '西充县', 'county', '511325') "
                           "ON CONFLICT DO NOTHING", COUNTY)
        await conn.execute("INSERT INTO courts (id, name, code, region_code, webhook_url) "
                           "VALUES ($1, '基准测试法院', $2, $3, $4)", court_id, f"B{court_id.hex[:10]}", COUNTY, receiver_url)
        await conn.execute("INSERT INTO court_secrets (id, court_id, secret) VALUES ($1, $2, $3)",
                           uuid.uuid4(), court_id, secret)
    finally:
        await conn.close()
    return court_id


async def produce(url: str, court_id: uuid.UUID, n: int, rate: float, producers: int) -> dict[str, float]:
    """One transaction per event (as a business action would), `producers` connections,
    paced at `rate` events/s in total (0 = as fast as they commit)."""
    import asyncpg

    from referrals import outbox

    committed: dict[str, float] = {}
    start = time.monotonic()
    counter = iter(range(n))

    async def producer() -> None:
        conn = await asyncpg.connect(url)
        try:
            for i in counter:
                if rate:
                    delay = start + i / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                async with conn.transaction():
                    msg = await outbox.enqueue(conn, court_id=court_id, event_type="referral.created", data={
                        "referral_id": uuid.uuid4(), "dispute_id": uuid.uuid4(),
                        "case_no": f"511325-2026-{i + 1:06d}", "kind": "litigation", "status": "pending"})
                committed[msg] = time.time()
        finally:
            await conn.close()

    await asyncio.gather(*(producer() for _ in range(producers)))
    return committed


async def outbox_counts(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return {r["status"]: r["n"] for r in await conn.fetch(
            "SELECT status, count(*) AS n FROM webhook_outbox GROUP BY status")}
    finally:
        await conn.close()


def start_worker(url: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "TIAOJIE_DATABASE_URL": url, "TIAOJIE_WORKER_SCHEDULE": COMPRESSED_SCHEDULE,
           "TIAOJIE_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main(['worker']))"],
                            env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_for_text(path: Path, text: bytes, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_bytes():
            return
        if proc.poll() is not None:
            raise SystemExit(f"{path.name}: exited early:\n{path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    raise SystemExit(f"{path.name}: not ready within {timeout} s")


def stop(proc: subprocess.Popen, timeout: float = 20) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def main() -> int:
    p = argparse.ArgumentParser(description="webhook delivery benchmark")
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--rate", type=float, default=400, help="events committed per second (0 = unpaced)")
    p.add_argument("--producers", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--fail-first", type=float, default=0.30)
    p.add_argument("--backlog", action="store_true",
                   help="commit every event first, then start the workers and time how fast they drain it")
    p.add_argument("--timeout", type=float, default=300, help="give up waiting for delivery after this many seconds")
    p.add_argument("--court", choices=("sim", "fast"), default="sim",
                   help="sim: referrals.court_sim.Receiver (threads, http.server); fast: one asyncio loop, "
                        "max_in_flight then counts open connections")
    p.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--secret", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.receiver:
        run = run_fast_receiver if args.court == "fast" else run_receiver
        return run(args.port, args.secret, args.fail_first, Path(args.out))

    from mediation.embedded import EmbeddedPostgres
    from referrals import signing

    tmp = Path(tempfile.mkdtemp(prefix="tiaojie-bench-delivery-"))
    url = os.environ.get("TIAOJIE_DATABASE_URL")
    embedded = None
    if not url:
        embedded = EmbeddedPostgres(tmp / "db")
        url = embedded.start()
    secret = signing.new_secret()
    port = free_port()
    receiver_log, receiver_out = tmp / "receiver.log", tmp / "receiver.json"
    receiver = subprocess.Popen(
        [sys.executable, __file__, "--receiver", "--court", args.court, "--port", str(port), "--secret", secret,
         "--fail-first", str(args.fail_first), "--out", str(receiver_out)],
        cwd=ROOT, stdout=receiver_log.open("wb"), stderr=subprocess.STDOUT)
    workers: list[subprocess.Popen] = []
    worker_cpu: list[float | None] = []
    receiver_cpu: float | None = None
    postgres_cpu: float | None = None
    try:
        wait_for_text(receiver_log, b"receiver ready", receiver)
        court_id = asyncio.run(prepare(url, f"http://127.0.0.1:{port}/webhook", secret))
        print(f"enqueueing {args.events} events ({'unpaced' if not args.rate else f'{args.rate:g}/s'}, "
              f"{args.producers} producers{', before the workers start' if args.backlog else ''}), "
              f"{args.workers} workers, receiver fails {args.fail_first:.0%} of first attempts", file=sys.stderr)
        if args.backlog:
            t0 = time.time()
            committed = asyncio.run(produce(url, court_id, args.events, args.rate, args.producers))
            t_enqueued = time.time()
        for i in range(args.workers):
            workers.append(start_worker(url, tmp / f"worker-{i}.log"))
        for i, w in enumerate(workers):
            wait_for_text(tmp / f"worker-{i}.log", b"worker.started", w)
        t_workers = time.time()
        if not args.backlog:
            time.sleep(0.5)
        cpu_before = [cpu_seconds(w.pid) or 0.0 for w in workers]
        receiver_cpu_before = cpu_seconds(receiver.pid) or 0.0
        postmaster = embedded.postmaster_pid if embedded is not None else None
        postgres_cpu_before = postgres_cpu_seconds(postmaster)

        if not args.backlog:
            t0 = time.time()
            committed = asyncio.run(produce(url, court_id, args.events, args.rate, args.producers))
            t_enqueued = time.time()
        deadline = time.monotonic() + args.timeout
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            counts = asyncio.run(outbox_counts(url))
            if counts.get("delivered", 0) + counts.get("dead", 0) >= args.events:
                break
            time.sleep(0.5)
        worker_cpu = [round((cpu_seconds(w.pid) or 0.0) - b, 2) for w, b in zip(workers, cpu_before)]
        receiver_cpu = round((cpu_seconds(receiver.pid) or 0.0) - receiver_cpu_before, 2)
        postgres_cpu_after = postgres_cpu_seconds(postmaster)
        if postgres_cpu_before is not None and postgres_cpu_after is not None:
            postgres_cpu = round(postgres_cpu_after - postgres_cpu_before, 2)
    finally:
        worker_codes = [stop(w) for w in workers]
        stop(receiver)
    seen = json.loads(receiver_out.read_text()) if receiver_out.exists() else {"delivered": {}}
    if embedded is not None:
        embedded.stop()

    delivered = seen["delivered"]
    lost = [m for m in committed if m not in delivered]
    latencies = [delivered[m][1] - committed[m] for m in committed if m in delivered]
    first_try = [delivered[m][1] - committed[m] for m in committed if m in delivered and delivered[m][0] == 1]
    retried = [delivered[m][1] - committed[m] for m in committed if m in delivered and delivered[m][0] > 1]
    last_delivery = max((v[1] for v in delivered.values()), default=t0)
    # a backlog is timed from the moment every worker runs (they start claiming at once);
    # otherwise from the first commit
    span = last_delivery - (t_workers if args.backlog else min(committed.values()))
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average_at_end": os.getloadavg(),
        "command": " ".join([".venv/bin/python", "bench/delivery.py", *sys.argv[1:]]),
        "events": args.events,
        "rate": args.rate or "unpaced",
        "backlog": args.backlog,
        "enqueue_seconds": round(t_enqueued - t0, 2),
        "enqueue_per_second": round(args.events / (t_enqueued - t0), 1),
        "deliveries_per_second": round(len(delivered) / span, 1) if span > 0 else None,
        "requests_per_second": round(seen.get("requests", 0) / span, 1) if span > 0 else None,
        "drain_seconds" if args.backlog else "first_commit_to_last_delivery_seconds": round(span, 2),
        "latency_p50": round(percentile(latencies, 50), 3),
        "latency_p99": round(percentile(latencies, 99), 3),
        "latency_max": round(max(latencies, default=float("nan")), 3),
        "latency_p50_first_attempt": round(percentile(first_try, 50), 3),
        "latency_p99_first_attempt": round(percentile(first_try, 99), 3),
        "latency_p50_retried": round(percentile(retried, 50), 3),
        "retried_events": len(retried),
        "receiver_requests": seen.get("requests"),
        "receiver_failed_first_attempts": seen.get("failed_first"),
        "receiver_refused_signatures": seen.get("refused_signatures"),
        "receiver_overlapping_sends": seen.get("overlaps"),
        "receiver_max_in_flight": seen.get("max_in_flight"),
        "worker_cpu_seconds": worker_cpu,
        "worker_cpu_ms_per_request": round(1000 * sum(worker_cpu) / max(1, seen.get("requests", 0)), 2)
        if worker_cpu else None,
        "receiver_cpu_seconds": receiver_cpu,
        "postgres_cpu_seconds": postgres_cpu,  # producers' commits included
        "delivered_at_receiver": len(delivered),
        "outbox": counts,
        "lost": len(lost),
        "worker_exit_codes": worker_codes,
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    ok = not lost and counts.get("delivered") == args.events
    print(f"\n{'OK' if ok else 'FAILED'}: {len(delivered)}/{args.events} delivered, {len(lost)} lost, "
          f"{report['deliveries_per_second']} deliveries/s, p50 {report['latency_p50']} s, "
          f"p99 {report['latency_p99']} s  (logs in {tmp})", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
