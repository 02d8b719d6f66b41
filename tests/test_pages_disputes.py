"""The mediator's pages over plain HTTP (no JavaScript): the work list, registering
through the form, the dispute page's actions, and scoping like the API's."""

from __future__ import annotations

import datetime as dt
import re

from mediation import clock
from tests.conftest import VALID_ID, register
from tests.page_helpers import post_form, post_pairs, csrf_token, sign_in, user

BAD_ID = "110105194912310021"  # check character should be X


def registration(**over) -> dict:
    form = {
        "party_count": "2", "type": "neighbor", "source": "application",
        "summary": "王五与赵六因排水沟堵塞发生争执", "occurred_on": "2026-11-20", "amount": "1200",
        "parties[0].role": "applicant", "parties[0].kind": "person", "parties[0].name": "王五",
        "parties[0].id_number": VALID_ID, "parties[0].phone": "13812345678", "parties[0].address": "太平一村3组",
        "parties[1].role": "respondent", "parties[1].kind": "person", "parties[1].name": "赵六",
        "parties[1].id_number": "", "parties[1].phone": "", "parties[1].address": "",
        "op": "save",
    }
    form.update(over)
    return form


async def signed_in_mediator(client, world, username="wang", org="village_a1"):
    await user(world, username, org=org)
    assert (await sign_in(client, username)).status_code == 303


async def test_registering_through_the_form_opens_the_new_dispute(client, world, pool):
    await signed_in_mediator(client, world)
    r = await post_form(client, "/ui/disputes/new", "/ui/disputes/new", registration())
    assert r.status_code == 303, r.text[:3000]
    assert re.fullmatch(r"/ui/disputes/[0-9a-f-]{36}\?done=registered", r.headers["location"])
    page = await client.get(r.headers["location"])
    assert page.status_code == 200
    assert "已登记" in page.text and "王五" in page.text and "赵六" in page.text
    assert VALID_ID not in page.text  # masked on the page
    row = await pool.fetchrow("SELECT org_id, amount, source FROM disputes")
    assert (row["org_id"], str(row["amount"]), row["source"]) == (world.orgs["village_a1"], "1200.00", "application")
    actor = await pool.fetchval("SELECT actor FROM audit_log WHERE action = 'dispute.register'")
    assert actor.startswith("user:")


async def test_a_bad_id_number_is_refused_in_place_and_the_form_keeps_what_was_typed(client, world, pool):
    await signed_in_mediator(client, world)
    r = await post_form(client, "/ui/disputes/new", "/ui/disputes/new",
                        registration(**{"parties[0].id_number": BAD_ID}))
    assert r.status_code == 422
    html = r.text
    # the API's message, beside the field, which is marked invalid
    field = re.search(r'<input id="f-parties-0-id_number"[^>]*>', html).group(0)
    assert f'value="{BAD_ID}"' in field and 'aria-invalid="true"' in field
    assert 'id="f-parties-0-id_number-err">校验码不符(GB 11643)，请核对号码</p>' in html
    for kept in ("王五与赵六因排水沟堵塞发生争执", 'value="王五"', 'value="赵六"', 'value="1200"', 'value="太平一村3组"'):
        assert kept in html, kept
    assert await pool.fetchval("SELECT count(*) FROM disputes") == 0


async def test_parties_are_added_and_removed_without_javascript(client, world):
    await signed_in_mediator(client, world)
    r = await post_form(client, "/ui/disputes/new", "/ui/disputes/new", registration(op="add_party"))
    assert r.status_code == 200
    assert 'name="party_count" value="3"' in r.text and 'name="parties[2].name"' in r.text
    assert 'value="王五"' in r.text
    form = registration(op="remove_party:0", party_count="3")
    form.update({"parties[2].role": "third_party", "parties[2].kind": "person", "parties[2].name": "孙七"})
    r = await post_pairs(client, "/ui/disputes/new", [("_csrf_token", csrf_token(r.text)), *form.items()])
    assert 'name="party_count" value="2"' in r.text
    assert 'value="王五"' not in r.text and 'value="赵六"' in r.text and 'value="孙七"' in r.text


async def test_another_committees_dispute_answers_404(client, world):
    other = await register(client, world, org="village_b1")
    await signed_in_mediator(client, world)
    r = await client.get(f"/ui/disputes/{other['id']}")
    assert r.status_code == 404
    assert "找不到" in r.text
    r = await post_form(client, "/ui/work", f"/ui/disputes/{other['id']}/reject", {"reason": "x"})
    assert r.status_code == 404


async def test_the_dispute_page_offers_exactly_what_its_status_allows(client, world):
    d = await register(client, world)
    await signed_in_mediator(client, world)
    page = (await client.get(f"/ui/disputes/{d['id']}")).text
    shown = re.findall(r'action="/ui/disputes/[^/]+/(\w+)"', page)
    assert shown == ["sessions", "escalate", "assign", "resolve", "fail", "refer", "withdraw", "reject"]


async def test_escalating_through_the_form_moves_the_dispute_and_the_page_says_so(client, world, pool):
    d = await register(client, world)
    await signed_in_mediator(client, world)
    r = await post_form(client, f"/ui/disputes/{d['id']}", f"/ui/disputes/{d['id']}/escalate",
                        {"version": "1", "to_org_id": str(world.orgs["town_a"]), "reason": "涉及两村，需镇里协调"})
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "已上移" in page.text and "涉及两村，需镇里协调" in page.text
    # the village may still read it but no longer act
    assert re.findall(r'action="/ui/disputes/[^/]+/(\w+)"', page.text) == []
    assert await pool.fetchval("SELECT org_id FROM disputes") == world.orgs["town_a"]


async def test_a_refused_action_shows_its_errors_in_place_and_keeps_the_input(client, world, pool):
    d = await register(client, world)
    await signed_in_mediator(client, world)
    r = await post_form(client, f"/ui/disputes/{d['id']}", f"/ui/disputes/{d['id']}/resolve",
                        {"version": "1", "agreement.form": "written", "agreement.terms": "赵六赔偿王五 800 元",
                         "agreement.signed_at": "not a time"})
    assert r.status_code == 422
    assert "<details class=\"action\" open>" in r.text
    assert 'id="resolve-agreement-signed_at-err">' in r.text
    assert "赵六赔偿王五 800 元" in r.text
    assert await pool.fetchval("SELECT status FROM disputes") == "open"


async def test_a_stale_form_is_refused_with_the_page_as_it_is_now(client, world, pool):
    d = await register(client, world)
    await signed_in_mediator(client, world)
    await client.post(f"/api/v1/disputes/{d['id']}/withdraw", json={"reason": "撤回"}, headers=world.h("village_a1"))
    r = await post_form(client, f"/ui/disputes/{d['id']}", f"/ui/disputes/{d['id']}/reject",
                        {"version": "1", "reason": "不属于调解范围"})
    assert r.status_code == 409
    assert "version" in r.text
    assert await pool.fetchval("SELECT status FROM disputes") == "withdrawn"


async def test_the_work_list_puts_red_yellow_overdue_then_due_soon_first_with_counts(client, world):
    now = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
    clock.freeze(now)
    try:
        later = await register(client, world, summary="later", deadline=(now + dt.timedelta(days=20)).isoformat())
        soon = await register(client, world, summary="soon", deadline=(now + dt.timedelta(days=2)).isoformat())
        clock.freeze(now - dt.timedelta(days=40))
        overdue = await register(client, world, summary="overdue")
        clock.freeze(now)
        red = await register(client, world, summary="red", deadline=(now + dt.timedelta(days=25)).isoformat())
        r = await client.post(f"/api/v1/disputes/{red['id']}/risk", json={"level": "red", "reasons": ["criminal_risk"]},
                              headers=world.h("village_a1"))
        assert r.status_code == 200, r.text
        await register(client, world, org="village_a2", summary="other committee")
        await signed_in_mediator(client, world)
        page = (await client.get("/ui/work")).text
    finally:
        clock.freeze(None)
    order = re.findall(r'href="/ui/disputes/([0-9a-f-]{36})"', page)
    assert order == [red["id"], overdue["id"], soon["id"], later["id"]]  # red, yellow (overdue), then by deadline
    assert "<strong>4</strong> 件调解中" in page
    assert re.search(r"<strong>(\d+)</strong> 件红色", page).group(1) == "1", page[page.find("counts"):][:800]
    # yellow: the overdue one, and the two whose applicant (the same ID number) had an earlier dispute
    assert re.search(r"<strong>(\d+)</strong> 件黄色", page).group(1) == "3"
    assert "<strong>1</strong> 件已超期" in page
    assert "<strong>1</strong> 件 3 个工作日内到期" in page


async def test_search_finds_by_party_name_within_scope(client, world):
    await register(client, world)
    await register(client, world, org="village_b1")
    await signed_in_mediator(client, world)
    r = await client.get("/ui/disputes", params={"q": "张三"})
    assert r.status_code == 200
    assert "共 1 件" in r.text
    r = await client.get("/ui/disputes", params={"status": "nonsense"})
    assert r.status_code == 422
