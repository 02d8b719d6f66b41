"""Signing in to the pages: sessions in PostgreSQL, a fresh session id at every sign-in,
the idle timeout, CSRF on every form, lockout (audited, lifted by an admin), the own
password change, and the security headers."""

from __future__ import annotations

import datetime as dt

from mediation import audit, clock, web_sessions
from mediation.access import SYSTEM
from tests.page_helpers import PASSWORD, csrf_token, post_form, sign_in, user


async def _user_id(pool, username):
    return await pool.fetchval("SELECT id FROM users WHERE username = $1", username)


async def test_signing_in_sets_an_httponly_strict_cookie_and_opens_the_work_list(client, world):
    await user(world, "wang")
    r = await sign_in(client, "wang")
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("tj_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    home = await client.get("/ui/")
    assert home.status_code == 303 and home.headers["location"] == "/ui/work"
    work = await client.get("/ui/work")
    assert work.status_code == 200
    assert "待办案件" in work.text and "太平一村人民调解委员会" in work.text


async def test_a_page_without_a_session_sends_to_sign_in_and_back(client, world):
    r = await client.get("/ui/work")
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/signin?next=%2Fui%2Fwork"
    await user(world, "wang")
    page = await client.get(r.headers["location"])
    r = await client.post("/ui/signin", data={"_csrf_token": csrf_token(page.text), "username": "wang",
                                              "password": PASSWORD, "next": "/ui/work"})
    assert r.headers["location"] == "/ui/work"


async def test_sign_in_never_redirects_off_the_site(client, world):
    await user(world, "wang")
    page = await client.get("/ui/signin?next=//evil.example/x")
    r = await client.post("/ui/signin", data={"_csrf_token": csrf_token(page.text), "username": "wang",
                                              "password": PASSWORD, "next": "https://evil.example/"})
    assert r.headers["location"] == "/ui/"


async def test_wrong_password_is_refused_with_the_username_kept(client, world):
    await user(world, "wang")
    r = await sign_in(client, "wang", "wrong password")
    assert r.status_code == 401
    assert "用户名或密码不正确" in r.text
    assert 'value="wang"' in r.text
    assert "tj_session" not in r.headers.get("set-cookie", "")


async def test_a_session_id_from_before_sign_in_is_worthless_after_it(client, world, pool):
    await user(world, "wang")
    await sign_in(client, "wang")
    before = client.cookies["tj_session"]
    # signing in again over the same browser (a planted or earlier id) yields a new id
    r = await sign_in(client, "wang")
    after = client.cookies["tj_session"]
    assert r.status_code == 303 and after != before
    assert await web_sessions.user_of(before) is None
    assert (await web_sessions.user_of(after)).username == "wang"
    client.cookies.clear()
    r = await client.get("/ui/work", cookies={"tj_session": before})
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/signin")
    assert await pool.fetchval("SELECT count(*) FROM web_sessions") == 1


async def test_sessions_end_after_the_idle_timeout(client, world):
    await user(world, "wang")
    start = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    clock.freeze(start)
    try:
        await sign_in(client, "wang")
        token = client.cookies["tj_session"]
        clock.freeze(start + dt.timedelta(minutes=29))
        assert await web_sessions.user_of(token) is not None  # touching it restarts the idle period
        clock.freeze(start + dt.timedelta(minutes=58))
        assert await web_sessions.user_of(token) is not None
        clock.freeze(start + dt.timedelta(minutes=58) + web_sessions.IDLE_TIMEOUT + dt.timedelta(seconds=1))
        assert await web_sessions.user_of(token) is None
    finally:
        clock.freeze(None)


async def test_signing_out_ends_the_session(client, world):
    await user(world, "wang")
    await sign_in(client, "wang")
    token = client.cookies["tj_session"]
    r = await post_form(client, "/ui/work", "/ui/signout", {})
    assert r.status_code == 303 and r.headers["location"] == "/ui/signin"
    assert await web_sessions.user_of(token) is None


async def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(client, world, pool):
    await user(world, "wang")
    await sign_in(client, "wang")
    r = await client.post("/ui/password", data={"current": PASSWORD, "new": "another pass 1",
                                                "new_repeat": "another pass 1"})
    assert r.status_code == 403
    assert "CSRF" in r.text
    r = await client.post("/ui/password", data={"_csrf_token": "forged" * 10, "current": PASSWORD,
                                                "new": "another pass 1", "new_repeat": "another pass 1"})
    assert r.status_code == 403
    assert await pool.fetchval("SELECT password_changed_at FROM users WHERE username = 'wang'") is None
    # sign-in itself is a form too
    client.cookies.clear()
    r = await client.post("/ui/signin", data={"username": "wang", "password": PASSWORD})
    assert r.status_code == 403


async def test_the_bearer_api_needs_no_csrf_token(client, world):
    from tests.conftest import dispute_body

    r = await client.post("/api/v1/disputes", json=dispute_body(world), headers=world.h("village_a1"))
    assert r.status_code == 201


async def test_lockout_after_five_failures_is_audited_and_an_admin_lifts_it(client, world, pool):
    await user(world, "wang")
    for _ in range(web_sessions.LOCK_AFTER_FAILURES - 1):
        assert (await sign_in(client, "wang", "nope nope")).status_code == 401
    r = await sign_in(client, "wang", "nope nope")
    assert r.status_code == 423
    assert "已锁定" in r.text
    # now even the right password is refused
    r = await sign_in(client, "wang")
    assert r.status_code == 423
    uid = await _user_id(pool, "wang")
    actions = [e["action"] for e in reversed((await audit.list_entries(limit=50))["items"])
               if e["entity_id"] == str(uid)]
    assert actions == ["user.create", *["user.signin_failed"] * 5, "user.lockout", "user.signin_refused_locked"]
    await web_sessions.unlock(SYSTEM, uid)
    assert (await sign_in(client, "wang")).status_code == 303
    assert await pool.fetchval("SELECT failed_signins FROM users WHERE id = $1", uid) == 0
    assert (await audit.list_entries(limit=1, actor="system"))["items"][0]["action"] == "user.unlock"


async def test_an_unknown_username_gets_the_same_answer_as_a_wrong_password(client, world):
    r = await sign_in(client, "nobody", "whatever1")
    assert r.status_code == 401 and "用户名或密码不正确" in r.text


async def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(client, world, app):
    import httpx

    await user(world, "wang")
    await sign_in(client, "wang")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await sign_in(other, "wang")
        other_token = other.cookies["tj_session"]
    r = await post_form(client, "/ui/password", "/ui/password",
                        {"current": "wrong one", "new": "short", "new_repeat": "short"})
    assert r.status_code == 422
    assert "当前密码不正确" in r.text and "密码至少 8 个字符" in r.text
    r = await post_form(client, "/ui/password", "/ui/password",
                        {"current": PASSWORD, "new": "a new secret 2", "new_repeat": "a new secret 2"})
    assert r.status_code == 200 and "密码已修改" in r.text
    assert await web_sessions.user_of(other_token) is None
    assert (await client.get("/ui/work")).status_code == 200  # this session goes on
    client.cookies.clear()
    assert (await sign_in(client, "wang", "a new secret 2")).status_code == 303


async def test_every_page_carries_the_security_headers_and_the_docs_page_its_own(client, world):
    r = await client.get("/ui/signin")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    assert "content-security-policy" not in (await client.get("/schema")).headers
    assert (await client.get("/static/ui/app.css")).headers["x-content-type-options"] == "nosniff"


async def test_the_session_yields_the_users_principal(client, world, pool):
    await user(world, "county", role="bureau", org=None, region=world.county)
    signed = await web_sessions.sign_in("county", PASSWORD)
    p = signed.user.principal
    assert (p.role, p.region_code, p.region_prefix, p.org_id) == ("bureau", world.county, "511325", None)
    assert p.actor == f"user:{await _user_id(pool, 'county')}"
