"""The risk figures of the monthly statistics (METRICS.md): red and yellow at the end of
the month as they stood then, and first red warnings, each listable case by case."""

from __future__ import annotations

from tests.conftest import register as registered
from tests.court_helpers import API
from tests.test_stats import act, month_of, t


async def cases(client, world, metric: str, month: str = "2026-10") -> list[str]:
    r = await client.get(f"{API}/stats/monthly/cases", params={"region": "511325", "month": month, "metric": metric},
                         headers=world.h("bureau_county"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"])
    return sorted(i["case_no"] if "case_no" in i else i["dispute"]["case_no"] for i in body["items"])


def register(client, world, **over):
    """Parties without ID numbers: no dispute here is a repeat of another."""
    return registered(client, world, parties=[{"role": "applicant", "kind": "person", "name": "王五"}], **over)


async def test_risk_at_the_end_of_the_month_and_first_red_warnings(client, world):
    far = t(1, month=12)  # no deadline passes in October unless said
    # many people: red from registration
    crowd = await register(client, world, registered_at=t(5), persons_involved=30, deadline=far)
    # a group: yellow; assessed red in November (after the month): still yellow at October's end
    group = await register(client, world, registered_at=t(6), persons_involved=6, deadline=far)
    await act(client, world, group, "risk", "village_a1", level="red", at=t(2, month=11))
    # overdue by the end of October: yellow
    late = await register(client, world, registered_at=t(1), deadline=t(20))
    # an intake risk recorded in October, then lowered to green by a person (the intake risk gone): green at the end
    calmed = await register(client, world, registered_at=t(2), deadline=far)
    await act(client, world, calmed, "risk", "village_a1", level="green", reasons=["suicide_risk"], at=t(3))
    await act(client, world, calmed, "risk", "village_a1", level="green", at=t(9))
    # red in September, concluded in October: not open at the end, and its first red is not October's
    old = await register(client, world, registered_at=t(10, month=9), deadline=far)
    await act(client, world, old, "risk", "village_a1", level="red", at=t(11, month=9))
    await act(client, world, old, "withdraw", "village_a1", reason="撤回", at=t(3))
    # concluded in September, assessed red in October: a first red in October, not open at the end
    after = await register(client, world, registered_at=t(1, month=9), deadline=far)
    await act(client, world, after, "withdraw", "village_a1", reason="撤回", at=t(2, month=9))
    await act(client, world, after, "risk", "village_a1", level="red", at=t(15))

    c = (await month_of(client, world))["counts"]
    assert (c["red_at_end"], c["yellow_at_end"], c["warnings_raised"]) == (1, 2, 3)
    assert await cases(client, world, "red_at_end") == [crowd["case_no"]]
    assert await cases(client, world, "yellow_at_end") == sorted([group["case_no"], late["case_no"]])
    assert await cases(client, world, "warnings_raised") == sorted(
        [crowd["case_no"], calmed["case_no"], after["case_no"]])
    november = (await month_of(client, world, month="2026-11"))["counts"]
    assert (november["red_at_end"], november["warnings_raised"]) == (2, 1)
    september = (await month_of(client, world, month="2026-09"))["counts"]
    assert (september["red_at_end"], september["warnings_raised"]) == (1, 1)
