"""Scoping (API.md "Conventions" and "Registry"): who may read and act on what.

404 when the caller may not read a thing (nothing leaks), 403 when it may read it but not
do what it asked, 401 without a valid token. The layout used throughout:

- dispute D: registered at village_a1 (太平一村), escalated to town_a (太平镇), so town_a
  holds it and village_a1 handled it earlier; its region is 太平一村 (511325101201);
- dispute E: registered at village_b1 (大全一村, town B), never moved;
- dispute F: registered at the county center (西充县), region the county itself;
- dispute G: registered in another county (仪陇县 罩板村).
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from mediation import accounts
from tests.conftest import bearer, register

API = "/api/v1"

# who → (GET D, transition D)
D_MATRIX = {
    "admin": (200, 200),
    "bureau_county": (200, 403),
    "bureau_town_a": (200, 403),   # 太平一村 lies inside 太平镇
    "bureau_other": (404, 404),    # another county
    "town_a": (200, 200),          # the holding org
    "village_a1": (200, 403),      # handled it before the escalation
    "village_a2": (404, 404),      # same town, never handled it
    "village_b1": (404, 404),
    "county_center": (404, 404),   # higher tier, same county, never handled it
    "other_county": (404, 404),
}

# who → the disputes of {D, E, F, G} its list shows
LIST_SCOPE = {
    "admin": {"D", "E", "F", "G"},
    "bureau_county": {"D", "E", "F"},
    "bureau_town_a": {"D"},
    "bureau_other": {"G"},
    "town_a": {"D"},
    "village_a1": {"D"},
    "village_a2": set(),
    "village_b1": {"E"},
    "county_center": {"F"},
    "other_county": {"G"},
}


async def _escalate(client, world, dispute, to="town_a", who="village_a1"):
    r = await client.post(f"{API}/disputes/{dispute['id']}/escalate",
                          json={"to_org_id": str(world.orgs[to]), "reason": "村级调解难度较大，上移镇调委会"},
                          headers=world.h(who))
    assert r.status_code == 200, r.text
    return r.json()


async def _setup(client, world) -> dict[str, dict]:
    d = await register(client, world, "village_a1")
    d = await _escalate(client, world, d)
    e = await register(client, world, "village_b1", summary="大全一村邻里噪音纠纷")
    f = await register(client, world, "county_center", summary="县中心受理的劳动争议", type="labor")
    g = await register(client, world, "other_county", summary="仪陇县罩板村宅基地纠纷")
    return {"D": d, "E": e, "F": f, "G": g}


def _session_body(world, holder="town_a") -> dict:
    return {"held_at": dt.datetime.now(dt.UTC).isoformat(), "method": "onsite",
            "mediator_ids": [str(world.mediators[holder])], "summary": "双方到场，陈述意见"}


@pytest.fixture
async def cases(client, world):
    return await _setup(client, world)


@pytest.mark.parametrize("who", sorted(D_MATRIX))
async def test_get_one_dispute_by_role(client, world, cases, who):
    d = cases["D"]
    r = await client.get(f"{API}/disputes/{d['id']}", headers=world.h(who))
    assert r.status_code == D_MATRIX[who][0], r.text
    if r.status_code == 200:
        body = r.json()
        assert body["id"] == d["id"]
        assert body["case_no"] == d["case_no"]
        assert body["org_id"] == str(world.orgs["town_a"])
    else:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 404
        assert d["case_no"] not in r.text  # nothing leaks


@pytest.mark.parametrize("who", sorted(D_MATRIX))
async def test_transition_by_role(client, world, cases, who):
    d = cases["D"]
    body = _session_body(world)
    r = await client.post(f"{API}/disputes/{d['id']}/sessions", json=body, headers=world.h(who))
    assert r.status_code == D_MATRIX[who][1], r.text
    after = (await client.get(f"{API}/disputes/{d['id']}", headers=world.h("admin"))).json()
    if r.status_code == 200:
        assert r.json()["version"] == d["version"] + 1
        assert after["version"] == d["version"] + 1
        assert [e["kind"] for e in after["events"]] == ["registered", "escalated", "session"]
    else:
        assert r.json()["status"] == r.status_code
        assert after["version"] == d["version"]
        assert [e["kind"] for e in after["events"]] == ["registered", "escalated"]


@pytest.mark.parametrize("who", sorted(LIST_SCOPE))
async def test_list_holds_exactly_the_disputes_in_scope(client, world, cases, who):
    r = await client.get(f"{API}/disputes", headers=world.h(who))
    assert r.status_code == 200, r.text
    body = r.json()
    expected = {cases[k]["case_no"] for k in LIST_SCOPE[who]}
    assert {i["case_no"] for i in body["items"]} == expected
    assert body["total"] == len(expected)
    assert body["next_cursor"] is None


@pytest.mark.parametrize("who", ["bureau_town_a", "village_a2", "other_county", "bureau_other"])
async def test_list_filters_cannot_widen_scope(client, world, cases, who):
    """Filters narrow inside the scope; they never show a dispute outside it."""
    for query in (f"org_id={world.orgs['village_b1']}", f"region={world.county}", "q=纠纷",
                  f"q={cases['E']['case_no']}"):
        r = await client.get(f"{API}/disputes?{query}", headers=world.h(who))
        assert r.status_code == 200, (query, r.text)
        visible = {cases[k]["case_no"] for k in LIST_SCOPE[who]}
        assert {i["case_no"] for i in r.json()["items"]} <= visible, query


async def test_earlier_handler_keeps_reading_but_not_acting_after_a_second_move(client, world, cases):
    d = cases["D"]
    d = await _escalate(client, world, d, to="county_center", who="town_a")
    for who, status in (("village_a1", 200), ("town_a", 200), ("county_center", 200), ("village_a2", 404)):
        r = await client.get(f"{API}/disputes/{d['id']}", headers=world.h(who))
        assert r.status_code == status, (who, r.text)
    r = await client.post(f"{API}/disputes/{d['id']}/withdraw", json={"reason": "申请人撤回"}, headers=world.h("town_a"))
    assert r.status_code == 403
    r = await client.post(f"{API}/disputes/{d['id']}/withdraw", json={"reason": "申请人撤回"},
                          headers=world.h("county_center"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"


# ---------------------------------------------------------------- 401

@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic YWRtaW46YWRtaW4="},
    {"Authorization": "Bearer tj_unknown-token-that-was-never-issued"},
    {"Authorization": "Bearer not-even-our-prefix"},
], ids=["none", "empty", "basic", "unknown", "foreign"])
@pytest.mark.parametrize("method,path", [
    ("GET", "/disputes"), ("GET", "/disputes/{D}"), ("POST", "/disputes/{D}/withdraw"), ("POST", "/disputes"),
    ("GET", "/orgs"), ("GET", "/regions"), ("POST", "/regions"), ("GET", "/audit"),
    ("GET", "/disputes/" + "00000000-0000-0000-0000-000000000000"),
])
async def test_missing_or_unknown_token_is_401(client, world, cases, headers, method, path):
    url = API + path.replace("{D}", cases["D"]["id"])
    r = await client.request(method, url, headers=headers, json={"reason": "x"} if method == "POST" else None)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"] == "Bearer"
    body = r.json()
    assert body["status"] == 401 and body["type"] and body["title"] and body["detail"]


async def test_revoked_token_is_401_everywhere(client, world, cases):
    d = cases["D"]
    headers = world.h("town_a")
    assert (await client.get(f"{API}/disputes/{d['id']}", headers=headers)).status_code == 200
    assert await accounts.revoke_token("m-town_a") == "m-town_a"
    for method, path in (("GET", f"/disputes/{d['id']}"), ("GET", "/disputes"),
                         ("POST", f"/disputes/{d['id']}/withdraw"), ("GET", "/orgs")):
        r = await client.request(method, API + path, headers=headers,
                                 json={"reason": "x"} if method == "POST" else None)
        assert r.status_code == 401, (path, r.text)
    after = (await client.get(f"{API}/disputes/{d['id']}", headers=world.h("admin"))).json()
    assert after["status"] == "open" and after["version"] == d["version"]


async def test_401_comes_before_404(client, world):
    r = await client.get(f"{API}/disputes/{uuid.uuid4()}")
    assert r.status_code == 401
    r = await client.get(f"{API}/no-such-thing")
    assert r.status_code in (401, 404)


# ---------------------------------------------------------------- registering

@pytest.mark.parametrize("who,org,status", [
    ("village_a1", "village_a1", 201),
    ("village_a1", "village_a2", 403),
    ("village_a1", "town_a", 403),
    ("village_a1", "other_county", 403),
    ("town_a", "village_a1", 403),
    ("admin", "village_b1", 201),
    ("bureau_county", "village_a1", 403),
    ("bureau_town_a", "village_a1", 403),
])
async def test_registering_at_another_org_is_403(client, world, who, org, status):
    from tests.conftest import dispute_body

    r = await client.post(f"{API}/disputes", json=dispute_body(world, org), headers=world.h(who))
    assert r.status_code == status, r.text
    listed = (await client.get(f"{API}/disputes", headers=world.h("admin"))).json()
    assert listed["total"] == (1 if status == 201 else 0)
    if status == 201:
        assert r.json()["org_id"] == str(world.orgs[org])


# ---------------------------------------------------------------- the registry

COUNTY_ORGS = {"county_center", "town_a", "town_b", "village_a1", "village_a2", "village_b1"}
ORG_SCOPE = {
    "admin": COUNTY_ORGS | {"other_county"},
    "bureau_county": COUNTY_ORGS,
    "bureau_town_a": {"town_a", "village_a1", "village_a2"},
    "bureau_other": {"other_county"},
    "village_a1": COUNTY_ORGS,
    "town_b": COUNTY_ORGS,
    "county_center": COUNTY_ORGS,
    "other_county": {"other_county"},
}


@pytest.mark.parametrize("who", sorted(ORG_SCOPE))
async def test_org_list_and_get_follow_scope(client, world, who):
    r = await client.get(f"{API}/orgs?limit=500", headers=world.h(who))
    assert r.status_code == 200, r.text
    by_id = {v: k for k, v in world.orgs.items()}
    listed = {by_id[uuid.UUID(i["id"])] for i in r.json()["items"]}
    assert listed == ORG_SCOPE[who]
    assert r.json()["total"] == len(ORG_SCOPE[who])
    for key, org_id in world.orgs.items():
        one = await client.get(f"{API}/orgs/{org_id}", headers=world.h(who))
        expected = 200 if key in ORG_SCOPE[who] else 404
        assert one.status_code == expected, (key, one.text)
        if expected == 200:
            assert one.json()["id"] == str(org_id)
        mediators = await client.get(f"{API}/orgs/{org_id}/mediators", headers=world.h(who))
        assert mediators.status_code == expected, (key, mediators.text)


async def test_mediator_cannot_read_another_countys_org(client, world):
    r = await client.get(f"{API}/orgs/{world.orgs['other_county']}", headers=world.h("village_a1"))
    assert r.status_code == 404
    assert r.json()["status"] == 404
    assert "罩板村" not in r.text


@pytest.mark.parametrize("who", ["bureau_county", "bureau_town_a", "village_a1", "town_a", "county_center"])
async def test_only_admin_writes_the_registry(client, world, who):
    h = world.h(who)
    r = await client.post(f"{API}/regions", json={"code": "511325101203", "name": "太平三村"}, headers=h)
    assert r.status_code == 403, r.text
    r = await client.post(f"{API}/orgs", json={"name": "新调委会", "tier": "township", "kind": "industry_committee",
                                              "region_code": world.town_a}, headers=h)
    assert r.status_code == 403, r.text
    r = await client.post(f"{API}/orgs/{world.orgs['village_a1']}/mediators", json={"name": "王五"}, headers=h)
    assert r.status_code == 403, r.text
    # nothing was written
    admin = world.h("admin")
    assert (await client.get(f"{API}/regions/511325101203", headers=admin)).status_code == 404
    assert (await client.get(f"{API}/orgs?limit=500", headers=admin)).json()["total"] == 7
    assert (await client.get(f"{API}/orgs/{world.orgs['village_a1']}/mediators", headers=admin)).json()["total"] == 1
    # the admin may
    r = await client.post(f"{API}/regions", json={"code": "511325101203", "name": "太平三村"}, headers=admin)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("who", ["bureau_county", "village_a1"])
async def test_registry_write_is_403_before_the_body_is_read(client, world, who):
    """Order 401 → 404/403 → 413 → 400 → 422: a non-admin's malformed body is still 403."""
    for path in ("/regions", "/orgs", f"/orgs/{world.orgs['village_a1']}/mediators"):
        r = await client.post(API + path, content=b"{not json", headers={**world.h(who),
                                                                          "content-type": "application/json"})
        assert r.status_code == 403, (path, r.text)
        r = await client.post(API + path, json={"unexpected": 1}, headers=world.h(who))
        assert r.status_code == 403, (path, r.text)


async def test_mediator_of_other_county_gets_404_adding_mediators_there(client, world):
    r = await client.post(f"{API}/orgs/{world.orgs['village_a1']}/mediators", json={"name": "王五"},
                          headers=world.h("other_county"))
    assert r.status_code == 404, r.text


async def test_audit_log_is_admin_only(client, world):
    for who in ("bureau_county", "village_a1", "town_a"):
        r = await client.get(f"{API}/audit", headers=world.h(who))
        assert r.status_code == 403, (who, r.text)
    r = await client.get(f"{API}/audit", headers=world.h("admin"))
    assert r.status_code == 200


async def test_a_token_for_a_region_outside_a_mediators_county(client, world, cases):
    """A bureau token for the whole province reads every dispute of its counties."""
    token = (await accounts.create_token(role="bureau", region="51", name="b-province")).token
    r = await client.get(f"{API}/disputes", headers=bearer(token))
    assert r.status_code == 200
    assert {i["case_no"] for i in r.json()["items"]} == {cases[k]["case_no"] for k in "DEFG"}


async def test_bureau_scope_follows_the_disputes_region_not_the_org(client, world):
    """A dispute the county centre takes in for a village of 太平镇 lies in 太平镇's region."""
    d = await register(client, world, "county_center", region_code=world.village_a1)
    assert d["region_code"] == world.village_a1
    for who, status in (("bureau_town_a", 200), ("bureau_county", 200), ("bureau_other", 404),
                        ("village_a1", 404), ("town_a", 404), ("county_center", 200)):
        r = await client.get(f"{API}/disputes/{d['id']}", headers=world.h(who))
        assert r.status_code == status, who


@pytest.mark.parametrize("who", ["bureau_county", "village_b1", "admin"])
async def test_paging_a_list_stays_in_scope(client, world, who):
    for i in range(3):
        await register(client, world, "village_b1", summary=f"大全一村纠纷{i}")
        await register(client, world, "village_a1", summary=f"太平一村纠纷{i}")
    await register(client, world, "other_county")
    full = (await client.get(f"{API}/disputes?limit=500", headers=world.h(who))).json()
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/disputes", params=params, headers=world.h(who))).json()
        assert page["total"] == full["total"]
        seen += [i["case_no"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["case_no"] for i in full["items"]]
    assert full["total"] == {"bureau_county": 6, "village_b1": 3, "admin": 7}[who]
