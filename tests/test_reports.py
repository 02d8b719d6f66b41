"""Frozen monthly reports (上报): freezing, late records as differences, refusing mediators'
and admins' back-dated writes into a frozen month and region, never a court's, reopening,
and the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest

from mediation import db
from tests.conftest import dispute_body, register
from tests.court_helpers import entrustment_body, make_court, new_key
from tests.test_stats import API, BJ, NOW, frozen_clock  # noqa: F401  (the same frozen month, autouse)


def oct_(day: int, hour: int = 10) -> str:
    return dt.datetime(2026, 10, day, hour, tzinfo=BJ).isoformat()


async def freeze(client, world, region="511325", month="2026-10", who="bureau_county"):
    return await client.post(f"{API}/reports", json={"region": region, "month": month}, headers=world.h(who))


async def test_a_frozen_month_keeps_its_figures_and_shows_late_records_as_differences(client, world):
    court = await make_court(client, world, roster=["village_a1"])
    d = await register(client, world, registered_at=oct_(3))
    r = await client.post(f"{API}/disputes/{d['id']}/refer", json={"court_id": court.id, "reason": "起诉",
                          "at": oct_(10)}, headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    r = await freeze(client, world)
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["status"] == "frozen" and report["frozen_by"] == "token:b-county"
    assert report["frozen"]["counts"]["received"] == 1 and report["frozen"]["counts"]["referred"] == 1
    assert report["differences"]["changed"] == []

    # the court decides late, back-dated into October: never refused, shown as a difference
    referral_id = (await client.get(f"{API}/disputes/{d['id']}", headers=world.h("village_a1"))).json()["referrals"][0]["id"]
    r = await client.post(f"{API}/court/referrals/{referral_id}/decision",
                          json={"decision": "filed", "court_case_no": "(2026)川1325民初9号", "decided_at": oct_(30)},
                          headers=court.h)
    assert r.status_code == 200, r.text
    # and entrusts a case received in October
    r = await client.post(f"{API}/court/entrustments", json=entrustment_body(world, registered_at=oct_(29)),
                          headers={**court.h, "Idempotency-Key": new_key()})
    assert r.status_code == 201, r.text

    r = await client.get(f"{API}/reports/511325/2026-10", headers=world.h("bureau_county"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["frozen"]["counts"]["litigation_filed"] == 0 and report["live"]["counts"]["litigation_filed"] == 1
    assert report["differences"]["counts"]["litigation_filed"] == 1
    assert report["differences"]["counts"]["received"] == 1 and report["differences"]["counts"]["entrusted_received"] == 1
    # the entrusted case shares a party's ID number with the October dispute: yellow (repeat) at the end
    assert set(report["differences"]["changed"]) == {"received", "open_at_end", "entrusted_received",
                                                     "litigation_filed", "yellow_at_end"}
    assert report["differences"]["counts"]["agreement_amount"] == "0.00"


async def test_back_dated_mediator_and_admin_writes_into_a_frozen_month_are_refused(client, world):
    d = await register(client, world, registered_at=oct_(3))
    assert (await freeze(client, world)).status_code == 201
    # a registration back-dated into October, in the county: refused, nothing written
    body_at = {"registered_at": oct_(15)}
    for who in ("village_a1", "admin"):
        r = await client.post(f"{API}/disputes", json={**_body(world), **body_at}, headers=world.h(who))
        assert r.status_code == 409, r.text
        assert "2026-10" in r.json()["detail"]
    # an October resolution of an October dispute: refused; the dispute is unchanged
    resolve = {"agreement": {"form": "oral", "terms": "和解", "signed_at": oct_(20)}}
    r = await client.post(f"{API}/disputes/{d['id']}/resolve", json=resolve, headers=world.h("village_a1"))
    assert r.status_code == 409, r.text
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM disputes") == 1
        assert await conn.fetchval("SELECT status FROM disputes WHERE id = $1", d["id"]) == "open"
    # November is open; so is October in another county
    r = await client.post(f"{API}/disputes/{d['id']}/sessions", json={
        "held_at": NOW.isoformat(), "method": "phone", "mediator_ids": [str(world.mediators["village_a1"])],
        "summary": "电话"}, headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    await register(client, world, org="other_county", registered_at=oct_(15))

    # the admin reopens: the same write is accepted, and both steps are audited
    r = await client.post(f"{API}/reports/511325/2026-10/reopen", headers=world.h("bureau_county"))
    assert r.status_code == 403
    r = await client.post(f"{API}/reports/511325/2026-10/reopen", headers=world.h("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reopened" and r.json()["reopened_by"] == "token:admin"
    await register(client, world, registered_at=oct_(15))
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT actor, action, entity_id FROM audit_log WHERE entity = 'report' ORDER BY id")
    assert [tuple(r) for r in rows] == [("token:b-county", "report.freeze", "511325000000/2026-10"),
                                        ("token:admin", "report.reopen", "511325000000/2026-10")]
    # frozen again later: the new figures count the record written while it was open
    r = await freeze(client, world)
    assert r.status_code == 201 and r.json()["frozen"]["counts"]["received"] == 2


async def test_a_township_report_freezes_only_the_township(client, world):
    assert (await freeze(client, world, region="511325101", who="bureau_town_a")).status_code == 201
    r = await client.post(f"{API}/disputes", json={**_body(world), "registered_at": oct_(15)},
                          headers=world.h("village_a1"))
    assert r.status_code == 409
    await register(client, world, org="village_b1", registered_at=oct_(15))   # 大全镇 is not frozen


@pytest.mark.parametrize("who, body, status", [
    ("bureau_county", {"region": "511325", "month": "2026-11"}, 409),   # not ended
    ("bureau_county", {"region": "511325", "month": "2026-1"}, 422),
    ("bureau_town_a", {"region": "511325", "month": "2026-10"}, 404),
    ("bureau_other", {"region": "511325", "month": "2026-10"}, 404),
    ("village_a1", {"region": "511325", "month": "2026-10"}, 403),
])
async def test_freezing_refusals(client, world, who, body, status):
    r = await client.post(f"{API}/reports", json=body, headers=world.h(who))
    assert r.status_code == status, r.text
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM stats_reports") == 0


async def test_freezing_twice_and_reading_an_unfrozen_month(client, world):
    assert (await freeze(client, world)).status_code == 201
    assert (await freeze(client, world)).status_code == 409
    r = await client.get(f"{API}/reports/511325/2026-09", headers=world.h("bureau_county"))
    assert r.status_code == 404
    r = await client.post(f"{API}/reports/511325/2026-09/reopen", headers=world.h("admin"))
    assert r.status_code == 409


def _body(world) -> dict:
    return dispute_body(world)
