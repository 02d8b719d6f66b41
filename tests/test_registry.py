"""The registry (API.md "Registry" and "Codes"): regions in 6-, 9- and 12-digit forms,
levels, parents; organisations and their tiers; mediators; lists and cursors."""

from __future__ import annotations

import uuid

import pytest

API = "/api/v1"


async def post_region(client, world, code, name, level=None, status=201):
    body = {"code": code, "name": name}
    if level is not None:
        body["level"] = level
    r = await client.post(f"{API}/regions", json=body, headers=world.h("admin"))
    assert r.status_code == status, r.text
    return r.json()


# ---------------------------------------------------------------- regions

async def test_regions_in_every_form_are_answered_in_12_digits_with_derived_levels(client, world):
    assert await post_region(client, world, "440000", "广东省") == {
        "code": "440000000000", "name": "广东省", "level": "province", "parent_code": None}
    assert await post_region(client, world, "4401", "广州市") == {
        "code": "440100000000", "name": "广州市", "level": "city", "parent_code": "440000000000"}
    assert await post_region(client, world, "440106", "天河区") == {
        "code": "440106000000", "name": "天河区", "level": "county", "parent_code": "440100000000"}
    assert await post_region(client, world, "440106001", "五山街道") == {
        "code": "440106001000", "name": "五山街道", "level": "township", "parent_code": "440106000000"}
    assert await post_region(client, world, "440106001002", "华工社区") == {
        "code": "440106001002", "name": "华工社区", "level": "village", "parent_code": "440106001000"}
    for form in ("440106001", "440106001000"):
        r = await client.get(f"{API}/regions/{form}", headers=world.h("village_a1"))
        assert r.status_code == 200
        assert r.json() == {"code": "440106001000", "name": "五山街道", "level": "township",
                            "parent_code": "440106000000"}


async def test_a_county_ending_in_00_is_accepted_as_county(client, world):
    await post_region(client, world, "440000", "广东省")
    dongguan = await post_region(client, world, "441900", "东莞市", level="county")
    assert dongguan == {"code": "441900000000", "name": "东莞市", "level": "county", "parent_code": "440000000000"}
    town = await post_region(client, world, "441900003", "东城街道")
    assert town == {"code": "441900003000", "name": "东城街道", "level": "township", "parent_code": "441900000000"}
    village = await post_region(client, world, "441900003001", "主山社区")
    assert village["parent_code"] == "441900003000"
    # a county-tier centre can sit there, and a mediator there reads its county's orgs
    r = await client.post(f"{API}/orgs", json={"name": "东莞市矛盾纠纷调处中心", "tier": "county", "kind": "county_center",
                                              "region_code": "441900"}, headers=world.h("admin"))
    assert r.status_code == 201, r.text
    assert (r.json()["region_code"], r.json()["county_code"]) == ("441900000000", "441900")


async def test_without_a_level_441900_is_a_city(client, world):
    assert (await post_region(client, world, "441900", "东莞市"))["level"] == "city"


async def test_a_township_needs_its_county(client, world):
    r = await client.post(f"{API}/regions", json={"code": "441800101", "name": "某镇"}, headers=world.h("admin"))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "code", "message": "its county 441800000000 is not registered"}]
    assert (await client.get(f"{API}/regions/441800101", headers=world.h("admin"))).status_code == 404


async def test_a_village_needs_its_township(client, world):
    r = await client.post(f"{API}/regions", json={"code": "511325109201", "name": "某村"}, headers=world.h("admin"))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "code", "message": "its township 511325109000 is not registered"}]


@pytest.mark.parametrize("form", ["511325101", "511325101000", "511325"])
async def test_a_duplicate_region_is_409(client, world, form):
    r = await client.post(f"{API}/regions", json={"code": form, "name": "重复"}, headers=world.h("admin"))
    assert r.status_code == 409, r.text
    assert r.json()["status"] == 409
    assert (await client.get(f"{API}/regions/{form}", headers=world.h("admin"))).json()["name"] != "重复"


@pytest.mark.parametrize("body,field,message", [
    ({"code": "12345", "name": "x"}, "code", "must be a region code of 2, 4, 6, 9 or 12 digits"),
    ({"code": "51132510120", "name": "x"}, "code", "must be a region code of 2, 4, 6, 9 or 12 digits"),
    ({"code": "51132a", "name": "x"}, "code", "must be a region code of 2, 4, 6, 9 or 12 digits"),
    ({"code": "511325101203", "name": ""}, "name", "must not be empty"),
    ({"code": "511325101203", "name": "村" * 101}, "name", "must be at most 100 characters"),
    ({"code": "511325101203", "name": "x", "level": "galaxy"}, "level",
     "must be one of city, county, province, township, village"),
    ({"code": "511325101203", "name": "x", "level": "county"}, "level", "code 511325101203 cannot be a county"),
    ({"code": "000000", "name": "x"}, "level", "code 000000000000 cannot be a province"),
])
async def test_bad_regions_are_422(client, world, body, field, message):
    r = await client.post(f"{API}/regions", json=body, headers=world.h("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": field, "message": message}]


async def test_region_children_by_parent_in_any_form(client, world):
    expected = [{"code": "511325101000", "name": "太平镇", "level": "township", "parent_code": "511325000000"},
                {"code": "511325102000", "name": "大全镇", "level": "township", "parent_code": "511325000000"}]
    for form in ("511325", "511325000", "511325000000"):
        r = await client.get(f"{API}/regions", params={"parent": form}, headers=world.h("bureau_county"))
        assert r.status_code == 200
        assert r.json() == {"items": expected, "total": 2, "next_cursor": None}
    r = await client.get(f"{API}/regions?parent=511325101", headers=world.h("village_a1"))
    assert [i["code"] for i in r.json()["items"]] == ["511325101201", "511325101202"]
    r = await client.get(f"{API}/regions?parent=511325101201", headers=world.h("admin"))
    assert r.json() == {"items": [], "total": 0, "next_cursor": None}
    r = await client.get(f"{API}/regions", headers=world.h("admin"))
    assert [(i["code"], i["level"]) for i in r.json()["items"]] == [("510000000000", "province")]
    r = await client.get(f"{API}/regions?parent=5113", headers=world.h("admin"))
    assert [i["code"] for i in r.json()["items"]] == ["511324000000", "511325000000"]


async def test_region_children_pages_with_a_cursor(client, world):
    for i in range(1, 6):
        await post_region(client, world, f"5113251012{10 + i}", f"新村{i}")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"parent": "511325101", "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"{API}/regions", params=params, headers=world.h("admin"))
        assert r.status_code == 200
        assert r.json()["total"] == 7
        seen += [i["code"] for i in r.json()["items"]]
        pages += 1
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    assert seen == ["511325101201", "511325101202"] + [f"5113251012{10 + i}" for i in range(1, 6)]


async def test_unknown_region_is_404(client, world):
    r = await client.get(f"{API}/regions/511325199", headers=world.h("admin"))
    assert r.status_code == 404
    assert r.json()["detail"] == "region 511325199000 is not registered"


# ---------------------------------------------------------------- organisations

@pytest.mark.parametrize("tier,kind,region_attr,ok", [
    ("village", "village_committee", "village_a1", True),
    ("township", "village_committee", "town_a", False),
    ("county", "village_committee", "county", False),
    ("township", "township_committee", "town_a", True),
    ("village", "township_committee", "village_a1", False),
    ("county", "county_center", "county", True),
    ("township", "county_center", "town_a", False),
    ("township", "industry_committee", "town_a", True),
    ("county", "industry_committee", "county", True),
    ("village", "industry_committee", "village_a1", False),
    ("village", "other", "village_a1", True),
    ("township", "other", "town_b", True),
    ("county", "other", "county", True),
])
async def test_kind_and_tier_must_agree(client, world, tier, kind, region_attr, ok):
    region = getattr(world, region_attr)
    body = {"name": "某调解组织", "tier": tier, "kind": kind, "region_code": region}
    r = await client.post(f"{API}/orgs", json=body, headers=world.h("admin"))
    if ok:
        assert r.status_code == 201, r.text
        org = r.json()
        uuid.UUID(org["id"])
        assert {k: org[k] for k in ("name", "tier", "kind", "region_code", "county_code")} == {
            "name": "某调解组织", "tier": tier, "kind": kind, "region_code": region, "county_code": "511325"}
        r = await client.get(f"{API}/orgs/{org['id']}", headers=world.h("admin"))
        assert r.json() == org
    else:
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "tier"
        assert r.json()["errors"][0]["message"].startswith(f"a {kind} sits at tier ")


@pytest.mark.parametrize("tier,kind,region_attr,level", [
    ("village", "village_committee", "town_a", "township"),
    ("township", "township_committee", "village_a1", "village"),
    ("township", "industry_committee", "county", "county"),
    ("county", "county_center", "town_b", "township"),
    ("village", "other", "county", "county"),
])
async def test_an_orgs_region_must_be_of_its_tiers_level(client, world, tier, kind, region_attr, level):
    body = {"name": "某调解组织", "tier": tier, "kind": kind, "region_code": getattr(world, region_attr)}
    r = await client.post(f"{API}/orgs", json=body, headers=world.h("admin"))
    assert r.status_code == 422
    want = {"village": "village", "township": "township", "county": "county"}[tier]
    assert r.json()["errors"] == [{"field": "region_code",
                                   "message": f"a {tier}-tier organisation sits in a {want} region, not a {level}"}]


async def test_org_region_in_short_form_is_answered_in_12_digits(client, world):
    r = await client.post(f"{API}/orgs", json={"name": "太平镇道路交通事故调委会", "tier": "township",
                                              "kind": "industry_committee", "region_code": "511325101"},
                          headers=world.h("admin"))
    assert r.status_code == 201
    assert (r.json()["region_code"], r.json()["region_name"], r.json()["county_code"]) == (
        "511325101000", "太平镇", "511325")


@pytest.mark.parametrize("body,fields", [
    ({"name": "", "tier": "village", "kind": "village_committee", "region_code": "511325101201"}, ["name"]),
    ({"name": "x", "tier": "hamlet", "kind": "village_committee", "region_code": "511325101201"}, ["tier"]),
    ({"name": "x", "tier": "village", "kind": "guild", "region_code": "511325101201"}, ["kind"]),
    ({"name": "x", "tier": "village", "kind": "village_committee", "region_code": "5113"}, ["region_code"]),
    ({"name": "x", "tier": "village", "kind": "village_committee", "region_code": "51132510120x"}, ["region_code"]),
    ({"name": "", "tier": "hamlet", "kind": "guild", "region_code": "x"}, ["name", "tier", "kind", "region_code"]),
])
async def test_bad_orgs_are_422_naming_every_field(client, world, body, fields):
    r = await client.post(f"{API}/orgs", json=body, headers=world.h("admin"))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == fields


async def test_org_in_an_unknown_region_is_422(client, world):
    r = await client.post(f"{API}/orgs", json={"name": "x", "tier": "village", "kind": "village_committee",
                                              "region_code": "511325101299"}, headers=world.h("admin"))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "region_code", "message": "region 511325101299 is not registered"}]


def _names(world, body) -> set[str]:
    by_id = {str(v): k for k, v in world.orgs.items()}
    return {by_id.get(i["id"], i["name"]) for i in body["items"]}


@pytest.mark.parametrize("query,expected", [
    ({"region": "511325101"}, {"town_a", "village_a1", "village_a2"}),
    ({"region": "511325101000"}, {"town_a", "village_a1", "village_a2"}),
    ({"region": "511325"}, {"county_center", "town_a", "town_b", "village_a1", "village_a2", "village_b1"}),
    ({"region": "511325101201"}, {"village_a1"}),
    ({"region": "5113"}, {"county_center", "town_a", "town_b", "village_a1", "village_a2", "village_b1",
                          "other_county"}),
    ({"tier": "village"}, {"village_a1", "village_a2", "village_b1", "other_county"}),
    ({"tier": "township"}, {"town_a", "town_b"}),
    ({"tier": "county"}, {"county_center"}),
    ({"region": "511325", "tier": "township"}, {"town_a", "town_b"}),
    ({"region": "511324", "tier": "township"}, set()),
    ({"q": "太平"}, {"town_a", "village_a1", "village_a2"}),
])
async def test_org_list_filters(client, world, query, expected):
    r = await client.get(f"{API}/orgs", params=query, headers=world.h("admin"))
    assert r.status_code == 200, r.text
    assert _names(world, r.json()) == expected
    assert r.json()["total"] == len(expected)


async def test_org_list_filters_stay_inside_the_callers_scope(client, world):
    r = await client.get(f"{API}/orgs", params={"region": "5113", "tier": "village"}, headers=world.h("village_a1"))
    assert _names(world, r.json()) == {"village_a1", "village_a2", "village_b1"}
    r = await client.get(f"{API}/orgs", params={"region": "511325"}, headers=world.h("bureau_town_a"))
    assert _names(world, r.json()) == {"town_a", "village_a1", "village_a2"}


@pytest.mark.parametrize("query,field", [({"tier": "hamlet"}, "tier"), ({"region": "abc"}, "region"),
                                         ({"limit": 0}, "limit"), ({"limit": 501}, "limit")])
async def test_bad_org_list_parameters_are_422(client, world, query, field):
    r = await client.get(f"{API}/orgs", params=query, headers=world.h("admin"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("who", ["admin", "village_a1", "bureau_town_a"])
async def test_org_list_with_limit_1_walks_every_org_once(client, world, who):
    everything = (await client.get(f"{API}/orgs?limit=500", headers=world.h(who))).json()
    seen, cursor = [], None
    for _ in range(20):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/orgs", params=params, headers=world.h(who))).json()
        assert len(page["items"]) == 1
        assert page["total"] == everything["total"]
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in everything["items"]]
    assert len(set(seen)) == everything["total"]


async def test_org_list_order_is_by_region(client, world):
    items = (await client.get(f"{API}/orgs?limit=500", headers=world.h("admin"))).json()["items"]
    assert [i["region_code"] for i in items] == sorted(i["region_code"] for i in items)


# ---------------------------------------------------------------- mediators

async def test_mediators_add_and_list(client, world):
    org = world.orgs["town_a"]
    r = await client.post(f"{API}/orgs/{org}/mediators", json={"name": " 王调解 ", "phone": "13912345678"},
                          headers=world.h("admin"))
    assert r.status_code == 201, r.text
    added = r.json()
    assert {k: added[k] for k in ("org_id", "name", "phone", "active")} == {
        "org_id": str(org), "name": "王调解", "phone": "139****5678", "active": True}
    r = await client.post(f"{API}/orgs/{org}/mediators", json={"name": "李调解"}, headers=world.h("admin"))
    assert r.status_code == 201
    assert r.json()["phone"] is None
    r = await client.get(f"{API}/orgs/{org}/mediators", headers=world.h("town_b"))
    assert r.status_code == 200
    body = r.json()
    assert [(m["name"], m["phone"]) for m in body["items"]] == [
        ("太平调解员", "138****0001"), ("王调解", "139****5678"), ("李调解", None)]
    assert body["total"] == 3 and body["next_cursor"] is None
    assert body["items"][1]["id"] == added["id"]
    # the new mediator can be named in a session of a dispute held there
    from tests.conftest import register

    d = await register(client, world, "town_a")
    import datetime as dt

    r = await client.post(f"{API}/disputes/{d['id']}/sessions", headers=world.h("town_a"), json={
        "held_at": dt.datetime.now(dt.UTC).isoformat(), "method": "online",
        "mediator_ids": [added["id"]], "summary": "线上调解"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("body,field", [
    ({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"name": "x", "phone": "call me"}, "phone"),
    ({"name": "x", "phone": "12"}, "phone"), ({"phone": "13912345678"}, "name"),
])
async def test_bad_mediators_are_422(client, world, body, field):
    r = await client.post(f"{API}/orgs/{world.orgs['town_a']}/mediators", json=body, headers=world.h("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert (await client.get(f"{API}/orgs/{world.orgs['town_a']}/mediators", headers=world.h("admin"))).json()[
        "total"] == 1


async def test_mediators_of_an_unknown_org_are_404(client, world):
    ghost = uuid.uuid4()
    assert (await client.get(f"{API}/orgs/{ghost}/mediators", headers=world.h("admin"))).status_code == 404
    r = await client.post(f"{API}/orgs/{ghost}/mediators", json={"name": "x"}, headers=world.h("admin"))
    assert r.status_code == 404


@pytest.mark.parametrize("q,expected", [
    ("%", set()), ("_", set()), ("\\", set()), ("太平_村", set()), ("一村", {"village_a1", "village_b1"}),
    ("调解委员会", {"town_a", "town_b", "village_a1", "village_a2", "village_b1", "other_county"}),
])
async def test_org_name_search_is_literal_text(client, world, q, expected):
    r = await client.get(f"{API}/orgs", params={"q": q}, headers=world.h("admin"))
    assert r.status_code == 200
    assert _names(world, r.json()) == expected


async def test_admin_deactivates_renames_and_reactivates_a_mediator(client, world):
    org, mediator = world.orgs["village_a1"], world.mediators["village_a1"]
    url = f"/api/v1/orgs/{org}/mediators/{mediator}"
    r = await client.patch(url, json={"active": False, "name": "王秀英"}, headers=world.h("admin"))
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["active"], r.json()["phone"]) == ("王秀英", False, "138****0001")
    listed = (await client.get(f"/api/v1/orgs/{org}/mediators", headers=world.h("village_a1"))).json()["items"]
    assert [(m["name"], m["active"]) for m in listed] == [("王秀英", False)]
    r = await client.patch(url, json={"active": True}, headers=world.h("admin"))
    assert (r.json()["name"], r.json()["active"]) == ("王秀英", True)
    audit = (await client.get("/api/v1/audit", params={"actor": "token:admin"}, headers=world.h("admin"))).json()
    assert [e["action"] for e in audit["items"]][:2] == ["mediator.update", "mediator.update"]


async def test_only_admin_changes_mediators_and_unknown_ones_are_404(client, world):
    org, mediator = world.orgs["village_a1"], world.mediators["village_a1"]
    url = f"/api/v1/orgs/{org}/mediators/{mediator}"
    assert (await client.patch(url, json={"active": False}, headers=world.h("village_a1"))).status_code == 403
    other = f"/api/v1/orgs/{org}/mediators/{world.mediators['village_a2']}"
    assert (await client.patch(other, json={"active": False}, headers=world.h("admin"))).status_code == 404
    bad = await client.patch(url, json={"phone": "abc"}, headers=world.h("admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "phone"


async def test_mediators_page_by_joining_order_with_a_cursor(client, world):
    org = world.orgs["town_a"]
    for name in ("甲调解", "乙调解", "丙调解"):
        r = await client.post(f"{API}/orgs/{org}/mediators", json={"name": name}, headers=world.h("admin"))
        assert r.status_code == 201
    first = (await client.get(f"{API}/orgs/{org}/mediators", params={"limit": 2}, headers=world.h("admin"))).json()
    assert [m["name"] for m in first["items"]] == ["太平调解员", "甲调解"]
    assert first["total"] == 4 and first["next_cursor"]
    rest = (await client.get(f"{API}/orgs/{org}/mediators", params={"limit": 2, "cursor": first["next_cursor"]},
                             headers=world.h("admin"))).json()
    assert [m["name"] for m in rest["items"]] == ["乙调解", "丙调解"]
    assert rest["total"] == 4 and rest["next_cursor"] is None
    r = await client.get(f"{API}/orgs/{org}/mediators", params={"limit": 501}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit"


async def test_org_and_mediator_times_are_answered_in_beijing_time(client, world):
    """API.md: every time in RFC 3339 with the +08:00 offset (these were answered in UTC)."""
    orgs = (await client.get(f"{API}/orgs", headers=world.h("admin"))).json()["items"]
    assert orgs and all(o["created_at"].endswith("+08:00") for o in orgs)
    mediators = (await client.get(f"{API}/orgs/{world.orgs['village_a1']}/mediators", headers=world.h("admin"))).json()
    assert mediators["items"] and all(m["created_at"].endswith("+08:00") for m in mediators["items"])
