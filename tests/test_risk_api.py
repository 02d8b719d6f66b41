"""Risk in the service: assessments as events, the rules judged when read (the clock
injected), repeat parties found by ID number across villages, and the warning list for
the bureau, the county centre and admins."""

from __future__ import annotations

import datetime as dt

import pytest

from mediation import clock
from tests.conftest import register
from tests.court_helpers import API, count

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=clock.TZ)
REG = "2026-11-18T09:00:00+08:00"
OTHER_ID = "110105194912310038"  # another valid resident ID (GB 11643)


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW)
    yield
    clock.freeze(None)


async def warnings(client, world, who="bureau_county", **params) -> dict:
    r = await client.get(f"{API}/warnings", params=params, headers=world.h(who))
    assert r.status_code == 200, r.text
    return r.json()


async def assess(client, world, d, who="village_a1", **body):
    return await client.post(f"{API}/disputes/{d['id']}/risk", json=body, headers=world.h(who))


async def test_an_assessment_is_a_risk_assessed_event(client, world):
    d = await register(client, world, registered_at=REG)
    r = await assess(client, world, d, level="red", reasons=["criminal_risk", "criminal_risk"], note="扬言报复",
                     at="2026-11-19T08:00:00+08:00")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 2
    event = body["events"][-1]
    assert (event["kind"], event["at"]) == ("risk_assessed", "2026-11-19T08:00:00+08:00")
    assert event["detail"] == {"level": "red", "reasons": ["criminal_risk"], "note": "扬言报复"}


@pytest.mark.parametrize(("body", "field"), [
    ({"level": "orange"}, "level"),
    ({"level": "red", "reasons": ["group"]}, "reasons[0]"),  # rules find group; a person records intake risks
    ({"level": "red", "reasons": ["suicide_risk", "x"]}, "reasons[1]"),
])
async def test_a_bad_assessment_is_422_naming_the_field_and_changes_nothing(client, world, body, field):
    d = await register(client, world, registered_at=REG)
    r = await assess(client, world, d, **body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert await count("SELECT count(*) FROM dispute_events") == 1


async def test_only_the_holding_org_or_an_admin_assesses(client, world):
    d = await register(client, world, registered_at=REG)
    assert (await assess(client, world, d, who="bureau_county", level="red")).status_code == 403
    assert (await assess(client, world, d, who="village_b1", level="red")).status_code == 404
    assert (await assess(client, world, d, who="admin", level="yellow")).status_code == 200


async def test_the_bureau_sees_red_disputes_with_their_reasons_most_recent_rise_first(client, world):
    a = await register(client, world, registered_at=REG)
    b = await register(client, world, "village_b1", registered_at=REG, persons_involved=30)
    c = await register(client, world, registered_at=REG, persons_involved=5)
    green = await register(client, world, registered_at=REG)
    assert (await assess(client, world, a, level="green", reasons=["suicide_risk"],
                         at="2026-11-19T08:00:00+08:00")).status_code == 200
    red = await warnings(client, world, level="red")
    assert [(i["case_no"], i["level"], i["reasons"], i["reached_at"]) for i in red["items"]] == [
        (a["case_no"], "red", ["suicide_risk"], "2026-11-19T08:00:00+08:00"),
        (b["case_no"], "red", ["large_group", "group"], REG),
    ]
    assert red["total"] == 2 and red["next_cursor"] is None
    item = red["items"][0]
    assert item["org"] == {"id": str(world.orgs["village_a1"]), "name": "太平一村人民调解委员会"}
    assert item["region_code"] == world.village_a1 and item["dispute_id"] == a["id"]
    assert "parties" not in item
    yellow = await warnings(client, world)
    assert [i["case_no"] for i in yellow["items"]] == [a["case_no"], c["case_no"], b["case_no"]] or \
        [i["case_no"] for i in yellow["items"]] == [a["case_no"], b["case_no"], c["case_no"]]
    assert green["case_no"] not in {i["case_no"] for i in yellow["items"]}
    page = await warnings(client, world, limit=2)
    rest = await warnings(client, world, limit=2, cursor=page["next_cursor"])
    assert [i["case_no"] for i in page["items"] + rest["items"]] == [i["case_no"] for i in yellow["items"]]
    since = await warnings(client, world, since="2026-11-19T00:00:00+08:00")
    assert [i["case_no"] for i in since["items"]] == [a["case_no"]]


async def test_a_lower_assessment_is_recorded_but_the_rules_keep_the_warning(client, world):
    d = await register(client, world, registered_at=REG, persons_involved=40)
    assert (await assess(client, world, d, level="green")).status_code == 200
    [item] = (await warnings(client, world, level="red"))["items"]
    assert (item["case_no"], item["level"]) == (d["case_no"], "red")


async def test_overdue_appears_and_disappears_with_the_clock(client, world):
    d = await register(client, world, registered_at=REG, deadline="2026-11-25T18:00:00+08:00")
    assert (await warnings(client, world))["items"] == []
    clock.freeze(dt.datetime(2026, 11, 26, 9, 0, tzinfo=clock.TZ))
    [item] = (await warnings(client, world))["items"]
    assert (item["case_no"], item["level"], item["reasons"]) == (d["case_no"], "yellow", ["overdue"])
    assert item["reached_at"] == "2026-11-25T18:00:00.000001+08:00"
    clock.freeze(NOW)
    assert (await warnings(client, world))["items"] == []


async def test_repeat_finds_a_party_by_id_number_across_villages(client, world):
    far = "2027-06-30T00:00:00+08:00"  # none of them overdue
    first = await register(client, world, registered_at="2026-01-10T09:00:00+08:00", deadline=far)
    second = await register(client, world, "village_b1", registered_at=REG)  # the same applicant's ID number
    unrelated = await register(client, world, "village_a2", registered_at=REG, parties=[
        {"role": "applicant", "kind": "person", "name": "王五", "id_number": OTHER_ID}])
    items = (await warnings(client, world))["items"]
    assert [(i["case_no"], i["reasons"]) for i in items] == [(second["case_no"], ["repeat"])]
    assert first["case_no"] != second["case_no"] and unrelated
    # more than 12 months before does not count
    old = await register(client, world, "village_a2", registered_at="2025-11-17T09:00:00+08:00", deadline=far, parties=[
        {"role": "applicant", "kind": "person", "name": "王五", "id_number": OTHER_ID}])
    assert old and [i["case_no"] for i in (await warnings(client, world))["items"]] == [second["case_no"]]
    # a list page judges `repeat` for all its items in one query: the same as each dispute's own answer
    listed = {i["id"]: i["risk"] for i in (await client.get(f"{API}/disputes", headers=world.h("admin"))).json()["items"]}
    for d in (first, second, unrelated, old):
        assert listed[d["id"]] == (await client.get(f"{API}/disputes/{d['id']}", headers=world.h("admin"))).json()["risk"]
    assert [d["id"] for d in (first, second, unrelated, old) if "repeat" in listed[d["id"]]["reasons"]] == [second["id"]]


async def test_two_escalations_and_a_petition_raise_yellow(client, world):
    d = await register(client, world, registered_at=REG)
    p = await register(client, world, registered_at=REG, source="petition")
    h = world.h("village_a1")
    r = await client.post(f"{API}/disputes/{d['id']}/escalate", json={"to_org_id": str(world.orgs["town_a"]),
                          "reason": "村级调解不成", "at": "2026-11-19T09:00:00+08:00"}, headers=h)
    assert r.status_code == 200, r.text
    assert [i["case_no"] for i in (await warnings(client, world))["items"]] == [p["case_no"]]
    r = await client.post(f"{API}/disputes/{d['id']}/escalate", json={"to_org_id": str(world.orgs["county_center"]),
                          "reason": "镇级调解不成", "at": "2026-11-19T10:00:00+08:00"}, headers=world.h("town_a"))
    assert r.status_code == 200, r.text
    items = (await warnings(client, world))["items"]
    assert [(i["case_no"], i["reasons"], i["reached_at"]) for i in items] == [
        (d["case_no"], ["escalated_twice"], "2026-11-19T10:00:00+08:00"), (p["case_no"], ["petition"], REG)]


async def test_a_concluded_dispute_leaves_the_warning_list(client, world):
    d = await register(client, world, registered_at=REG, persons_involved=30)
    r = await client.post(f"{API}/disputes/{d['id']}/withdraw", json={"reason": "撤回"}, headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    assert (await warnings(client, world))["items"] == []


async def test_who_reads_warnings(client, world):
    await register(client, world, registered_at=REG, persons_involved=30)
    assert len((await warnings(client, world, "admin"))["items"]) == 1
    assert len((await warnings(client, world, "county_center"))["items"]) == 1
    assert (await warnings(client, world, "bureau_other"))["items"] == []
    assert len((await warnings(client, world, "bureau_county", region=world.town_a))["items"]) == 1
    assert (await warnings(client, world, "bureau_county", region=world.town_b))["items"] == []
    r = await client.get(f"{API}/warnings", headers=world.h("village_a1"))
    assert r.status_code == 403
    r = await client.get(f"{API}/warnings", params={"level": "green"}, headers=world.h("admin"))
    assert r.status_code in (400, 422)


# ---------------------------------------------------------------- every dispute answers its risk

async def test_every_dispute_answers_its_risk_and_deadline_rule(client, world):
    d = await register(client, world, registered_at=REG, risk_reasons=["group_fight_risk"], persons_involved=6)
    assert d["risk"] == {"level": "red", "assessed": "red", "reasons": ["group_fight_risk", "group"]}
    assert (d["deadline_rule"], d["calendar_missing"]) == ("calendar_days", False)
    assert d["events"][0]["detail"]["risk_reasons"] == ["group_fight_risk"]
    r = await assess(client, world, d, level="green", at="2026-11-19T08:00:00+08:00")
    assert r.json()["risk"] == {"level": "yellow", "assessed": "green", "reasons": ["group"]}
    got = (await client.get(f"{API}/disputes/{d['id']}", headers=world.h("village_a1"))).json()
    assert got["risk"] == {"level": "yellow", "assessed": "green", "reasons": ["group"]}
    plain = await register(client, world, "village_b1", registered_at=REG,
                           parties=[{"role": "applicant", "kind": "person", "name": "王五"}])
    assert plain["risk"] == {"level": "green", "assessed": None, "reasons": []}
    listed = (await client.get(f"{API}/disputes", headers=world.h("bureau_county"))).json()["items"]
    assert {i["case_no"]: i["risk"]["level"] for i in listed} == {d["case_no"]: "yellow", plain["case_no"]: "green"}


async def test_lists_filter_by_risk(client, world):
    red = await register(client, world, registered_at=REG, persons_involved=30)
    yellow = await register(client, world, registered_at=REG, source="petition")
    await register(client, world, "village_b1", registered_at=REG,
                   parties=[{"role": "applicant", "kind": "person", "name": "王五"}])
    h = world.h("bureau_county")
    got = (await client.get(f"{API}/disputes", params={"risk": "red"}, headers=h)).json()
    assert [i["case_no"] for i in got["items"]] == [red["case_no"]] and got["total"] == 1
    got = (await client.get(f"{API}/disputes", params={"risk": "yellow"}, headers=h)).json()
    assert sorted(i["case_no"] for i in got["items"]) == sorted([red["case_no"], yellow["case_no"]])
    r = await client.get(f"{API}/disputes", params={"risk": "green"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "risk"


async def test_a_bad_intake_risk_is_refused_naming_it(client, world):
    r = await client.post(f"{API}/disputes", headers=world.h("village_a1"), json={
        "org_id": str(world.orgs["village_a1"]), "type": "neighbor", "source": "application", "summary": "纠纷",
        "parties": [{"role": "applicant", "kind": "person", "name": "王五"}], "risk_reasons": ["overdue"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "risk_reasons[0]"
    assert await count("SELECT count(*) FROM disputes") == 0


async def test_the_court_sees_the_risk_of_a_referred_dispute(client, world):
    from tests.court_helpers import make_court

    court = await make_court(client, world, roster=["village_a1"])
    d = await register(client, world, registered_at=REG, persons_involved=30)
    r = await client.post(f"{API}/disputes/{d['id']}/refer", json={"court_id": court.id, "reason": "起诉"},
                          headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    [ref] = r.json()["referrals"]
    got = (await client.get(f"{API}/court/referrals/{ref['id']}", headers=court.h)).json()
    assert got["dispute"]["risk"] == {"level": "green", "assessed": None, "reasons": []}  # concluded: referred
    e = await client.post(f"{API}/court/entrustments", headers=court.h, json={
        "court_case_no": "(2026)川1325民初9号", "kind": "in_litigation", "org_id": str(world.orgs["village_a1"]),
        "type": "contract", "summary": "委托调解", "persons_involved": 40,
        "parties": [{"role": "applicant", "kind": "person", "name": "王五"}]})
    assert e.status_code == 201, e.text
    assert e.json()["risk"]["level"] == "red"
    entrusted = (await client.get(f"{API}/court/entrustments/{e.json()['id']}", headers=court.h)).json()
    assert entrusted["risk"] == {"level": "red", "assessed": None, "reasons": ["large_group", "group"]}
