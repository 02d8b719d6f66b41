"""Personal data (API.md "Personal data"): masked for every role in every answer, shown in
full only on `?reveal=true` to admins and the holding org's mediators, every full view and
every change in the audit log, and a refused change leaves no trace."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import VALID_ID, dispute_body, register

API = "/api/v1"
PHONE = "13812345678"
MASKED_ID = "1101**********002X"
MASKED_PHONE = "138****5678"
CREDIT_CODE = "91350100M000100Y43"
MASKED_CREDIT = "9135**********0Y43"

READERS = ["admin", "bureau_county", "bureau_town_a", "town_a", "village_a1"]


def _parties():
    return [
        {"role": "applicant", "kind": "person", "name": "张三", "id_number": VALID_ID, "phone": PHONE},
        {"role": "respondent", "kind": "organization", "name": "某某建材有限公司", "id_number": CREDIT_CODE,
         "phone": "0817-3312345"},
        {"role": "third_party", "kind": "person", "name": "王五"},
    ]


def _assert_masked(parties):
    assert [(p["name"], p["id_number"], p["phone"]) for p in parties] == [
        ("张三", MASKED_ID, MASKED_PHONE),
        ("某某建材有限公司", MASKED_CREDIT, "081****2345"),   # stored as 08173312345
        ("王五", None, None),
    ]


def _assert_nothing_in_full(text: str):
    for secret in (VALID_ID, PHONE, CREDIT_CODE, "0817-3312345", "08173312345", "19491231"):
        assert secret not in text


async def _audit(client, world, **params):
    r = await client.get(f"{API}/audit", params={"limit": 500, **params}, headers=world.h("admin"))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
async def moved(client, world):
    """Registered at 太平一村, escalated to 太平镇 (town_a now holds it)."""
    d = await register(client, world, "village_a1", parties=_parties())
    r = await client.post(f"{API}/disputes/{d['id']}/escalate",
                          json={"to_org_id": str(world.orgs["town_a"]), "reason": "上移"}, headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    _assert_masked(r.json()["parties"])
    _assert_nothing_in_full(r.text)
    return r.json()


async def test_registration_answer_is_masked(client, world):
    r = await client.post(f"{API}/disputes", json=dispute_body(world, parties=_parties()), headers=world.h("village_a1"))
    assert r.status_code == 201, r.text
    _assert_masked(r.json()["parties"])
    _assert_nothing_in_full(r.text)


@pytest.mark.parametrize("who", READERS)
async def test_get_and_list_are_masked_for_every_role(client, world, moved, who):
    r = await client.get(f"{API}/disputes/{moved['id']}", headers=world.h(who))
    assert r.status_code == 200, r.text
    _assert_masked(r.json()["parties"])
    _assert_nothing_in_full(r.text)
    r = await client.get(f"{API}/disputes", headers=world.h(who))
    assert r.status_code == 200
    (item,) = r.json()["items"]
    _assert_masked(item["parties"])
    _assert_nothing_in_full(r.text)
    # searching by the number itself does not echo it
    r = await client.get(f"{API}/disputes", params={"q": VALID_ID}, headers=world.h(who))
    assert r.status_code == 200
    _assert_nothing_in_full(r.text)


@pytest.mark.parametrize("action,body", [
    ("sessions", lambda w: {"held_at": dt.datetime.now(dt.UTC).isoformat(), "method": "phone",
                            "mediator_ids": [str(w.mediators["town_a"])], "summary": "电话沟通"}),
    ("assign", lambda w: {"to_org_id": str(w.orgs["village_a2"]), "reason": "交办太平二村"}),
    ("resolve", lambda w: {"agreement": {"form": "written", "terms": "李四赔偿张三3000元",
                                         "signed_at": dt.datetime.now(dt.UTC).isoformat(), "amount": "3000"}}),
    ("fail", lambda w: {"reason": "双方分歧较大", "channel": "litigation"}),
    ("withdraw", lambda w: {"reason": "申请人撤回"}),
    ("reject", lambda w: {"reason": "不属于受理范围"}),
])
async def test_transition_answers_are_masked(client, world, moved, action, body):
    r = await client.post(f"{API}/disputes/{moved['id']}/{action}", json=body(world), headers=world.h("town_a"))
    assert r.status_code == 200, r.text
    _assert_masked(r.json()["parties"])
    _assert_nothing_in_full(r.text)


async def test_admin_transition_answer_is_masked_too(client, world, moved):
    r = await client.post(f"{API}/disputes/{moved['id']}/withdraw", json={"reason": "撤回"}, headers=world.h("admin"))
    assert r.status_code == 200, r.text
    _assert_masked(r.json()["parties"])


async def test_mediator_phones_are_masked(client, world):
    for who in ("admin", "village_a1", "bureau_county"):
        r = await client.get(f"{API}/orgs/{world.orgs['village_a1']}/mediators", headers=world.h(who))
        assert r.status_code == 200
        assert [m["phone"] for m in r.json()["items"]] == ["138****0001"]
        assert "13800000001" not in r.text
    r = await client.post(f"{API}/orgs/{world.orgs['village_a1']}/mediators", json={"name": "王调解", "phone": PHONE},
                          headers=world.h("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["phone"] == MASKED_PHONE


# ---------------------------------------------------------------- reveal

@pytest.mark.parametrize("who,status", [
    ("admin", 200),
    ("town_a", 200),         # holds the dispute
    ("village_a1", 403),     # handled it earlier
    ("bureau_county", 403),
    ("bureau_town_a", 403),
    ("village_a2", 404),
    ("bureau_other", 404),
])
async def test_reveal_only_for_admin_and_the_holding_org(client, world, moved, who, status):
    before = (await _audit(client, world, dispute_id=moved["id"]))["total"]
    r = await client.get(f"{API}/disputes/{moved['id']}?reveal=true", headers=world.h(who))
    assert r.status_code == status, r.text
    entries = await _audit(client, world, dispute_id=moved["id"])
    reveals = [e for e in entries["items"] if e["action"] == "personal_data.reveal"]
    if status == 200:
        assert [(p["id_number"], p["phone"]) for p in r.json()["parties"]] == [
            (VALID_ID, PHONE), (CREDIT_CODE, "08173312345"), (None, None)]
        actor = "token:admin" if who == "admin" else f"token:m-{who}"
        assert [(e["actor"], e["dispute_id"], e["entity"], e["entity_id"]) for e in reveals] == [
            (actor, moved["id"], "dispute", moved["id"])]
        assert (await _audit(client, world, dispute_id=moved["id"]))["total"] == before + 1
    else:
        _assert_nothing_in_full(r.text)
        assert reveals == []
        assert (await _audit(client, world, dispute_id=moved["id"]))["total"] == before


async def test_reveal_false_is_masked_and_not_audited(client, world, moved):
    before = (await _audit(client, world, dispute_id=moved["id"]))["total"]
    r = await client.get(f"{API}/disputes/{moved['id']}?reveal=false", headers=world.h("admin"))
    assert r.status_code == 200
    _assert_masked(r.json()["parties"])
    assert (await _audit(client, world, dispute_id=moved["id"]))["total"] == before


async def test_each_reveal_writes_one_entry(client, world, moved):
    for _ in range(3):
        r = await client.get(f"{API}/disputes/{moved['id']}", params={"reveal": "true"}, headers=world.h("town_a"))
        assert r.status_code == 200
    r = await client.get(f"{API}/disputes/{moved['id']}", params={"reveal": "true"}, headers=world.h("admin"))
    assert r.status_code == 200
    mine = await _audit(client, world, dispute_id=moved["id"], actor="token:m-town_a")
    assert [e["action"] for e in mine["items"]] == ["personal_data.reveal"] * 3
    assert mine["total"] == 3
    admins = await _audit(client, world, dispute_id=moved["id"], actor="token:admin")
    assert [e["action"] for e in admins["items"]] == ["personal_data.reveal"]


async def test_list_has_no_reveal(client, world, moved):
    r = await client.get(f"{API}/disputes?reveal=true", headers=world.h("admin"))
    assert r.status_code == 422   # a parameter the list does not declare is refused, not ignored
    assert r.json()["errors"] == [{"field": "reveal", "message": "is not a parameter of this request"}]
    _assert_nothing_in_full(r.text)


# ---------------------------------------------------------------- the audit log of changes

async def test_every_change_is_in_the_audit_log(client, world):
    admin = world.h("admin")
    r = await client.post(f"{API}/regions", json={"code": "511325101203", "name": "太平三村"}, headers=admin)
    assert r.status_code == 201
    r = await client.post(f"{API}/orgs", json={"name": "太平三村人民调解委员会", "tier": "village",
                                              "kind": "village_committee", "region_code": "511325101203"}, headers=admin)
    assert r.status_code == 201, r.text
    org = r.json()
    r = await client.post(f"{API}/orgs/{org['id']}/mediators", json={"name": "赵六", "phone": PHONE}, headers=admin)
    assert r.status_code == 201
    mediator = r.json()
    d = await register(client, world, "village_a1", parties=_parties())
    r = await client.post(f"{API}/disputes/{d['id']}/sessions", headers=world.h("village_a1"), json={
        "held_at": dt.datetime.now(dt.UTC).isoformat(), "method": "onsite",
        "mediator_ids": [str(world.mediators["village_a1"])], "summary": "首次调解"})
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/disputes/{d['id']}/escalate", headers=world.h("village_a1"),
                          json={"to_org_id": str(world.orgs["town_a"]), "reason": "上移"})
    assert r.status_code == 200
    r = await client.post(f"{API}/disputes/{d['id']}/resolve", headers=world.h("admin"), json={
        "agreement": {"form": "oral", "terms": "互相谅解", "signed_at": dt.datetime.now(dt.UTC).isoformat()}})
    assert r.status_code == 200, r.text

    admin_entries = (await _audit(client, world, actor="token:admin"))["items"]
    assert [(e["action"], e["entity"], e["entity_id"]) for e in reversed(admin_entries)] == [
        ("region.create", "region", "511325101203"),
        ("org.create", "org", org["id"]),
        ("mediator.create", "mediator", mediator["id"]),
        ("dispute.resolved", "dispute", d["id"]),
    ]
    on_dispute = (await _audit(client, world, dispute_id=d["id"]))["items"]
    assert [(e["actor"], e["action"]) for e in reversed(on_dispute)] == [
        ("token:m-village_a1", "dispute.register"),
        ("token:m-village_a1", "dispute.session"),
        ("token:m-village_a1", "dispute.escalated"),
        ("token:admin", "dispute.resolved"),
    ]
    assert on_dispute[-1]["detail"] == {"case_no": d["case_no"]}
    assert [e["detail"].get("version") for e in reversed(on_dispute[:-1])] == [2, 3, 4]
    # the log itself holds no personal data
    r = await client.get(f"{API}/audit?limit=500", headers=admin)
    _assert_nothing_in_full(r.text)


async def test_audit_filters_and_pages(client, world):
    for _ in range(3):
        await register(client, world, "village_a1")
    everything = await _audit(client, world, actor="token:m-village_a1")
    assert everything["total"] == 3
    seen, cursor = [], None
    while True:
        params = {"actor": "token:m-village_a1", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"{API}/audit", params=params, headers=world.h("admin"))).json()
        assert page["total"] == 3
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in everything["items"]]
    assert (await _audit(client, world, actor="token:nobody"))["total"] == 0


# ---------------------------------------------------------------- refused changes leave no trace

REFUSALS = [
    # (action, body, status)
    ("performance", {"status": "performed", "checked_at": "NOW"}, 409),          # not resolved
    ("visit", {"satisfaction": "satisfied"}, 409),                               # not concluded
    ("sessions", {"held_at": "NOW", "method": "onsite", "mediator_ids": ["M"], "summary": "x", "version": 1}, 409),
    ("sessions", {"held_at": "NOW", "method": "teleport", "mediator_ids": ["M"], "summary": "x"}, 422),
    ("sessions", {"held_at": "NOW", "method": "onsite", "mediator_ids": ["OTHER"], "summary": "x"}, 422),
    ("escalate", {"to_org_id": "VILLAGE", "reason": "下移不是上移"}, 422),
    ("assign", {"to_org_id": "FOREIGN", "reason": "外县"}, 422),
    ("resolve", {"agreement": {"form": "written", "terms": "x", "signed_at": "FUTURE"}}, 422),
    ("withdraw", {"reason": "x", "note": "长" * 10_001}, 422),
    ("withdraw", {"reason": "x", "at": "PAST"}, 422),
]


def _fill(value, world):
    now = dt.datetime.now(dt.UTC)
    subs = {"NOW": now.isoformat(), "FUTURE": (now + dt.timedelta(hours=1)).isoformat(),
            "PAST": (now - dt.timedelta(days=400)).isoformat(), "M": str(world.mediators["town_a"]),
            "OTHER": str(world.mediators["village_a1"]), "VILLAGE": str(world.orgs["village_a2"]),
            "FOREIGN": str(world.orgs["other_county"])}
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return subs.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize("action,body,status", REFUSALS, ids=[f"{a}-{s}-{i}" for i, (a, _, s) in enumerate(REFUSALS)])
async def test_a_refused_change_changes_nothing(client, world, moved, action, body, status):
    url = f"{API}/disputes/{moved['id']}"
    before = (await client.get(url, headers=world.h("admin"))).json()
    audit_before = await _audit(client, world)
    r = await client.post(f"{url}/{action}", json=_fill(body, world), headers=world.h("town_a"))
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    after = (await client.get(url, headers=world.h("admin"))).json()
    assert after == before
    assert await _audit(client, world) == audit_before


async def test_a_refused_registry_change_writes_nothing(client, world):
    admin = world.h("admin")
    audit_before = await _audit(client, world)
    r = await client.post(f"{API}/orgs", json={"name": "错层级", "tier": "county", "kind": "village_committee",
                                              "region_code": world.village_a1}, headers=admin)
    assert r.status_code == 422
    r = await client.post(f"{API}/regions", json={"code": world.town_a, "name": "重复"}, headers=admin)
    assert r.status_code == 409
    r = await client.post(f"{API}/orgs/{world.orgs['village_a1']}/mediators", json={"name": "x", "phone": "abc"},
                          headers=admin)
    assert r.status_code == 422
    r = await client.post(f"{API}/disputes", json=dispute_body(world, type="gossip"), headers=world.h("village_a1"))
    assert r.status_code == 422
    assert await _audit(client, world) == audit_before
    assert (await client.get(f"{API}/disputes", headers=admin)).json()["total"] == 0
