"""Write-path benchmark (issue #2, item 10).

Many concurrent clients register disputes (two parties each), record a session and
resolve them against a RUNNING `tiaojie serve`; then a plain asyncpg loop does the same
row writes in the same transactions at the same concurrency on the same database. Both
are run with the load spread over many counties and with every registration in one
county (where all of them take the same case-number counter row lock).

    .venv/bin/python bench/write_path.py                     # both scenarios, 32 clients
    .venv/bin/python bench/write_path.py --duration 30 --concurrency 32 --counties 32 --processes 2
    .venv/bin/python bench/write_path.py --profile bench/results   # py-spy the server too

Prints Markdown tables. Uses TIAOJIE_DATABASE_URL when set, else an embedded PostgreSQL
in a temporary folder. Load goes to 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import csv
import datetime as dt
import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

DATA = common.ROOT / "mediation" / "data"
KINDS = ("register", "sessions", "resolve")
GRACE = 1.0  # clients keep the load on this long after the window, so the CPU reading at its end sees it
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(county6: str, n: int) -> str:
    """A valid GB 11643 resident ID born in `county6` (different for each n)."""
    born = dt.date(1960, 1, 1) + dt.timedelta(days=n % 15000)
    first17 = f"{county6}{born:%Y%m%d}{n % 1000:03d}"
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


# ---------------------------------------------------------------- the registry

@dataclass(frozen=True)
class Place:
    """One village mediation committee with a mediator and the mediator's token."""

    county6: str
    org_id: str
    mediator_id: str
    token: str


def real_counties(n: int) -> list[tuple[str, str, str, str]]:
    """(county code, county name, first township code, township name) of n real counties
    (四川省 first, then further provinces) from the shipped division-code files."""
    with open(DATA / "streets.csv", encoding="utf-8") as f:
        first_town: dict[str, tuple[str, str]] = {}
        for row in csv.DictReader(f):
            first_town.setdefault(row["areaCode"], (row["code"], row["name"]))
    out = []
    with open(DATA / "areas.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: (r["provinceCode"] != "51", r["code"]))
    for r in rows:
        if r["name"].endswith("县") and r["code"] in first_town:
            out.append((r["code"], r["name"], *first_town[r["code"]]))
            if len(out) == n:
                break
    return out


def build_registry(base: str, url: str, admin: str, counties: int, single_villages: int) -> tuple[list[Place], list[Place]]:
    """Through the API (admin token): the counties, a township and village in each, a
    village committee and a mediator per village; the mediators' tokens with the CLI.
    Returns (one place per county, `single_villages` places in the first county)."""
    import httpx

    h = {"Authorization": f"Bearer {admin}"}
    todo: list[tuple[str, str, str, str]] = []  # county6, village12, village name, org name
    with httpx.Client(base_url=base, headers=h, timeout=30) as c:
        def region(code: str, name: str, level: str) -> None:
            r = c.post("/api/v1/regions", json={"code": code, "name": name, "level": level})
            if r.status_code not in (201, 200, 409):
                raise RuntimeError(f"region {code}: {r.status_code} {r.text}")

        for i, (c6, cname, t9, tname) in enumerate(real_counties(counties)):
            region(c6, cname, "county")
            region(t9, tname, "township")
            villages = single_villages if i == 0 else 1
            for v in range(villages):
                v12 = f"{t9}{201 + v:03d}"
                region(v12, f"{tname}第{v + 1}村", "village")
                todo.append((c6, v12, f"{tname}第{v + 1}村", f"{tname}第{v + 1}村人民调解委员会"))
        if len(todo) < counties:
            raise RuntimeError(f"only {len(todo)} counties with townships in the data")
        places_raw = []
        for c6, v12, _, oname in todo:
            r = c.post("/api/v1/orgs", json={"name": oname, "tier": "village", "kind": "village_committee",
                                              "region_code": v12})
            if r.status_code != 201:
                raise RuntimeError(f"org {oname}: {r.status_code} {r.text}")
            org_id = r.json()["id"]
            m = c.post(f"/api/v1/orgs/{org_id}/mediators", json={"name": "王调解", "phone": "13800000000"})
            if m.status_code != 201:
                raise RuntimeError(f"mediator: {m.status_code} {m.text}")
            places_raw.append((c6, org_id, m.json()["id"]))

    def token(p):
        name = f"bench-{uuid.uuid4().hex[:12]}"
        return common.tiaojie("token", "create", "--role", "mediator", "--org", p[1], "--name", name, url=url)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(token, places_raw))
    places = [Place(c6, org, med, tok) for (c6, org, med), tok in zip(places_raw, tokens, strict=True)]
    first_county = [p for p in places if p.county6 == places[0].county6]
    one_per_county = [first_county[0], *[p for p in places if p.county6 != places[0].county6]]
    return one_per_county, first_county[:single_villages]


# ---------------------------------------------------------------- the API clients

def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


async def api_flow_task(port: int, place: Place, seed: int, t_start: float, t_end: float, rec: dict) -> None:
    http = common.RawHttp("127.0.0.1", port, place.token)
    n = seed * 1_000_003
    perf = time.perf_counter
    try:
        while time.time() < t_end + GRACE:
            n += 1
            body = _dumps({
                "org_id": place.org_id, "type": "neighbor", "source": "application",
                "summary": f"张三与李四因宅基地边界发生纠纷（压测{n}）",
                "parties": [
                    {"role": "applicant", "kind": "person", "name": "张三", "id_number": resident_id(place.county6, n),
                     "phone": "13812345678"},
                    {"role": "respondent", "kind": "person", "name": "李四"},
                ],
            })
            d = None
            for kind in KINDS:
                if kind == "register":
                    path, payload, want = "/api/v1/disputes", body, 201
                elif kind == "sessions":
                    path, want = f"/api/v1/disputes/{d['id']}/sessions", 200
                    payload = _dumps({"version": d["version"], "held_at": d["registered_at"], "method": "onsite",
                                      "mediator_ids": [place.mediator_id], "summary": "双方到场，调解员释法说理"})
                else:
                    path, want = f"/api/v1/disputes/{d['id']}/resolve", 200
                    payload = _dumps({"version": d["version"], "agreement": {
                        "form": "written", "terms": "李四于十日内拆除越界围墙，双方互不追究",
                        "signed_at": d["registered_at"], "amount": "3000.00"}})
                began_wall = time.time()
                t0 = perf()
                status, answer = await http.request("POST", path, payload)
                ms = (perf() - t0) * 1000
                counted = began_wall >= t_start and time.time() <= t_end
                if status != want:
                    if counted:
                        rec["errors"][f"{kind} {status}"] += 1
                        if len(rec["samples"]) < 3:
                            rec["samples"].append(answer[:300].decode(errors="replace"))
                    break
                if counted:
                    rec["latency"][kind].append(ms)
                    if kind == "resolve":
                        rec["flows"] += 1
                d = json.loads(answer)
                if time.time() >= t_end + GRACE:
                    break
    finally:
        await http.close()


def api_client_process(port: int, places: list[Place], seed: int, t_start: float, t_end: float, out) -> None:
    common.use_uvloop()
    rec = {"latency": {k: [] for k in KINDS}, "errors": collections.Counter(), "samples": [], "flows": 0}

    async def main():
        await asyncio.gather(*(api_flow_task(port, p, seed * 1000 + i, t_start, t_end, rec)
                               for i, p in enumerate(places)))

    asyncio.run(main())
    out.put(rec)


# ---------------------------------------------------------------- the plain asyncpg loop
# The same statements the service runs for the same row writes (mediation/dispute_store.py:
# insert, save; mediation/audit.py: record), copied on purpose so the baseline stays fixed, in
# the same three transactions; none of the service's extra reads (org lookup, mediator and
# referral checks, access check, reading the dispute back), no HTTP, no JSON answers.

DISPUTE_COLUMNS = """d.id, d.case_no, d.county_code, d.version, d.type, d.source, d.status, d.summary,
    d.region_code, d.org_id, d.handler_org_ids, d.tier, d.entry_tier, d.highest_tier, d.concluded_tier,
    d.registered_at, d.occurred_on, d.deadline, d.concluded_at, d.last_move_at, d.amount,
    d.persons_involved, d.agreement, d.performance, d.prevented, d.court_id, d.court_case_no"""

SQL_PARTY = """INSERT INTO dispute_parties (id, dispute_id, position, role, kind, name, id_number, phone, address)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"""
SQL_EVENT = """INSERT INTO dispute_events (id, dispute_id, seq, kind, at, actor, org_id, tier, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)"""
SQL_DISPUTE = f"""
        WITH counter AS (
            INSERT INTO case_counters AS c (county_code, year, last) VALUES ($2, $3, 1)
            ON CONFLICT (county_code, year) DO UPDATE SET last = c.last + 1
            RETURNING last
        ), numbered AS (
            SELECT $2 || '-' || $3::text || '-' || lpad(last::text, 6, '0') AS case_no FROM counter
        )
        INSERT INTO disputes AS d (id, case_no, county_code, version, type, source, status, summary, region_code,
            org_id, handler_org_ids, tier, entry_tier, highest_tier, registered_at, occurred_on, deadline,
            last_move_at, amount, persons_involved, court_id, court_case_no, search_text)
        SELECT $1, n.case_no, $2, 1, $4, $5, 'open', $6, $7, $8, ARRAY[$8]::uuid[], $9, $9, $9, $10, $11, $12,
            $10, $13, $14, $15, $16, lower(n.case_no) || ' ' || $17
        FROM numbered n
        RETURNING {DISPUTE_COLUMNS}
        """
SQL_AUDIT = ("INSERT INTO audit_log (actor, action, entity, entity_id, dispute_id, detail) "
             "VALUES ($1, $2, $3, $4, $5, $6::jsonb)")
SQL_LOCK = f"SELECT {DISPUTE_COLUMNS} FROM disputes d WHERE d.id = $1 FOR UPDATE"
SQL_UPDATE = """UPDATE disputes SET version = $2, status = $3, org_id = $4, tier = $5, highest_tier = $6,
               concluded_tier = $7, concluded_at = $8, last_move_at = $9, handler_org_ids = $10::uuid[],
               agreement = $11::jsonb, agreement_form = $12, agreement_amount = $13, performance = $14,
               prevented = $15::text[], updated_at = now()
           WHERE id = $1"""


async def sql_flow_task(pool, place: Place, village12: str, seed: int, t_start: float, t_end: float, rec: dict) -> None:
    from decimal import Decimal

    n = seed * 1_000_003
    org = uuid.UUID(place.org_id)
    actor = "token:bench-asyncpg"
    perf = time.perf_counter
    while time.time() < t_end + GRACE:
        n += 1
        dispute_id = uuid.uuid4()
        for kind in KINDS:
            began_wall = time.time()
            t0 = perf()
            now = dt.datetime.now(dt.UTC)
            async with pool.acquire() as conn, conn.transaction():
                if kind == "register":
                    await conn.executemany(SQL_PARTY, [
                        (uuid.uuid4(), dispute_id, 0, "applicant", "person", "张三", resident_id(place.county6, n),
                         "13812345678", None),
                        (uuid.uuid4(), dispute_id, 1, "respondent", "person", "李四", None, None, None)])
                    await conn.execute(SQL_EVENT, uuid.uuid4(), dispute_id, 1, "registered", now, actor, org,
                                       "village", '{"source": "application"}')
                    row = await conn.fetchrow(
                        SQL_DISPUTE, dispute_id, place.county6, now.year, "neighbor", "application",
                        f"张三与李四因宅基地边界发生纠纷（压测{n}）", village12, org, "village", now, None,
                        now + dt.timedelta(days=30), None, 2, None, None, f"张三与李四因宅基地边界发生纠纷（压测{n}） 张三 李四")
                    await conn.execute(SQL_AUDIT, actor, "dispute.register", "dispute", str(dispute_id), dispute_id,
                                       json.dumps({"case_no": row["case_no"]}))
                else:
                    row = await conn.fetchrow(SQL_LOCK, dispute_id)
                    version = row["version"] + 1
                    if kind == "sessions":
                        args = ("open", None, None, None, None, None, None)
                        event_kind, detail = "session", {"method": "onsite", "mediator_ids": [place.mediator_id],
                                                          "summary": "双方到场，调解员释法说理"}
                    else:
                        agreement = {"form": "written", "terms": "李四于十日内拆除越界围墙，双方互不追究",
                                     "signed_at": now.isoformat(), "amount": "3000.00", "performance_due": None}
                        args = ("resolved", "village", now, json.dumps(agreement, ensure_ascii=False), "written",
                                Decimal("3000.00"), "pending")
                        event_kind, detail = "resolved", {"agreement": agreement, "prevented": []}
                    status, concluded_tier, concluded_at, agr, form, amount, performance = args
                    await conn.execute(SQL_UPDATE, dispute_id, version, status, org, "village", "village",
                                       concluded_tier, concluded_at, now if kind == "resolve" else row["last_move_at"],
                                       [org], agr, form, amount, performance, [])
                    await conn.execute(SQL_EVENT, uuid.uuid4(), dispute_id, version, event_kind, now, actor, org,
                                       "village", json.dumps(detail, ensure_ascii=False))
                    await conn.execute(SQL_AUDIT, actor, f"dispute.{event_kind}", "dispute", str(dispute_id),
                                       dispute_id, json.dumps({"version": version}))
            ms = (perf() - t0) * 1000
            if began_wall >= t_start and time.time() <= t_end:
                rec["latency"][kind].append(ms)
                if kind == "resolve":
                    rec["flows"] += 1
            if time.time() >= t_end + GRACE:
                break


def sql_client_process(url: str, places: list[tuple[Place, str]], seed: int, t_start: float, t_end: float, out) -> None:
    import asyncpg

    common.use_uvloop()
    rec = {"latency": {k: [] for k in KINDS}, "errors": collections.Counter(), "samples": [], "flows": 0}

    async def main():
        pool = await asyncpg.create_pool(url, min_size=len(places), max_size=len(places))
        try:
            await asyncio.gather(*(sql_flow_task(pool, p, v12, seed * 1000 + i, t_start, t_end, rec)
                                   for i, (p, v12) in enumerate(places)))
        finally:
            await pool.close()

    try:
        asyncio.run(main())
    except Exception as e:  # noqa: BLE001 - reported in the table
        rec["errors"][type(e).__name__] += 1
        rec["samples"].append(str(e)[:300])
    out.put(rec)


# ---------------------------------------------------------------- running one side

@dataclass
class Result:
    label: str
    side: str
    window: float
    flows: int
    latency: dict[str, list[float]]
    errors: collections.Counter
    samples: list[str]
    cpu: dict[str, float]

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latency.values())

    def pct(self, kind: str, q: float) -> float:
        return common.percentile(self.latency[kind], q)

    def all_pct(self, q: float) -> float:
        return common.percentile(sorted(x for v in self.latency.values() for x in v), q)


def run_side(side: str, label: str, assignments: list, processes: int, warmup: float, duration: float,
             target, target_args: tuple, cpu_groups: dict, profile: tuple[str, list[int], Path, bool] | None) -> Result:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    t_start = time.time() + warmup + 1.5  # spawn + imports take about a second
    t_end = t_start + duration
    chunks = [assignments[i::processes] for i in range(processes)]
    procs = [ctx.Process(target=target, args=(*target_args, chunk, i + 1, t_start, t_end, out))
             for i, chunk in enumerate(chunks) if chunk]
    for p in procs:
        p.start()
    groups = {**cpu_groups, "load generator": lambda: [p.pid for p in procs]}
    meter = common.CpuMeter(groups)
    time.sleep(max(0.0, t_start - time.time()))
    spy = None
    if profile is not None:
        exe, pids, path, native = profile
        # blocking sampling: --nonblocking gives torn asyncio stacks (60 % without their root)
        spy = [subprocess.Popen([exe, "record", *(["--native"] if native else []), "--pid", str(pid),
                                 "--duration", str(int(duration)), "--rate", "100", "--format", "raw",
                                 "--output", f"{path}.{pid}.txt"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in pids]
    meter.start()
    time.sleep(max(0.0, t_end - time.time()))
    meter.stop()
    recs = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    for s in spy or ():
        s.wait(timeout=60)
    latency = {k: sorted(x for r in recs for x in r["latency"][k]) for k in KINDS}
    errors = collections.Counter()
    samples: list[str] = []
    for r in recs:
        errors.update(r["errors"])
        samples.extend(r["samples"])
    return Result(label, side, duration, sum(r["flows"] for r in recs), latency, errors, samples[:3], meter.shares())


# ---------------------------------------------------------------- profiles

# where a sample's stack passes through one of these frames, it counts for the category
CATEGORIES = (
    ("token lookup (accounts.authenticate)", ("authenticate (mediation/accounts.py",)),
    ("access guard query (disputes.check_access)", ("check_access (mediation/disputes.py",)),
    ("reading the dispute back (disputes._full)", ("_full (mediation/disputes.py",)),
    ("BEGIN / COMMIT (piccolo transaction enter/exit)", ("PostgresTransaction.__aenter__", "PostgresTransaction.__aexit__")),
    ("all asyncpg calls (any of the above and the writes)", ("(asyncpg/",)),
    ("request body decoding and validation", ("decode_json (litestar", "validate_registration", "validate_parties",
                                               "_build_command (mediation", "parse_values_from_connection_kwargs")),
    ("answer encoding (litestar encode_json)", ("encode_json (litestar",)),
    ("JSON log line (structlog)", ("(structlog/",)),
    ("outside request handling (event loop, HTTP parsing, callbacks)", ()),
)


def categorize_profile(paths: list[Path]) -> str:
    counts: collections.Counter = collections.Counter()
    total = outside = 0
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            if "Litestar.__call__" not in stack:
                outside += n
            for name, keys in CATEGORIES:
                if keys and any(k in stack for k in keys):
                    counts[name] += n
    if not total:
        return "(no samples)"
    counts["outside request handling (event loop, HTTP parsing, callbacks)"] = outside
    lines = ["| share of the server's samples | where |", "|---:|---|"]
    for name, _ in CATEGORIES:
        lines.append(f"| {100 * counts[name] / total:.1f}% | {name} |")
    return "\n".join(lines)


def summarize_profile(paths: list[Path], top: int = 25) -> str:
    """Inclusive share of samples per function (project code and the big libraries),
    from py-spy's collapsed-stack output."""
    inclusive: collections.Counter = collections.Counter()
    leaf: collections.Counter = collections.Counter()
    total = 0
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            total += n
            seen = set()
            for f in frames:
                name = _frame_name(f)
                if name not in seen:
                    inclusive[name] += n
                    seen.add(name)
            leaf[_frame_name(frames[-1])] += n
    if not total:
        return "(no samples)"
    lines = [f"{total} samples", "", "| inclusive | function |", "|---:|---|"]
    for name, n in inclusive.most_common(top * 3):
        if any(key in name for key in ("mediation/", "api/", "asyncpg", "litestar", "structlog", "uvicorn", "json",
                                       "msgspec", "piccolo", "httptools", "uvloop", "logging", "referrals/")):
            lines.append(f"| {100 * n / total:.1f}% | `{name}` |")
            if len(lines) >= top + 4:
                break
    lines += ["", "| self | function |", "|---:|---|"]
    for name, n in leaf.most_common(top):
        lines.append(f"| {100 * n / total:.1f}% | `{name}` |")
    return "\n".join(lines)


def _frame_name(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file-ish path)" without the line
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


# ---------------------------------------------------------------- report

def fmt(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.1f}"


def table(results: list[Result]) -> str:
    head = ["scenario", "side", "flows/s", "requests/s", "ratio (flows/s)"]
    for k in KINDS:
        head.append(f"{k} p50/p95/p99 ms")
    head += ["all p99 ms", "errors"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = {r.label: r for r in results if r.side == "asyncpg"}
    for r in results:
        ratio = ""
        if r.side != "asyncpg" and r.label in base and base[r.label].flows:
            ratio = f"{r.flows / base[r.label].flows:.2f}"
        row = [r.label, r.side, f"{r.flows / r.window:.1f}", f"{r.requests / r.window:.1f}", ratio]
        for k in KINDS:
            row.append(f"{fmt(r.pct(k, 50))} / {fmt(r.pct(k, 95))} / {fmt(r.pct(k, 99))}")
        row += [fmt(r.all_pct(99)), ", ".join(f"{k}×{v}" for k, v in r.errors.items()) or "0"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def cpu_table(results: list[Result]) -> str:
    """Cores used during the window, and CPU milliseconds per flow: the second is what the
    server costs, and it moves much less than throughput when other work shares the machine."""
    names: list[str] = []
    for r in results:
        names.extend(n for n in r.cpu if n not in names and n != "whole machine")
    head = [*names, "whole machine", "other processes", *(f"{n} ms/flow" for n in names)]
    lines = ["| scenario | side | " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(head)]
    for r in results:
        cpu = dict(r.cpu)
        ours = sum(cpu.get(n, 0) for n in names)
        cells = [f"{cpu.get(n, 0):.2f}" for n in names]
        cells += [f"{cpu.get('whole machine', 0):.2f}", f"{max(0.0, cpu.get('whole machine', 0) - ours):.2f}"]
        cells += [f"{1000 * cpu.get(n, 0) * r.window / r.flows:.1f}" if r.flows else "–" for n in names]
        lines.append(f"| {r.label} | {r.side} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- statements per request

def count_statements() -> str:
    """Run one flow through the app in-process with a query logger on every pooled
    connection, and list the statements (round trips) each request sends."""
    import asyncpg
    import httpx

    sys.path.insert(0, str(common.ROOT))
    sent: list[str] = []
    create_pool = asyncpg.create_pool

    def logging_pool(*a, **kw):
        async def init(conn):
            conn.add_query_logger(lambda r: sent.append(" ".join(r.query.split())[:70]))
        return create_pool(*a, init=init, **kw)

    async def go() -> str:
        from api.app import create_app
        from mediation import accounts, db, orgs, regions
        from mediation.access import SYSTEM

        database = common.Database()
        url = database.start()
        try:
            await db.migrate(url)
            asyncpg.create_pool = logging_pool
            await db.connect(url)
            c6, _, t9, _ = real_counties(1)[0]
            await regions.create(code=c6, name="县", level="county")
            await regions.create(code=t9, name="镇", level="township")
            await regions.create(code=t9 + "201", name="村", level="village")
            org = await orgs.create_org(SYSTEM, name="村调委会", tier="village", kind="village_committee",
                                        region_code=t9 + "201")
            med = await orgs.add_mediator(SYSTEM, org["id"], name="王调解", phone=None)
            token = (await accounts.create_token(role="mediator", org_id=org["id"])).token
            app = create_app(manage_database=False, run_worker=False)
            out = []
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                         headers={"Authorization": f"Bearer {token}"}) as c:
                for rep in range(2):  # the second flow runs with warm statement caches
                    sent.clear()
                    r = await c.post("/api/v1/disputes", json={
                        "org_id": str(org["id"]), "type": "neighbor", "source": "application", "summary": "x",
                        "parties": [{"role": "applicant", "kind": "person", "name": "张三",
                                     "id_number": resident_id(c6, 1)}, {"role": "respondent", "kind": "person",
                                                                       "name": "李四"}]})
                    d = r.json()
                    per = {"register": list(sent)}
                    sent.clear()
                    r = await c.post(f"/api/v1/disputes/{d['id']}/sessions", json={
                        "version": 1, "held_at": d["registered_at"], "method": "onsite",
                        "mediator_ids": [str(med["id"])], "summary": "s"})
                    per["sessions"] = list(sent)
                    sent.clear()
                    r = await c.post(f"/api/v1/disputes/{d['id']}/resolve", json={"version": 2, "agreement": {
                        "form": "written", "terms": "t", "signed_at": d["registered_at"], "amount": "1.00"}})
                    per["resolve"] = list(sent)
                    if rep == 1:
                        total = sum(len(v) for v in per.values())
                        out.append(f"statements sent per flow: {total} "
                                   f"({', '.join(f'{k} {len(v)}' for k, v in per.items())}); the asyncpg loop: 21 "
                                   "(3 × BEGIN, 4 statements, COMMIT, pool reset)")
                        for k, v in per.items():
                            out.append(f"\n{k}:")
                            out.extend(f"  {q}" for q in v)
            await db.disconnect()
            return "\n".join(out)
        finally:
            asyncpg.create_pool = create_pool
            database.stop()

    return asyncio.run(go())


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=20, help="timed window per run, seconds (default 20)")
    p.add_argument("--warmup", type=float, default=5, help="seconds of load before the window (default 5)")
    p.add_argument("--concurrency", type=int, default=32, help="concurrent clients in total (default 32)")
    p.add_argument("--counties", type=int, default=32, help="counties the spread scenario uses (default 32)")
    p.add_argument("--processes", type=int, default=2, help="load-generator processes (default 2)")
    p.add_argument("--scenario", choices=["spread", "one-county", "both"], default="both")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes: `tiaojie serve --workers N`")
    p.add_argument("--skip-baseline", action="store_true", help="only the API side")
    p.add_argument("--profile", type=Path, help="py-spy the server during the API runs; collapsed stacks go here")
    p.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/pyspy/bin/py-spy")
    p.add_argument("--native", action="store_true", help="py-spy --native (C and Cython frames too)")
    p.add_argument("--source", type=Path,
                   help="serve from a copy of the packages in this folder (PYTHONPATH), to A/B a change")
    p.add_argument("--server-log", type=Path, help="keep the server's log here (default: discarded)")
    p.add_argument("--count-statements", action="store_true",
                   help="only list the statements each request of one flow sends (in-process app)")
    args = p.parse_args(argv)
    if args.count_statements:
        print(count_statements())
        return 0

    database = common.Database()
    url = database.start()
    server = None
    how = ""
    results: list[Result] = []
    started = dt.datetime.now(dt.UTC)
    try:
        common.tiaojie("migrate", url=url)
        admin = common.tiaojie("token", "create", "--role", "admin", "--name", f"bench-admin-{uuid.uuid4().hex[:8]}",
                               url=url)
        server = common.Server(url=url, workers=args.workers,
                               log_path=args.server_log or _default_log(), source=args.source)
        server.start()
        how = server.how + (f" from {args.source}" if args.source else "")
        print(f"server up at {server.base} (workers: {args.workers}); building the registry…", file=sys.stderr)
        t = time.monotonic()
        spread, one_county = build_registry(server.base, url, admin, args.counties, args.concurrency)
        print(f"registry ready in {time.monotonic() - t:.1f}s: {len(spread)} counties, "
              f"{len(one_county)} villages in {one_county[0].county6}", file=sys.stderr)

        pg_pid = database.postmaster_pid
        cpu_groups = {"server": server.all_pids}
        if pg_pid:
            cpu_groups["postgres"] = lambda: [pg_pid, *common.descendants(pg_pid)]
        village_of = _villages(url, spread + one_county)

        scenarios = []
        if args.scenario in ("spread", "both"):
            scenarios.append((f"spread over {len(spread)} counties", spread))
        if args.scenario in ("one-county", "both"):
            scenarios.append(("one county", one_county))
        for label, places in scenarios:
            assignments = [places[i % len(places)] for i in range(args.concurrency)]
            profile = None
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                slug = "spread" if label.startswith("spread") else "one-county"
                profile = (args.py_spy, server.worker_pids(), args.profile / f"profile-{slug}", args.native)
            print(f"{label}: API, {args.concurrency} clients in {args.processes} processes…", file=sys.stderr)
            res = run_side("API", label, assignments, args.processes, args.warmup, args.duration,
                           api_client_process, (server.port,), cpu_groups, profile)
            results.append(res)
            _progress(res)
            if not args.skip_baseline:
                print(f"{label}: plain asyncpg, {args.concurrency} tasks in {args.processes} processes…",
                      file=sys.stderr)
                res = run_side("asyncpg", label, [(a, village_of[a.org_id]) for a in assignments], args.processes,
                               args.warmup, args.duration, sql_client_process, (url,), cpu_groups, None)
                results.append(res)
                _progress(res)
    finally:
        if server is not None:
            server.stop()
        database.stop()

    print(f"\n### Write path, {started:%Y-%m-%d %H:%M} UTC\n")
    print(f"- machine: {common.machine()}")
    print(f"- command: `.venv/bin/python bench/{Path(__file__).name} {' '.join(argv if argv is not None else sys.argv[1:])}`")
    print(f"- {args.concurrency} concurrent clients in {args.processes} load-generator processes, "
          f"{args.warmup:g} s warm-up, {args.duration:g} s window; server: {how}; "
          f"database: {'TIAOJIE_DATABASE_URL' if os.environ.get('TIAOJIE_DATABASE_URL') else 'embedded PostgreSQL 18'}")
    print("- a flow = register (2 parties) + session + resolve = 3 requests / 3 transactions\n")
    print(table(results))
    print("\nCPU cores used on average during the window (1.00 = one core busy all the time):\n")
    print(cpu_table(results))
    for r in results:
        if r.samples:
            print(f"\n{r.label} {r.side} error samples: {r.samples}")
    if args.profile:
        for slug in ("spread", "one-county"):
            paths = sorted(args.profile.glob(f"profile-{slug}.*.txt"))
            if paths:
                print(f"\n#### Server profile, {slug}\n")
                print(categorize_profile(paths))
                print()
                print(summarize_profile(paths))
    return 0


def _default_log() -> Path:
    path = common.ROOT / "bench" / "results" / "write_path-server.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _progress(r: Result) -> None:
    print(f"  {r.flows / r.window:.1f} flows/s, p99 {fmt(r.all_pct(99))} ms, errors {dict(r.errors)}", file=sys.stderr)


def _villages(url: str, places: list[Place]) -> dict[str, str]:
    import asyncpg

    async def go():
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT id::text, region_code FROM orgs WHERE id = ANY($1::uuid[])",
                                    [uuid.UUID(p.org_id) for p in places])
        finally:
            await conn.close()
        return {r["id"]: r["region_code"] for r in rows}

    return asyncio.run(go())


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
