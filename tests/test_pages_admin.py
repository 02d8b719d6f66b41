"""Admin pages: users (create, lift a lockout, disable, reset a password), orgs and
mediators, and the court-handoff page with a retry for dead deliveries."""

from __future__ import annotations

import re

from mediation import web_sessions
from tests.conftest import register
from tests.court_helpers import make_court
from tests.page_helpers import PASSWORD, post_form, sign_in, user


async def signed_in_admin(client, world):
    await user(world, "root", role="admin", org=None)
    assert (await sign_in(client, "root")).status_code == 303


async def test_a_mediator_may_not_open_the_admin_pages(client, world):
    await user(world, "wang")
    await sign_in(client, "wang")
    assert (await client.get("/ui/admin/users")).status_code == 403
    assert (await client.get("/ui/admin/orgs")).status_code == 403


async def test_an_admin_creates_a_user_who_can_then_sign_in(client, world, pool):
    await signed_in_admin(client, world)
    r = await post_form(client, "/ui/admin/users", "/ui/admin/users",
                        {"username": "li", "role": "mediator", "org_id": str(world.orgs["town_a"]),
                         "region": "", "password": "short"})
    assert r.status_code == 422 and "密码至少 8 个字符" in r.text and 'value="li"' in r.text
    r = await post_form(client, "/ui/admin/users", "/ui/admin/users",
                        {"username": "li", "role": "mediator", "org_id": str(world.orgs["town_a"]),
                         "region": "", "password": "long enough 1"})
    assert r.status_code == 303
    assert await pool.fetchval("SELECT org_id FROM users WHERE username = 'li'") == world.orgs["town_a"]
    signed = await web_sessions.sign_in("li", "long enough 1")
    assert signed.user.principal.org_id == world.orgs["town_a"]


async def test_an_admin_lifts_a_lockout_from_the_users_page(client, world, pool):
    await user(world, "wang")
    for _ in range(web_sessions.LOCK_AFTER_FAILURES):
        try:
            await web_sessions.sign_in("wang", "bad guess 1")
        except web_sessions.SignInRefused:
            pass
        except web_sessions.AccountLocked:
            break
    await signed_in_admin(client, world)
    page = await client.get("/ui/admin/users")
    assert "已锁定" in page.text
    uid = await pool.fetchval("SELECT id FROM users WHERE username = 'wang'")
    r = await post_form(client, "/ui/admin/users", f"/ui/admin/users/{uid}/unlock", {})
    assert r.status_code == 303
    assert await pool.fetchval("SELECT locked_at FROM users WHERE id = $1", uid) is None
    assert (await web_sessions.sign_in("wang", PASSWORD)).user.username == "wang"
    actor = await pool.fetchval("SELECT actor FROM audit_log WHERE action = 'user.unlock'")
    assert actor == f"user:{await pool.fetchval('SELECT id FROM users WHERE username = $1', 'root')}"


async def test_disabling_a_user_ends_their_sessions_and_a_reset_password_works(client, world, pool):
    await user(world, "wang")
    signed = await web_sessions.sign_in("wang", PASSWORD)
    await signed_in_admin(client, world)
    uid = signed.user.id
    await post_form(client, "/ui/admin/users", f"/ui/admin/users/{uid}/disable", {})
    assert await web_sessions.user_of(signed.token) is None
    await post_form(client, "/ui/admin/users", f"/ui/admin/users/{uid}/enable", {})
    r = await post_form(client, "/ui/admin/users", f"/ui/admin/users/{uid}/password", {"password": "brand new 42"})
    assert r.status_code == 303
    assert (await web_sessions.sign_in("wang", "brand new 42")).user.id == uid


async def test_an_admin_creates_an_org_and_adds_a_mediator(client, world, pool):
    await signed_in_admin(client, world)
    r = await post_form(client, "/ui/admin/orgs", "/ui/admin/orgs",
                        {"name": "大全二村人民调解委员会", "tier": "village", "kind": "village_committee",
                         "region_code": "5113251022"})
    assert r.status_code == 422 and 'value="大全二村人民调解委员会"' in r.text
    r = await post_form(client, "/ui/admin/orgs", "/ui/admin/orgs",
                        {"name": "大全镇物业纠纷调委会", "tier": "township", "kind": "industry_committee",
                         "region_code": world.town_b})
    assert r.status_code == 303
    org_url = r.headers["location"].split("?")[0]
    r = await post_form(client, org_url, f"{org_url}/mediators", {"name": "周八", "phone": "13900000000"})
    assert r.status_code == 303
    page = await client.get(org_url)
    assert "周八" in page.text and "大全镇物业纠纷调委会" in page.text


async def test_the_court_page_shows_referrals_with_delivery_state_and_an_admin_retries_a_dead_one(
        client, world, pool):
    court = await make_court(client, world)
    d = await register(client, world)
    r = await client.post(f"/api/v1/disputes/{d['id']}/refer", json={"court_id": court.id, "reason": "起诉"},
                          headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    await pool.execute("UPDATE webhook_outbox SET status = 'dead', dead_at = now(), attempts = 12, "
                       "last_error = 'HTTP 500'")
    message_id = await pool.fetchval("SELECT id FROM webhook_outbox")

    await user(world, "wang")
    await sign_in(client, "wang")
    page = await client.get("/ui/court")
    assert page.status_code == 200
    assert d["case_no"] in page.text and "引导诉讼" in page.text and "送达失败" in page.text
    assert "重新送达" not in page.text  # mediators see the state, not the retry

    client.cookies.clear()
    await signed_in_admin(client, world)
    page = await client.get("/ui/court")
    assert re.search(rf'action="/ui/court/deliveries/{message_id}/retry"', page.text)
    r = await post_form(client, "/ui/court", f"/ui/court/deliveries/{message_id}/retry", {})
    assert r.status_code == 303
    assert await pool.fetchval("SELECT status FROM webhook_outbox") == "pending"
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'retry'") == 1


async def test_the_user_and_token_forms_offer_committees_and_courts_by_name(client, world, monkeypatch):
    court = await make_court(client, world)
    await signed_in_admin(client, world)
    for path in ("/ui/admin/users", "/ui/admin/tokens"):
        page = (await client.get(path)).text
        org_select = re.search(r'<select id="f-org_id" name="org_id"[^>]*>(.*?)</select>', page, re.S).group(1)
        assert f'<option value="{world.orgs["village_a1"]}">' in org_select
        assert re.search(rf'<option value="{world.orgs["town_a"]}">[^<]+（乡镇\(街道\)）</option>', org_select)
    tokens_page = (await client.get("/ui/admin/tokens")).text
    assert f'<option value="{court.id}">西充县人民法院（川1325）</option>' in tokens_page
    # past MAX_CHOICES the form takes a pasted id, and a wrong one is named on the field
    from api.pages import admin
    monkeypatch.setattr(admin, "MAX_CHOICES", 1)
    page = (await client.get("/ui/admin/tokens")).text
    assert '<input id="f-org_id" name="org_id" type="text"' in page and '<select id="f-org_id"' not in page
    r = await post_form(client, "/ui/admin/tokens", "/ui/admin/tokens",
                        {"name": "x", "role": "mediator", "org_id": "not-an-id", "region": "", "court_id": ""})
    assert r.status_code == 422 and 'id="f-org_id-err"' in r.text


async def test_an_admin_creates_a_token_sees_it_once_and_revokes_it(client, world, pool):
    await signed_in_admin(client, world)
    r = await post_form(client, "/ui/admin/tokens", "/ui/admin/tokens",
                        {"name": "", "role": "mediator", "org_id": "", "region": "", "court_id": ""})
    assert r.status_code == 422 and "mediator 角色的token需要 --org" in r.text   # the catalogue's Chinese
    r = await post_form(client, "/ui/admin/tokens", "/ui/admin/tokens",
                        {"name": "村务平台", "role": "mediator", "org_id": str(world.orgs["village_a1"]),
                         "region": "", "court_id": ""})
    assert r.status_code == 200
    token = re.search(r'<code class="secret">(tj_[^<]+)</code>', r.text).group(1)
    assert (await client.get("/api/v1/disputes", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    listing = await client.get("/ui/admin/tokens")
    assert "村务平台" in listing.text and token not in listing.text
    r = await post_form(client, "/ui/admin/tokens", "/ui/admin/tokens/revoke", {"name": "村务平台"})
    assert r.status_code == 303
    assert (await client.get("/api/v1/disputes", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert (await pool.fetchval("SELECT actor FROM audit_log WHERE action = 'token.revoke'")).startswith("user:")
