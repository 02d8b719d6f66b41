"""The demo county's court (referrals.demo): registered with its roster, cases it entrusted,
referrals and confirmation applications it received, and some decisions — all through the
real services, so the court API has something to show after `make run`."""

from __future__ import annotations

import datetime as dt

import pytest

from mediation import accounts, clock, db, demo, disputes, lifecycle
from referrals import demo as court_demo
from tests.conftest import bearer

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    clock.freeze(NOW)
    yield
    clock.freeze(None)


async def fetch(sql: str, *args):
    async with db.connection() as conn:
        return await conn.fetch(sql, *args)


async def test_court_demo_needs_the_county_first(pool, frozen):
    assert await court_demo.load() == "demo county not loaded; no court added"
    assert await fetch("SELECT * FROM courts") == []


async def test_court_demo_fills_the_court_side_through_the_services(client, pool, frozen):
    await demo.load(scale=0.1)
    summary = await court_demo.load()
    assert summary.startswith("demo court 西充县人民法院 (川1325): 24 orgs on its roster, 24 entrusted cases")
    [court] = await fetch("SELECT id, region_code FROM courts WHERE code = '川1325'")
    assert court["region_code"] == "511325000000"
    roster_kinds = await fetch("SELECT o.kind, count(*) FROM court_roster r JOIN orgs o ON o.id = r.org_id "
                               "GROUP BY o.kind ORDER BY o.kind")
    assert [tuple(r) for r in roster_kinds] == [("county_center", 1), ("township_committee", 23)]

    entrusted = await fetch("SELECT id, status, court_id, entrustment_kind FROM disputes WHERE source = 'court_entrusted'")
    assert len(entrusted) == 24
    assert {r["court_id"] for r in entrusted} == {court["id"]}
    assert {r["entrustment_kind"] for r in entrusted} == {"in_litigation"}
    assert {r["status"] for r in entrusted} >= {"open", "resolved", "returned"}
    conclusions = await fetch("SELECT count(*) AS n FROM webhook_outbox WHERE event_type = 'entrustment.concluded'")
    assert conclusions[0]["n"] == sum(r["status"] != "open" for r in entrusted)

    referrals = await fetch("SELECT kind, status, decision FROM referrals ORDER BY created_at")
    kinds = {r["kind"] for r in referrals}
    assert kinds == {"litigation", "confirmation"}
    assert {r["status"] for r in referrals} == {"pending", "acknowledged", "decided"}
    created = await fetch("SELECT count(*) AS n FROM webhook_outbox WHERE event_type = 'referral.created'")
    assert created[0]["n"] == len(referrals)

    # referrals and decisions spread over the demo year, none stamped with the load time
    times = await fetch("SELECT kind, created_at, decided_at FROM referrals")
    made = sorted(r["created_at"] for r in times)
    assert len(set(made)) == len(made) and all(t < NOW for t in made)
    assert made[-1] - made[0] > dt.timedelta(days=60)
    decided = [r for r in times if r["decided_at"] is not None]
    assert len({r["decided_at"] for r in decided}) == len(decided)
    assert all(r["created_at"] < r["decided_at"] < NOW for r in decided)

    # every touched dispute's columns are still the replay of its events
    for row in await fetch("SELECT DISTINCT dispute_id FROM referrals UNION SELECT id FROM disputes "
                           "WHERE source = 'court_entrusted'"):
        stored, events = await disputes.events_of(row[0])
        state = lifecycle.replay(events, stored["county_code"])
        assert (state.status, state.version, state.tier) == (stored["status"], stored["version"], stored["tier"])

    # the court's own token sees what was addressed to it
    token = (await accounts.create_token(role="court", court_id=court["id"], name="demo-court")).token
    r = await client.get("/api/v1/court/referrals", params={"limit": 500}, headers=bearer(token))
    assert r.status_code == 200 and r.json()["total"] == len(referrals)


async def test_second_court_demo_changes_nothing(pool, frozen):
    await demo.load(scale=0.05)
    await court_demo.load()
    before = await fetch("SELECT (SELECT count(*) FROM disputes) AS d, (SELECT count(*) FROM referrals) AS r")
    assert await court_demo.load() == "demo court 西充县人民法院 already registered, nothing changed"
    after = await fetch("SELECT (SELECT count(*) FROM disputes) AS d, (SELECT count(*) FROM referrals) AS r")
    assert tuple(before[0]) == tuple(after[0])
