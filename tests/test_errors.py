"""Errors (API.md "Conventions"): RFC 9457 problem+json everywhere, the right status for
each kind of bad request, every bad field named, the order
401 → 404/403 → 413 → 400 → 422 → 409, and never a 500 for anything a client sends."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import VALID_ID, dispute_body, register

API = "/api/v1"
JSON = {"content-type": "application/json"}
MiB = 1024 * 1024


def assert_problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0] == "application/problem+json"
    body = r.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    assert r.headers.get("x-request-id")
    return body


def fields(body: dict) -> list[str]:
    return [e["field"] for e in body["errors"]]


def now_iso(**delta) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(**delta)).isoformat()


@pytest.fixture
async def dispute(client, world):
    return await register(client, world, "village_a1")


# ---------------------------------------------------------------- 400

@pytest.mark.parametrize("raw", [b"{bad", b'{"org_id": ', b"\xff\xfe{}", b"{'single': 'quotes'}", b"[1, 2,]", b"",
                                 b"   "])
async def test_malformed_json_is_400(client, world, raw):
    r = await client.post(f"{API}/disputes", content=raw, headers={**world.h("village_a1"), **JSON})
    body = assert_problem(r, 400)
    assert body["type"] == "/problems/malformed-request"
    assert body["title"] == "Malformed request"
    assert "errors" not in body


async def test_malformed_json_on_a_transition_is_400(client, world, dispute):
    r = await client.post(f"{API}/disputes/{dispute['id']}/withdraw", content=b'{"reason": "x"',
                          headers={**world.h("village_a1"), **JSON})
    assert_problem(r, 400)


# ---------------------------------------------------------------- 422: types and values

@pytest.mark.parametrize("override,field", [
    ({"summary": 5}, "summary"),
    ({"org_id": "nope"}, "org_id"),
    ({"org_id": 17}, "org_id"),
    ({"parties": "张三"}, "parties"),
    ({"parties": [{"role": 1, "kind": "person", "name": "张三"}]}, "parties[0].role"),
    ({"parties": [{"role": "applicant", "kind": "person", "name": ["张三"]}]}, "parties[0].name"),
    ({"registered_at": "yesterday"}, "registered_at"),
    ({"occurred_on": "2026-13-01"}, "occurred_on"),
    ({"persons_involved": "three"}, "persons_involved"),
    ({"amount": "three thousand"}, "amount"),
    ({"amount": True}, "amount"),
])
async def test_wrong_types_are_422_naming_the_field(client, world, override, field):
    r = await client.post(f"{API}/disputes", json={**dispute_body(world), **override}, headers=world.h("village_a1"))
    body = assert_problem(r, 422)
    assert body["type"] == "/problems/invalid-values"
    assert fields(body)[0] == field
    assert all(e["message"] for e in body["errors"])


@pytest.mark.parametrize("missing,field", [
    ("summary", "summary"), ("org_id", "org_id"), ("parties", "parties"), ("type", "type"), ("source", "source"),
])
async def test_missing_fields_are_named(client, world, missing, field):
    body = dispute_body(world)
    del body[missing]
    r = await client.post(f"{API}/disputes", json=body, headers=world.h("village_a1"))
    assert fields(assert_problem(r, 422)) == [field]


async def test_missing_nested_field_is_named(client, world):
    r = await client.post(f"{API}/disputes", json=dispute_body(world, parties=[{"role": "applicant", "kind": "person"}]),
                          headers=world.h("village_a1"))
    assert fields(assert_problem(r, 422)) == ["parties[0].name"]


async def test_a_json_null_or_array_body_is_422(client, world, dispute):
    for raw in (b"null", b"[]", b"42", b'"text"'):
        r = await client.post(f"{API}/disputes", content=raw, headers={**world.h("village_a1"), **JSON})
        assert fields(assert_problem(r, 422)) == ["body"], raw
        r = await client.post(f"{API}/disputes/{dispute['id']}/withdraw", content=raw,
                              headers={**world.h("village_a1"), **JSON})
        assert fields(assert_problem(r, 422)) == ["body"], raw


async def test_every_value_the_schema_refuses_is_named_at_once(client, world):
    body = dispute_body(world, type="gossip", amount=-5)
    r = await client.post(f"{API}/disputes", json=body, headers=world.h("village_a1"))
    problem = assert_problem(r, 422)
    assert fields(problem) == ["type", "amount"]
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert messages["amount"] == "must not be negative"
    assert messages["type"].startswith("must be one of consumer, contract, damages,")
    for f in fields(problem):
        assert f in problem["detail"]


async def test_domain_rules_name_every_field_once_the_schema_is_met(client, world):
    body = dispute_body(world)
    body["parties"][1]["id_number"] = "110105194912310021"   # wrong check character (X is right)
    body["occurred_on"] = "2999-01-01"
    r = await client.post(f"{API}/disputes", json=body, headers=world.h("village_a1"))
    problem = assert_problem(r, 422)
    assert fields(problem) == ["parties[1].id_number", "occurred_on"]
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert messages["parties[1].id_number"] == "check character does not match (GB 11643)"


async def test_many_party_errors_are_all_named(client, world):
    parties = [
        {"role": "plaintiff", "kind": "person", "name": "张三"},
        {"role": "respondent", "kind": "robot", "name": ""},
        {"role": "respondent", "kind": "organization", "name": "某公司", "id_number": "91350100M000100Y4",
         "phone": "call me"},
        {"role": "third_party", "kind": "person", "name": "赵六", "id_number": "11010519491331002X"},
    ]
    r = await client.post(f"{API}/disputes", json=dispute_body(world, parties=parties, source="rumour",
                                                              summary="", persons_involved=0),
                          headers=world.h("village_a1"))
    problem = assert_problem(r, 422)
    assert fields(problem) == ["source", "summary", "parties[0].role", "parties[1].kind", "parties[1].name",
                               "parties[2].id_number", "parties[2].phone", "persons_involved"]
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert messages["parties[2].id_number"] == ("must be 18 letters and digits (a resident ID or a unified social "
                                                "credit code)")
    assert messages["parties[1].name"] == "must not be empty"
    assert messages["persons_involved"] == "must be at least 1"


async def test_check_characters_and_birth_dates_are_checked_per_party(client, world):
    parties = [
        {"role": "applicant", "kind": "organization", "name": "某公司", "id_number": "91350100M000100Y44"},
        {"role": "third_party", "kind": "person", "name": "赵六", "id_number": "11010519491331002X"},
    ]
    r = await client.post(f"{API}/disputes", json=dispute_body(world, parties=parties),
                          headers=world.h("village_a1"))
    problem = assert_problem(r, 422)
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert messages == {"parties[0].id_number": "check character does not match (GB 32100)",
                        "parties[1].id_number": "contains an impossible birth date"}


@pytest.mark.parametrize("action,body,field", [
    ("withdraw", {"reason": 5}, "reason"),
    ("withdraw", {"reason": "x", "version": "three"}, "version"),
    ("withdraw", {"reason": "x", "version": 1.5}, "version"),
    ("withdraw", {"reason": "x", "version": 0}, "version"),
    ("withdraw", {"reason": "x", "at": "yesterday"}, "at"),
    ("withdraw", {"reason": ""}, "reason"),
    ("withdraw", {}, "reason"),
    ("sessions", {"held_at": "NOW", "method": "onsite", "mediator_ids": ["not-a-uuid"], "summary": "x"},
     "mediator_ids[0]"),
    ("sessions", {"held_at": "NOW", "method": "onsite", "mediator_ids": [], "summary": "x"}, "mediator_ids"),
    ("resolve", {"agreement": {"form": "written", "terms": "x", "signed_at": "NOW", "amount": "-1"}},
     "agreement.amount"),
    ("resolve", {"agreement": {"form": "carved", "terms": "x", "signed_at": "NOW"}}, "agreement.form"),
    ("resolve", {"agreement": {"form": "written", "terms": "x", "signed_at": "NOW"}, "prevented": ["war"]},
     "prevented[0]"),
    ("escalate", {"to_org_id": str(uuid.UUID(int=7)), "reason": "x"}, "to_org_id"),
    ("fail", {"reason": "x", "channel": "duel"}, "channel"),
])
async def test_transition_bad_values_are_422_naming_the_field(client, world, dispute, action, body, field):
    body = {k: (now_iso() if v == "NOW" else v) for k, v in body.items()}
    if "agreement" in body:
        body["agreement"] = {k: (now_iso() if v == "NOW" else v) for k, v in body["agreement"].items()}
    r = await client.post(f"{API}/disputes/{dispute['id']}/{action}", json=body, headers=world.h("village_a1"))
    assert fields(assert_problem(r, 422))[0] == field


async def test_if_match_that_is_not_a_version_is_422(client, world, dispute):
    r = await client.post(f"{API}/disputes/{dispute['id']}/withdraw", json={"reason": "x"},
                          headers={**world.h("village_a1"), "If-Match": "abc"})
    assert fields(assert_problem(r, 422)) == ["If-Match"]


# ---------------------------------------------------------------- limits

async def test_body_over_one_mebibyte_is_413(client, world):
    body = dispute_body(world, summary="x" * (MiB + 1))
    r = await client.post(f"{API}/disputes", json=body, headers=world.h("village_a1"))
    problem = assert_problem(r, 413)
    assert problem["type"] == "/problems/payload-too-large"


async def test_body_just_under_the_limit_is_read(client, world):
    """Just under 1 MiB is read and then refused for its summary length (422), not 413."""
    body = dispute_body(world)
    raw = json.dumps(body, ensure_ascii=False).encode()
    body["summary"] = "x" * (MiB - len(raw) - 100)
    r = await client.post(f"{API}/disputes", json=body, headers=world.h("village_a1"))
    assert fields(assert_problem(r, 422)) == ["summary"]


async def test_summary_of_2001_characters_is_422(client, world):
    r = await client.post(f"{API}/disputes", json=dispute_body(world, summary="纠" * 2001),
                          headers=world.h("village_a1"))
    problem = assert_problem(r, 422)
    assert problem["errors"] == [{"field": "summary", "message": "must be at most 2000 characters"}]
    r = await client.post(f"{API}/disputes", json=dispute_body(world, summary="纠" * 2000),
                          headers=world.h("village_a1"))
    assert r.status_code == 201
    assert r.json()["summary"] == "纠" * 2000


@pytest.mark.parametrize("action,body,field", [
    ("withdraw", {"reason": "x", "note": "注" * 10_001}, "note"),
    ("withdraw", {"reason": "由" * 10_001}, "reason"),
    ("sessions", {"held_at": "NOW", "method": "onsite", "mediator_ids": ["M"], "summary": "记" * 10_001}, "summary"),
    ("resolve", {"agreement": {"form": "written", "terms": "款" * 10_001, "signed_at": "NOW"}}, "agreement.terms"),
])
async def test_texts_over_10000_characters_are_422(client, world, dispute, action, body, field):
    def fill(v):
        if isinstance(v, dict):
            return {k: fill(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fill(x) for x in v]
        return {"NOW": now_iso(), "M": str(world.mediators["village_a1"])}.get(v, v) if isinstance(v, str) else v

    body = fill(body)
    r = await client.post(f"{API}/disputes/{dispute['id']}/{action}", json=body, headers=world.h("village_a1"))
    assert assert_problem(r, 422)["errors"] == [{"field": field, "message": "must be at most 10000 characters"}]
    # exactly 10,000 is fine
    text = field.split(".")[-1]
    if "agreement" in body:
        body["agreement"][text] = "款" * 10_000
    else:
        body[text] = "字" * 10_000
    r = await client.post(f"{API}/disputes/{dispute['id']}/{action}", json=body, headers=world.h("village_a1"))
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- registry references

@pytest.mark.parametrize("code,message", [
    ("12ab", "must be a region code of 6, 9 or 12 digits"),
    ("5113251012011", "must be a region code of 6, 9 or 12 digits"),
    ("５１１３２５", "must be a region code of 6, 9 or 12 digits"),
    ("511325999", "region 511325999000 is not registered"),
    ("511324100205", "must lie inside the organisation's county"),
])
async def test_bad_region_code_is_422(client, world, code, message):
    r = await client.post(f"{API}/disputes", json=dispute_body(world, region_code=code), headers=world.h("village_a1"))
    assert assert_problem(r, 422)["errors"] == [{"field": "region_code", "message": message}]


async def test_region_code_in_another_form_is_accepted(client, world):
    r = await client.post(f"{API}/disputes", json=dispute_body(world, region_code="511325101"),
                          headers=world.h("village_a1"))
    assert r.status_code == 201, r.text
    assert r.json()["region_code"] == "511325101000"


async def test_unknown_org_is_422_for_admin_and_403_for_a_mediator(client, world, dispute):
    ghost = str(uuid.uuid4())
    r = await client.post(f"{API}/disputes", json={**dispute_body(world), "org_id": ghost}, headers=world.h("admin"))
    assert assert_problem(r, 422)["errors"] == [{"field": "org_id", "message": f"org {ghost} does not exist"}]
    r = await client.post(f"{API}/disputes", json={**dispute_body(world), "org_id": ghost}, headers=world.h("village_a1"))
    assert_problem(r, 403)
    r = await client.post(f"{API}/disputes/{dispute['id']}/escalate", json={"to_org_id": ghost, "reason": "x"},
                          headers=world.h("village_a1"))
    assert assert_problem(r, 422)["errors"] == [{"field": "to_org_id", "message": f"org {ghost} does not exist"}]
    r = await client.get(f"{API}/orgs/{ghost}", headers=world.h("admin"))
    assert_problem(r, 404)
    r = await client.post(f"{API}/orgs/{ghost}/mediators", json={"name": "王五"}, headers=world.h("admin"))
    assert_problem(r, 404)


# ---------------------------------------------------------------- 404 / 405

@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/disputes/not-a-uuid", "/nope",
                                  f"/api/v1/disputes/{uuid.UUID(int=1)}", f"/api/v1/orgs/{uuid.UUID(int=1)}",
                                  "/api/v1/regions/511399"])
async def test_unknown_route_or_thing_is_404(client, world, path):
    body = assert_problem(await client.get(path, headers=world.h("admin")), 404)
    assert body["type"] == "/problems/not-found"


async def test_unknown_action_is_404(client, world, dispute):
    r = await client.post(f"{API}/disputes/{dispute['id']}/teleport", json={}, headers=world.h("village_a1"))
    assert_problem(r, 404)


async def test_wrong_method_is_405_problem(client, world):
    assert_problem(await client.delete(f"{API}/disputes", headers=world.h("admin")), 405)


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=abc", "limit"), ("cursor=zzz", "cursor"),
    ("region=abc", "region"), ("status=lost", "status"), ("type=gossip", "type"), ("q=" + "x" * 201, "q"),
    ("org_id=nope", "org_id"), ("overdue=maybe", "overdue"),
])
async def test_bad_list_parameters_are_422(client, world, query, field):
    r = await client.get(f"{API}/disputes?{query}", headers=world.h("admin"))
    assert fields(assert_problem(r, 422))[0] == field


@pytest.mark.parametrize("path", ["/orgs?cursor=WyJhIiwiYiJd", "/orgs?cursor=abc", "/regions?cursor=W10",
                                  "/audit?cursor=WyJ4Il0", "/disputes?cursor=WyJ4IiwieSJd"])
async def test_forged_cursors_are_422(client, world, path):
    r = await client.get(API + path, headers=world.h("admin"))
    assert fields(assert_problem(r, 422)) == ["cursor"]


# ---------------------------------------------------------------- the order

async def test_order_401_before_everything(client, world, dispute):
    r = await client.post(f"{API}/disputes/{dispute['id']}/withdraw", content=b"{bad" + b"x" * (MiB + 10),
                          headers=JSON)
    assert_problem(r, 401)
    r = await client.post(f"{API}/disputes/{uuid.uuid4()}/withdraw", content=b"{bad", headers=JSON)
    assert_problem(r, 401)


async def test_order_404_before_400_413_422(client, world, dispute):
    url = f"{API}/disputes/{dispute['id']}/withdraw"
    other = world.h("village_a2")   # may not read the dispute
    assert_problem(await client.post(url, content=b"{bad", headers={**other, **JSON}), 404)
    assert_problem(await client.post(url, content=b"{" + b" " * (MiB + 10), headers={**other, **JSON}), 404)
    assert_problem(await client.post(url, json={"reason": 5, "version": 99}, headers=other), 404)
    r = await client.post(f"{API}/disputes/{uuid.uuid4()}/withdraw", content=b"{bad",
                          headers={**world.h("admin"), **JSON})
    assert_problem(r, 404)


async def test_order_403_before_400_413_422(client, world, dispute):
    r = await client.post(f"{API}/disputes/{dispute['id']}/escalate",
                          json={"to_org_id": str(world.orgs["town_a"]), "reason": "上移"}, headers=world.h("village_a1"))
    assert r.status_code == 200
    url = f"{API}/disputes/{dispute['id']}/withdraw"
    earlier = world.h("village_a1")   # reads, may not act
    for h in (earlier, world.h("bureau_county")):
        assert_problem(await client.post(url, content=b"{bad", headers={**h, **JSON}), 403)
        assert_problem(await client.post(url, content=b"{" + b" " * (MiB + 10), headers={**h, **JSON}), 403)
        assert_problem(await client.post(url, json={"reason": 5, "version": 1}, headers=h), 403)
    r = await client.post(f"{API}/disputes", content=b"{bad", headers={**world.h("bureau_county"), **JSON})
    assert_problem(r, 403)


async def test_order_413_before_400(client, world, dispute):
    raw = b"{bad json" + b"x" * (MiB + 10)
    r = await client.post(f"{API}/disputes/{dispute['id']}/withdraw", content=raw,
                          headers={**world.h("village_a1"), **JSON})
    assert_problem(r, 413)
    r = await client.post(f"{API}/disputes", content=raw, headers={**world.h("village_a1"), **JSON})
    assert_problem(r, 413)


async def test_order_400_before_422(client, world, dispute):
    r = await client.post(f"{API}/disputes/{dispute['id']}/withdraw", content=b'{"reason": 5, "version": "x",',
                          headers={**world.h("village_a1"), **JSON})
    assert_problem(r, 400)


async def test_order_422_before_409(client, world, dispute):
    url = f"{API}/disputes/{dispute['id']}"
    h = world.h("village_a1")
    # stale version and an invalid value → 422
    r = await client.post(f"{url}/withdraw", json={"reason": "", "version": 7}, headers=h)
    assert fields(assert_problem(r, 422)) == ["reason"]
    r = await client.post(f"{url}/withdraw", json={"reason": "x", "at": now_iso(days=2), "version": 7}, headers=h)
    assert fields(assert_problem(r, 422)) == ["at"]
    # an action the state does not allow, with an invalid value → 422
    r = await client.post(f"{url}/performance", json={"status": "excellent", "checked_at": now_iso()}, headers=h)
    assert fields(assert_problem(r, 422)) == ["status"]
    # valid values: stale → 409, state → 409
    body = assert_problem(await client.post(f"{url}/withdraw", json={"reason": "x", "version": 7}, headers=h), 409)
    assert body["type"] == "/problems/conflict"
    assert body["detail"] == "the dispute is at version 1, not 7; reload it and try again"
    r = await client.post(f"{url}/withdraw", json={"reason": "x"}, headers={**h, "If-Match": '"7"'})
    assert_problem(r, 409)
    assert_problem(await client.post(f"{url}/performance", json={"status": "performed", "checked_at": now_iso()},
                                     headers=h), 409)
    # and the right version goes through
    r = await client.post(f"{url}/withdraw", json={"reason": "x"}, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["version"]) == ("withdrawn", 2)
    assert_problem(await client.post(f"{url}/withdraw", json={"reason": "x", "version": 2}, headers=h), 409)


# ---------------------------------------------------------------- values the database cannot hold

@pytest.mark.parametrize("override", [
    {"summary": "a\u0000b"},
    {"parties": [{"role": "applicant", "kind": "person", "name": "张\u0000三"}]},
    {"registered_at": "0001-01-01T00:00:00"},
    {"registered_at": "0001-01-01T00:00:00+14:00"},
    {"deadline": "9999-12-31T23:59:59-12:00"},
    {"occurred_on": "0001-01-01"},
    {"amount": "1e400"},
    {"amount": 1e308},
    {"persons_involved": 10**30},
])
async def test_extreme_values_are_refused_not_crashed(client, world, override):
    r = await client.post(f"{API}/disputes", json={**dispute_body(world), **override}, headers=world.h("village_a1"))
    assert r.status_code in (201, 422), r.text
    if r.status_code == 422:
        assert_problem(r, 422)
    else:
        assert r.json()["summary"]


async def test_nul_in_query_and_names_is_refused_not_crashed(client, world, dispute):
    for path in ("/disputes?q=a%00b", "/orgs?q=a%00b", "/audit?actor=a%00b"):
        r = await client.get(API + path, headers=world.h("admin"))
        assert r.status_code in (200, 422), (path, r.text)
    r = await client.post(f"{API}/orgs", json={"name": "调\u0000委会", "tier": "village", "kind": "village_committee",
                                              "region_code": world.village_a1}, headers=world.h("admin"))
    assert fields(assert_problem(r, 422)) == ["name"]
    r = await client.post(f"{API}/regions", json={"code": "511325101209", "name": "村\u0000"}, headers=world.h("admin"))
    assert fields(assert_problem(r, 422)) == ["name"]
    r = await client.post(f"{API}/orgs/{world.orgs['village_a1']}/mediators", json={"name": "王\u0000"},
                          headers=world.h("admin"))
    assert fields(assert_problem(r, 422)) == ["name"]
    r = await client.post(f"{API}/disputes/{dispute['id']}/withdraw", json={"reason": "\u0000"},
                          headers=world.h("village_a1"))
    assert assert_problem(r, 422)["errors"] == [
        {"field": "reason", "message": "must hold some text (not only spaces) and no control characters other than "
                                       "line breaks and tabs"}]
    r = await client.post(f"{API}/disputes", json=dispute_body(world, summary="a\u0000b", parties=[
        {"role": "applicant", "kind": "person", "name": "张\u0000三"}]), headers=world.h("village_a1"))
    assert fields(assert_problem(r, 422)) == ["summary", "parties[0].name"]
    after = (await client.get(f"{API}/disputes/{dispute['id']}", headers=world.h("admin"))).json()
    assert (after["status"], after["version"]) == ("open", 1)


# ---------------------------------------------------------------- never a 500 (fuzz)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
special_strings = st.sampled_from([
    "", " ", "\u0000", "0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00", "2026-02-30", "NaN", "-0", "1e400",
    VALID_ID, "91350100M000100Y43", "511325", "511325101201", "neighbor", "applicant", "person", "organization",
    str(uuid.UUID(int=0)), "😀" * 3, "' OR 1=1 --", "%_\\", "x" * 2100,
])
leaf = json_values | special_strings

PARTY_KEYS = ["role", "kind", "name", "id_number", "phone", "address"]
DISPUTE_KEYS = ["org_id", "type", "source", "summary", "parties", "region_code", "registered_at", "occurred_on",
                "amount", "persons_involved", "deadline"]
TRANSITION_KEYS = ["version", "at", "note", "held_at", "method", "mediator_ids", "summary", "to_org_id", "reason",
                   "agreement", "prevented", "channel", "status", "checked_at", "satisfaction", "court_id"]
ACTIONS = ["sessions", "escalate", "assign", "resolve", "fail", "withdraw", "reject", "performance", "visit",
           "refer", "confirmation"]


@st.composite
def mutated_dispute(draw, world):
    body = dispute_body(world)
    body["parties"] = [dict(p) for p in body["parties"]]
    for key in draw(st.lists(st.sampled_from(DISPUTE_KEYS), max_size=4, unique=True)):
        if draw(st.booleans()):
            body.pop(key, None)
        else:
            body[key] = draw(leaf)
    if isinstance(body.get("parties"), list) and body["parties"] and isinstance(body["parties"][0], dict):
        for key in draw(st.lists(st.sampled_from(PARTY_KEYS), max_size=3, unique=True)):
            body["parties"][0][key] = draw(leaf)
    return body


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(data=st.data())
async def test_fuzz_registration_never_500(client, world, data):
    raw_or_body = data.draw(st.one_of(json_values, mutated_dispute(world)), label="body")
    r = await client.post(f"{API}/disputes", json=raw_or_body, headers=world.h("village_a1"))
    assert r.status_code < 500, (raw_or_body, r.text)
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(data=st.data())
async def test_fuzz_transitions_never_500(client, world, dispute, data):
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    body = data.draw(st.one_of(
        json_values,
        st.dictionaries(st.sampled_from(TRANSITION_KEYS), leaf, max_size=6),
    ), label="body")
    if_match = data.draw(st.none() | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
                         label="if_match")
    headers = world.h("village_a1") | ({"If-Match": if_match} if if_match is not None else {})
    r = await client.post(f"{API}/disputes/{dispute['id']}/{action}", json=body, headers=headers)
    assert r.status_code < 500, (action, body, r.text)
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_order_403_before_422_when_registering_at_another_org(client, world):
    body = dispute_body(world, "village_a2", type="gossip", amount=-1)
    assert_problem(await client.post(f"{API}/disputes", json=body, headers=world.h("village_a1")), 403)
    r = await client.post(f"{API}/disputes", json=body, headers=world.h("village_a2"))
    assert fields(assert_problem(r, 422)) == ["type", "amount"]


async def test_chunked_body_over_one_mebibyte_is_413(client, world):
    """Without a content-length the limit holds while reading."""
    async def chunks():
        yield b'{"summary": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    r = await client.post(f"{API}/disputes", content=chunks(), headers={**world.h("village_a1"), **JSON})
    assert_problem(r, 413)


@pytest.mark.parametrize("authorization", ["bearer {t}", "Bearer  {t} ", "BEARER {t}"])
async def test_bearer_scheme_is_case_insensitive_and_trimmed(client, world, authorization):
    r = await client.get(f"{API}/orgs", headers={"Authorization": authorization.format(t=world.tokens["admin"])})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("authorization", ["Bearer tj_" + "a" * 200, "Bearer " + "x" * 5000, "Token abc", "Bearer"])
async def test_odd_authorization_headers_are_401(client, world, authorization):
    assert_problem(await client.get(f"{API}/orgs", headers={"Authorization": authorization}), 401)
