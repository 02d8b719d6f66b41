"""What the black-box probe of issue 11 tried, kept as tests: with every role that must
not see a dispute, every query parameter of every GET operation of the API (read from
the OpenAPI document, so a new list is probed too) is sent SQL, LIKE wildcards, NUL,
another scope's ids and forged cursors. No answer is a 500, and none shows the dispute,
its case number, its parties or its referral."""

from __future__ import annotations

import base64
import json
import re
import uuid

import pytest

from tests.conftest import register
from tests.court_helpers import API, make_court

MARKER = "探针标记纠纷"   # in the secret dispute's summary
PARTY = "欧阳秘密"        # a party of the secret dispute

PAYLOADS = [
    "' OR '1'='1' --",
    "1); SELECT pg_sleep(0); --",
    "%",
    "_",
    "5113%",
    "\\",
    "\x00",
    "欧阳%",
]


def forged_cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps([str(v) for v in values]).encode()).decode().rstrip("=")


@pytest.fixture
async def secret(client, world):
    """A dispute at 太平一村, referred to court A; court B, 大全一村, the other county and
    the other county's bureau must never see it."""
    court_a = await make_court(client, world)
    court_b = await make_court(client, world, "川1324", name="仪陇县人民法院", region_code="511324")
    d = await register(client, world, summary=f"{MARKER}：宅基地边界",
                       parties=[{"role": "applicant", "kind": "person", "name": PARTY, "phone": "13912345678"}])
    r = await client.post(f"{API}/disputes/{d['id']}/refer", json={"court_id": court_a.id, "reason": "起诉"},
                          headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    return {"dispute": r.json(), "referral": r.json()["referrals"][0], "court_a": court_a, "court_b": court_b}


def _get_operations(app) -> list[tuple[str, list[str]]]:
    schema = app.openapi_schema.to_schema()
    out = []
    for path, item in schema["paths"].items():
        op = item.get("get")
        if op and path.startswith(API):
            out.append((path, [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]))
    return out


def _leaks(text: str, secret: dict, asked: str = "") -> list[str]:
    """What of the secret dispute the answer shows; an id the caller sent itself may be
    echoed (a 404 names the id it did not find)."""
    d = secret["dispute"]
    ids = [i for i in (d["id"], secret["referral"]["id"]) if i not in asked]
    return [s for s in (MARKER, PARTY, d["case_no"], "13912345678", *ids) if s in text]


@pytest.mark.parametrize("who", ["village_b1", "other_county", "bureau_other", "court_b"])
async def test_no_probe_of_any_query_parameter_crosses_a_scope(app, client, world, secret, who):
    headers = secret["court_b"].h if who == "court_b" else world.h(who)
    d = secret["dispute"]
    foreign = [d["id"], d["org_id"], secret["court_a"].id, secret["referral"]["id"],
               forged_cursor(d["registered_at"], d["id"]), forged_cursor("9999-12-31T00:00:00+00:00", uuid.UUID(int=0)),
               forged_cursor("' OR 1=1 --", "x")]
    ids = {"dispute_id": d["id"], "referral_id": secret["referral"]["id"], "court_id": secret["court_a"].id,
           "org_id": d["org_id"], "code": world.county}
    probes = 0
    for path, params in _get_operations(app):
        concrete = re.sub(r"\{([^}:]+)[^}]*\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), path)
        for name in params or [None]:
            for value in ([*PAYLOADS, *foreign] if name else [None]):
                r = await client.get(concrete, params={name: value} if name else None, headers=headers)
                probes += 1
                assert r.status_code < 500, (who, concrete, name, value, r.text)
                assert not _leaks(r.text, secret, str(r.request.url)), (who, concrete, name, value, r.status_code,
                                                                         r.text[:300])
    assert probes > 100


async def test_a_forged_cursor_answers_422_naming_cursor_or_stays_in_scope(client, world, secret):
    d = secret["dispute"]
    for cursor in ("not-a-cursor", forged_cursor(1, 2, 3), forged_cursor("x", "y"), "////", "A" * 5000,
                   forged_cursor(d["registered_at"], d["id"])):
        r = await client.get(f"{API}/disputes", params={"cursor": cursor}, headers=world.h("village_b1"))
        assert r.status_code in (200, 422), r.text
        if r.status_code == 422:
            assert [e["field"] for e in r.json()["errors"]] == ["cursor"]
        else:
            assert not _leaks(r.text, secret)


async def test_sql_and_like_payloads_in_search_match_only_literal_text(client, world, secret):
    for q in ("' OR '1'='1", "%", "_", "欧阳%", "%秘密"):
        r = await client.get(f"{API}/disputes", params={"q": q}, headers=world.h("village_a1"))
        assert r.status_code == 200
        assert r.json()["total"] == 0, q
    r = await client.get(f"{API}/disputes", params={"q": "欧阳秘"}, headers=world.h("village_a1"))
    assert r.json()["total"] == 1


async def test_registry_and_court_writes_by_every_other_role_change_nothing(client, world, secret):
    court_a = secret["court_a"]
    writes = [
        ("post", f"{API}/regions", {"code": "511325103", "name": "新镇"}),
        ("post", f"{API}/orgs", {"name": "某委员会", "tier": "village", "kind": "village_committee",
                                 "region_code": world.village_a1}),
        ("post", f"{API}/courts", {"name": "某法院", "code": "川1301", "region_code": "511325"}),
        ("patch", f"{API}/courts/{court_a.id}", {"webhook_url": "https://evil.test/"}),
        ("post", f"{API}/courts/{court_a.id}/secrets", None),
        ("post", f"{API}/courts/{court_a.id}/roster", {"org_id": str(world.orgs["village_b1"])}),
        ("delete", f"{API}/courts/{court_a.id}/roster/{world.orgs['village_a1']}", None),
    ]
    callers = [world.h(w) for w in ("village_a1", "bureau_county", "other_county")] + [court_a.h,
                                                                                        secret["court_b"].h]
    r = await client.get(f"{API}/audit", params={"limit": 500}, headers=world.h("admin"))
    audit_before = r.json()["total"]
    for headers in callers:
        for method, url, body in writes:
            kwargs = {"json": body} if body is not None else {}
            r = await client.request(method.upper(), url, headers=headers, **kwargs)
            assert r.status_code in (403, 404), (method, url, r.status_code, r.text)
    r = await client.get(f"{API}/audit", params={"limit": 500}, headers=world.h("admin"))
    assert r.json()["total"] == audit_before
