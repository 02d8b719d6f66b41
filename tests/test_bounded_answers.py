"""No answer grows with the data beyond a fixed bound (issue 11, item 1): with the fattest
disputes API.md allows (tests/fat_data.py), every list of the API — found in the OpenAPI
document, so a new list is covered too — is paged through at limit=500 and each page must
weigh at most 2 KiB plus 24 KiB an item (a list item carries 5 parties, not 200); one full
dispute with its 200 parties stays under 1 MiB. The sizes are printed (`-s`) for the
record in the issue's closing note."""

from __future__ import annotations

import asyncio

from tests.court_helpers import API, make_court
from tests.fat_data import fat_dispute, fat_entrustment

FAT = 12            # registered by the mediator; 4 of them referred to the court
ENTRUSTED = 4       # entrusted by the court
ITEM_MAX = 24 * 1024
PAGE_OVERHEAD = 2 * 1024
FULL_MAX = 1024 * 1024


async def _fat_world(client, world):
    court = await make_court(client, world, roster=["village_a1"])
    org = str(world.orgs["village_a1"])
    ids = []
    for batch in range(0, FAT, 4):
        answers = await asyncio.gather(*(client.post(f"{API}/disputes", json=fat_dispute(org, i),
                                                     headers=world.h("village_a1"))
                                         for i in range(batch, min(batch + 4, FAT))))
        assert all(a.status_code == 201 for a in answers), answers[0].text[:500]
        ids += [a.json()["id"] for a in answers]
    for dispute_id in ids[:4]:
        r = await client.post(f"{API}/disputes/{dispute_id}/refer", json={"court_id": court.id, "reason": "起诉"},
                              headers=world.h("village_a1"))
        assert r.status_code == 200, r.text[:500]
    for i in range(ENTRUSTED):
        r = await client.post(f"{API}/court/entrustments", json=fat_entrustment(org, i), headers=court.h)
        assert r.status_code == 201, r.text[:500]
    return court, ids


def _lists(app) -> list[str]:
    """Every GET operation without path parameters that takes `limit`: the lists."""
    schema = app.openapi_schema.to_schema()
    return sorted(path for path, item in schema["paths"].items()
                  if path.startswith(API) and "{" not in path and "get" in item
                  and any(p["name"] == "limit" for p in item["get"].get("parameters", [])))


async def _pages(client, path: str, headers: dict) -> list[tuple[int, int]]:
    """(items, bytes) of each page of `path` at limit=500."""
    out, cursor = [], None
    while True:
        r = await client.get(path, params={"limit": 500, **({"cursor": cursor} if cursor else {})}, headers=headers)
        if r.status_code != 200:
            return out  # a list this caller may not read, or one that needs filters (stats)
        body = r.json()
        out.append((len(body["items"]), len(r.content)))
        cursor = body.get("next_cursor")
        if not cursor:
            return out


async def test_every_list_page_stays_bounded_with_the_fattest_disputes(app, client, world):
    court, ids = await _fat_world(client, world)
    report = []
    for path in _lists(app):
        for who, headers in (("admin", world.h("admin")), ("court", court.h), ("mediator", world.h("village_a1"))):
            for n, (items, size) in enumerate(await _pages(client, path, headers), 1):
                report.append(f"{path} as {who}, page {n}: {items} items, {size:,} bytes")
                assert size <= PAGE_OVERHEAD + items * ITEM_MAX, report[-1]
    print("\n" + "\n".join(report))
    assert any("/disputes as admin" in line and f"{FAT + ENTRUSTED} items" in line for line in report)
    assert any("/court/referrals as court" in line and "4 items" in line for line in report)


async def test_a_full_dispute_with_200_fat_parties_stays_under_1_mib(client, world):
    org = str(world.orgs["village_a1"])
    r = await client.post(f"{API}/disputes", json=fat_dispute(org), headers=world.h("village_a1"))
    assert r.status_code == 201
    r = await client.get(f"{API}/disputes/{r.json()['id']}?reveal=true", headers=world.h("village_a1"))
    assert len(r.json()["parties"]) == 200
    assert len(r.content) <= FULL_MAX, len(r.content)


async def test_a_timeline_stops_growing_at_its_bound_but_courts_are_never_refused(client, world, monkeypatch):
    """A dispute's full answer carries its timeline: a mediator may not grow it past
    `lifecycle.MAX_EVENTS` (409, nothing written), while a court's acknowledgement and
    decision still land (court writes are never refused)."""
    from mediation import clock, lifecycle

    court = await make_court(client, world)
    r = await client.post(f"{API}/disputes", json=fat_dispute(str(world.orgs["village_a1"])),
                          headers=world.h("village_a1"))
    d = r.json()
    r = await client.post(f"{API}/disputes/{d['id']}/refer", json={"court_id": court.id, "reason": "起诉"},
                          headers=world.h("village_a1"))
    ref = r.json()["referrals"][0]
    monkeypatch.setattr(lifecycle, "MAX_EVENTS", 2)
    r = await client.post(f"{API}/disputes/{d['id']}/visit", json={"satisfaction": "satisfied"},
                          headers=world.h("village_a1"))
    assert r.status_code == 409, r.text
    r = await client.get(f"{API}/disputes/{d['id']}", headers=world.h("village_a1"))
    assert (r.json()["version"], len(r.json()["events"])) == (2, 2)
    r = await client.post(f"{API}/court/referrals/{ref['id']}/decision", headers=court.h, json={
        "decision": "filed", "court_case_no": "(2026)川1325民初77号", "decided_at": clock.now().isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["dispute"]["version"] == 3


def test_the_timeline_bound_keeps_a_full_dispute_under_its_size():
    """The worst full answer: 200 fat parties (about 450 KB) and MAX_EVENTS events of
    10,000 three-byte characters each."""
    from mediation import lifecycle

    assert lifecycle.MAX_EVENTS * 10_000 * 3 + 500 * 1024 <= 8 * 1024 * 1024


async def test_list_items_carry_the_first_five_parties_and_party_count_the_full_dispute_all(client, world):
    court, ids = await _fat_world(client, world)
    listed = (await client.get(f"{API}/disputes", params={"limit": 500}, headers=world.h("admin"))).json()
    assert len(listed["items"]) == FAT + ENTRUSTED
    for item in listed["items"]:
        assert (len(item["parties"]), item["party_count"]) == (5, 200)
        assert [p["role"] for p in item["parties"]] == ["applicant", "respondent", "applicant", "respondent",
                                                         "applicant"]  # the first five, in their order
        assert "events" not in item
        assert item["parties"][0]["id_number"] == "1101**********002X"  # masked in the mediator's list
    referrals = (await client.get(f"{API}/court/referrals", headers=court.h)).json()
    assert [len(r["dispute"]["parties"]) for r in referrals["items"]] == [5, 5, 5, 5]
    assert {r["dispute"]["party_count"] for r in referrals["items"]} == {200}
    assert all("events" not in r["dispute"] for r in referrals["items"])
    assert referrals["items"][0]["dispute"]["parties"][0]["id_number"] == "11010519491231002X"  # the court's own
    one = (await client.get(f"{API}/court/referrals/{referrals['items'][0]['id']}", headers=court.h)).json()
    assert (len(one["dispute"]["parties"]), one["dispute"]["party_count"]) == (200, 200)
    assert [e["kind"] for e in one["dispute"]["events"]] == ["registered", "referred"]
    full = (await client.get(f"{API}/disputes/{ids[5]}", headers=world.h("village_a1"))).json()
    assert (len(full["parties"]), full["party_count"]) == (200, 200)
