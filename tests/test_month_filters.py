"""The dispute list's period filters (API.md "Disputes"; issue 7 item 7): `registered_from`,
`registered_to`, `concluded_from`, `concluded_to`, `_from` inclusive and `_to` exclusive, a
date meaning the start of that day in Beijing (so `_from=2026-10-01&_to=2026-11-01` is
October), RFC 3339 times accepted; checked at the month edges, where UTC and Beijing differ."""

from __future__ import annotations

import datetime as dt

import pytest

from mediation import clock
from tests.conftest import register

API = "/api/v1/disputes"
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=clock.TZ)


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW.astimezone(dt.UTC))
    yield
    clock.freeze(None)


@pytest.fixture
async def edges(client, world) -> dict[str, str]:
    """Four disputes registered on either side of 1 October and 1 November (Beijing);
    b concluded on 31 October at 23:59, c on 1 November at 00:00."""
    ids = {}
    for key, at in (("a", "2026-09-30T23:59:59+08:00"), ("b", "2026-10-01T00:00:00+08:00"),
                    ("c", "2026-10-31T23:59:59.999+08:00"), ("d", "2026-11-01T00:00:00+08:00")):
        ids[key] = (await register(client, world, registered_at=at))["id"]
    h = world.h("village_a1")
    r = await client.post(f"{API}/{ids['b']}/resolve", headers=h, json={
        "agreement": {"form": "oral", "terms": "和解", "signed_at": "2026-10-31T23:59:00+08:00"}})
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/{ids['c']}/withdraw", headers=h, json={"reason": "撤回",
                                                                       "at": "2026-11-01T00:00:00+08:00"})
    assert r.status_code == 200, r.text
    return ids


async def listed(client, world, edges, who="admin", query: str | None = None, **params) -> list[str]:
    url = f"{API}?{query}" if query else API
    r = await client.get(url, params=params or None, headers=world.h(who))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"])
    names = {v: k for k, v in edges.items()}
    return [names[i["id"]] for i in body["items"]]


@pytest.mark.parametrize(("params", "expected"), [
    ({"registered_from": "2026-10-01", "registered_to": "2026-11-01"}, ["c", "b"]),
    ({"registered_from": "2026-10-01T00:00:00+08:00", "registered_to": "2026-11-01T00:00:00+08:00"}, ["c", "b"]),
    ({"registered_from": "2026-09-30T16:00:00Z", "registered_to": "2026-10-31T16:00:00Z"}, ["c", "b"]),
    ({"registered_from": "2026-10-01T00:00:00", "registered_to": "2026-11-01T00:00:00"}, ["c", "b"]),
    ({"registered_to": "2026-10-01"}, ["a"]),
    ({"registered_from": "2026-11-01"}, ["d"]),
    ({"registered_from": "2026-10-31T23:59:59.999+08:00"}, ["d", "c"]),
    ({"concluded_from": "2026-10-01", "concluded_to": "2026-11-01"}, ["b"]),
    ({"concluded_from": "2026-11-01"}, ["c"]),
    ({"concluded_to": "2026-10-31T23:59:00+08:00"}, []),
    ({"registered_from": "2026-10-01", "registered_to": "2026-11-01", "concluded_from": "2026-11-01"}, ["c"]),
    ({"registered_from": "2026-10-01", "status": "open"}, ["d"]),
])
async def test_period_filters_at_the_month_edges(client, world, edges, params, expected):
    assert await listed(client, world, edges, **params) == expected


async def test_an_offset_sent_with_an_unencoded_plus_is_still_read(client, world, edges):
    query = "registered_from=2026-10-01T00:00:00+08:00&registered_to=2026-11-01T00:00:00+08:00"
    assert await listed(client, world, edges, query=query) == ["c", "b"]


async def test_period_filters_keep_to_the_callers_scope(client, world, edges):
    await register(client, world, org="village_b1", registered_at="2026-10-15T10:00:00+08:00")
    assert await listed(client, world, edges, who="village_a1", registered_from="2026-10-01",
                        registered_to="2026-11-01") == ["c", "b"]
    r = await client.get(API, params={"registered_from": "2026-10-01", "registered_to": "2026-11-01"},
                         headers=world.h("bureau_county"))
    assert r.json()["total"] == 3


@pytest.mark.parametrize(("params", "field"), [
    ({"registered_from": "2026-13-01"}, "registered_from"),
    ({"registered_from": "yesterday"}, "registered_from"),
    ({"registered_to": "2026-10"}, "registered_to"),
    ({"concluded_from": "0001-01-01"}, "concluded_from"),
    ({"concluded_to": "2026-10-01T25:00:00+08:00"}, "concluded_to"),
    ({"registered_from": "2026-11-01", "registered_to": "2026-10-01"}, "registered_to"),
    ({"concluded_from": "2026-11-01", "concluded_to": "2026-11-01"}, "concluded_to"),
])
async def test_bad_period_bounds_answer_422_naming_the_parameter(client, world, params, field):
    r = await client.get(API, params=params, headers=world.h("admin"))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
