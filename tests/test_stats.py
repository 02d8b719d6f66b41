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
