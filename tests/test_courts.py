"""The court registry (API.md "Registry"): courts with their token and webhook secret
shown once, admin-only writes, a list every role reads, webhook URL changes that
re-enable delivery, secret rotation with a 24-hour overlap, and the roster."""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid

import pytest
from standardwebhooks import Webhook

from mediation import clock, db
from referrals import courts, outbox
from tests.court_helpers import API, count, make_court, outbox_rows

NON_ADMINS = ("village_a1", "bureau_county")


@pytest.fixture(autouse=True)
def thaw():
    yield
    clock.freeze(None)


def _secret_key(secret: str) -> bytes:
    assert secret.startswith("whsec_")
    return base64.b64decode(secret.removeprefix("whsec_"), validate=True)


async def test_admin_registers_a_court_and_sees_token_and_secret_once(client, world):
    r = await client.post(f"{API}/courts", json={"name": "西充县人民法院", "code": "川1325", "region_code": "511325",
                                                 "webhook_url": "https://court.test/hooks"}, headers=world.h("admin"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "西充县人民法院"
    assert body["code"] == "川1325"
    assert body["region_code"] == "511325000000"
    assert body["webhook_url"] == "https://court.test/hooks"
    assert body["webhook_disabled_at"] is None
    assert body["api_token"].startswith("tj_")
    assert len(_secret_key(body["webhook_secret"])) == 32
    Webhook(body["webhook_secret"])  # the Standard Webhooks library accepts it as is

    # the secret is stored as the current one; the token is not stored in the clear
    async with db.connection() as conn:
        secrets = await conn.fetch("SELECT secret, expires_at FROM court_secrets WHERE court_id = $1", uuid.UUID(body["id"]))
        tokens = await conn.fetch("SELECT role, court_id, token_hash FROM api_tokens WHERE court_id = $1",
                                  uuid.UUID(body["id"]))
    assert [(s["secret"], s["expires_at"]) for s in secrets] == [(body["webhook_secret"], None)]
    assert [(t["role"], str(t["court_id"])) for t in tokens] == [("court", body["id"])]
    assert tokens[0]["token_hash"] != body["api_token"]

    for who in ("admin", "village_a1"):
        again = await client.get(f"{API}/courts/{body['id']}", headers=world.h(who))
        assert again.status_code == 200, again.text
        assert "api_token" not in again.json() and "webhook_secret" not in again.json()
        assert body["webhook_secret"] not in again.text

    # the token is a working court token
    r = await client.get(f"{API}/court/referrals", headers={"Authorization": f"Bearer {body['api_token']}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "total": 0, "next_cursor": None}


async def test_two_courts_get_different_tokens_and_secrets(client, world):
    a = await make_court(client, world, "川1325")
    b = await make_court(client, world, "川1324", name="仪陇县人民法院", region_code="511324")
    assert a.token != b.token and a.secret != b.secret


@pytest.mark.parametrize("who", NON_ADMINS)
async def test_only_admin_writes_the_court_registry(client, world, who):
    court = await make_court(client, world)
    h = world.h(who)
    attempts = [
        client.post(f"{API}/courts", json={"name": "某法院", "code": "川1324", "region_code": "511324"}, headers=h),
        client.patch(f"{API}/courts/{court.id}", json={"webhook_url": "https://x.test/"}, headers=h),
        client.post(f"{API}/courts/{court.id}/secrets", headers=h),
        client.post(f"{API}/courts/{court.id}/roster", json={"org_id": str(world.orgs["village_a1"])}, headers=h),
        client.delete(f"{API}/courts/{court.id}/roster/{world.orgs['village_a1']}", headers=h),
    ]
    for attempt in attempts:
        r = await attempt
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    assert await count("SELECT count(*) FROM courts") == 1
    assert await count("SELECT count(*) FROM court_secrets") == 1
    assert await count("SELECT count(*) FROM court_roster") == 0
    assert await count("SELECT count(*) FROM courts WHERE webhook_url IS NOT NULL") == 0


async def test_a_court_token_may_not_write_the_registry_either(client, world):
    court = await make_court(client, world)
    r = await client.post(f"{API}/courts/{court.id}/secrets", headers=court.h)
    assert r.status_code == 403
    r = await client.patch(f"{API}/courts/{court.id}", json={"webhook_url": "https://evil.test/"}, headers=court.h)
    assert r.status_code == 403


async def test_every_role_lists_the_courts_with_public_fields(client, world):
    a = await make_court(client, world, "川1325", webhook_url="https://court.test/hooks")
    b = await make_court(client, world, "川1324", name="仪陇县人民法院", region_code="511324")
    for who in ("village_a1", "bureau_county", "bureau_other"):
        r = await client.get(f"{API}/courts", headers=world.h(who))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == 2 and body["next_cursor"] is None
        assert body["items"] == [
            {"id": b.id, "name": "仪陇县人民法院", "code": "川1324", "region_code": "511324000000"},
            {"id": a.id, "name": "西充县人民法院", "code": "川1325", "region_code": "511325000000"},
        ]
    r = await client.get(f"{API}/courts", headers=a.h)
    assert [c["code"] for c in r.json()["items"]] == ["川1324", "川1325"]
    # the admin also sees where webhooks go
    r = await client.get(f"{API}/courts", headers=world.h("admin"))
    assert [c["webhook_url"] for c in r.json()["items"]] == [None, "https://court.test/hooks"]
    # by region, and a page at a time
    r = await client.get(f"{API}/courts", params={"region": "511325"}, headers=world.h("village_a1"))
    assert [c["code"] for c in r.json()["items"]] == ["川1325"]
    r = await client.get(f"{API}/courts", params={"limit": 1}, headers=world.h("village_a1"))
    first = r.json()
    assert [c["code"] for c in first["items"]] == ["川1324"] and first["total"] == 2
    r = await client.get(f"{API}/courts", params={"limit": 1, "cursor": first["next_cursor"]},
                         headers=world.h("village_a1"))
    assert [c["code"] for c in r.json()["items"]] == ["川1325"] and r.json()["next_cursor"] is None


async def test_unknown_court_is_404(client, world):
    missing = uuid.uuid4()
    r = await client.get(f"{API}/courts/{missing}", headers=world.h("village_a1"))
    assert r.status_code == 404
    r = await client.patch(f"{API}/courts/{missing}", json={"webhook_url": None}, headers=world.h("admin"))
    assert r.status_code == 404
    r = await client.post(f"{API}/courts/{missing}/secrets", headers=world.h("admin"))
    assert r.status_code == 404
    r = await client.get(f"{API}/courts/{missing}/roster", headers=world.h("admin"))
    assert r.status_code == 404
    # 404 comes before the body is even read
    r = await client.post(f"{API}/courts/{missing}/roster", content=b"{not json", headers={
        **world.h("admin"), "content-type": "application/json"})
    assert r.status_code == 404


@pytest.mark.parametrize(("body", "bad"), [
    ({"name": "某法院", "code": "1325", "region_code": "511325"}, ["code"]),
    ({"name": "某法院", "code": "川132", "region_code": "511325"}, ["code"]),
    ({"name": "某法院", "code": "X1325", "region_code": "511325"}, ["code"]),
    ({"name": "", "code": "川1325", "region_code": "5113"}, ["name"]),
    ({"name": "某法院", "code": "川1325", "region_code": "51132"}, ["region_code"]),
    ({"name": "某法院", "code": "川1325", "region_code": "511325", "webhook_url": "ftp://court.test/"}, ["webhook_url"]),
    ({"name": "某法院", "code": "川1325", "region_code": "511325", "webhook_url": "court.test/hooks"}, ["webhook_url"]),
    ({"name": "某法院", "code": "川1325", "region_code": "511325", "webhook_url": "https://"}, ["webhook_url"]),
    ({"name": "某法院", "code": "川1325", "region_code": "511325", "webhook_url": "https://a b.test/"}, ["webhook_url"]),
    ({"name": " ", "code": "川", "region_code": "x", "webhook_url": "mailto:a@b"}, ["name", "region_code", "webhook_url"]),
])
async def test_court_values_are_checked(client, world, body, bad):
    r = await client.post(f"{API}/courts", json=body, headers=world.h("admin"))
    assert r.status_code == 422, r.text
    assert sorted(e["field"] for e in r.json()["errors"]) == sorted(bad)
    assert await count("SELECT count(*) FROM courts") == 0
    assert await count("SELECT count(*) FROM api_tokens WHERE role = 'court'") == 0


@pytest.mark.parametrize("code", ["川1325", "川13", "川", "京0105", "沪74", "兵0101", "最高法"])
async def test_court_codes_of_every_level_are_accepted(client, world, code):
    r = await client.post(f"{API}/courts", json={"name": "某法院", "code": code, "region_code": "511325"},
                          headers=world.h("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["code"] == code


async def test_court_region_must_exist_and_code_is_unique(client, world):
    r = await client.post(f"{API}/courts", json={"name": "某法院", "code": "川1326", "region_code": "511326"},
                          headers=world.h("admin"))
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["region_code"]
    await make_court(client, world, "川1325")
    r = await client.post(f"{API}/courts", json={"name": "另一法院", "code": "川1325", "region_code": "511325"},
                          headers=world.h("admin"))
    assert r.status_code == 409
    assert await count("SELECT count(*) FROM courts") == 1
    assert await count("SELECT count(*) FROM api_tokens WHERE role = 'court'") == 1


async def test_patch_sets_the_url_re_enables_and_releases_held_events(client, world):
    court = await make_court(client, world)
    cid = uuid.UUID(court.id)
    later = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    async with db.transaction() as conn:
        held = await outbox.enqueue(conn, court_id=cid, event_type="referral.created", data={"dispute_id": "x"})
        done = await outbox.enqueue(conn, court_id=cid, event_type="referral.created", data={"dispute_id": "y"})
        await conn.execute("UPDATE webhook_outbox SET next_attempt_at = $1", later)
        await conn.execute("UPDATE webhook_outbox SET status = 'delivered', delivered_at = now() WHERE id = $1", done)
        await conn.execute("UPDATE courts SET webhook_url = 'https://old.test/', webhook_disabled_at = now()")
    now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    clock.freeze(now)
    r = await client.patch(f"{API}/courts/{court.id}", json={"webhook_url": "https://new.test/hooks"},
                           headers=world.h("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["webhook_url"] == "https://new.test/hooks"
    assert r.json()["webhook_disabled_at"] is None
    rows = {row["id"]: row for row in await outbox_rows()}
    assert rows[held]["next_attempt_at"] == now
    assert rows[done]["next_attempt_at"] == later  # delivered events stay as they were
    assert await count("SELECT count(*) FROM courts WHERE webhook_disabled_at IS NULL") == 1


async def test_patch_may_clear_the_url_and_checks_it(client, world):
    court = await make_court(client, world, webhook_url="https://court.test/hooks")
    r = await client.patch(f"{API}/courts/{court.id}", json={"webhook_url": "javascript:alert(1)"},
                           headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "webhook_url"
    r = await client.patch(f"{API}/courts/{court.id}", json={}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "webhook_url"
    r = await client.patch(f"{API}/courts/{court.id}", json={"webhook_url": None}, headers=world.h("admin"))
    assert r.status_code == 200 and r.json()["webhook_url"] is None


async def test_rotation_keeps_the_previous_secret_valid_for_24_hours(client, world):
    t0 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    clock.freeze(t0)
    court = await make_court(client, world)
    cid = uuid.UUID(court.id)
    r = await client.post(f"{API}/courts/{court.id}/secrets", headers=world.h("admin"))
    assert r.status_code == 201, r.text
    second = r.json()["webhook_secret"]
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", second)
    assert second != court.secret
    async with db.connection() as conn:
        assert await courts.signing_secrets(conn, cid, t0) == [second, court.secret]
        assert await courts.signing_secrets(conn, cid, t0 + dt.timedelta(hours=23, minutes=59)) == [second, court.secret]
        assert await courts.signing_secrets(conn, cid, t0 + dt.timedelta(hours=24)) == [second]
        rows = await conn.fetch("SELECT secret, expires_at FROM court_secrets WHERE court_id = $1 ORDER BY expires_at NULLS LAST",
                                cid)
    assert [(x["secret"], x["expires_at"]) for x in rows] == [(court.secret, t0 + dt.timedelta(hours=24)),
                                                              (second, None)]

    # a second rotation an hour later: the first keeps its original expiry
    clock.freeze(t0 + dt.timedelta(hours=1))
    r = await client.post(f"{API}/courts/{court.id}/secrets", headers=world.h("admin"))
    third = r.json()["webhook_secret"]
    async with db.connection() as conn:
        assert await courts.signing_secrets(conn, cid, t0 + dt.timedelta(hours=2)) == [third, second, court.secret]
        assert await courts.signing_secrets(conn, cid, t0 + dt.timedelta(hours=24, minutes=30)) == [third, second]
        assert await courts.signing_secrets(conn, cid, t0 + dt.timedelta(hours=25)) == [third]
    assert await count("SELECT count(*) FROM court_secrets WHERE expires_at IS NULL") == 1


async def test_roster_add_list_remove(client, world):
    court = await make_court(client, world)
    admin = world.h("admin")
    org = str(world.orgs["village_a1"])
    r = await client.post(f"{API}/courts/{court.id}/roster", json={"org_id": org}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["org_id"] == org and r.json()["name"] == "太平一村人民调解委员会"
    r = await client.post(f"{API}/courts/{court.id}/roster", json={"org_id": org}, headers=admin)
    assert r.status_code == 409
    r = await client.post(f"{API}/courts/{court.id}/roster", json={"org_id": str(uuid.uuid4())}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "org_id"
    await client.post(f"{API}/courts/{court.id}/roster", json={"org_id": str(world.orgs["town_a"])}, headers=admin)

    for who in ("admin", "bureau_county"):
        r = await client.get(f"{API}/courts/{court.id}/roster", headers=world.h(who))
        assert r.status_code == 200
        assert sorted(i["org_id"] for i in r.json()["items"]) == sorted([org, str(world.orgs["town_a"])])
    r = await client.get(f"{API}/courts/{court.id}/roster", headers=court.h)
    assert r.json()["total"] == 2

    r = await client.delete(f"{API}/courts/{court.id}/roster/{org}", headers=admin)
    assert r.status_code == 204
    r = await client.delete(f"{API}/courts/{court.id}/roster/{org}", headers=admin)
    assert r.status_code == 404
    r = await client.get(f"{API}/courts/{court.id}/roster", headers=admin)
    assert [i["org_id"] for i in r.json()["items"]] == [str(world.orgs["town_a"])]


async def test_registry_changes_are_audited(client, world):
    court = await make_court(client, world, roster=["village_a1"])
    await client.post(f"{API}/courts/{court.id}/secrets", headers=world.h("admin"))
    await client.patch(f"{API}/courts/{court.id}", json={"webhook_url": "https://court.test/"}, headers=world.h("admin"))
    async with db.connection() as conn:
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE actor = 'token:admin' AND entity IN ('court', 'token') ORDER BY id")]
        details = " ".join(r["detail"] for r in await conn.fetch("SELECT detail::text FROM audit_log"))
    assert actions == ["court.create", "token.create", "court.roster_add", "court.secret_rotate", "court.webhook"]
    assert court.secret not in details and court.token not in details
