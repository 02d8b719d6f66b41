"""Concurrent writers on the real database: optimistic versions under a race, and case
numbers that stay gap-free and duplicate-free per county and year."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from types import SimpleNamespace as NS

import asyncpg
import pytest

from mediation import clock, db, disputes
from mediation.access import Principal
from tests.conftest import register

API = "/api/v1/disputes"
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW)
    yield
    clock.freeze(None)


async def counts(dispute_id):
    async with db.connection() as conn:
        return (await conn.fetchval("SELECT version FROM disputes WHERE id = $1", dispute_id),
                await conn.fetchval("SELECT count(*) FROM dispute_events WHERE dispute_id = $1", dispute_id),
                await conn.fetchval("SELECT count(*) FROM audit_log WHERE dispute_id = $1", dispute_id))


async def test_ten_racing_transitions_with_one_version_let_exactly_one_through(client, world):
    d = await register(client, world)
    body = {"held_at": NOW.isoformat(), "method": "onsite", "mediator_ids": [str(world.mediators["village_a1"])],
            "summary": "现场调解", "version": 1}
    answers = await asyncio.gather(*[
        client.post(f"{API}/{d['id']}/sessions", json={**body, "summary": f"现场调解 {i}"}, headers=world.h("village_a1"))
        for i in range(10)])
    statuses = Counter(r.status_code for r in answers)
    assert statuses == Counter({200: 1, 409: 9}), [r.text for r in answers if r.status_code not in (200, 409)]
    winner = next(r.json() for r in answers if r.status_code == 200)
    for r in answers:
        if r.status_code == 409:
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "version 2, not 1" in r.json()["detail"]
    # one event, one audit entry, the version once; the stored event is the winner's
    assert await counts(d["id"]) == (2, 2, 2)
    stored = (await client.get(f"{API}/{d['id']}", headers=world.h("admin"))).json()
    assert stored["events"][-1]["detail"]["summary"] == winner["events"][-1]["detail"]["summary"]
    assert stored["version"] == winner["version"] == 2


async def test_racing_sessions_without_a_version_all_land_in_order(client, world):
    """Without a version nothing is stale: the row lock serialises them, no event is lost
    and no sequence number is taken twice."""
    d = await register(client, world)
    body = {"held_at": NOW.isoformat(), "method": "phone", "mediator_ids": [str(world.mediators["village_a1"])]}
    answers = await asyncio.gather(*[
        client.post(f"{API}/{d['id']}/sessions", json={**body, "summary": f"电话调解 {i}"}, headers=world.h("village_a1"))
        for i in range(10)])
    assert [r.status_code for r in answers] == [200] * 10
    assert sorted(r.json()["version"] for r in answers) == list(range(2, 12))
    stored = (await client.get(f"{API}/{d['id']}", headers=world.h("admin"))).json()
    assert [e["seq"] for e in stored["events"]] == list(range(1, 12))
    assert sorted(e["detail"]["summary"] for e in stored["events"][1:]) == sorted(f"电话调解 {i}" for i in range(10))
    assert await counts(d["id"]) == (11, 11, 11)


async def test_racing_conclusions_without_a_version_conclude_once(client, world):
    d = await register(client, world)
    actions = ["withdraw", "reject", "fail"] * 3 + ["withdraw"]
    answers = await asyncio.gather(*[
        client.post(f"{API}/{d['id']}/{a}", json={"reason": f"第{i}次"}, headers=world.h("village_a1"))
        for i, a in enumerate(actions)])
    assert sorted(r.status_code for r in answers) == [200] + [409] * 9
    winner = next((a, r.json()) for a, r in zip(actions, answers, strict=True) if r.status_code == 200)
    stored = (await client.get(f"{API}/{d['id']}", headers=world.h("admin"))).json()
    assert stored["status"] == {"withdraw": "withdrawn", "reject": "rejected", "fail": "failed"}[winner[0]]
    assert [e["kind"] for e in stored["events"]] == ["registered", stored["status"]]
    assert await counts(d["id"]) == (2, 2, 2)


async def test_forty_concurrent_registrations_number_1_to_40_without_gap(client, world):
    answers = await asyncio.gather(*[
        client.post(API, json={**_body(world, "village_a1"), "summary": f"纠纷{i}"}, headers=world.h("village_a1"))
        for i in range(40)])
    assert [r.status_code for r in answers] == [201] * 40
    numbers = sorted(r.json()["case_no"] for r in answers)
    assert numbers == [f"511325-2026-{n:06d}" for n in range(1, 41)]
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT last FROM case_counters WHERE county_code = '511325' AND year = 2026") == 40


async def test_two_counties_registering_at_once_number_independently(client, world):
    orgs = ["village_a1", "other_county"] * 15
    answers = await asyncio.gather(*[
        client.post(API, json=_body(world, org), headers=world.h(org)) for org in orgs])
    assert [r.status_code for r in answers] == [201] * 30
    by_county: dict[str, list[str]] = {}
    for r in answers:
        by_county.setdefault(r.json()["case_no"][:6], []).append(r.json()["case_no"])
    assert sorted(by_county["511325"]) == [f"511325-2026-{n:06d}" for n in range(1, 16)]
    assert sorted(by_county["511324"]) == [f"511324-2026-{n:06d}" for n in range(1, 16)]


async def test_a_held_counter_never_blocks_another_county(client, world, pool):
    first = await register(client, world)
    assert first["case_no"] == "511325-2026-000001"
    holder = await pool.acquire()
    tx = holder.transaction()
    await tx.start()
    try:
        # someone holds 西充县's 2026 counter (as a registering transaction does for microseconds)
        await holder.execute("UPDATE case_counters SET last = last WHERE county_code = '511325' AND year = 2026")
        other = await asyncio.wait_for(
            client.post(API, json=_body(world, "other_county"), headers=world.h("other_county")), timeout=10)
        assert other.status_code == 201
        assert other.json()["case_no"] == "511324-2026-000001"
        last_year = await asyncio.wait_for(client.post(
            API, json={**_body(world, "village_a1"), "registered_at": "2025-05-01T10:00:00+08:00"},
            headers=world.h("village_a1")), timeout=10)
        assert last_year.json()["case_no"] == "511325-2025-000001"  # another year is another counter
        same = asyncio.create_task(client.post(API, json=_body(world, "village_a2"), headers=world.h("village_a2")))
        await asyncio.sleep(0.5)
        assert not same.done(), "a registration in the same county and year waits for the counter"
    finally:
        await tx.rollback()
        await pool.release(holder)
    r = await asyncio.wait_for(same, timeout=10)
    assert r.status_code == 201
    assert r.json()["case_no"] == "511325-2026-000002"


async def test_a_registration_failing_after_taking_a_number_leaves_no_gap(client, world, pool):
    """The failure is forced inside the registering transaction, after the counter row
    was updated: a trigger on the audit log (the statement that follows the numbering)
    refuses the entry of the second case. There is no client input the validators let
    through that the database then refuses at that point, so the trigger stands in for
    any late failure (a lost connection, a constraint added later)."""
    principal = Principal(role="mediator", actor="token:m-village_a1", org_id=world.orgs["village_a1"],
                          county_code="511325")
    async with pool.acquire() as conn:
        await conn.execute("""
            CREATE FUNCTION test_refuse_second_case() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.action = 'dispute.register' AND NEW.detail->>'case_no' = '511325-2026-000002' THEN
                    RAISE EXCEPTION 'forced failure after numbering';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_refuse_second_case BEFORE INSERT ON audit_log
                FOR EACH ROW EXECUTE FUNCTION test_refuse_second_case();""")
    try:
        first = await disputes.register(principal, _ns(world))
        with pytest.raises(asyncpg.RaiseError, match="forced failure after numbering"):
            await disputes.register(principal, _ns(world, summary="这一件登记失败"))
        async with pool.acquire() as conn:
            await conn.execute("DROP TRIGGER test_refuse_second_case ON audit_log")
        third = await disputes.register(principal, _ns(world))
    finally:
        async with pool.acquire() as conn:
            await conn.execute("DROP TRIGGER IF EXISTS test_refuse_second_case ON audit_log; "
                               "DROP FUNCTION IF EXISTS test_refuse_second_case()")
    assert (first.case_no, third.case_no) == ("511325-2026-000001", "511325-2026-000002")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM disputes") == 2
        assert await conn.fetchval("SELECT count(*) FROM dispute_parties") == 2
        assert await conn.fetchval("SELECT count(*) FROM dispute_events") == 2
        assert await conn.fetchval("SELECT count(*) FROM disputes WHERE summary = '这一件登记失败'") == 0


async def test_a_failing_registration_among_concurrent_ones_leaves_no_gap(client, world):
    """Refused registrations (an org of another county for the region) mixed into a burst
    take no number."""
    bodies = []
    for i in range(20):
        body = _body(world, "village_a1")
        if i % 4 == 1:
            body["region_code"] = "511324100205"  # outside the org's county: 422
        bodies.append(body)
    answers = await asyncio.gather(*[client.post(API, json=b, headers=world.h("village_a1")) for b in bodies])
    assert Counter(r.status_code for r in answers) == Counter({201: 15, 422: 5})
    assert sorted(r.json()["case_no"] for r in answers if r.status_code == 201) == [
        f"511325-2026-{n:06d}" for n in range(1, 16)]


def _body(world, org):
    from tests.conftest import dispute_body

    return dispute_body(world, org)


def _ns(world, summary="张三与李四因宅基地边界发生纠纷"):
    return NS(org_id=world.orgs["village_a1"], type="neighbor", source="application", summary=summary,
              parties=[NS(role="applicant", kind="person", name="张三", id_number=None, phone=None, address=None)],
              region_code=None, registered_at=None, occurred_on=None, amount=None, persons_involved=None,
              deadline=None)
