"""Monthly statistics over the API: exact figures for a small hand-made month, the cases
behind each figure, scoping and refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from mediation import clock
from tests.conftest import register

API = "/api/v1"
BJ = clock.TZ
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BJ)


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(NOW.astimezone(dt.UTC))
    yield
    clock.freeze(None)


def t(day: int, hour: int = 10, month: int = 10, minute: int = 0) -> str:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=BJ).isoformat()


async def act(client, world, d, action, who, **body):
    r = await client.post(f"{API}/disputes/{d['id']}/{action}", json=body, headers=world.h(who))
    assert r.status_code == 200, r.text
    return r.json()


async def month_of(client, world, region="511325", month="2026-10", who="bureau_county"):
    r = await client.get(f"{API}/stats/monthly", params={"region": region, "month": month}, headers=world.h(who))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_small_month_counts_exactly(client, world):
    # resolved at the village, written agreement, 2.5 days
    a = await register(client, world, registered_at=t(1))
    await act(client, world, a, "resolve", "village_a1",
              agreement={"form": "written", "terms": "赔偿", "signed_at": t(3, 22), "amount": "1200.50"},
              prevented=["criminal"])
    # escalated to the town, failed there
    b = await register(client, world, registered_at=t(2), persons_involved=6)
    await act(client, world, b, "escalate", "village_a1", to_org_id=str(world.orgs["town_a"]), reason="复杂", at=t(4))
    await act(client, world, b, "fail", "town_a", reason="不成", at=t(8))
    # registered in September, still open at the end of October, overdue
    await register(client, world, registered_at=t(20, month=9), org="village_b1")
    # registered on the last minute of October, in the county itself
    await register(client, world, org="county_center", registered_at=t(31, 23, minute=59))
    # registered in November: not in October at all
    await register(client, world, registered_at=t(1, 0, month=11))

    s = await month_of(client, world)
    c = s["counts"]
    assert (c["received"], c["concluded"], c["mediated"], c["resolved"], c["failed"]) == (3, 2, 2, 1, 1)
    assert (c["open_at_end"], c["overdue_at_end"], c["escalations"], c["group_disputes_received"]) == (2, 1, 1, 1)
    assert (c["agreements_written"], c["agreement_amount"], c["prevented_criminal"]) == (1, "1200.50", 1)
    r = s["rates"]
    assert r["success_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert r["village_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert r["township_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert r["diversion_rate"] == {"numerator": 0, "denominator": 0, "rate": None}
    assert s["durations"] == {"median_days_to_resolve": 2.5, "mean_days_to_resolve": 2.5}
    assert s["by_type"]["neighbor"] == {"received": 3, "resolved": 1}
    assert s["by_source"]["application"] == 3
    assert s["by_org_kind"]["village_committee"] == {"received": 2, "resolved": 1}
    assert s["by_org_kind"]["county_center"] == {"received": 1, "resolved": 0}
    kids = {(k["region"] or {}).get("code", "unassigned"): k["counts"] for k in s["children"]}
    assert kids["511325101000"]["received"] == 2
    assert kids["511325102000"]["received"] == 0 and kids["511325102000"]["open_at_end"] == 1
    assert kids["unassigned"]["received"] == 1
    for key, value in c.items():
        if key != "agreement_amount":
            assert sum(k[key] for k in kids.values()) == value, key

    r = await client.get(f"{API}/stats/monthly/cases", params={"region": "511325", "month": "2026-10",
                         "metric": "escalations"}, headers=world.h("bureau_county"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["items"][0]["event"]["kind"] == "escalated"
    assert body["items"][0]["dispute"]["case_no"] == b["case_no"]
    assert body["items"][0]["event"]["detail"] == {"from_tier": "village", "from_org_id": str(world.orgs["village_a1"])}


async def test_event_items_carry_the_event_codes_not_its_free_text(client, world):
    """An escalation's reason may hold 10,000 characters (30 KB): the drill-down item keeps
    the event's codes and stays small; the dispute's own page has the whole timeline."""
    d = await register(client, world, registered_at=t(2))
    await act(client, world, d, "escalate", "village_a1", to_org_id=str(world.orgs["town_a"]), reason="复" * 10_000,
              at=t(4))
    r = await client.get(f"{API}/stats/monthly/cases", params={"region": "511325", "month": "2026-10",
                         "metric": "escalations"}, headers=world.h("bureau_county"))
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 1 == (await month_of(client, world))["counts"]["escalations"]
    assert len(r.content) < 2048 and "复复" not in r.text
    event = r.json()["items"][0]["event"]
    assert (event["kind"], event["detail"]["from_tier"]) == ("escalated", "village")


async def test_drill_down_totals_equal_every_figure(client, world):
    a = await register(client, world, registered_at=t(1))
    await act(client, world, a, "resolve", "village_a1",
              agreement={"form": "oral", "terms": "和解", "signed_at": t(2), "amount": "80.00"})
    await act(client, world, a, "visit", "village_a1", satisfaction="satisfied", at=t(5))
    await act(client, world, a, "performance", "village_a1", status="performed", checked_at=t(6))
    await register(client, world, org="town_a", registered_at=t(3), region_code="511325101202")
    s = await month_of(client, world)
    asks = [(k, None, v) for k, v in s["counts"].items()]
    asks += [(k, part, v[part]) for k, v in s["rates"].items()
             for part in ("numerator", "denominator")]
    for metric, part, figure in asks:
        params = {"region": "511325", "month": "2026-10", "metric": metric, "limit": 1}
        if part:
            params["part"] = part
        r = await client.get(f"{API}/stats/monthly/cases", params=params, headers=world.h("bureau_county"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["figure"] == figure, metric
        if metric != "agreement_amount":
            assert body["total"] == figure, (metric, part)


async def test_the_bureau_reads_only_inside_its_region(client, world):
    await register(client, world, registered_at=t(1))
    town = await month_of(client, world, region="511325101", who="bureau_town_a")
    assert town["counts"]["received"] == 1
    assert [k["region"]["code"] for k in town["children"]] == ["511325101201", "511325101202"]
    village = await month_of(client, world, region="511325101201", who="bureau_town_a")
    assert village["children"] == [] and village["counts"]["received"] == 1
    for who, region, status in (("bureau_town_a", "511325", 404), ("bureau_other", "511325", 404),
                                ("village_a1", "511325", 403), ("admin", "511325", 200),
                                ("bureau_county", "990000", 404)):
        r = await client.get(f"{API}/stats/monthly", params={"region": region, "month": "2026-10"},
                             headers=world.h(who))
        assert r.status_code == status, (who, region, r.text)


@pytest.mark.parametrize("params, field", [
    ({"region": "511325", "month": "2026-13"}, "month"),
    ({"region": "511325", "month": "202610"}, "month"),
    ({"region": "511325"}, "month"),
    ({"region": "5113x5", "month": "2026-10"}, "region"),
    ({"month": "2026-10"}, "region"),
])
async def test_bad_parameters_name_the_field(client, world, params, field):
    r = await client.get(f"{API}/stats/monthly", params=params, headers=world.h("bureau_county"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("params, field", [
    ({"metric": "nonsense"}, "metric"),
    ({"metric": "success_rate"}, "part"),
    ({"metric": "received", "part": "numerator"}, "part"),
    ({"metric": "received", "type": "bogus"}, "type"),
    ({"metric": "received", "child": "511324100000"}, "child"),
    ({"metric": "received", "cursor": "zzz"}, "cursor"),
])
async def test_bad_drill_down_parameters_name_the_field(client, world, params, field):
    r = await client.get(f"{API}/stats/monthly/cases", params={"region": "511325", "month": "2026-10", **params},
                         headers=world.h("bureau_county"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


async def _busy_month(client, world):
    a = await register(client, world, registered_at=t(1), type="labor")
    await act(client, world, a, "resolve", "village_a1",
              agreement={"form": "written", "terms": "付清", "signed_at": t(2, 15), "amount": "3000.00"})
    await act(client, world, a, "visit", "village_a1", satisfaction="basically_satisfied", at=t(9))
    b = await register(client, world, org="town_a", registered_at=t(5))
    await act(client, world, b, "withdraw", "town_a", reason="撤回", at=t(6))
    await register(client, world, org="county_center", registered_at=t(7), persons_involved=12)
    c = await register(client, world, registered_at=t(8))
    await act(client, world, c, "resolve", "village_a1",
              agreement={"form": "oral", "terms": "道歉", "signed_at": t(12)})
    return await month_of(client, world)


def _cell(value):
    """A JSON figure as the spreadsheet stores it."""
    if isinstance(value, str):
        return float(value)
    return value


async def test_the_xlsx_holds_the_json_figures_cell_by_cell(client, world):
    import io

    import openpyxl

    from mediation import exports, stats

    s = await _busy_month(client, world)
    r = await client.get(f"{API}/stats/monthly.xlsx", params={"region": "511325", "month": "2026-10"},
                         headers=world.h("bureau_county"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "filename*=UTF-8''511325000000-2026-10-" in r.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["汇总", "下级区域", "纠纷类型", "调解组织类型"]
    head = exports.TITLE_ROWS + 1   # the heading row, 1-based
    for ws in book.worksheets:
        assert ws["A1"].value == "区域:西充县(511325000000,县(区))"
        assert ws["A2"].value == "月份:2026-10(时区 Asia/Shanghai)"
        assert ws["A3"].value == "生成时间:2026-11-20 10:00:00"
        assert ws.freeze_panes == f"A{head + 1}"

    summary = book["汇总"]
    assert [c.value for c in summary[head]] == ["指标", "代码", "数值", "分子", "分母"]
    rows = {row[1].value: row for row in summary.iter_rows(min_row=head + 1)}
    assert len(rows) == len(stats.COUNTS) + len(stats.RATES) + 2
    for key, value in s["counts"].items():
        assert rows[key][2].value == _cell(value), key
        assert isinstance(rows[key][2].value, int | float)
    assert rows["agreement_amount"][2].value == 3000.0 and rows["agreement_amount"][2].number_format == "#,##0.00"
    for key, rate in s["rates"].items():
        cells = rows[key]
        assert (cells[2].value, cells[3].value, cells[4].value) == (rate["rate"], rate["numerator"],
                                                                    rate["denominator"]), key
        if rate["rate"] is not None:
            assert cells[2].number_format == "0.00%"
    assert rows["success_rate"][2].value == 1.0
    for key, value in s["durations"].items():
        assert rows[key][2].value == value
    assert summary.column_dimensions["A"].width >= exports.display_width("协议涉及金额(元)")

    kids = book["下级区域"]
    headings = [c.value for c in kids[head]]
    assert headings[:2] == ["区域代码", "区域名称"]
    got = [[c.value for c in row] for row in kids.iter_rows(min_row=head + 1)]
    assert len(got) == len(s["children"])
    for row, child in zip(got, s["children"], strict=True):
        assert row[0] == (child["region"]["code"] if child["region"] else None)
        assert row[1] == (child["region"]["name"] if child["region"] else exports.UNASSIGNED)
        for i, c in enumerate(stats.COUNTS):
            assert row[2 + i] == _cell(child["counts"][c.key]), c.key
        for i, rt in enumerate(stats.RATES):
            assert row[2 + len(stats.COUNTS) + i] == child["rates"][rt.key]["rate"], rt.key

    types = {row[0].value: [c.value for c in row] for row in book["纠纷类型"].iter_rows(min_row=head + 1)}
    assert list(types) == list(s["by_type"])
    for key, cell in s["by_type"].items():
        assert types[key][2:] == [cell["received"], cell["resolved"]]
    assert types["labor"][1] == "劳动争议(含欠薪)"
    kinds = {row[0].value: [c.value for c in row] for row in book["调解组织类型"].iter_rows(min_row=head + 1)}
    assert list(kinds) == list(s["by_org_kind"])
    for key, cell in s["by_org_kind"].items():
        assert kinds[key][2:] == [cell["received"], cell["resolved"]]


async def test_the_csv_holds_the_json_figures_with_a_bom(client, world):
    import csv
    import io

    s = await _busy_month(client, world)
    r = await client.get(f"{API}/stats/monthly.csv", params={"region": "511325", "month": "2026-10"},
                         headers=world.h("bureau_county"))
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    summary = {row["指标代码"]: row for row in rows if row["分组"] == "汇总"}
    for key, value in s["counts"].items():
        assert summary[key]["数值"] == str(value), key
    for key, rate in s["rates"].items():
        assert summary[key]["数值"] == ("" if rate["rate"] is None else str(rate["rate"]))
        assert (summary[key]["分子"], summary[key]["分母"]) == (str(rate["numerator"]), str(rate["denominator"]))
    kids = [row for row in rows if row["分组"] == "下级区域" and row["指标代码"] == "received"]
    assert [(k["分组代码"], k["数值"]) for k in kids] == [
        ((c["region"] or {}).get("code", "unassigned"), str(c["counts"]["received"])) for c in s["children"]]
    types = {row["分组代码"]: row["数值"] for row in rows if row["分组"] == "纠纷类型" and row["指标代码"] == "received"}
    assert types == {k: str(v["received"]) for k, v in s["by_type"].items()}
    assert {row["区域代码"] for row in rows} == {"511325000000"} and {row["月份"] for row in rows} == {"2026-10"}


async def test_exports_are_scoped_like_the_figures(client, world):
    for path in ("monthly.xlsx", "monthly.csv"):
        r = await client.get(f"{API}/stats/{path}", params={"region": "511325", "month": "2026-10"},
                             headers=world.h("bureau_other"))
        assert r.status_code == 404, r.text
        r = await client.get(f"{API}/stats/{path}", params={"region": "511325", "month": "2026-1"},
                             headers=world.h("bureau_county"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "month"


async def test_trend_gives_mom_and_yoy(client, world):
    for month, n in ((9, 2), (10, 3)):
        for day in range(1, n + 1):
            await register(client, world, registered_at=t(day, month=month))
    await register(client, world, registered_at=dt.datetime(2025, 10, 5, tzinfo=BJ).isoformat())
    r = await client.get(f"{API}/stats/trend", params={"region": "511325", "from": "2026-09", "to": "2026-10"},
                         headers=world.h("bureau_county"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"]) == ("2026-09", "2026-10")
    sep, oct_ = body["months"]
    assert (sep["counts"]["received"], oct_["counts"]["received"]) == (2, 3)
    assert sep["mom"]["counts"]["received"] is None          # August had none
    assert oct_["mom"]["counts"]["received"] == 0.5           # (3 − 2) / 2
    assert oct_["yoy"]["counts"]["received"] == 2.0           # (3 − 1) / 1
    assert oct_["mom"]["rates"]["success_rate"] is None


@pytest.mark.parametrize("params, field", [
    ({"from": "2026-10", "to": "2026-09"}, "to"),
    ({"from": "2020-01", "to": "2026-10"}, "to"),
    ({"from": "2026-1", "to": "2026-10"}, "from"),
])
async def test_trend_refusals(client, world, params, field):
    r = await client.get(f"{API}/stats/trend", params={"region": "511325", **params}, headers=world.h("bureau_county"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


async def test_hotspots_rank_regions_villages_types_and_group_disputes(client, world):
    for org, n in (("village_a2", 3), ("village_b1", 1), ("village_a1", 1)):
        for day in range(1, n + 1):
            await register(client, world, org=org, registered_at=t(day), type="labor" if org == "village_a2" else "neighbor")
    big = await register(client, world, org="town_a", registered_at=t(9), persons_involved=40)
    await register(client, world, org="village_a2", registered_at=t(9, month=9))
    r = await client.get(f"{API}/stats/hotspots", params={"region": "511325", "month": "2026-10"},
                         headers=world.h("bureau_county"))
    assert r.status_code == 200, r.text
    h = r.json()
    assert [(x["region"]["code"], x["received"]) for x in h["regions"]] == [("511325101000", 5), ("511325102000", 1)]
    assert h["regions"][0]["group_disputes_received"] == 1
    assert [(x["region"]["code"], x["received"], x["mom"]) for x in h["villages"]] == [
        ("511325101202", 3, 2.0), ("511325101201", 1, None), ("511325102201", 1, None)]
    assert [(x["type"], x["received"]) for x in h["types"][:2]] == [("neighbor", 3), ("labor", 3)]  # ties: code order
    assert len(h["types"]) == 15 and h["types"][2]["received"] == 0
    assert [(g["case_no"], g["persons_involved"]) for g in h["group_disputes"]] == [(big["case_no"], 40)]
