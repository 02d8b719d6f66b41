"""Every answer that shows parties in full is audited, replays of a court POST included
(issue 11, item 4): the same entrustment posted three times under one Idempotency-Key
answers the unmasked parties three times, so the audit log holds three reveals."""

from __future__ import annotations

from mediation import clock
from tests.conftest import register
from tests.court_helpers import API, PHONE, VALID_ID, entrustment_body, make_court, new_key


async def reveals(client, world, dispute_id: str) -> list[dict]:
    r = await client.get(f"{API}/audit", params={"dispute_id": dispute_id, "limit": 500}, headers=world.h("admin"))
    return [e for e in r.json()["items"] if e["action"] == "personal_data.reveal"]


async def test_each_replayed_entrustment_answer_is_audited(client, world):
    court = await make_court(client, world, roster=["village_a1"])
    body, key = entrustment_body(world), new_key()
    answers = [await client.post(f"{API}/court/entrustments", json=body, headers={**court.h, "Idempotency-Key": key})
               for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.headers.get("idempotent-replayed") for a in answers] == [None, "true", "true"]
    assert all(VALID_ID in a.text and PHONE in a.text for a in answers)
    dispute_id = answers[0].json()["id"]
    entries = await reveals(client, world, dispute_id)
    assert len(entries) == 3
    assert {e["actor"] for e in entries} == {court.actor}
    assert sorted(e["detail"].get("replayed", False) for e in entries) == [False, True, True]


async def test_each_replayed_decision_and_acknowledgement_answer_is_audited(client, world):
    court = await make_court(client, world)
    d = await register(client, world)
    r = await client.post(f"{API}/disputes/{d['id']}/refer", json={"court_id": court.id, "reason": "起诉"},
                          headers=world.h("village_a1"))
    ref = r.json()["referrals"][0]
    before = len(await reveals(client, world, d["id"]))
    ack_key, decision_key = new_key(), new_key()
    for _ in range(2):
        r = await client.post(f"{API}/court/referrals/{ref['id']}/ack", json={"court_case_no": "(2026)川1325民初1号"},
                              headers={**court.h, "Idempotency-Key": ack_key})
        assert r.status_code == 200 and VALID_ID in r.text
    body = {"decision": "filed", "decided_at": clock.now().isoformat()}
    for _ in range(3):
        r = await client.post(f"{API}/court/referrals/{ref['id']}/decision", json=body,
                              headers={**court.h, "Idempotency-Key": decision_key})
        assert r.status_code == 200 and VALID_ID in r.text
    entries = await reveals(client, world, d["id"])
    assert len(entries) - before == 5
    assert all(e["detail"]["referral_id"] == ref["id"] for e in entries[:5])


async def test_a_refused_replay_reveals_nothing_and_audits_nothing(client, world):
    court = await make_court(client, world, roster=["village_a1"])
    key = new_key()
    first = await client.post(f"{API}/court/entrustments", json=entrustment_body(world),
                              headers={**court.h, "Idempotency-Key": key})
    other = entrustment_body(world, court_case_no="(2026)川1325民初999号")
    r = await client.post(f"{API}/court/entrustments", json=other, headers={**court.h, "Idempotency-Key": key})
    assert r.status_code == 409 and VALID_ID not in r.text
    assert len(await reveals(client, world, first.json()["id"])) == 1
