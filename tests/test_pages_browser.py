"""The pages in a real headless Chromium against a real server on 127.0.0.1: a village
mediator registers and escalates a dispute, the township mediator resolves it and prints
the agreement; every main page at 360 px and 1366 px without horizontal scrolling,
loading nothing from elsewhere, with no serious or critical axe-core finding.

Screenshots of the main pages are taken on every run; with TIAOJIE_SCREENSHOTS=1 they
replace those in docs/screenshots/ (shown in the README), otherwise they go to a temporary
folder, so a test run leaves the work tree as it found it."""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import urllib.parse
from pathlib import Path

import pytest

from tests.page_helpers import PASSWORD, user
from tests.test_docs_page import CHROMIUM, CHROMIUM_ARGS, _need_browser, served  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
DOCS_SHOTS = ROOT / "docs" / "screenshots"
WIDTHS = (360, 1366)
BAD_ID = "110105194912310021"
GOOD_ID = "11010519491231002X"


class Browser:
    """One Chromium page that records every request it makes."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.requests: list[str] = []
        self.failed: list[str] = []

    async def open(self, playwright):
        self.browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        self.context = await self.browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        self.page = await self.context.new_page()
        self.page.on("request", lambda req: self.requests.append(req.url))
        # a request cut short by the next navigation (a favicon, say) is not a failure
        self.page.on("requestfailed", lambda req: None if "ERR_ABORTED" in (req.failure or "")
                     else self.failed.append(f"{req.url}: {req.failure}"))
        return self.page

    def foreign(self) -> list[str]:
        origin = urllib.parse.urlsplit(self.base)[:2]
        return [u for u in self.requests if not u.startswith(("data:", "about:"))
                and urllib.parse.urlsplit(u)[:2] != origin]


async def sign_in(page, base: str, username: str) -> None:
    await page.goto(f"{base}/ui/")
    assert page.url.startswith(f"{base}/ui/signin")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_load_state()


async def sign_out(page) -> None:
    await page.get_by_role("button", name="退出").click()
    await page.wait_for_load_state()


def _shots() -> Path:
    if os.environ.get("TIAOJIE_SCREENSHOTS") == "1":
        folder = DOCS_SHOTS
    else:
        folder = Path(tempfile.gettempdir()) / "tiaojie-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def check_layout(page, name: str, findings: list) -> None:
    """No horizontal scroll at either width, a screenshot of each, and axe-core's verdict."""
    from axe_playwright_python.async_playwright import Axe

    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"
        await page.screenshot(path=str(_shots() / f"{name}-{width}.png"), full_page=width == 360)
        results = await Axe().run(page)
        for v in results.response["violations"]:
            if v["impact"] in ("serious", "critical"):
                findings.append((name, width, v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]))
    await page.set_viewport_size({"width": 1366, "height": 900})


async def open_action(page, action: str) -> None:
    await page.locator(f"details:has(form[action$='/{action}']) > summary").click()


async def submit_action(page, action: str) -> None:
    await page.locator(f"form[action$='/{action}'] button[type=submit]").click()
    await page.wait_for_load_state()


def beijing_now(plus_minutes: int = 0) -> str:
    at = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(minutes=plus_minutes)
    return at.strftime("%Y-%m-%dT%H:%M")


async def test_a_dispute_from_registration_to_the_printed_agreement(served, world, tmp_path):  # noqa: F811
    _need_browser()
    from playwright.async_api import async_playwright

    base = served
    await user(world, "cunmin", org="village_a1")
    await user(world, "zhenli", org="town_a")
    findings: list = []
    async with async_playwright() as p:
        b = Browser(base)
        page = await b.open(p)
        try:
            await page.goto(f"{base}/ui/signin")
            await check_layout(page, "signin", findings)
            await sign_in(page, base, "cunmin")
            assert page.url == f"{base}/ui/work"
            await check_layout(page, "work-empty", findings)

            # register: two parties, the first with a bad ID number
            await page.get_by_role("link", name="登记纠纷").first.click()
            await page.get_by_label("纠纷类型").select_option("neighbor")
            await page.get_by_label("纠纷来源").select_option("application")
            await page.get_by_label("简要案情").fill("王五与赵六因排水沟堵塞发生争执，双方多次口角。")
            await page.get_by_label("涉及金额（元）").fill("800")
            await page.locator("#f-parties-0-role").select_option("applicant")
            await page.locator("#f-parties-0-kind").select_option("person")
            await page.locator("#f-parties-0-name").fill("王五")
            await page.locator("#f-parties-0-id_number").fill(BAD_ID)
            await page.locator("#f-parties-0-phone").fill("13812345678")
            await page.locator("#f-parties-1-role").select_option("respondent")
            await page.locator("#f-parties-1-kind").select_option("person")
            await page.locator("#f-parties-1-name").fill("赵六")
            await page.get_by_role("button", name="登记", exact=True).click()
            await page.wait_for_load_state()
            error = page.locator("#f-parties-0-id_number-err")
            assert "GB 11643" in await error.inner_text()
            assert await page.locator("#f-parties-0-id_number").get_attribute("aria-invalid") == "true"
            assert await page.get_by_label("简要案情").input_value() == "王五与赵六因排水沟堵塞发生争执，双方多次口角。"
            assert await page.locator("#f-parties-1-name").input_value() == "赵六"
            assert await page.get_by_label("涉及金额（元）").input_value() == "800"
            await check_layout(page, "register-error", findings)
            await page.locator("#f-parties-0-id_number").fill(GOOD_ID)
            await page.get_by_role("button", name="登记", exact=True).click()
            await page.wait_for_load_state()
            assert re.search(r"/ui/disputes/[0-9a-f-]{36}\?done=registered$", page.url), page.url
            dispute_url = page.url.split("?")[0]
            assert "已登记" in await page.locator("[role=status]").inner_text()

            # a session, then escalate to the township
            await open_action(page, "sessions")
            await page.locator("#sessions-held_at").fill(beijing_now(1))
            await page.locator("#sessions-method").select_option("onsite")
            await page.get_by_label("太平调解员").check()
            await page.locator("#sessions-summary").fill("到现场查看排水沟，双方各执一词，建议由镇调委会协调。")
            await submit_action(page, "sessions")
            await page.wait_for_load_state()
            await open_action(page, "escalate")
            await page.locator("#escalate-to_org_id").select_option(label="太平镇人民调解委员会")
            await page.locator("#escalate-reason").fill("涉及村道排水，需镇里协调。")
            await submit_action(page, "escalate")
            await page.wait_for_load_state()
            assert "已上移" in await page.locator("[role=status]").inner_text()
            await check_layout(page, "dispute-escalated", findings)
            await sign_out(page)

            # the township resolves it with a written agreement
            await sign_in(page, base, "zhenli")
            assert await page.get_by_text("1 件调解中").count() == 1
            await check_layout(page, "work", findings)
            await page.goto(dispute_url)
            await open_action(page, "resolve")
            await page.locator("#resolve-agreement-form").select_option("written")
            await page.locator("#resolve-agreement-terms").fill(
                "一、赵六于2026年12月10日前疏通排水沟并赔偿王五损失800元；\n二、双方今后互谅互让，不再因此事发生争执。")
            await page.locator("#resolve-agreement-signed_at").fill(beijing_now(2))
            await page.locator("#resolve-agreement-amount").fill("800")
            await page.locator("#resolve-agreement-performance_due").fill("2026-12-10")
            await submit_action(page, "resolve")
            await page.wait_for_load_state()
            assert "已记录调解成功" in await page.locator("[role=status]").inner_text()
            await check_layout(page, "dispute-resolved", findings)

            # the agreement, printed: one A4 page with the parties' full names
            await page.get_by_role("link", name="人民调解协议书").click()
            await page.wait_for_load_state()
            await check_layout(page, "agreement", findings)
            await page.emulate_media(media="print")
            text = await page.locator("article.paper").inner_text()
            assert "王五" in text and "赵六" in text and GOOD_ID in text and "人民调解员（签名）" in text
            pdf = await page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
            (tmp_path / "agreement.pdf").write_bytes(pdf)
            await page.emulate_media(media="screen")
            await page.goto(f"{dispute_url}/print/file")
            await check_layout(page, "case-file", findings)
            await page.goto(f"{base}/ui/disputes?q=王五")
            await check_layout(page, "search", findings)
        finally:
            await b.browser.close()
    pages = re.findall(rb"/Type\s*/Page(?!s)", pdf)
    assert len(pages) == 1, f"the agreement printed on {len(pages)} pages"
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert boxes and all(abs(float(w) - 595.3) < 1.5 and abs(float(h) - 842.1) < 1.5 for w, h in boxes), boxes
    assert b.foreign() == [], b.foreign()
    assert b.failed == []
    assert findings == []
    from mediation import audit

    reveals = [e for e in (await audit.list_entries(limit=100))["items"] if e["action"] == "personal_data.reveal"]
    assert len(reveals) == 2  # the agreement and the case file, each audited


@pytest.fixture(autouse=True)
def _no_frozen_clock():
    from mediation import clock

    clock.freeze(None)
    yield


async def test_the_bureau_reads_its_month_and_an_admin_retries_a_dead_delivery(served, world, client, pool):  # noqa: F811
    _need_browser()
    from playwright.async_api import async_playwright

    from mediation import clock
    from tests.conftest import register
    from tests.court_helpers import make_court

    base = served
    court = await make_court(client, world)
    first = await register(client, world)
    await register(client, world, org="village_b1", type="marriage_family")
    r = await client.post(f"/api/v1/disputes/{first['id']}/refer", json={"court_id": court.id, "reason": "起诉"},
                          headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    await pool.execute("UPDATE webhook_outbox SET status = 'dead', dead_at = now(), attempts = 12, "
                       "last_error = 'HTTP 500'")
    await user(world, "xianju", role="bureau", org=None, region=world.county)
    await user(world, "guanli", role="admin", org=None)
    month = f"{clock.now().astimezone(clock.TZ):%Y-%m}"
    findings: list = []
    async with async_playwright() as p:
        b = Browser(base)
        page = await b.open(p)
        try:
            await sign_in(page, base, "xianju")
            assert page.url == f"{base}/ui/bureau"
            await page.goto(f"{base}/ui/bureau?month={month}")
            assert await page.locator(".counts li").first.inner_text() == "2 受理"
            assert await page.locator("svg.chart").count() == 2
            await check_layout(page, "bureau-month", findings)
            await page.get_by_role("link", name="近 12 个月（环比、同比）").click()
            await page.wait_for_load_state()
            await check_layout(page, "bureau-trend", findings)
            await page.goto(f"{base}/ui/bureau/hotspots?month={month}")
            await check_layout(page, "bureau-hotspots", findings)
            await page.goto(f"{base}/ui/bureau?month={month}")
            await page.locator("a[href*='metric=received'][href*='type=marriage_family']").first.click()
            await page.wait_for_load_state()
            assert "共 1 件（与统计数字 1 对应）" in await page.locator("main").inner_text()
            await check_layout(page, "bureau-cases", findings)
            # a new case shows in the figure and its list
            await register(client, world, org="village_a2", type="marriage_family")
            await page.reload()
            assert "共 2 件（与统计数字 2 对应）" in await page.locator("main").inner_text()
            await page.goto(f"{base}/ui/bureau?month={month}")
            async with page.expect_download() as download_info:
                await page.get_by_role("link", name="下载 Excel（xlsx）").click()
            download = await download_info.value
            assert download.suggested_filename.endswith(".xlsx")
            await sign_out(page)

            await sign_in(page, base, "guanli")
            await page.goto(f"{base}/ui/court")
            await check_layout(page, "court-admin", findings)
            await page.get_by_role("button", name=re.compile("^重新送达")).click()
            await page.wait_for_load_state()
            assert "已重新排队送达" in await page.locator("[role=status]").inner_text()
            await page.goto(f"{base}/ui/admin/users")
            await check_layout(page, "admin-users", findings)
            await page.goto(f"{base}/ui/admin/orgs")
            await check_layout(page, "admin-orgs", findings)
        finally:
            await b.browser.close()
    assert await pool.fetchval("SELECT status FROM webhook_outbox") in ("pending", "delivered")
    assert b.foreign() == [], b.foreign()
    assert b.failed == []
    assert findings == []


async def test_an_id_number_is_checked_as_it_is_typed_with_the_apis_message(served, world):  # noqa: F811
    _need_browser()
    from playwright.async_api import async_playwright

    from api.messages import translate
    from mediation.idnumbers import resident_id_problem

    await user(world, "cunmin", org="village_a1")
    async with async_playwright() as p:
        b = Browser(served)
        page = await b.open(p)
        try:
            await sign_in(page, served, "cunmin")
            await page.goto(f"{served}/ui/disputes/new")
            await page.locator("#f-parties-0-kind").select_option("person")
            field = page.locator("#f-parties-0-id_number")
            await field.fill(BAD_ID)
            live = page.locator("#f-parties-0-id_number-live")
            # the words the server answers on submit, in Chinese like every page
            assert await live.inner_text() == translate(resident_id_problem(BAD_ID), "zh") == "校验码不符(GB 11643)，请核对号码"
            assert await field.get_attribute("aria-invalid") == "true"
            await field.fill(GOOD_ID)
            assert await live.is_hidden()
            assert await field.get_attribute("aria-invalid") is None
        finally:
            await b.browser.close()
    assert b.foreign() == []
