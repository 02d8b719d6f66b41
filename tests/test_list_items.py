"""A list item is the dispute without its timeline, with the first 5 parties and
`party_count` (API.md, Lists) — on every list that shows disputes, the court's too; the
full dispute keeps every party."""

from __future__ import annotations

from tests.conftest import VALID_ID, dispute_body
from tests.court_helpers import API, PHONE, make_court

SEVEN = [{"role": "applicant" if i == 0 else "respondent", "kind": "person", "name": f"当事人{i}",
          **({"id_number": VALID_ID, "phone": PHONE} if i == 0 else {})} for i in range(7)]


async def seven_party_dispute(client, world) -> dict:
    r = await client.post(f"{API}/disputes", json=dispute_body(world, parties=SEVEN), headers=world.h("village_a1"))
    assert r.status_code == 201, r.text
    return r.json()


def assert_item(item: dict, *, masked: bool) -> None:
    assert "events" not in item
    assert item["party_count"] == 7
    assert [p["name"] for p in item["parties"]] == [f"当事人{i}" for i in range(5)]
    first = item["parties"][0]
    if masked:
        assert (first["id_number"], first["phone"]) == ("1101**********002X", "138****5678")
    else:
        assert (first["id_number"], first["phone"]) == (VALID_ID, PHONE)


async def test_the_registration_answer_and_the_full_dispute_show_every_party(client, world):
    d = await seven_party_dispute(client, world)
    assert (len(d["parties"]), d["party_count"], len(d["events"])) == (7, 7, 1)
    full = (await client.get(f"{API}/disputes/{d['id']}", headers=world.h("admin"))).json()
    assert (len(full["parties"]), full["party_count"], [e["kind"] for e in full["events"]]) == (7, 7, ["registered"])


async def test_every_role_s_dispute_list_cuts_parties_to_five_with_the_count(client, world):
    await seven_party_dispute(client, world)
    for who in ("admin", "village_a1", "bureau_county"):
        r = await client.get(f"{API}/disputes", headers=world.h(who))
        assert r.status_code == 200, r.text
        [item] = r.json()["items"]
        assert_item(item, masked=True)


async def test_the_court_s_referral_list_cuts_parties_to_five_unmasked(client, world):
    court = await make_court(client, world)
    d = await seven_party_dispute(client, world)
    r = await client.post(f"{API}/disputes/{d['id']}/refer", json={"court_id": court.id, "reason": "当事人要求起诉"},
                          headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    listed = await client.get(f"{API}/court/referrals", headers=court.h)
    assert listed.status_code == 200, listed.text
    [referral] = listed.json()["items"]
    assert_item(referral["dispute"], masked=False)
    one = (await client.get(f"{API}/court/referrals/{referral['id']}", headers=court.h)).json()
    assert (len(one["dispute"]["parties"]), one["dispute"]["party_count"]) == (7, 7)
    assert [e["kind"] for e in one["dispute"]["events"]] == ["registered", "referred"]
