"""The bureau's month page: figures with charts, every figure a link to its cases (the
list's total equals the figure), the xlsx and csv downloads, freezing the month and the
frozen-versus-live view; mediators are kept out."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from mediation import clock
from tests.conftest import register
from tests.page_helpers import post_form, sign_in, user

NOV = dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC)
DEC = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def november(world):
    clock.freeze(NOV)
    yield
    clock.freeze(None)


async def received_figure(page_html: str) -> int:
    return int(re.search(r"<strong>(\d+)</strong> 受理", page_html).group(1))


async def test_the_bureau_sees_its_month_and_each_figure_leads_to_its_cases(client, world, november):
    for _ in range(2):
        await register(client, world)
    await register(client, world, org="village_b1", type="marriage_family")
    await register(client, world, org="other_county")  # outside the bureau's county
    clock.freeze(DEC)
    await user(world, "county", role="bureau", org=None, region=world.county)
    await sign_in(client, "county")
    assert (await client.get("/ui/")).headers["location"] == "/ui/bureau"
    page = await client.get("/ui/bureau", params={"month": "2026-11"})
    assert page.status_code == 200
    assert await received_figure(page.text) == 3
    assert '<svg viewBox="0 0 640' in page.text and 'role="img"' in page.text  # the charts, inline
    assert "太平镇" in page.text and "大全镇" in page.text
    link = re.search(r'href="(/ui/bureau/cases\?[^"]*metric=received&amp;type=marriage_family)"', page.text)
    cases = await client.get(link.group(1).replace("&amp;", "&"))
    assert cases.status_code == 200
    assert "共 1 件（与统计数字 1 对应）" in cases.text
    cases = await client.get("/ui/bureau/cases", params={"month": "2026-11", "metric": "received"})
    assert "共 3 件（与统计数字 3 对应）" in cases.text
    assert len(re.findall(r'href="/ui/disputes/[0-9a-f-]{36}"', cases.text)) == 3

    # a late registration in November changes the figure and its list
    clock.freeze(NOV)
    await register(client, world, org="village_a2")
    clock.freeze(DEC)
    page = await client.get("/ui/bureau", params={"month": "2026-11"})
    assert await received_figure(page.text) == 4


async def test_the_downloads_are_the_months_workbook_and_csv(client, world, november):
    await register(client, world)
    clock.freeze(DEC)
    await user(world, "county", role="bureau", org=None, region=world.county)
    await sign_in(client, "county")
    r = await client.get("/ui/bureau/month.xlsx", params={"month": "2026-11"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r.headers["content-disposition"]
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert len(book.sheetnames) >= 1
    r = await client.get("/ui/bureau/month.csv", params={"month": "2026-11"})
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")


async def test_freezing_the_month_shows_frozen_against_live(client, world, november, pool):
    await register(client, world)
    clock.freeze(DEC)
    await user(world, "county", role="bureau", org=None, region=world.county)
    await sign_in(client, "county")
    r = await post_form(client, "/ui/bureau?month=2026-11", "/ui/bureau/freeze",
                        {"region": world.county, "month": "2026-11"})
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "已上报（冻结）" in page.text and "上报时" in page.text and "目前没有变化" in page.text
    # once an admin reopens the month, a late record changes the live figure, not the frozen one
    r = await client.post(f"/api/v1/reports/{world.county}/2026-11/reopen", headers=world.h("admin"))
    assert r.status_code == 200, r.text
    clock.freeze(NOV)
    await register(client, world, org="village_a2", who="admin")
    clock.freeze(DEC)
    page = await client.get("/ui/bureau", params={"month": "2026-11"})
    row = re.search(r"<th scope=\"row\">受理</th>\s*<td>.*?>(\d+)</a></td>\s*<td>(\d+)</td><td><strong>([^<]+)</strong>",
                    page.text, re.S)
    assert row and row.groups() == ("2", "1", "1"), page.text[page.text.find("全部数字"):][:1500]
    assert "已重新开放" in page.text


async def test_mediators_may_not_open_the_bureau_pages(client, world):
    await user(world, "wang")
    await sign_in(client, "wang")
    assert (await client.get("/ui/bureau")).status_code == 403
    assert (await client.get("/ui/bureau/month.xlsx")).status_code == 403


async def test_the_trend_shows_twelve_months_and_the_hotspots_the_busiest_villages(client, world, november):
    for _ in range(3):
        await register(client, world)
    await register(client, world, org="village_b1", persons_involved=8)
    clock.freeze(DEC)
    await user(world, "county", role="bureau", org=None, region=world.county)
    await sign_in(client, "county")
    page = await client.get("/ui/bureau/trend", params={"month": "2026-11"})
    assert page.status_code == 200
    months = re.findall(r'<th scope="row"><a href="/ui/bureau\?region=511325000000&amp;month=(\d{4}-\d{2})">', page.text)
    assert months == [f"2026-{m:02d}" for m in range(11, 0, -1)] + ["2025-12"]
    assert re.search(r'metric=received">4</a></td>\s*<td>—</td><td>—</td>', page.text)  # October had none
    page = await client.get("/ui/bureau/hotspots", params={"month": "2026-11"})
    assert page.status_code == 200
    villages = re.findall(r'<th scope="row"><a href="/ui/bureau\?region=(\d{12})&amp;month=2026-11">', page.text)
    assert villages[:2] == [world.village_a1, world.village_b1]
    assert "群体性纠纷（5 人以上）" in page.text and len(re.findall(r'href="/ui/disputes/', page.text)) == 1


async def test_the_bureau_lists_red_and_yellow_disputes_with_their_reasons_in_words(client, world):
    one = [{"role": "applicant", "kind": "person", "name": "王五"}]  # no ID number: no repeats
    crowd = await register(client, world, persons_involved=30, parties=one)        # red: 涉及人数众多
    group = await register(client, world, org="village_b1", persons_involved=6, parties=one)  # yellow: 群体性
    await register(client, world, parties=one)                                      # green: not listed
    await register(client, world, org="other_county", persons_involved=40, parties=one)  # another county's
    await user(world, "county", role="bureau", org=None, region=world.county)
    await sign_in(client, "county")
    month = await client.get("/ui/bureau")
    assert f'href="/ui/bureau/warnings?region={world.county}"' in month.text
    page = await client.get("/ui/bureau/warnings")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="risk-(\w+)">\s*<td><a href="/ui/disputes/[^"]+">([^<]+)</a></td>\s*'
                      r'<td><span class="badge \w+">([^<]+)</span></td>\s*<td>([^<]*)</td>', page.text)
    assert sorted(rows) == sorted([
        ("red", crowd["case_no"], "红色(高危)", "涉及人数众多(30人以上)；群体性纠纷(5人以上)"),
        ("yellow", group["case_no"], "黄色(关注)", "群体性纠纷(5人以上)")])  # words, never colour alone
    assert "共 <strong>2</strong> 件" in page.text
    only_red = await client.get("/ui/bureau/warnings", params={"level": "red"})
    assert crowd["case_no"] in only_red.text and group["case_no"] not in only_red.text
    await user(world, "wang")
    await sign_in(client, "wang")
    assert (await client.get("/ui/bureau/warnings")).status_code == 403
