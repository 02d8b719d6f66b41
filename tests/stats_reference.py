"""A plain-Python reading of METRICS.md, written apart from mediation/stats.py's SQL.

It reads the raw tables once and derives what it can from the timeline itself (entry
tier and org, highest tier, status and conclusion time, agreement, latest performance),
so it checks the columns the SQL reads as well as the SQL. Decimal arithmetic at 60
digits with ROUND_HALF_UP, durations as exact seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from mediation import risk

SHANGHAI = ZoneInfo("Asia/Shanghai")
PREFIX_DIGITS = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
RANK = {"village": 1, "township": 2, "county": 3}
ENDINGS = {"resolved", "failed", "referred", "returned", "withdrawn", "rejected"}
MEDIATED = {"resolved", "failed", "referred", "returned"}
TYPES = ["marriage_family", "neighbor", "housing_homestead", "contract", "production_business", "damages",
         "land_forest", "land_requisition", "environment", "labor", "consumer", "medical", "traffic",
         "property_management", "other"]
SOURCES = ["application", "screening", "court_entrusted", "petition", "police", "hotline", "agency"]
ORG_KINDS = ["village_committee", "township_committee", "county_center", "industry_committee", "other"]
COUNT_KEYS = ["received", "concluded", "mediated", "resolved", "failed", "referred", "returned", "withdrawn",
              "rejected", "open_at_end", "overdue_at_end", "escalations", "entrusted_received",
              "confirmation_applied", "confirmation_granted", "confirmation_rejected", "litigation_filed",
              "litigation_not_filed", "agreements_written", "agreements_oral", "group_disputes_received",
              "agreement_amount", "red_at_end", "yellow_at_end", "warnings_raised", "prevented_criminal", "prevented_group_petition", "prevented_suicide",
              "prevented_group_fight"]
RATE_KEYS = ["success_rate", "village_rate", "township_rate", "county_rate", "diversion_rate", "confirmation_rate",
             "performance_rate", "on_time_rate", "satisfaction_rate"]
WIDE = Context(prec=60)


@dataclass
class Case:
    """One dispute as its timeline tells it."""

    region_code: str
    type: str
    source: str
    persons: int
    deadline: dt.datetime
    registered_at: dt.datetime
    entry_tier: str
    entry_kind: str
    highest_tier: str
    status: str
    concluded_at: dt.datetime | None
    form: str | None
    amount: Decimal
    prevented: list[str]
    performance: str | None
    events: list[dict[str, Any]] = field(default_factory=list)
    repeat: bool = False      # a party's ID number in another dispute registered in the 12 months before
    id: Any = None


@dataclass
class Dataset:
    regions: dict[str, dict]
    cases: list[Case]


async def load(conn) -> Dataset:
    regions = {r["code"]: dict(r) for r in await conn.fetch("SELECT code, name, level, parent_code FROM regions")}
    kinds = {r["id"]: r["kind"] for r in await conn.fetch("SELECT id, kind FROM orgs")}
    events: dict[Any, list[dict]] = {}
    for e in await conn.fetch("SELECT dispute_id, seq, kind, at, org_id, tier, detail::text AS detail "
                              "FROM dispute_events ORDER BY dispute_id, seq"):
        events.setdefault(e["dispute_id"], []).append({**dict(e), "detail": json.loads(e["detail"])})
    cases = []
    for d in await conn.fetch("SELECT id, region_code, type, source, persons_involved, deadline FROM disputes"):
        timeline = events[d["id"]]
        first = timeline[0]
        tiers = [first["tier"]] + [e["tier"] for e in timeline if e["kind"] in ("escalated", "assigned")]
        ending = next((e for e in timeline if e["kind"] in ENDINGS), None)
        agreement = ending["detail"]["agreement"] if ending and ending["kind"] == "resolved" else None
        checks = [e for e in timeline if e["kind"] == "performance"]
        latest = max(checks, key=lambda e: (e["at"], e["seq"])) if checks else None
        cases.append(Case(
            region_code=d["region_code"], type=d["type"], source=d["source"], persons=d["persons_involved"],
            deadline=d["deadline"], registered_at=first["at"], entry_tier=first["tier"],
            entry_kind=kinds[first["org_id"]], highest_tier=max(tiers, key=RANK.__getitem__),
            status=ending["kind"] if ending else "open", concluded_at=ending["at"] if ending else None,
            form=agreement["form"] if agreement else None,
            amount=Decimal(agreement["amount"]) if agreement and agreement.get("amount") else Decimal(0),
            prevented=list(ending["detail"].get("prevented") or []) if agreement else [],
            performance=latest["detail"]["status"] if latest else None,
            events=timeline, id=d["id"]))
    ids: dict[Any, set[str]] = {}
    for p in await conn.fetch("SELECT dispute_id, id_number FROM dispute_parties WHERE id_number IS NOT NULL"):
        ids.setdefault(p["dispute_id"], set()).add(p["id_number"])
    for case in cases:
        since = risk.repeat_window_start(case.registered_at, SHANGHAI)
        mine = ids.get(case.id, set())
        case.repeat = bool(mine) and any(other is not case and since <= other.registered_at < case.registered_at
                                         and mine & ids.get(other.id, set()) for other in cases)
    return Dataset(regions=regions, cases=cases)


def _assessments(c: Case) -> list[tuple[dt.datetime, int, risk.Assessment]]:
    out = []
    for e in c.events:
        level = e["detail"].get("level") if e["kind"] == "risk_assessed" else e["detail"].get("risk_level")
        if level:
            reasons = e["detail"].get("reasons") if e["kind"] == "risk_assessed" else e["detail"].get("risk_reasons")
            out.append((e["at"], e["seq"], risk.Assessment(level, tuple(reasons or ()))))
    return out


def level_at(c: Case, moment: dt.datetime) -> str:
    """METRICS.md's "Risk at a moment": only what happened before `moment` counts."""
    facts = risk.Facts(
        concluded=c.concluded_at is not None and c.concluded_at < moment, source=c.source,
        persons_involved=c.persons, deadline=c.deadline,
        escalations=sum(1 for e in c.events if e["kind"] == "escalated" and e["at"] < moment), repeat=c.repeat,
        assessment=risk.latest_assessment(_assessments(c), before=moment))
    return risk.assess(facts, moment).level


def first_red(c: Case) -> dt.datetime | None:
    """The first moment the level is red, trying every moment it can change to red."""
    tick = dt.timedelta(microseconds=1)
    for moment in sorted({c.registered_at, *(at for at, _, _ in _assessments(c))}):
        if level_at(c, moment + tick) == "red":
            return moment
    return None


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    year, mon = int(month[:4]), int(month[5:])
    start = dt.datetime(year, mon, 1, tzinfo=SHANGHAI)
    end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def prefix_of(ds: Dataset, code: str) -> str:
    return code[: PREFIX_DIGITS[ds.regions[code]["level"]]]


def rate(n: int, d: int) -> dict:
    value = None if d == 0 else float(WIDE.divide(Decimal(n), Decimal(d)).quantize(Decimal("0.0001"), ROUND_HALF_UP))
    return {"numerator": n, "denominator": d, "rate": value}


def figures(cases: list[Case], month: str) -> dict:
    start, end = month_bounds(month)

    def inside(t):
        return t is not None and start <= t < end

    received = [c for c in cases if inside(c.registered_at)]
    concluded = [c for c in cases if inside(c.concluded_at)]
    mediated = [c for c in concluded if c.status in MEDIATED]
    resolved = [c for c in concluded if c.status == "resolved"]
    open_end = [c for c in cases if c.registered_at < end and (c.concluded_at is None or c.concluded_at >= end)]
    events = [e for c in cases for e in c.events if inside(e["at"])]

    def decisions(kind, decision):
        return sum(1 for e in events if e["kind"] == "referral_decided" and e["detail"]["kind"] == kind
                   and e["detail"]["decision"] == decision)

    counts: dict[str, Any] = {
        "received": len(received), "concluded": len(concluded), "mediated": len(mediated),
        **{s: sum(1 for c in concluded if c.status == s) for s in
           ("resolved", "failed", "referred", "returned", "withdrawn", "rejected")},
        "open_at_end": len(open_end), "overdue_at_end": sum(1 for c in open_end if c.deadline < end),
        "escalations": sum(1 for e in events if e["kind"] == "escalated"),
        "entrusted_received": sum(1 for c in received if c.source == "court_entrusted"),
        "confirmation_applied": sum(1 for e in events if e["kind"] == "confirmation_applied"),
        "confirmation_granted": decisions("confirmation", "confirmed"),
        "confirmation_rejected": decisions("confirmation", "rejected"),
        "litigation_filed": decisions("litigation", "filed"),
        "litigation_not_filed": decisions("litigation", "not_filed"),
        "agreements_written": sum(1 for c in resolved if c.form == "written"),
        "agreements_oral": sum(1 for c in resolved if c.form == "oral"),
        "group_disputes_received": sum(1 for c in received if c.persons >= 5),
        "agreement_amount": f"{sum((c.amount for c in resolved), Decimal(0)):.2f}",
        "red_at_end": sum(1 for c in open_end if level_at(c, end) == "red"),
        "yellow_at_end": sum(1 for c in open_end if level_at(c, end) == "yellow"),
        "warnings_raised": sum(1 for c in cases if inside(first_red(c))),
        **{f"prevented_{p}": sum(1 for c in resolved if p in c.prevented)
           for p in ("criminal", "group_petition", "suicide", "group_fight")},
    }
    local = [c for c in mediated if c.source != "court_entrusted"]
    village_den = [c for c in local if c.entry_tier == "village"]
    town_den = [c for c in local if c.entry_tier in ("village", "township")]
    diversion = [c for c in concluded if c.source == "court_entrusted" and c.status in ("resolved", "returned")]
    performed = [c for c in resolved if c.performance not in (None, "pending")]
    timely = [c for c in concluded if c.status != "rejected"]
    visits = [e for e in events if e["kind"] == "visit"]
    granted, refused = counts["confirmation_granted"], counts["confirmation_rejected"]
    rates = {
        "success_rate": rate(len(resolved), len(mediated)),
        "village_rate": rate(sum(1 for c in village_den if c.status == "resolved" and c.highest_tier == "village"),
                             len(village_den)),
        "township_rate": rate(sum(1 for c in town_den if c.status == "resolved"
                                  and c.highest_tier in ("village", "township")), len(town_den)),
        "county_rate": rate(sum(1 for c in local if c.status == "resolved"), len(local)),
        "diversion_rate": rate(sum(1 for c in diversion if c.status == "resolved"), len(diversion)),
        "confirmation_rate": rate(granted, granted + refused),
        "performance_rate": rate(sum(1 for c in performed if c.performance == "performed"), len(performed)),
        "on_time_rate": rate(sum(1 for c in timely if c.concluded_at <= c.deadline), len(timely)),
        "satisfaction_rate": rate(sum(1 for e in visits if e["detail"]["satisfaction"] in
                                      ("satisfied", "basically_satisfied")), len(visits)),
    }
    days = sorted(_days(c.concluded_at - c.registered_at) for c in resolved)
    if days:
        n = len(days)
        middle = days[n // 2] if n % 2 else WIDE.divide(days[n // 2 - 1] + days[n // 2], Decimal(2))
        mean = WIDE.divide(sum(days, Decimal(0)), Decimal(n))
        durations = {"median_days_to_resolve": _two(middle), "mean_days_to_resolve": _two(mean)}
    else:
        durations = {"median_days_to_resolve": None, "mean_days_to_resolve": None}
    return {"counts": counts, "rates": rates, "durations": durations,
            "_received": received, "_resolved": resolved}


def _days(delta: dt.timedelta) -> Decimal:
    micro = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return WIDE.divide(Decimal(micro), Decimal(86_400_000_000))


def _two(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


def monthly(ds: Dataset, code: str, month: str) -> dict:
    """The answer of GET /stats/monthly without `generated_at`."""
    prefix = prefix_of(ds, code)
    mine = [c for c in ds.cases if c.region_code.startswith(prefix)]
    whole = figures(mine, month)
    children = []
    if ds.regions[code]["level"] != "village":
        kids = sorted(r for r, row in ds.regions.items() if row["parent_code"] == code)
        claimed: set[int] = set()
        for kid in kids:
            kp = prefix_of(ds, kid)
            inside = [c for c in mine if c.region_code.startswith(kp)]
            claimed.update(id(c) for c in inside)
            f = figures(inside, month)
            row = ds.regions[kid]
            children.append({"region": {"code": kid, "name": row["name"], "level": row["level"]},
                             "counts": f["counts"], "rates": f["rates"]})
        rest = figures([c for c in mine if id(c) not in claimed], month)
        if any(v not in (0, "0.00") for v in rest["counts"].values()):
            children.append({"region": None, "counts": rest["counts"], "rates": rest["rates"]})
    row = ds.regions[code]

    def cells(attr: str, keys: list[str]) -> dict:
        return {k: {"received": sum(1 for c in whole["_received"] if getattr(c, attr) == k),
                    "resolved": sum(1 for c in whole["_resolved"] if getattr(c, attr) == k)} for k in keys}

    return {
        "region": {"code": code, "name": row["name"], "level": row["level"]}, "month": month,
        "timezone": "Asia/Shanghai", "counts": whole["counts"], "rates": whole["rates"],
        "durations": whole["durations"], "by_type": cells("type", TYPES),
        "by_source": {s: sum(1 for c in whole["_received"] if c.source == s) for s in SOURCES},
        "by_org_kind": cells("entry_kind", ORG_KINDS), "children": children,
    }


def _change(now, before):
    if before == 0:
        return None
    return float(WIDE.divide(Decimal(now) - Decimal(before), Decimal(before)).quantize(Decimal("0.0001"),
                                                                                     ROUND_HALF_UP))


def _shift(month: str, n: int) -> str:
    i = int(month[:4]) * 12 + int(month[5:]) - 1 + n
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def trend(ds: Dataset, code: str, first: str, last: str) -> list[dict]:
    """Each month from `first` to `last`: counts, rates, and 环比/同比 of METRICS.md."""
    prefix = prefix_of(ds, code)
    mine = [c for c in ds.cases if c.region_code.startswith(prefix)]
    out, month = [], first
    while month <= last:
        now, prev, year = (figures(mine, m) for m in (month, _shift(month, -1), _shift(month, -12)))

        def changes(before):
            counts = {k: _change(Decimal(now["counts"][k]), Decimal(before["counts"][k])) for k in COUNT_KEYS}
            rates = {}
            for k in RATE_KEYS:
                a, b = now["rates"][k]["rate"], before["rates"][k]["rate"]
                rates[k] = None if a is None or b is None else float(Decimal(str(a)) - Decimal(str(b)))
            return {"counts": counts, "rates": rates}

        out.append({"month": month, "counts": now["counts"], "rates": now["rates"], "mom": changes(prev),
                    "yoy": changes(year)})
        month = _shift(month, 1)
    return out
