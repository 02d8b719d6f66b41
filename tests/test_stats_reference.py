"""The correctness proof of the statistics: random dispute histories written through the
real services (registration, entrustment by a court, escalation and assignment, every
ending, performance records out of order, visits, judicial confirmation and litigation
with the court's decisions), with business times within a minute of Asia/Shanghai month
edges, in villages, townships and the county itself; then every figure of
`mediation.stats` equals the plain-Python reference (tests/stats_reference.py) for the
region, each child and every month, the children sum to the parent and each drill-down
total equals its figure.

Runs like tests/test_lifecycle_machine.py: a sync Hypothesis test hands each coroutine
to the session loop the pool lives on.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from types import SimpleNamespace as NS

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mediation import clock, db, disputes, early_warning, stats
from mediation.access import SYSTEM, Principal
from mediation.errors import DomainError
import referrals
from referrals import service as court_service
from tests import stats_reference as ref

BJ = clock.TZ
NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=BJ)
EDGES = [dt.datetime(2026, m, 1, tzinfo=BJ) for m in (9, 10, 11, 12)]
MONTHS = ["2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]
REGIONS = ["510000000000", "511300000000", "511325000000", "511325101000", "511325102000", "511325101201",
           "511324000000"]
COUNTY_REGIONS = {"511325": ["511325000000", "511325101000", "511325102000", "511325101201", "511325101202",
                             "511325102201"],
                  "511324": ["511324000000", "511324100000", "511324100205"]}
ORG_TIERS = {"village_a1": "village", "village_a2": "village", "village_b1": "village", "town_a": "township",
             "town_b": "township", "county_center": "county", "other_county": "village"}
ORGS = list(ORG_TIERS)
PROFILE = settings(settings.get_profile("ci"), max_examples=25,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                          HealthCheck.data_too_large])

#: seconds from one step to the next, or ("edge", s): to the next month edge + s
DELTAS = st.one_of(
    st.sampled_from([0, 1, 59, 3600, 86400, 3 * 86400, 12 * 86400, 29 * 86400]),
    st.tuples(st.just("edge"), st.integers(-60, 60)),
)
#: the ending may also fall on the deadline, a second either side, or exactly
ENDING_DELTAS = st.one_of(DELTAS, st.tuples(st.just("deadline"), st.integers(-1, 1)))
MOVE = st.tuples(st.sampled_from(["escalate", "escalate", "assign", "session", "risk"]), st.integers(0, 3), DELTAS)
#: what a `risk` step assesses: (level, intake risks)
RISKS = [("green", []), ("red", []), ("yellow", ["criminal_risk"]), ("green", ["suicide_risk"])]
#: two people who may turn up in several disputes (the `repeat` reason)
PEOPLE = [None, "11010519491231002X", "110105194912310038"]
SECONDS = st.one_of(st.integers(0, 120), st.integers(0, 40 * 86400))
AFTER = st.one_of(
    st.tuples(st.just("performance"), st.sampled_from(["performed", "partial", "breached"]), SECONDS),
    st.tuples(st.just("visit"), st.sampled_from(["satisfied", "basically_satisfied", "dissatisfied"]), SECONDS),
    st.tuples(st.just("confirmation"), st.just(""), st.integers(0, 31 * 86400)),
    st.tuples(st.just("decide"), st.booleans(), SECONDS),
    st.tuples(st.just("risk"), st.integers(0, 3), SECONDS),
)
PLAN = st.fixed_dictionaries({
    "org": st.sampled_from(ORGS),
    "region": st.integers(0, 5),
    "type": st.sampled_from(["neighbor", "marriage_family", "labor", "other"]),
    "source": st.sampled_from(["application", "application", "petition", "court_entrusted"]),
    "persons": st.one_of(st.integers(1, 7), st.just(30)),
    "person": st.integers(0, 2),
    "edge": st.integers(0, 3),
    "offset": st.one_of(st.integers(-60, 60), st.integers(-20 * 86400, 20 * 86400)),
    "moves": st.lists(MOVE, max_size=3),
    "ending": st.sampled_from([None, "resolve", "resolve", "resolve", "fail", "fail", "withdraw", "reject", "refer"]),
    "ending_delta": ENDING_DELTAS,
    "form": st.sampled_from(["written", "oral"]),
    "amount": st.one_of(st.none(), st.decimals(0, 5000, places=2)),
    "prevented": st.lists(st.sampled_from(["criminal", "group_petition", "suicide", "group_fight"]),
                          max_size=2, unique=True),
    "deadline_days": st.one_of(st.none(), st.integers(1, 40)),
    "after": st.lists(AFTER, max_size=4),
})


def _plan(**over) -> dict:
    plan = {"org": "village_a1", "region": 0, "type": "neighbor", "source": "application", "persons": 2, "person": 0,
            "edge": 1,
            "offset": 30, "moves": [], "ending": None, "ending_delta": 86400, "form": "written",
            "amount": Decimal("100.00"), "prevented": [], "deadline_days": None, "after": []}
    return {**plan, **over}


#: one history with every kind of event, so the proof never rests on chance for them
RICH = [
    _plan(moves=[("escalate", 0, 3600), ("assign", 1, 60), ("session", 0, 1)], ending="resolve",
          after=[("performance", "partial", 100), ("performance", "performed", 50), ("visit", "satisfied", 10),
                 ("confirmation", "", 200), ("decide", True, 3 * 86400)]),
    _plan(org="town_a", ending="refer", ending_delta=("edge", -30), after=[("decide", False, 40)]),
    _plan(org="village_b1", source="court_entrusted", ending="fail", ending_delta=("deadline", 0)),
    _plan(org="county_center", edge=2, offset=-1, ending="withdraw"),
    _plan(org="town_b", region=5, ending="reject", ending_delta=0),
    # risk: many people, a repeat party, assessments up and down, one after the conclusion
    _plan(persons=30, person=1, edge=0, moves=[("risk", 0, 3600)]),
    _plan(person=1, edge=1, moves=[("risk", 2, 60), ("risk", 0, 86400)], ending="resolve",
          ending_delta=("edge", 10), after=[("risk", 1, 100)]),
]


def step(at: dt.datetime, delta, deadline: dt.datetime | None = None) -> dt.datetime:
    if isinstance(delta, tuple) and delta[0] == "deadline":
        return max(at, deadline + dt.timedelta(seconds=delta[1]))
    if isinstance(delta, tuple):
        edge = next((e for e in EDGES if e > at), EDGES[-1])
        return max(at, edge + dt.timedelta(seconds=delta[1]))
    return at + dt.timedelta(seconds=delta)


class Writer:
    def __init__(self, world, court_id: uuid.UUID) -> None:
        self.world = world
        self.court = Principal(role="court", actor=f"court:{court_id}", court_id=court_id, county_code="511325")
        self.court_id = court_id
        self.n = 0
        self.tiers = {world.orgs[name]: tier for name, tier in ORG_TIERS.items()}
        self.county_orgs = {county: [world.orgs[name] for name in ORG_TIERS if (name == "other_county") ==
                                     (county == "511324")] for county in COUNTY_REGIONS}

    async def quietly(self, coro):
        try:
            return await coro
        except DomainError:   # a step the rules refuse leaves the history as it was
            return None

    async def write(self, plan: dict) -> None:
        w = self.world
        county = "511324" if plan["org"] == "other_county" else "511325"
        regions = COUNTY_REGIONS[county]
        at = EDGES[plan["edge"]] + dt.timedelta(seconds=plan["offset"])
        if at > NOW:
            return
        body = NS(org_id=w.orgs[plan["org"]], type=plan["type"], source=plan["source"], summary="纠纷",
                  parties=[NS(role="applicant", kind="person", name="张三", id_number=PEOPLE[plan["person"]]),
                           NS(role="respondent", kind="person",
                                                                               name="李四")],
                  region_code=regions[plan["region"] % len(regions)], registered_at=at, occurred_on=None,
                  amount=None, persons_involved=plan["persons"],
                  deadline=None if plan["deadline_days"] is None else at + dt.timedelta(days=plan["deadline_days"]))
        if plan["source"] == "court_entrusted":
            if county != "511325":
                return
            self.n += 1
            body.court_case_no = f"(2026)川1325民初{self.n}号"
            body.kind, body.procedure = "in_litigation", "simple"
            d = await self.quietly(court_service.entrust(self.court, body))
        else:
            d = await self.quietly(disputes.register(SYSTEM, body))
        if d is None:
            return
        did = d.id
        for action, pick, delta in plan["moves"]:
            at = step(at, delta)
            if at > NOW:
                return
            async with db.connection() as conn:
                here = await conn.fetchrow("SELECT o.tier, o.id FROM disputes d JOIN orgs o ON o.id = d.org_id "
                                           "WHERE d.id = $1", did)
            rank = ref.RANK[here["tier"]]
            if action == "risk":
                level, reasons = RISKS[pick % len(RISKS)]
                await self.quietly(disputes.transition(SYSTEM, did, "risk", NS(level=level, reasons=reasons, at=at)))
                continue
            if action == "session":
                held = next(k for k, v in w.orgs.items() if v == here["id"])
                data = NS(held_at=at, method="phone", mediator_ids=[w.mediators[held]], summary="调解", at=at)
                await self.quietly(disputes.transition(SYSTEM, did, "sessions", data))
                continue
            targets = [o for o in self.county_orgs[county] if o != here["id"] and
                       (ref.RANK[self.tiers[o]] > rank if action == "escalate" else ref.RANK[self.tiers[o]] <= rank)]
            if targets:
                data = NS(to_org_id=targets[pick % len(targets)], reason="需要", at=at)
                await self.quietly(disputes.transition(SYSTEM, did, action, data))
        if plan["ending"] is None:
            return
        at = step(at, plan["ending_delta"], d.deadline)
        if at > NOW:
            return
        ending = plan["ending"]
        if ending == "resolve":
            # an application for judicial confirmation needs a written agreement
            form = "written" if any(a[0] == "confirmation" for a in plan["after"]) else plan["form"]
            data = NS(agreement=NS(form=form, terms="协议", signed_at=at, amount=plan["amount"],
                                   performance_due=None), prevented=plan["prevented"], at=at)
        elif ending == "refer":
            data = NS(court_id=self.court_id, reason="起诉", at=at)
        else:
            data = NS(reason="理由", channel=None, at=at)
        if await self.quietly(disputes.transition(SYSTEM, did, ending, data)) is None:
            return
        concluded = at
        for kind, value, seconds in plan["after"]:
            when = concluded + dt.timedelta(seconds=seconds)
            if when > NOW:
                continue
            if kind == "performance" and value in ("performed", "partial", "breached"):
                await self.quietly(disputes.transition(SYSTEM, did, "performance",
                                                       NS(status=value, checked_at=when, at=when)))
            elif kind == "visit" and value in ("satisfied", "basically_satisfied", "dissatisfied"):
                await self.quietly(disputes.transition(SYSTEM, did, "visit", NS(satisfaction=value, at=when)))
            elif kind == "risk":
                level, reasons = RISKS[value % len(RISKS)]
                await self.quietly(disputes.transition(SYSTEM, did, "risk", NS(level=level, reasons=reasons, at=when)))
            elif kind == "confirmation":
                await self.quietly(disputes.transition(SYSTEM, did, "confirmation",
                                                       NS(court_id=self.court_id, at=when)))
            elif kind == "decide":
                async with db.connection() as conn:
                    pending = await conn.fetchrow("SELECT id, kind, created_at FROM referrals WHERE dispute_id = $1 "
                                                  "AND status <> 'decided' ORDER BY created_at LIMIT 1", did)
                if pending is not None:
                    decision = {"litigation": ("filed", "not_filed"),
                                "confirmation": ("confirmed", "rejected")}[pending["kind"]][0 if value else 1]
                    await self.quietly(court_service.decide(self.court, pending["id"], NS(
                        decision=decision, court_case_no="(2026)川1325民特1号",
                        decided_at=max(when, pending["created_at"]), note=None)))


@pytest.fixture
async def court_id(pool, world):
    cid = uuid.uuid4()
    async with db.connection() as conn:
        await conn.execute("INSERT INTO courts (id, name, code, region_code) VALUES ($1, '西充县人民法院', '川1325', "
                           "'511325000000')", cid)
        await conn.execute("INSERT INTO court_roster (court_id, org_id) SELECT $1, id FROM orgs "
                           "WHERE county_code = '511325'", cid)
    return cid


def _plain(answer) -> dict:
    out = msgspec.to_builtins(answer)
    out.pop("generated_at", None)
    return out


async def check_everything(month_for_lists: str, region_for_lists: str) -> None:
    async with db.connection() as conn:
        ds = await ref.load(conn)
        for code in REGIONS:
            scope = await stats.scope_of(conn, code)
            for month in MONTHS:
                got = _plain(await stats.compute_monthly(conn, scope, stats.period(month)))
                want = ref.monthly(ds, code, month)
                assert got == want, (code, month)
                hot = await stats.compute_hotspots(conn, scope, stats.period(month))
                kids = {c["region"]["code"]: c["counts"] for c in want["children"] if c["region"]}
                assert {h.region.code: (h.received, h.resolved, h.group_disputes_received) for h in hot.regions} == {
                    k: (c["received"], c["resolved"], c["group_disputes_received"]) for k, c in kids.items()}, (code, month)
                assert {h.type: h.received for h in hot.types} == {t: c["received"] for t, c in want["by_type"].items()}
                if got["children"]:
                    for key, value in got["counts"].items():
                        total = sum(c["counts"][key] for c in got["children"]) if key != "agreement_amount" else \
                            f"{sum(Decimal(c['counts'][key]) for c in got['children']):.2f}"
                        assert total == value, (code, month, key)
        for code in ("511325000000", region_for_lists):
            scope = await stats.scope_of(conn, code)
            got = _plain(await stats.compute_trend(conn, scope, *(stats.month_index(*stats.parse_month(m))
                                                                   for m in (MONTHS[0], MONTHS[-1]))))
            assert got["months"] == ref.trend(ds, code, MONTHS[0], MONTHS[-1]), code
    want = ref.monthly(ds, region_for_lists, month_for_lists)
    asks = [(k, None, v) for k, v in want["counts"].items()]
    asks += [(k, part, v[part]) for k, v in want["rates"].items() for part in ("numerator", "denominator")]
    for metric, part, figure in asks:
        listed = await stats.cases(SYSTEM, stats.CaseQuery(region=region_for_lists, month=month_for_lists,
                                                           metric=metric, part=part), limit=1)
        assert listed.figure == figure, (metric, part)
        if metric != "agreement_amount":
            assert listed.total == figure, (metric, part)


def test_sql_figures_equal_the_reference(session_loop, world, court_id):
    referrals.install()   # the court side (refer, confirmation), as the app factory wires it
    early_warning.install()   # risk assessments
    writer = Writer(world, court_id)
    clock.freeze(NOW.astimezone(dt.UTC))

    @PROFILE
    @example(plans=RICH, month="2026-10", region="511325000000")
    @given(plans=st.lists(PLAN, min_size=1, max_size=5), month=st.sampled_from(MONTHS),
           region=st.sampled_from(REGIONS))
    def run(plans, month, region):
        for plan in plans:
            session_loop.run_until_complete(writer.write(plan))
        session_loop.run_until_complete(check_everything(month, region))

    try:
        run()
        # the histories reached every kind of event the figures read
        spread = session_loop.run_until_complete(_spread())
        assert set(spread) >= {"escalated", "assigned", "resolved", "failed", "returned", "referred", "withdrawn",
                               "rejected", "performance", "visit", "confirmation_applied", "referral_decided",
                               "entrusted", "session", "risk_assessed"}, spread
    finally:
        clock.freeze(None)


async def _spread() -> dict[str, int]:
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT kind, count(*) AS n FROM dispute_events GROUP BY kind")
    return {r["kind"]: r["n"] for r in rows}
