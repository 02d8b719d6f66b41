"""Fill the service's database with a realistic synthetic province for the statistics bench.

    python bench/generate.py --disputes N [--counties K] [--seed S]

Writes into `TIAOJIE_DATABASE_URL`, or the embedded PostgreSQL in `TIAOJIE_DATA_DIR`
(default ./.tiaojie), migrating it first, so `tiaojie serve` on the same data serves the
figures afterwards. Real county and township names of 四川省 from the division files the
product ships (mediation/data); generated villages (村) with their committees; disputes
over the five years before the current month with their events, parties, agreements,
court referrals and decisions in realistic proportions, all written with COPY. Parties
carry valid resident ID numbers (every applicant, 60 % of respondents; 1 in 25 is one of
the county's 200 frequent parties), so the repeat-party risk rule reads real index entries.
Checks the free disk first and says what it needs.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from mediation import db, regions  # noqa: E402
from mediation.codes import DISPUTE_TYPES  # noqa: E402
from mediation.idnumbers import resident_id_check_char  # noqa: E402

PROVINCE = "51"
BYTES_PER_DISPUTE = 3_500          # rows and indexes, measured at 1M disputes (with margin)
VILLAGES_PER_TOWNSHIP = 8
BATCH = 20_000
TZ = dt.timezone(dt.timedelta(hours=8))
SOURCES = [("application", 55), ("screening", 20), ("court_entrusted", 8), ("petition", 5), ("police", 5),
           ("hotline", 5), ("agency", 2)]
TYPE_WEIGHTS = [14, 22, 10, 9, 6, 7, 6, 3, 2, 8, 3, 2, 4, 2, 2]


def uid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


class Progress:
    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.start, self.last = total, label, time.monotonic(), 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.5 and done < self.total:
            return
        self.last = now
        width = 30
        filled = int(width * done / max(self.total, 1))
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate else 0
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{self.total:,} "
                         f"{rate:,.0f}/s eta {eta:,.0f}s ")
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def database_url():
    """(url, data dir or None, embedded server or None)."""
    url = os.environ.get("TIAOJIE_DATABASE_URL")
    if url:
        return url, None, None
    from mediation.embedded import EmbeddedPostgres

    data_dir = Path(os.environ.get("TIAOJIE_DATA_DIR") or "./.tiaojie").expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = EmbeddedPostgres(data_dir)
    return server.start(), data_dir, server


async def load_regions(conn, counties: int, rng: random.Random) -> list[dict]:
    """The province, its cities, `counties` counties with their real townships, and
    generated villages. Returns one dict per county."""
    rows = []
    data = regions.DATA_DIR
    for name in ("provinces.csv", "cities.csv", "areas.csv", "streets.csv"):
        for code, title, level in regions.parse_division_file((data / name).read_text(encoding="utf-8")):
            if code.startswith(PROVINCE):
                rows.append((code, title, level))
    all_counties = sorted(c for c, _, lv in rows if len(c) == 6)
    chosen = set(all_counties[:counties])
    keep = [r for r in rows if len(r[0]) < 6 or r[0][:6] in chosen]
    villages = []
    for code, title, _ in keep:
        if len(code) == 9:
            for i in range(VILLAGES_PER_TOWNSHIP):
                villages.append((f"{code}{201 + i:03d}", f"{title.removesuffix('镇').removesuffix('乡')}{'一二三四五六七八九十'[i]}村",
                                 "village"))
    await regions.import_rows(keep + villages)
    region_rows = await conn.fetch("SELECT code, name, level FROM regions WHERE code LIKE $1", PROVINCE + "%")
    by_county: dict[str, dict] = {c: {"county": c, "towns": [], "villages": []} for c in chosen}
    for r in region_rows:
        c6 = r["code"][:6]
        if c6 not in by_county:
            continue
        if r["level"] == "township":
            by_county[c6]["towns"].append(r["code"])
        elif r["level"] == "village":
            by_county[c6]["villages"].append(r["code"])
        elif r["level"] == "county":
            by_county[c6]["name"] = r["name"]
    return [by_county[c] for c in sorted(by_county) if by_county[c]["towns"]]


async def create_orgs(conn, counties: list[dict], rng: random.Random) -> None:
    names = {r["code"]: r["name"] for r in await conn.fetch("SELECT code, name FROM regions WHERE code LIKE $1",
                                                           PROVINCE + "%")}
    orgs, courts, roster = [], [], []
    for c in counties:
        c12 = c["county"] + "000000"
        c["center"] = uid(rng)
        orgs.append((c["center"], f"{names[c12]}矛盾纠纷多元化解中心", "county", "county_center", c12, c["county"]))
        c["town_org"], c["village_org"] = {}, {}
        for t in c["towns"]:
            c["town_org"][t] = uid(rng)
            orgs.append((c["town_org"][t], f"{names[t]}人民调解委员会", "township", "township_committee", t, c["county"]))
        for v in c["villages"]:
            c["village_org"][v] = uid(rng)
            orgs.append((c["village_org"][v], f"{names[v]}人民调解委员会", "village", "village_committee", v, c["county"]))
        c["court"] = uid(rng)
        courts.append((c["court"], f"{names[c12]}人民法院", f"川{c['county'][2:]}", c12))
        roster.append((c["court"], c["center"]))
    await conn.copy_records_to_table("orgs", records=orgs, columns=["id", "name", "tier", "kind", "region_code",
                                                                    "county_code"])
    await conn.copy_records_to_table("courts", records=courts, columns=["id", "name", "code", "region_code"])
    await conn.copy_records_to_table("court_roster", records=roster, columns=["court_id", "org_id"])


def weighted(rng: random.Random, pairs):
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


class Generator:
    def __init__(self, counties: list[dict], rng: random.Random, now: dt.datetime) -> None:
        self.counties, self.rng, self.now = counties, rng, now
        self.start = dt.datetime(now.year - 5, now.month, 1, tzinfo=TZ)
        self.span = (now - self.start).total_seconds()
        # bigger counties get more cases
        self.weights = [len(c["villages"]) + 5 for c in counties]
        self.counters: dict[tuple[str, int], int] = {}
        self.types = list(DISPUTE_TYPES)

    def person(self, c: dict) -> str:
        """A resident ID number of someone in county `c`: 1 in 25 times one of the county's
        200 frequent parties (so the repeat-party risk rule has work to do), else a new one."""
        rng = self.rng
        if rng.random() < 0.04:
            return c.setdefault("frequent", {}).setdefault(rng.randrange(200), self.new_person(c))
        return self.new_person(c)

    def new_person(self, c: dict) -> str:
        born = dt.date(1950, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 50))
        first17 = f"{c['county']}{born:%Y%m%d}{self.rng.randrange(1000):03d}"
        return first17 + resident_id_check_char(first17)

    def one(self):
        rng = self.rng
        c = rng.choices(self.counties, weights=self.weights)[0]
        where = rng.random()
        if where < 0.7 and c["villages"]:
            region = rng.choice(c["villages"])
            if rng.random() < 0.85:
                org, tier = c["village_org"][region], "village"
            else:
                org, tier = c["town_org"][region[:9] + "000"], "township"
        elif where < 0.92:
            region = rng.choice(c["towns"])
            org, tier = c["town_org"][region], "township"
        else:
            region = c["county"] + "000000"
            org, tier = c["center"], "county"
        source = weighted(rng, SOURCES)
        if source == "court_entrusted":
            org, tier = c["center"], "county"
        registered = self.start + dt.timedelta(seconds=rng.random() * self.span)
        year = registered.astimezone(TZ).year
        key = (c["county"], year)
        self.counters[key] = self.counters.get(key, 0) + 1
        case_no = f"{c['county']}-{year}-{self.counters[key]:06d}"
        did = uid(rng)
        deadline = registered + dt.timedelta(days=15 if source == "court_entrusted" else 30)
        persons = 2 if rng.random() < 0.8 else (rng.randint(3, 4) if rng.random() < 0.75 else rng.randint(5, 60))
        events = [("entrusted" if source == "court_entrusted" else "registered", registered, org, tier,
                   {"source": source})]
        handlers = [org]
        highest = current_tier = tier
        at = registered
        if tier != "county" and rng.random() < 0.12:
            at = at + dt.timedelta(hours=rng.randint(2, 120))
            up = (c["town_org"][region[:9] + "000"], "township") if tier == "village" else (c["center"], "county")
            if rng.random() < 0.3:
                up = (c["center"], "county")
            events.append(("escalated", at, up[0], up[1], {"from_org_id": str(org), "from_tier": tier,
                                                             "reason": "案情复杂"}))
            org, current_tier = up
            highest = up[1]
            handlers.append(org)
        days = rng.expovariate(1 / 12)
        end = at + dt.timedelta(days=days, seconds=rng.randint(0, 86399))
        status, concluded, agreement, form, amount, prevented, performance = "open", None, None, None, None, [], None
        referrals = []
        if end < self.now and rng.random() > 0.01:
            r = rng.random()
            if r < 0.75:
                status = "resolved"
            elif r < 0.83:
                status = "returned" if source == "court_entrusted" else "failed"
            elif r < 0.87 and source != "court_entrusted":
                status = "referred"
            elif r < 0.97:
                status = "withdrawn"
            else:
                status = "rejected"
            concluded = end
            detail: dict = {"reason": "结案"}
            if status == "resolved":
                form = "written" if rng.random() < 0.7 else "oral"
                amount = None if rng.random() < 0.4 else Decimal(rng.randint(100, 5_000_000)) / 100
                prevented = ["criminal"] if rng.random() < 0.02 else []
                agreement = {"form": form, "terms": "双方达成调解协议", "signed_at": end.isoformat(),
                             "amount": None if amount is None else f"{amount:.2f}", "performance_due": None}
                detail = {"agreement": agreement, "prevented": prevented}
                performance = "pending"
            elif status == "referred":
                ref_id = uid(rng)
                detail = {"referral_id": str(ref_id), "court_id": str(c["court"]), "reason": "当事人要求起诉"}
                referrals.append([ref_id, "litigation", end])
            events.append((status, end, org, current_tier, detail))
            later = end
            if status == "resolved":
                if rng.random() < 0.6:
                    later = later + dt.timedelta(days=rng.randint(5, 60))
                    if later < self.now:
                        performance = rng.choices(["performed", "partial", "breached"], weights=[85, 10, 5])[0]
                        events.append(("performance", later, org, current_tier,
                                       {"status": performance, "checked_at": later.isoformat()}))
                if form == "written" and rng.random() < 0.1:
                    applied = end + dt.timedelta(days=rng.randint(1, 20))
                    if applied < self.now:
                        ref_id = uid(rng)
                        events.append(("confirmation_applied", applied, org, current_tier,
                                       {"referral_id": str(ref_id), "court_id": str(c["court"])}))
                        referrals.append([ref_id, "confirmation", applied])
            if rng.random() < 0.5:
                visit = end + dt.timedelta(days=rng.randint(3, 30))
                if visit < self.now:
                    events.append(("visit", visit, org, current_tier, {"satisfaction": rng.choices(
                        ["satisfied", "basically_satisfied", "dissatisfied"], weights=[80, 15, 5])[0]}))
        decided = []
        for ref in referrals:
            ref_id, kind, created = ref
            when = created + dt.timedelta(days=rng.randint(1, 25))
            if when < self.now and rng.random() < 0.8:
                decision = (("filed" if rng.random() < 0.8 else "not_filed") if kind == "litigation"
                            else ("confirmed" if rng.random() < 0.9 else "rejected"))
                ref += [decision, when]
                events.append(("referral_decided", when, org, current_tier, {
                    "referral_id": str(ref_id), "kind": kind, "decision": decision,
                    "court_case_no": None if decision == "not_filed" else f"({when.year})川民初{rng.randint(1, 9999)}号"}))
                decided.append(ref)
            else:
                ref += [None, None]
        events.sort(key=lambda e: e[1])
        last_move = max([registered] + [e[1] for e in events if e[0] in (
            "escalated", "assigned", "resolved", "failed", "referred", "withdrawn", "rejected", "returned")])
        if performance is not None:
            checks = [e for e in events if e[0] == "performance"]
            performance = checks[-1][4]["status"] if checks else "pending"
        dispute = (did, case_no, c["county"], len(events), self.types[rng.choices(range(15), TYPE_WEIGHTS)[0]], source,
                   status, "当事人因纠纷申请调解", region, org, handlers, current_tier, tier, highest,
                   None if concluded is None else current_tier, registered, deadline, concluded, last_move,
                   persons, None if agreement is None else json.dumps(agreement, ensure_ascii=False), form, amount,
                   performance, prevented, c["court"] if source == "court_entrusted" else None,
                   f"(2026)川民初{rng.randint(1, 99999)}号" if source == "court_entrusted" else None,
                   f"{case_no} 当事人因纠纷申请调解 张某 李某",
                   "in_litigation" if source == "court_entrusted" else None,
                   "ordinary" if source == "court_entrusted" else None)
        event_rows = [(uid(rng), did, seq, kind, when, when, "token:bench", eorg, etier,
                       json.dumps(detail, ensure_ascii=False))
                      for seq, (kind, when, eorg, etier, detail) in enumerate(events, start=1)]
        party_rows = [(uid(rng), did, 0, "applicant", "person", "张某", self.person(c), None, None),
                      (uid(rng), did, 1, "respondent", "person", "李某",
                       self.person(c) if rng.random() < 0.6 else None, None, None)]
        referral_rows = [(ref_id, did, c["court"], kind, "decided" if decision else "pending", decision,
                          None, "起诉" if kind == "litigation" else None, created, when)
                         for ref_id, kind, created, decision, when in referrals]
        return dispute, event_rows, party_rows, referral_rows


DISPUTE_COLS = ["id", "case_no", "county_code", "version", "type", "source", "status", "summary", "region_code",
                "org_id", "handler_org_ids", "tier", "entry_tier", "highest_tier", "concluded_tier", "registered_at",
                "deadline", "concluded_at", "last_move_at", "persons_involved", "agreement", "agreement_form",
                "agreement_amount", "performance", "prevented", "court_id", "court_case_no", "search_text",
                "entrustment_kind", "entrustment_procedure"]
EVENT_COLS = ["id", "dispute_id", "seq", "kind", "at", "recorded_at", "actor", "org_id", "tier", "detail"]
PARTY_COLS = ["id", "dispute_id", "position", "role", "kind", "name", "id_number", "phone", "address"]
REFERRAL_COLS = ["id", "dispute_id", "court_id", "kind", "status", "decision", "court_case_no", "reason",
                 "created_at", "decided_at"]


async def main(args) -> None:
    url, data_dir, server = database_url()
    try:
        await fill(args, url, data_dir)
    finally:
        if server is not None:
            server.stop()


async def fill(args, url: str, data_dir: Path | None) -> None:
    where = data_dir or Path("/")
    need = args.disputes * BYTES_PER_DISPUTE + 200 * 2**20
    free = shutil.disk_usage(where if data_dir else "/").free
    print(f"{args.disputes:,} disputes need about {need / 2**30:.1f} GiB; {free / 2**30:.1f} GiB free at {where}")
    if free < need:
        sys.exit(f"not enough free disk: need {need / 2**30:.1f} GiB, have {free / 2**30:.1f} GiB")
    await db.migrate(url)
    await db.connect(url, min_size=1, max_size=4)
    rng = random.Random(args.seed)
    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT count(*) FROM disputes"):
            sys.exit("the database already holds disputes: generate into an empty one")
        counties = await load_regions(conn, args.counties, rng)
        await create_orgs(conn, counties, rng)
        print(f"{len(counties)} counties, {sum(len(c['towns']) for c in counties):,} townships, "
              f"{sum(len(c['villages']) for c in counties):,} villages")
        now = dt.datetime.now(TZ).replace(day=1, hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(seconds=1)
        gen = Generator(counties, rng, now)
        # bulk load: secondary indexes are dropped while COPY runs and built once afterwards
        indexes = await conn.fetch(
            """SELECT i.indexname, i.indexdef FROM pg_indexes i
               WHERE i.schemaname = 'public' AND i.tablename = ANY ($1::text[])
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
            ["disputes", "dispute_events", "dispute_parties", "referrals"])
        for ix in indexes:
            await conn.execute(f'DROP INDEX "{ix["indexname"]}"')
        # the generated rows are consistent by construction: no per-row foreign-key triggers while loading
        await conn.execute("SET session_replication_role = replica")
        progress = Progress(args.disputes, "disputes")
        done = 0
        while done < args.disputes:
            n = min(BATCH, args.disputes - done)
            ds, es, ps, rs = [], [], [], []
            for _ in range(n):
                d, e, p, r = gen.one()
                ds.append(d)
                es.extend(e)
                ps.extend(p)
                rs.extend(r)
            async with conn.transaction():
                await conn.copy_records_to_table("disputes", records=ds, columns=DISPUTE_COLS)
                await conn.copy_records_to_table("dispute_events", records=es, columns=EVENT_COLS)
                await conn.copy_records_to_table("dispute_parties", records=ps, columns=PARTY_COLS)
                if rs:
                    await conn.copy_records_to_table("referrals", records=rs, columns=REFERRAL_COLS)
            done += n
            progress.update(done)
        await conn.executemany(
            "INSERT INTO case_counters (county_code, year, last) VALUES ($1, $2, $3) "
            "ON CONFLICT (county_code, year) DO UPDATE SET last = greatest(case_counters.last, excluded.last)",
            [(c, y, n) for (c, y), n in gen.counters.items()])
        await conn.execute("SET session_replication_role = DEFAULT")
        built = Progress(len(indexes), "indexes")
        for i, ix in enumerate(indexes, start=1):
            await conn.execute(ix["indexdef"])
            built.update(i)
        print("analysing …")
        await conn.execute("ANALYZE")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"done: {args.disputes:,} disputes, database {size}")
    finally:
        await conn.close()
        await db.disconnect()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--disputes", type=int, required=True, help="how many disputes to write")
    parser.add_argument("--counties", type=int, default=183,
                        help="how many counties of 四川省 (in code order; default 183, all of them)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args()
    if args.disputes < 1 or args.counties < 1:
        parser.error("--disputes and --counties must be at least 1")
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
