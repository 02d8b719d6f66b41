"""The demo county: real regions of 西充县, generated villages, committees and mediators,
and a year of disputes written through the dispute service."""

from __future__ import annotations

import collections
import datetime as dt
import json
import uuid

import pytest

from mediation import clock, db, demo, disputes, lifecycle
from mediation.access import SYSTEM
from mediation.idnumbers import credit_code_problem, resident_id_problem
from tests.conftest import build_world, dispute_body

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=clock.TZ)
SCALE = 0.1

#: what SEED gives at SCALE (one or two villages per township)
SMALL_VILLAGES = 30
SMALL_ORGS = 4 + 23 + SMALL_VILLAGES
SMALL_MEDIATORS = 327
SMALL_DISPUTES = 300


@pytest.fixture
def frozen():
    clock.freeze(NOW)
    yield NOW
    clock.freeze(None)


async def counts() -> dict[str, int]:
    async with db.connection() as conn:
        return dict(await conn.fetchrow(
            """SELECT (SELECT count(*) FROM regions) AS regions,
                      (SELECT count(*) FROM regions WHERE level = 'township') AS townships,
                      (SELECT count(*) FROM regions WHERE level = 'village') AS villages,
                      (SELECT count(*) FROM orgs) AS orgs,
                      (SELECT count(*) FROM mediators) AS mediators,
                      (SELECT count(*) FROM disputes) AS disputes,
                      (SELECT count(*) FROM dispute_events) AS events,
                      (SELECT count(*) FROM dispute_parties) AS parties,
                      (SELECT count(*) FROM audit_log) AS audit"""))


# ---------------------------------------------------------------- the plan, without a database

def test_full_county_has_about_300_villages_under_its_23_real_townships():
    towns = demo.township_rows()
    assert len(towns) == 23
    assert ("511325101000", "太平镇") in towns and ("511325001000", "南台街道") in towns
    villages = demo.villages(1.0)
    assert len(villages) == 301
    assert {v.township for v in villages} == {code for code, _ in towns}
    assert len({v.code for v in villages}) == len(villages)
    assert len({v.name for v in villages}) == len(villages)          # unique in the county
    for v in villages:
        assert v.code[:9] == v.township[:9] and 200 <= int(v.code[9:]) <= 399
        assert v.name.endswith(("村", "社区"))
        if int(v.township[6:9]) < 100:                                  # streets hold communities
            assert v.name.endswith("社区")
    assert villages == demo.villages(1.0)                               # the seed decides


def test_small_scale_keeps_every_township_and_a_subset_of_its_villages():
    small = demo.villages(SCALE)
    assert len(small) == SMALL_VILLAGES
    assert len({v.township for v in small}) == 23
    assert set(small) <= set(demo.villages(1.0))


def test_each_committee_gets_three_to_nine_mediators_with_phones():
    specs = demo.org_specs(demo.villages(1.0))
    assert len(specs) == 1 + 3 + 23 + 301
    kinds = collections.Counter(s.kind for s in specs)
    assert kinds == {"county_center": 1, "industry_committee": 3, "township_committee": 23, "village_committee": 301}
    assert {s.name for s in specs if s.kind == "industry_committee"} == {
        "西充县医疗纠纷人民调解委员会", "西充县道路交通事故人民调解委员会", "西充县劳动争议人民调解委员会"}
    for s in specs:
        people = demo.mediator_specs(s)
        assert 3 <= len(people) <= 9
        assert len({n for n, _ in people}) == len(people)
        assert all(len(p) == 11 and p.startswith("1") and p.isdigit() for _, p in people)


def test_generated_identity_numbers_carry_correct_check_characters():
    import random

    rng = random.Random(1)
    for _ in range(500):
        assert resident_id_problem(demo.resident_id(rng, female=rng.random() < 0.5, on=dt.date(2026, 6, 1))) is None
        assert credit_code_problem(demo.credit_code(rng, rng.choice(("91", "12", "11")))) is None


def test_plans_never_come_from_a_court_and_never_act_after_now():
    villages = demo.villages(1.0)
    d = demo.Directory(villages=villages)
    for s in demo.org_specs(villages):
        d.orgs[s.key] = demo.OrgRef(uuid.uuid4(), s.name, s.tier, (uuid.uuid4(), uuid.uuid4(), uuid.uuid4()))
    plans = [demo.plan_dispute(i, d, NOW) for i in range(1000)]
    assert {p.registration.source for p in plans} == {"application", "screening", "hotline", "police", "petition",
                                                      "agency"}
    for p in plans:
        assert NOW - dt.timedelta(days=366) < p.registration.registered_at < NOW
        assert 1 <= len(p.registration.parties) <= 4
        assert p.registration.occurred_on <= p.registration.registered_at.astimezone(clock.TZ).date()
        for _, data in p.steps:
            for key in ("at", "held_at", "checked_at"):
                if getattr(data, key, None) is not None:
                    assert p.registration.registered_at <= getattr(data, key) < NOW
    again = demo.plan_dispute(7, d, NOW)
    assert again.registration.summary == plans[7].registration.summary
    assert [a for a, _ in again.steps] == [a for a, _ in plans[7].steps]


# ---------------------------------------------------------------- loading

async def test_small_load_builds_the_county_through_the_services(pool, frozen):
    summary = await demo.load(scale=SCALE)
    assert summary == (f"demo loaded ({3 + 23 + SMALL_VILLAGES} regions, {SMALL_ORGS} orgs, {SMALL_MEDIATORS} "
                       f"mediators, {SMALL_DISPUTES} disputes new): 西充县 511325: 23 乡镇(街道), "
                       f"{SMALL_VILLAGES} 村(社区), {SMALL_ORGS} 调解组织, {SMALL_MEDIATORS} 调解员, "
                       f"{SMALL_DISPUTES} 件纠纷")
    c = await counts()
    assert (c["regions"], c["townships"], c["villages"]) == (3 + 23 + SMALL_VILLAGES, 23, SMALL_VILLAGES)
    assert (c["orgs"], c["mediators"], c["disputes"]) == (SMALL_ORGS, SMALL_MEDIATORS, SMALL_DISPUTES)

    async with db.connection() as conn:
        regs = {r["code"]: (r["name"], r["level"], r["parent_code"]) for r in await conn.fetch("SELECT * FROM regions")}
        assert regs["510000000000"] == ("四川省", "province", None)
        assert regs["511300000000"] == ("南充市", "city", "510000000000")
        assert regs["511325000000"] == ("西充县", "county", "511300000000")
        assert regs["511325101000"] == ("太平镇", "township", "511325000000")
        assert regs["511325001000"] == ("南台街道", "township", "511325000000")
        assert regs["511325232000"] == ("罐垭乡", "township", "511325000000")
        for v in demo.villages(SCALE):
            assert regs[v.code] == (v.name, "village", v.township)
        kinds = dict(await conn.fetch("SELECT kind, count(*) FROM orgs GROUP BY kind"))
        assert kinds == {"county_center": 1, "industry_committee": 3, "township_committee": 23,
                         "village_committee": SMALL_VILLAGES}
        assert await conn.fetchval(
            "SELECT count(*) FROM orgs o WHERE NOT EXISTS (SELECT 1 FROM regions r WHERE r.code = o.region_code "
            "AND r.level = o.tier)") == 0                                 # each org sits in a region of its tier
        per_org = [r["n"] for r in await conn.fetch("SELECT count(*) AS n FROM mediators GROUP BY org_id")]
        assert len(per_org) == SMALL_ORGS and min(per_org) >= 3 and max(per_org) <= 9
        assert await conn.fetchval("SELECT count(*) FROM orgs WHERE name = '太平镇人民调解委员会' "
                                   "AND region_code = '511325101000'") == 1

        rows = await conn.fetch("SELECT * FROM disputes")
        events = await conn.fetch("SELECT * FROM dispute_events")
        parties = await conn.fetch("SELECT * FROM dispute_parties")
        audit_actions = dict(await conn.fetch("SELECT action, count(*) FROM audit_log WHERE actor = 'system:demo' "
                                              "GROUP BY action"))

    # a realistic spread
    types = collections.Counter(r["type"] for r in rows)
    statuses = collections.Counter(r["status"] for r in rows)
    sources = collections.Counter(r["source"] for r in rows)
    assert len(types) >= 12 and types.most_common(1)[0][0] in ("neighbor", "marriage_family")
    assert {"open", "resolved", "failed", "withdrawn", "rejected"} <= set(statuses)
    assert "court_entrusted" not in sources and sources.most_common(1)[0][0] == "application"
    concluded = sum(n for s, n in statuses.items() if s != "open")
    assert 0.85 <= statuses["resolved"] / concluded <= 0.95
    assert 0.02 <= statuses["open"] / len(rows) <= 0.09
    assert any(r["status"] == "open" and r["deadline"] < NOW for r in rows)              # some overdue
    escalated = [r for r in rows if demo_rank(r["highest_tier"]) > demo_rank(r["entry_tier"])]
    assert 0.07 <= len(escalated) / len(rows) <= 0.18
    assert {r["entry_tier"] for r in rows} == {"village", "township", "county"}
    assert collections.Counter(r["entry_tier"] for r in rows).most_common(1)[0][0] == "village"
    assert any(r["persons_involved"] >= 5 for r in rows)
    resolved = [r for r in rows if r["status"] == "resolved"]
    assert {r["agreement_form"] for r in resolved} == {"written", "oral"}
    assert any(r["agreement_amount"] is not None for r in resolved)
    assert any(r["prevented"] for r in resolved)
    assert {r["performance"] for r in resolved} >= {"pending", "performed"}
    for r in rows:
        assert NOW - dt.timedelta(days=367) < r["registered_at"] <= NOW
        assert r["county_code"] == "511325" and r["region_code"] in regs
        assert r["case_no"].startswith("511325-")
    kinds_seen = collections.Counter(e["kind"] for e in events)
    assert kinds_seen["registered"] == SMALL_DISPUTES
    assert {"session", "escalated", "resolved", "performance", "visit"} <= set(kinds_seen)
    assert all(e["at"] <= NOW for e in events)
    assert {len([p for p in parties if p["dispute_id"] == r["id"]]) for r in rows} <= {1, 2, 3, 4}
    people = [p for p in parties if p["kind"] == "person" and p["id_number"]]
    assert people and all(resident_id_problem(p["id_number"]) is None for p in people)
    assert audit_actions["dispute.register"] == SMALL_DISPUTES
    assert audit_actions["org.create"] == SMALL_ORGS and audit_actions["mediator.create"] == SMALL_MEDIATORS

    # every dispute's columns are its timeline replayed
    for r in rows:
        row, timeline = await disputes.events_of(r["id"])
        state = lifecycle.replay(timeline, row["county_code"])
        assert (state.status, state.org_id, state.tier, state.entry_tier, state.highest_tier, state.concluded_tier,
                state.concluded_at, state.version, list(state.handler_org_ids), state.performance,
                list(state.prevented)) == (
            row["status"], row["org_id"], row["tier"], row["entry_tier"], row["highest_tier"],
            row["concluded_tier"], row["concluded_at"], row["version"], row["handler_org_ids"], row["performance"],
            list(row["prevented"]))
        assert state.registered_at == row["registered_at"] and state.last_move_at == row["last_move_at"]
        assert state.agreement == (json.loads(row["agreement"]) if row["agreement"] else None)
        assert len(timeline) == row["version"]


def demo_rank(tier: str) -> int:
    from mediation.codes import TIER_RANK

    return TIER_RANK[tier]


async def test_second_load_changes_nothing_and_says_so(pool, frozen):
    await demo.load(scale=SCALE)
    before = await counts()
    summary = await demo.load(scale=SCALE)
    assert summary.startswith("demo already loaded, nothing changed: 西充县 511325: 23 乡镇(街道), ")
    assert await counts() == before


async def test_load_completes_what_is_missing_but_never_adds_disputes_twice(pool, frozen):
    await demo.load(scale=0.02)
    small = await counts()
    assert small["disputes"] == 60
    await demo.load(scale=SCALE)          # more villages and committees; the disputes stay
    grown = await counts()
    assert (grown["villages"], grown["orgs"], grown["mediators"]) == (SMALL_VILLAGES, SMALL_ORGS, SMALL_MEDIATORS)
    assert grown["disputes"] == 60 and grown["events"] == small["events"]


async def test_load_adopts_an_existing_committee_and_staffs_it_when_it_has_no_mediators(pool, frozen):
    from mediation import orgs, regions

    await regions.import_county("511325")
    mine = await orgs.create_org(SYSTEM, name="太平镇人民调解委员会", tier="township", kind="township_committee",
                                 region_code="511325101000")
    await demo.load(scale=0.02)
    c = await counts()
    assert (c["orgs"], c["mediators"], c["disputes"]) == (50, 294, 60)
    spec = next(s for s in demo.org_specs(demo.villages(0.02)) if s.key == "township:511325101000")
    async with db.connection() as conn:
        names = {r["name"] for r in await conn.fetch("SELECT name FROM mediators WHERE org_id = $1", mine["id"])}
    assert names == {n for n, _ in demo.mediator_specs(spec)}


async def test_load_if_empty_loads_only_into_a_database_without_disputes(pool, frozen):
    progress: list[tuple[int, int, str]] = []
    summary = await demo.load_if_empty(lambda done, total, label: progress.append((done, total, label)), scale=0.02)
    assert summary is not None and summary.endswith("60 件纠纷")
    assert (60, 60, "纠纷") in progress and progress[-1] == (60, 60, "纠纷")
    assert [p for p in progress if p[2] == "纠纷"] == [(i, 60, "纠纷") for i in range(1, 61)]
    assert await demo.load_if_empty(scale=0.02) is None


async def test_load_if_empty_leaves_a_database_with_real_disputes_alone(pool, frozen):
    world = await build_world()
    body = dispute_body(world)
    from types import SimpleNamespace as NS

    data = NS(**{**body, "org_id": world.orgs["village_a1"],
                 "parties": [NS(**p) for p in body["parties"]]})
    await disputes.register(SYSTEM, data)
    before = await counts()
    assert await demo.load_if_empty(scale=0.02) is None
    assert await counts() == before


async def test_scale_must_be_a_fraction(pool):
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="scale"):
            await demo.load(scale=bad)
    assert (await counts())["regions"] == 0


async def test_a_refused_step_stops_the_load_with_the_service_error(pool, frozen, monkeypatch):
    from mediation.errors import Conflict

    calls = 0
    real = demo.disputes.transition

    async def refuse_the_fifth(principal, dispute_id, action, data, **kw):
        nonlocal calls
        calls += 1
        if calls == 5:
            raise Conflict("refused for the test")
        return await real(principal, dispute_id, action, data, **kw)

    monkeypatch.setattr(demo.disputes, "transition", refuse_the_fifth)
    with pytest.raises(Conflict, match="refused for the test"):
        await demo.load(scale=0.02)
    assert (await counts())["disputes"] < 60            # the others stopped instead of running on
