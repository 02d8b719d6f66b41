"""The parties' lookup page `/lookup`: no sign-in, a plain form with its CSRF token,
the same answers and limits as the API, and in a real Chromium on a phone-sized screen
with JavaScript switched off."""

from __future__ import annotations

import datetime as dt

from mediation import clock, lookup
from tests.page_helpers import post_form, post_pairs
from tests.test_docs_page import CHROMIUM, CHROMIUM_ARGS, _need_browser, served  # noqa: F401  (fixture)
from tests.test_lookup import assert_nothing_personal, case, frozen  # noqa: F401  (fixtures)


async def test_the_page_answers_with_the_right_code(client, case):
    form = await client.get("/lookup")
    assert form.status_code == 200 and "案件进度查询" in form.text and 'name="code"' in form.text
    r = await post_form(client, "/lookup", "/lookup", {"case_no": case["case_no"], "code": "5678"})
    assert r.status_code == 200, r.text[:500]
    for shown in (case["case_no"], "调解中", "太平一村人民调解委员会", "2026-12-18 09:00", lookup.NEXT_STEPS["open"][:10]):
        assert shown in r.text, shown
    assert_nothing_personal(r.text)


async def test_wrong_code_and_unknown_case_show_the_same_refusal(client, case):
    wrong = await post_form(client, "/lookup", "/lookup", {"case_no": case["case_no"], "code": "0000"})
    unknown = await post_form(client, "/lookup", "/lookup", {"case_no": "511325-2026-999999", "code": "0000"})
    assert wrong.status_code == unknown.status_code == 404
    assert lookup.NO_MATCH in wrong.text and lookup.NO_MATCH in unknown.text
    assert_nothing_personal(wrong.text)


async def test_a_missing_code_is_named_in_place(client, case):
    r = await post_form(client, "/lookup", "/lookup", {"case_no": case["case_no"], "code": ""})
    assert r.status_code == 422 and "后4位" in r.text and 'aria-invalid="true"' in r.text


async def test_the_sixth_failure_shows_when_to_try_again(client, case):
    for _ in range(5):
        assert (await post_form(client, "/lookup", "/lookup",
                                {"case_no": case["case_no"], "code": "0000"})).status_code == 404
    r = await post_form(client, "/lookup", "/lookup", {"case_no": case["case_no"], "code": "5678"})
    assert r.status_code == 429 and r.headers["retry-after"] == "3600" and "60 分钟" in r.text


async def test_the_form_needs_its_csrf_token(client, case):
    r = await post_pairs(client, "/lookup", [("case_no", case["case_no"]), ("code", "5678")])
    assert r.status_code == 403


async def test_a_phone_without_javascript_finds_its_case(served, client, case):
    _need_browser()
    from playwright.async_api import async_playwright

    clock.freeze(None)  # the server reads the real clock
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False,
                                                is_mobile=True, locale="zh-CN")
            page = await context.new_page()
            await page.goto(f"{served}/lookup")
            await page.get_by_label("案件编号").fill(case["case_no"])
            await page.get_by_label("验证码").fill("002x")
            await page.get_by_role("button", name="查询").click()
            await page.wait_for_load_state()
            text = await page.inner_text("main")
            assert "调解中" in text and "太平一村人民调解委员会" in text
            assert_nothing_personal(await page.content())
        finally:
            await browser.close()


def test_a_period_by_the_rule_reads_as_the_end_of_its_last_day():
    from api.pages.lookup import deadline_text

    assert deadline_text(dt.datetime(2025, 10, 9, 23, 59, 59, 999999, tzinfo=clock.TZ)) == "2025年10月9日24时前"
    assert deadline_text(dt.datetime(2026, 12, 18, 9, 0, tzinfo=clock.TZ)) == "2026-12-18 09:00"
    assert deadline_text(None) == ""
