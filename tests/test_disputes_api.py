"""The dispute endpoints of API.md, success paths with exact values: registration defaults,
case numbering, the timeline, every transition, If-Match, list filters, search in Chinese,
overdue, cursor pagination; and the value refusals that belong to these endpoints."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from mediation import clock
from tests.conftest import VALID_ID, dispute_body, register

BJ = clock.TZ
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BJ)
API = "/api/v1/disputes"


def iso(value: dt.datetime) -> str:
    return value.astimezone(BJ).isoformat()


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW.astimezone(dt.UTC))
    yield
    clock.freeze(None)


async def act(client, world, dispute, action, who, *, expect=200, headers=None, **body):
    r = await client.post(f"{API}/{dispute['id']}/{action}", json=body, headers={**world.h(who), **(headers or {})})
    assert r.status_code == expect, r.text
    return r.json()


def last_event(d):
    e = dict(d["events"][-1])
    e.pop("recorded_at", None)
    return e


# ---------------------------------------------------------------- registration

async def test_registration_fills_every_default(client, world):
    d = await register(client, world)
    uuid.UUID(d["id"])
    expected = {
        "case_no": "511325-2026-000001", "version": 1, "type": "neighbor", "source": "application",
        "summary": "张三与李四因宅基地边界发生纠纷", "region_code": world.village_a1,
        "org_id": str(world.orgs["village_a1"]), "tier": "village", "entry_tier": "village",
        "highest_tier": "village", "status": "open", "registered_at": iso(NOW),
        "deadline": iso(NOW + dt.timedelta(days=30)), "concluded_at": None, "concluded_tier": None,
        "amount": None, "persons_involved": 2, "agreement": None, "court_case_no": None, "referrals": [],
        "parties": [
            {"role": "applicant", "kind": "person", "name": "张三", "id_number": "1101**********002X",
             "phone": "138****5678", "address": None},
            {"role": "respondent", "kind": "person", "name": "李四", "id_number": None, "phone": None,
             "address": None},
        ],
    }
    assert {k: d[k] for k in expected} == expected
    assert len(d["events"]) == 1
    event = d["events"][0]
    assert {"kind", "at", "actor", "org_id", "tier", "detail"} <= set(event)
    assert {k: event[k] for k in ("kind", "at", "actor", "org_id", "tier", "detail")} == {
        "kind": "registered", "at": iso(NOW), "actor": "token:m-village_a1",
        "org_id": str(world.orgs["village_a1"]), "tier": "village", "detail": {"source": "application"}}


async def test_registration_at_a_township_enters_at_the_township_tier(client, world):
    d = await register(client, world, org="town_b", source="screening")
    assert (d["tier"], d["entry_tier"], d["highest_tier"], d["region_code"]) == (
        "township", "township", "township", "511325102000")
    assert d["events"][0]["detail"] == {"source": "screening"}


async def test_registration_keeps_the_values_given(client, world):
    registered = NOW - dt.timedelta(days=3, hours=2)
    d = await register(client, world, registered_at=registered.isoformat(), region_code="511325101",
                       amount=12000.5, persons_involved=7, occurred_on="2026-11-01",
                       deadline=(registered + dt.timedelta(days=10)).isoformat())
    assert (d["registered_at"], d["region_code"], d["amount"], d["persons_involved"], d["occurred_on"],
            d["deadline"]) == (iso(registered), "511325101000", "12000.50", 7, "2026-11-01",
                               iso(registered + dt.timedelta(days=10)))
    assert d["deadline"] == "2026-11-27T08:00:00+08:00"
    assert d["events"][0]["at"] == iso(registered)


async def test_a_registration_time_without_offset_is_beijing_time(client, world):
    d = await register(client, world, registered_at="2026-11-19T09:30:00")
    assert d["registered_at"] == "2026-11-19T09:30:00+08:00"
    assert d["deadline"] == "2026-12-19T09:30:00+08:00"


async def test_amount_as_a_string_is_answered_with_two_decimals(client, world):
    d = await register(client, world, amount="3000")
    assert d["amount"] == "3000.00"


async def test_region_outside_the_orgs_county_is_refused(client, world):
    r = await client.post(API, json=dispute_body(world, region_code="511324100205"), headers=world.h("village_a1"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"field": "region_code", "message": "must lie inside the organisation's county"}]
    listed = await client.get(API, headers=world.h("admin"))
    assert listed.json()["total"] == 0


async def test_case_numbers_run_per_county_and_per_year(client, world):
    first = await register(client, world)
    second = await register(client, world, org="town_a")
    other_county = await register(client, world, org="other_county")
    # 23:30 on New Year's Eve in Beijing is still last year, though it is 15:30 UTC
    last_year = await register(client, world, registered_at="2025-12-31T23:30:00+08:00")
    # 00:30 on New Year's Day in Beijing is this year, though UTC still says 2025
    new_year = await register(client, world, registered_at="2025-12-31T16:30:00Z")
    last_year_2 = await register(client, world, org="village_a2", registered_at="2025-06-01T08:00:00+08:00")
    third = await register(client, world)
    assert [first["case_no"], second["case_no"], other_county["case_no"], last_year["case_no"],
            new_year["case_no"], last_year_2["case_no"], third["case_no"]] == [
        "511325-2026-000001", "511325-2026-000002", "511324-2026-000001", "511325-2025-000001",
        "511325-2026-000003", "511325-2025-000002", "511325-2026-000004"]


async def test_the_case_number_is_searchable_at_once(client, world):
    d = await register(client, world)
    r = await client.get(API, params={"q": d["case_no"]}, headers=world.h("admin"))
    assert [i["id"] for i in r.json()["items"]] == [d["id"]]


# ---------------------------------------------------------------- transitions

async def test_escalate_moves_the_dispute_up_and_names_the_origin(client, world):
    d = await register(client, world)
    at = NOW + dt.timedelta(minutes=1)
    e = await act(client, world, d, "escalate", "village_a1", to_org_id=str(world.orgs["town_a"]),
                  reason="村调委会调解不成，提交镇调委会", at=at.isoformat(), version=1)
    assert (e["org_id"], e["tier"], e["entry_tier"], e["highest_tier"], e["status"], e["version"]) == (
        str(world.orgs["town_a"]), "township", "village", "township", "open", 2)
    assert last_event(e) == {
        "seq": 2, "kind": "escalated", "at": iso(at), "actor": "token:m-village_a1",
        "org_id": str(world.orgs["town_a"]), "tier": "township",
        "detail": {"from_org_id": str(world.orgs["village_a1"]), "from_tier": "village",
                   "reason": "村调委会调解不成，提交镇调委会"}}
    # the village that handled it still reads it, but no longer acts on it
    r = await client.get(f"{API}/{d['id']}", headers=world.h("village_a1"))
    assert r.status_code == 200
    await act(client, world, d, "withdraw", "village_a1", expect=403, reason="x")


async def test_assign_moves_the_dispute_down_and_highest_tier_stays(client, world):
    d = await register(client, world, org="county_center", who="county_center")
    a = await act(client, world, d, "assign", "county_center", to_org_id=str(world.orgs["village_b1"]),
                  reason="分流交办到纠纷发生地")
    assert (a["org_id"], a["tier"], a["entry_tier"], a["highest_tier"], a["version"]) == (
        str(world.orgs["village_b1"]), "village", "county", "county", 2)
    assert last_event(a)["detail"] == {"from_org_id": str(world.orgs["county_center"]), "from_tier": "county",
                                       "reason": "分流交办到纠纷发生地"}
    assert (last_event(a)["org_id"], last_event(a)["tier"]) == (str(world.orgs["village_b1"]), "village")
    # the village committee it went to now sees and acts on it
    r = await act(client, world, d, "sessions", "village_b1", held_at=NOW.isoformat(), method="phone",
                  mediator_ids=[str(world.mediators["village_b1"])], summary="电话联系双方")
    assert r["version"] == 3


async def test_escalate_to_the_same_tier_and_assign_upward_are_refused(client, world):
    d = await register(client, world)
    r = await client.post(f"{API}/{d['id']}/escalate", json={"to_org_id": str(world.orgs["village_a2"]), "reason": "x"},
                          headers=world.h("village_a1"))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "to_org_id", "message": "must be of a higher tier than village"}]
    r = await client.post(f"{API}/{d['id']}/assign", json={"to_org_id": str(world.orgs["town_a"]), "reason": "x"},
                          headers=world.h("village_a1"))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "to_org_id", "message": "must be of the same or a lower tier than village"}]
    r = await client.post(f"{API}/{d['id']}/escalate", json={"to_org_id": str(world.other_county_org), "reason": "x"},
                          headers=world.h("village_a1"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "to_org_id"
    r = await client.post(f"{API}/{d['id']}/escalate", json={"to_org_id": str(uuid.uuid4()), "reason": "x"},
                          headers=world.h("village_a1"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "to_org_id"
    assert (await client.get(f"{API}/{d['id']}", headers=world.h("admin"))).json()["version"] == 1


async def test_a_session_records_its_details_at_held_at(client, world):
    d = await register(client, world, registered_at=(NOW - dt.timedelta(days=2)).isoformat())
    held = NOW - dt.timedelta(days=1)
    s = await act(client, world, d, "sessions", "village_a1", held_at=held.isoformat(), method="onsite",
                  mediator_ids=[str(world.mediators["village_a1"])], summary="到现场测量边界", note="双方均到场")
    assert last_event(s) == {
        "seq": 2, "kind": "session", "at": iso(held), "actor": "token:m-village_a1",
        "org_id": str(world.orgs["village_a1"]), "tier": "village",
        "detail": {"held_at": held.isoformat(), "method": "onsite",
                   "mediator_ids": [str(world.mediators["village_a1"])], "summary": "到现场测量边界",
                   "note": "双方均到场"}}
    assert (s["status"], s["version"]) == ("open", 2)


async def test_session_mediators_must_be_active_mediators_of_the_holding_org(client, world):
    d = await register(client, world)
    body = {"held_at": NOW.isoformat(), "method": "onsite", "summary": "x",
            "mediator_ids": [str(world.mediators["village_a2"]), str(world.mediators["village_a1"]), str(uuid.uuid4())]}
    r = await client.post(f"{API}/{d['id']}/sessions", json=body, headers=world.h("village_a1"))
    assert r.status_code == 422, r.text
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == ["mediator_ids[0]", "mediator_ids[2]"]
    assert r.json()["errors"][0]["message"] == "is not an active mediator of the organisation holding the dispute"
    r = await client.post(f"{API}/{d['id']}/sessions", json={**body, "mediator_ids": []}, headers=world.h("village_a1"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "mediator_ids"
    assert (await client.get(f"{API}/{d['id']}", headers=world.h("admin"))).json()["version"] == 1


async def test_resolve_records_the_agreement_and_concludes_at_signed_at(client, world):
    d = await register(client, world, registered_at=(NOW - dt.timedelta(days=5)).isoformat())
    signed = "2026-11-18T15:30:00+08:00"
    r = await act(client, world, d, "resolve", "village_a1", prevented=["criminal"], agreement={
        "form": "written", "terms": "李四退让宅基地0.5米，赔偿张三3000元", "signed_at": signed, "amount": "3000",
        "performance_due": "2026-12-31"})
    assert (r["status"], r["version"], r["concluded_at"], r["concluded_tier"], r["prevented"]) == (
        "resolved", 2, signed, "village", ["criminal"])
    assert r["agreement"] == {"form": "written", "terms": "李四退让宅基地0.5米，赔偿张三3000元", "signed_at": signed,
                              "amount": "3000.00", "performance_due": "2026-12-31", "performance": "pending"}
    assert last_event(r)["kind"] == "resolved"
    assert last_event(r)["at"] == signed
    assert last_event(r)["detail"]["agreement"]["amount"] == "3000.00"


async def test_resolve_accepts_a_number_as_money(client, world):
    d = await register(client, world)
    r = await act(client, world, d, "resolve", "village_a1", agreement={
        "form": "oral", "terms": "口头协议", "signed_at": NOW.isoformat(), "amount": 2500.5})
    assert r["agreement"]["amount"] == "2500.50"
    assert r["agreement"]["performance_due"] is None


async def test_resolve_with_an_explicit_at_concludes_then(client, world):
    d = await register(client, world, registered_at=(NOW - dt.timedelta(days=5)).isoformat())
    signed = NOW - dt.timedelta(days=2)
    at = NOW - dt.timedelta(days=1)
    r = await act(client, world, d, "resolve", "village_a1", at=at.isoformat(), agreement={
        "form": "written", "terms": "协议", "signed_at": signed.isoformat()})
    assert (r["concluded_at"], r["agreement"]["signed_at"], r["agreement"]["amount"]) == (
        iso(at), signed.isoformat(), None)


async def test_negative_money_is_refused(client, world):
    d = await register(client, world)
    r = await client.post(f"{API}/{d['id']}/resolve", headers=world.h("village_a1"), json={
        "agreement": {"form": "oral", "terms": "x", "signed_at": NOW.isoformat(), "amount": "-1"}})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "agreement.amount", "message": (
        "must be an amount in yuan, not negative, with at most two decimals, such as 3000.00")}]


async def test_performance_and_visit_after_resolution(client, world):
    d = await register(client, world)
    await act(client, world, d, "resolve", "village_a1", agreement={
        "form": "written", "terms": "协议", "signed_at": NOW.isoformat(), "amount": 100})
    checked = NOW + dt.timedelta(minutes=2)
    p = await act(client, world, d, "performance", "village_a1", status="partial", checked_at=checked.isoformat())
    assert (p["agreement"]["performance"], p["version"], p["status"]) == ("partial", 3, "resolved")
    assert last_event(p)["kind"] == "performance"
    assert last_event(p)["at"] == iso(checked)
    assert last_event(p)["detail"] == {"status": "partial", "checked_at": checked.isoformat()}
    v = await act(client, world, d, "visit", "village_a1", satisfaction="basically_satisfied", note="电话回访张三")
    assert (v["version"], v["status"], v["concluded_at"]) == (4, "resolved", iso(NOW))
    assert last_event(v)["detail"] == {"satisfaction": "basically_satisfied", "note": "电话回访张三"}
    assert last_event(v)["at"] == iso(NOW)
    p2 = await act(client, world, d, "performance", "village_a1", status="performed", checked_at=NOW.isoformat())
    assert p2["agreement"]["performance"] == "performed"
    assert [e["kind"] for e in p2["events"]] == ["registered", "resolved", "performance", "visit", "performance"]
    assert [e["seq"] for e in p2["events"]] == [1, 2, 3, 4, 5]


async def test_performance_pending_is_not_a_status_one_records(client, world):
    d = await register(client, world)
    await act(client, world, d, "resolve", "village_a1", agreement={"form": "oral", "terms": "x",
                                                                   "signed_at": NOW.isoformat()})
    r = await client.post(f"{API}/{d['id']}/performance", json={"status": "pending", "checked_at": NOW.isoformat()},
                          headers=world.h("village_a1"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "status"


@pytest.mark.parametrize("action,body,status", [
    ("fail", {"reason": "双方分歧较大", "channel": "litigation"}, "failed"),
    ("withdraw", {"reason": "申请人撤回"}, "withdrawn"),
    ("reject", {"reason": "不属于人民调解受理范围"}, "rejected"),
])
async def test_concluding_without_agreement(client, world, action, body, status):
    d = await register(client, world)
    r = await act(client, world, d, action, "village_a1", **body)
    assert (r["status"], r["concluded_at"], r["concluded_tier"], r["agreement"], r["version"]) == (
        status, iso(NOW), "village", None, 2)
    expected_detail = {"reason": body["reason"], **({"channel": "litigation"} if action == "fail" else {})}
    assert last_event(r)["detail"] == expected_detail
    # nothing else may happen to it but a visit
    refused = await client.post(f"{API}/{d['id']}/sessions", headers=world.h("village_a1"), json={
        "held_at": NOW.isoformat(), "method": "onsite", "mediator_ids": [str(world.mediators["village_a1"])],
        "summary": "x"})
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    v = await act(client, world, d, "visit", "village_a1", satisfaction="dissatisfied")
    assert v["version"] == 3


async def test_if_match_header_carries_the_version(client, world):
    d = await register(client, world)
    ok = await act(client, world, d, "sessions", "village_a1", headers={"If-Match": '"1"'}, held_at=NOW.isoformat(),
                   method="online", mediator_ids=[str(world.mediators["village_a1"])], summary="线上调解")
    assert ok["version"] == 2
    stale = await client.post(f"{API}/{d['id']}/withdraw", json={"reason": "x"},
                              headers={**world.h("village_a1"), "If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json()["status"] == 409
    assert "version 2" in stale.json()["detail"]
    ok = await act(client, world, d, "withdraw", "village_a1", headers={"If-Match": '"2"'}, reason="撤回")
    assert ok["version"] == 3
    bad = await client.post(f"{API}/{d['id']}/visit", json={"satisfaction": "satisfied"},
                            headers={**world.h("village_a1"), "If-Match": "three"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "If-Match"


async def test_stale_body_version_is_refused_and_changes_nothing(client, world):
    d = await register(client, world)
    r = await client.post(f"{API}/{d['id']}/withdraw", json={"reason": "x", "version": 7}, headers=world.h("village_a1"))
    assert r.status_code == 409
    after = (await client.get(f"{API}/{d['id']}", headers=world.h("admin"))).json()
    assert (after["version"], after["status"], len(after["events"])) == (1, "open", 1)


async def test_business_time_rules_answer_422_naming_at(client, world):
    d = await register(client, world, registered_at=(NOW - dt.timedelta(days=3)).isoformat())
    for at, message in (
        (NOW + dt.timedelta(minutes=6), "must not be in the future"),
        (NOW - dt.timedelta(days=4), "must not be before the dispute was registered"),
    ):
        r = await client.post(f"{API}/{d['id']}/withdraw", json={"reason": "x", "at": at.isoformat()},
                              headers=world.h("village_a1"))
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == [{"field": "at", "message": message}]
    moved = NOW - dt.timedelta(days=1)
    await act(client, world, d, "escalate", "village_a1", to_org_id=str(world.orgs["town_a"]), reason="上移",
              at=moved.isoformat())
    r = await client.post(f"{API}/{d['id']}/reject", json={"reason": "x", "at": (moved - dt.timedelta(hours=1)).isoformat()},
                          headers=world.h("town_a"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "at"
    r = await act(client, world, d, "reject", "town_a", reason="x", at=(NOW + dt.timedelta(minutes=5)).isoformat())
    assert r["concluded_at"] == iso(NOW + dt.timedelta(minutes=5))


# ---------------------------------------------------------------- lists

@pytest.fixture
async def listed(client, world):
    """Four disputes in 西充县 and one next door, registered a day apart (oldest first)."""
    a = await register(client, world, registered_at=(NOW - dt.timedelta(days=5)).isoformat(),
                       deadline=(NOW - dt.timedelta(days=4)).isoformat())  # 张三/李四, overdue
    b = await register(client, world, org="village_a2", type="contract", summary="买卖合同货款纠纷",
                       registered_at=(NOW - dt.timedelta(days=4)).isoformat(),
                       parties=[{"role": "applicant", "kind": "person", "name": "王五"},
                                {"role": "respondent", "kind": "person", "name": "赵六"}])
    c = await register(client, world, org="village_b1", type="labor", summary="拖欠农民工工资",
                       registered_at=(NOW - dt.timedelta(days=3)).isoformat(),
                       parties=[{"role": "applicant", "kind": "person", "name": "刘备", "phone": "13900001111"},
                                {"role": "respondent", "kind": "organization", "name": "某某建筑有限公司"}])
    d = await register(client, world, org="town_b", source="screening",
                       registered_at=(NOW - dt.timedelta(days=2)).isoformat(),
                       deadline=(NOW - dt.timedelta(days=1)).isoformat())  # overdue, but will be resolved
    e = await register(client, world, org="other_county", registered_at=(NOW - dt.timedelta(days=1)).isoformat())
    await act(client, world, d, "resolve", "town_b", agreement={"form": "oral", "terms": "x",
                                                                  "signed_at": NOW.isoformat()})
    return {"a": a["id"], "b": b["id"], "c": c["id"], "d": d["id"], "e": e["id"]}


async def ids(client, world, who="admin", **params):
    r = await client.get(API, params=params, headers=world.h(who))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"])
    return body["items"]


async def test_list_is_newest_registration_first_with_masked_parties_and_no_events(client, world, listed):
    items = await ids(client, world)
    assert [i["id"] for i in items] == [listed[k] for k in "edcba"]
    for item in items:
        assert "events" not in item
    c = next(i for i in items if i["id"] == listed["c"])
    assert c["parties"] == [
        {"role": "applicant", "kind": "person", "name": "刘备", "id_number": None, "phone": "139****1111",
         "address": None},
        {"role": "respondent", "kind": "organization", "name": "某某建筑有限公司", "id_number": None, "phone": None,
         "address": None}]
    a = next(i for i in items if i["id"] == listed["a"])
    assert a["parties"][0]["id_number"] == "1101**********002X"
    assert VALID_ID not in str(items)


@pytest.mark.parametrize("params,expected", [
    ({"status": "resolved"}, "d"),
    ({"status": "open"}, "ecba"),
    ({"type": "contract"}, "b"),
    ({"type": "labor", "status": "open"}, "c"),
    ({"source": "screening"}, "d"),
    ({"region": "511325"}, "dcba"),
    ({"region": "511325101"}, "ba"),
    ({"region": "511325102"}, "dc"),
    ({"region": "511325102201"}, "c"),
    ({"region": "511324"}, "e"),
    ({"q": "张三"}, "eda"),
    ({"q": "赵六"}, "b"),
    ({"q": "刘备"}, "c"),
    ({"q": "货款"}, "b"),
    ({"q": "建筑有限"}, "c"),
    ({"q": "511324-2026"}, "e"),
    ({"q": "不存在的人"}, ""),
    ({"overdue": "true"}, "a"),
    ({"overdue": "true", "region": "511325101"}, "a"),
])
async def test_list_filters(client, world, listed, params, expected):
    items = await ids(client, world, **params)
    want = [listed[k] for k in "edcba" if k in expected]
    assert [i["id"] for i in items] == want


async def test_list_filter_by_org_and_q_by_case_number(client, world, listed):
    items = await ids(client, world, org_id=str(world.orgs["village_b1"]))
    assert [i["id"] for i in items] == [listed["c"]]
    case_no = items[0]["case_no"]
    assert case_no == "511325-2026-000003"
    assert [i["id"] for i in await ids(client, world, q=case_no)] == [listed["c"]]


async def test_list_is_scoped_to_the_caller(client, world, listed):
    assert [i["id"] for i in await ids(client, world, who="village_a1")] == [listed["a"]]
    assert [i["id"] for i in await ids(client, world, who="bureau_town_a")] == [listed["b"], listed["a"]]
    assert [i["id"] for i in await ids(client, world, who="bureau_county")] == [listed[k] for k in "dcba"]
    assert [i["id"] for i in await ids(client, world, who="bureau_other")] == [listed["e"]]
    # a filter cannot widen the scope
    assert await ids(client, world, who="village_a1", org_id=str(world.orgs["village_a2"])) == []


async def test_overdue_follows_the_clock(client, world, listed):
    clock.freeze((NOW + dt.timedelta(days=40)).astimezone(dt.UTC))
    items = await ids(client, world, overdue="true")
    assert [i["id"] for i in items] == [listed[k] for k in "ecba"]


@pytest.mark.parametrize("params,field", [
    ({"status": "closed"}, "status"), ({"type": "gossip"}, "type"), ({"region": "51132"}, "region"),
    ({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"), ({"cursor": "not-a-cursor"}, "cursor"),
])
async def test_bad_list_parameters_answer_422(client, world, params, field):
    r = await client.get(API, params=params, headers=world.h("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


async def test_cursor_pagination_walks_every_item_once(client, world):
    # five disputes, two of them registered at the same instant (the id breaks the tie)
    times = [NOW - dt.timedelta(hours=h) for h in (5, 4, 3, 3, 1)]
    made = [await register(client, world, registered_at=t.isoformat()) for t in times]
    seen, pages, cursor = [], [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get(API, params=params, headers=world.h("admin"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == 5
        pages.append(len(body["items"]))
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == [2, 2, 1]
    assert sorted(i["id"] for i in seen) == sorted(d["id"] for d in made)
    assert len({i["id"] for i in seen}) == 5
    keys = [(i["registered_at"], i["id"]) for i in seen]
    assert keys == sorted(keys, reverse=True)
    assert seen[0]["id"] == made[4]["id"] and seen[4]["id"] == made[0]["id"]


async def test_a_mediator_cannot_register_for_another_org(client, world):
    r = await client.post(API, json=dispute_body(world, org="village_a2"), headers=world.h("village_a1"))
    assert r.status_code == 403
    r = await client.post(API, json=dispute_body(world), headers=world.h("bureau_county"))
    assert r.status_code == 403


async def test_held_at_and_checked_at_obey_the_business_time_rules_even_with_an_explicit_at(client, world):
    d = await register(client, world)
    r = await client.post(f"{API}/{d['id']}/sessions", headers=world.h("village_a1"), json={
        "held_at": "2027-01-01T09:00:00+08:00", "at": NOW.isoformat(), "method": "onsite",
        "mediator_ids": [str(world.mediators["village_a1"])], "summary": "x"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "held_at", "message": "must not be in the future"}]
    await act(client, world, d, "resolve", "village_a1", agreement={"form": "oral", "terms": "x",
                                                                   "signed_at": NOW.isoformat()})
    r = await client.post(f"{API}/{d['id']}/performance", headers=world.h("village_a1"), json={
        "status": "performed", "checked_at": "2026-01-01T09:00:00+08:00", "at": NOW.isoformat()})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "checked_at", "message": "must not be before the dispute was registered"}]
    assert (await client.get(f"{API}/{d['id']}", headers=world.h("admin"))).json()["version"] == 2


async def test_an_inactive_mediator_cannot_be_recorded_on_a_session(client, world, pool):
    d = await register(client, world)
    org, mediator = world.orgs["village_a1"], world.mediators["village_a1"]
    r = await client.patch(f"/api/v1/orgs/{org}/mediators/{mediator}", json={"active": False}, headers=world.h("admin"))
    assert r.status_code == 200 and r.json()["active"] is False
    r = await client.post(f"{API}/{d['id']}/sessions", headers=world.h("village_a1"), json={
        "held_at": NOW.isoformat(), "method": "onsite", "mediator_ids": [str(world.mediators["village_a1"])],
        "summary": "x"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "mediator_ids[0]",
                                   "message": "is not an active mediator of the organisation holding the dispute"}]


async def test_after_an_escalation_only_the_new_holders_mediators_count(client, world):
    d = await register(client, world)
    await act(client, world, d, "escalate", "village_a1", to_org_id=str(world.orgs["town_a"]), reason="上移")
    body = {"held_at": NOW.isoformat(), "method": "onsite", "summary": "镇调委会调解"}
    r = await client.post(f"{API}/{d['id']}/sessions", headers=world.h("town_a"),
                          json={**body, "mediator_ids": [str(world.mediators["village_a1"])]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "mediator_ids[0]"
    ok = await act(client, world, d, "sessions", "town_a", **body, mediator_ids=[str(world.mediators["town_a"])])
    assert (last_event(ok)["org_id"], last_event(ok)["tier"], last_event(ok)["actor"]) == (
        str(world.orgs["town_a"]), "township", "token:m-town_a")


async def test_q_treats_like_wildcards_literally(client, world):
    await register(client, world)
    for q in ("%", "_", "张%", "\\"):
        r = await client.get(API, params={"q": q}, headers=world.h("admin"))
        assert r.status_code == 200
        assert r.json()["total"] == 0, q


async def test_a_case_registered_slightly_ahead_of_the_clock_can_move_at_once(client, world, frozen):
    ahead = NOW + dt.timedelta(minutes=3)  # inside the allowed clock skew
    d = await register(client, world, registered_at=ahead.isoformat())
    r = await client.post(f"{API}/{d['id']}/escalate",
                          json={"to_org_id": str(world.orgs["town_a"]), "reason": "村里调不下来"},
                          headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    assert dt.datetime.fromisoformat(r.json()["events"][-1]["at"]) == ahead
