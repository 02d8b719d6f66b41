"""Mediation → court and back (API.md "诉调对接"): `refer` and `confirmation` create a
referral and its `referral.created` webhook in the dispute's transaction; the court
reads its own referrals in full (audited), acknowledges and decides them, and each of
those is an event on the dispute's timeline with the next version."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from mediation import clock, db, signals
from tests.conftest import VALID_ID, register
from tests.court_helpers import (
    API,
    PHONE,
    assert_no_personal_data,
    count,
    make_court,
    new_key,
    outbox_rows,
)


@pytest.fixture(autouse=True)
def thaw():
    yield
    clock.freeze(None)


def iso(t: dt.datetime) -> str:
    return t.isoformat()


async def refer(client, world, dispute, court, who="village_a1", **over):
    body = {"court_id": court.id, "reason": "调解不成，当事人要求起诉", **over}
    return await client.post(f"{API}/disputes/{dispute['id']}/refer", json=body, headers=world.h(who))


async def referred(client, world, court) -> tuple[dict, dict]:
    d = await register(client, world)
    r = await refer(client, world, d, court)
    assert r.status_code == 200, r.text
    return r.json(), r.json()["referrals"][0]


async def resolved(client, world, *, form="written", signed_at: dt.datetime | None = None, **reg) -> dict:
    reg.setdefault("registered_at", iso(clock.now() - dt.timedelta(hours=1)))
    d = await register(client, world, **reg)
    signed_at = signed_at or clock.now() - dt.timedelta(minutes=1)
    r = await client.post(f"{API}/disputes/{d['id']}/resolve", json={"agreement": {
        "form": form, "terms": "李四于十日内赔偿张三3000元", "signed_at": iso(signed_at), "amount": "3000.00"}},
        headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    return r.json()


async def written_state() -> tuple[int, int, int]:
    return (await count("SELECT count(*) FROM referrals"), await count("SELECT count(*) FROM webhook_outbox"),
            await count("SELECT count(*) FROM dispute_events"))


# ---------------------------------------------------------------- refer

async def test_refer_creates_a_pending_litigation_referral_and_its_webhook(client, world):
    court = await make_court(client, world)
    d = await register(client, world)
    r = await refer(client, world, d, court)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "referred" and body["version"] == 2
    assert body["events"][-1]["kind"] == "referred"
    assert body["events"][-1]["detail"]["court_id"] == court.id
    [ref] = body["referrals"]
    assert ref["kind"] == "litigation" and ref["status"] == "pending" and ref["court_id"] == court.id
    assert ref["id"] == body["events"][-1]["detail"]["referral_id"]
    assert ref["created_at"] == body["events"][-1]["at"] == body["concluded_at"]

    [row] = await outbox_rows()
    assert row["event_type"] == "referral.created" and str(row["court_id"]) == court.id
    assert row["status"] == "pending"
    assert row["payload"]["type"] == "referral.created"
    assert row["payload"]["data"] == {"referral_id": ref["id"], "dispute_id": d["id"], "case_no": d["case_no"],
                                      "kind": "litigation", "status": "pending"}
    assert_no_personal_data(row["payload"])


async def test_refer_is_enqueued_even_for_a_court_without_webhook(client, world):
    court = await make_court(client, world)  # no webhook_url: the worker holds it, the court may pull
    await referred(client, world, court)
    assert [r["event_type"] for r in await outbox_rows()] == ["referral.created"]


async def test_refer_to_an_unknown_court_is_422_and_writes_nothing(client, world):
    await make_court(client, world)
    d = await register(client, world)
    before = await written_state()
    r = await client.post(f"{API}/disputes/{d['id']}/refer", json={"court_id": str(uuid.uuid4()), "reason": "起诉"},
                          headers=world.h("village_a1"))
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["court_id"]
    assert await written_state() == before


async def test_refer_reason_is_required_and_limited(client, world):
    court = await make_court(client, world)
    d = await register(client, world)
    r = await refer(client, world, d, court, reason="理" * 10_001)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["reason"]
    r = await refer(client, world, d, court, reason="  ")
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["reason"]
    r = await refer(client, world, d, court, reason="理" * 10_000)
    assert r.status_code == 200


async def test_refer_is_refused_for_a_closed_dispute_and_writes_nothing(client, world):
    court = await make_court(client, world)
    d = await resolved(client, world)
    before = await written_state()
    r = await refer(client, world, d, court)
    assert r.status_code == 409
    assert await written_state() == before
    d2, _ = await referred(client, world, court)
    before = await written_state()
    r = await refer(client, world, d2, court)
    assert r.status_code == 409
    assert await written_state() == before


async def test_refer_with_a_stale_version_is_409(client, world):
    court = await make_court(client, world)
    d = await register(client, world)
    r = await refer(client, world, d, court, version=2)
    assert r.status_code == 409
    assert await written_state() == (0, 0, 1)
    r = await refer(client, world, d, court, version=1)
    assert r.status_code == 200


async def test_only_the_holding_org_refers(client, world):
    court = await make_court(client, world)
    d = await register(client, world)
    r = await refer(client, world, d, court, who="village_a2")
    assert r.status_code == 404
    r = await refer(client, world, d, court, who="bureau_county")
    assert r.status_code == 403
    assert await written_state() == (0, 0, 1)


async def test_referral_and_webhook_commit_with_the_event_or_not_at_all(client, world):
    """A failure after the subscriber wrote them rolls the referral and outbox rows back
    with the dispute event: they share one transaction."""
    court = await make_court(client, world)
    d = await register(client, world)

    async def boom(conn, event):
        assert await conn.fetchval("SELECT count(*) FROM referrals") == 1  # written, not yet committed
        raise RuntimeError("the disk is full")

    signals.subscribe(boom)
    try:
        r = await refer(client, world, d, court)
    finally:
        signals._bus.subscribers.remove(boom)
    assert r.status_code == 500
    assert await written_state() == (0, 0, 1)
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT version FROM disputes WHERE id = $1", uuid.UUID(d["id"])) == 1


# ---------------------------------------------------------------- confirmation

async def test_confirmation_creates_a_confirmation_referral_and_webhook(client, world):
    court = await make_court(client, world)
    d = await resolved(client, world, type="marriage_family")  # the type never matters
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation", json={"court_id": court.id},
                          headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "resolved" and body["version"] == 3
    assert body["events"][-1]["kind"] == "confirmation_applied"
    [ref] = body["referrals"]
    assert (ref["kind"], ref["status"]) == ("confirmation", "pending")
    [row] = await outbox_rows()
    assert row["payload"]["data"] == {"referral_id": ref["id"], "dispute_id": d["id"], "case_no": d["case_no"],
                                      "kind": "confirmation", "status": "pending"}


async def test_confirmation_rules(client, world):
    court = await make_court(client, world)
    conf = {"court_id": court.id}
    h = world.h("village_a1")
    # not resolved
    d = await register(client, world)
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation", json=conf, headers=h)
    assert r.status_code == 409
    # oral agreement
    d = await resolved(client, world, form="oral")
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation", json=conf, headers=h)
    assert r.status_code == 409
    # unknown court: 422 before anything else
    d = await resolved(client, world)
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation", json={"court_id": str(uuid.uuid4())}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "court_id"
    # one pending at a time
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation", json=conf, headers=h)
    assert r.status_code == 200
    before = await written_state()
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation", json=conf, headers=h)
    assert r.status_code == 409
    assert await written_state() == before


async def test_confirmation_within_30_days_of_the_agreement(client, world):
    court = await make_court(client, world)
    now = clock.now()
    signed = now - dt.timedelta(days=31)
    d = await resolved(client, world, registered_at=iso(now - dt.timedelta(days=40)), signed_at=signed)
    h = world.h("village_a1")
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation", json={"court_id": court.id}, headers=h)
    assert r.status_code == 409
    assert await written_state() == (0, 0, 2)
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation",
                          json={"court_id": court.id, "at": iso(signed + dt.timedelta(days=30))}, headers=h)
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- the court reads

async def test_court_reads_its_referrals_in_full_and_is_audited(client, world):
    court = await make_court(client, world)
    d, ref = await referred(client, world, court)
    r = await client.get(f"{API}/court/referrals/{ref['id']}", headers=court.h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == ref["id"] and body["kind"] == "litigation" and body["status"] == "pending"
    assert body["created_at"] == ref["created_at"]
    assert "decision" not in body and "decided_at" not in body
    assert body["dispute"]["id"] == d["id"] and body["dispute"]["case_no"] == d["case_no"]
    assert body["dispute"]["parties"][0]["id_number"] == VALID_ID
    assert body["dispute"]["parties"][0]["phone"] == PHONE
    assert [e["kind"] for e in body["dispute"]["events"]] == ["registered", "referred"]
    # a mediator's read stays masked
    r = await client.get(f"{API}/disputes/{d['id']}", headers=world.h("village_a1"))
    assert r.json()["parties"][0]["id_number"] != VALID_ID

    r = await client.get(f"{API}/audit", params={"actor": court.actor}, headers=world.h("admin"))
    [entry] = r.json()["items"]
    assert entry["action"] == "personal_data.reveal" and entry["dispute_id"] == d["id"]


async def test_court_lists_its_referrals_by_status_a_page_at_a_time(client, world):
    court = await make_court(client, world)
    refs = [(await referred(client, world, court))[1] for _ in range(3)]
    r = await client.get(f"{API}/court/referrals", headers=court.h)
    body = r.json()
    assert body["total"] == 3
    assert [i["id"] for i in body["items"]] == [x["id"] for x in reversed(refs)]  # newest first
    assert all(i["dispute"]["parties"][0]["id_number"] == VALID_ID for i in body["items"])
    assert await count("SELECT count(*) FROM audit_log WHERE action = 'personal_data.reveal' AND actor = $1",
                       court.actor) == 3

    await client.post(f"{API}/court/referrals/{refs[0]['id']}/ack", json={}, headers=court.h)
    r = await client.get(f"{API}/court/referrals", params={"status": "pending"}, headers=court.h)
    assert sorted(i["id"] for i in r.json()["items"]) == sorted([refs[1]["id"], refs[2]["id"]])
    r = await client.get(f"{API}/court/referrals", params={"status": "acknowledged"}, headers=court.h)
    assert [i["id"] for i in r.json()["items"]] == [refs[0]["id"]]
    r = await client.get(f"{API}/court/referrals", params={"status": "decided"}, headers=court.h)
    assert r.json() == {"items": [], "total": 0, "next_cursor": None}
    r = await client.get(f"{API}/court/referrals", params={"status": "lost"}, headers=court.h)
    assert r.status_code == 422

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/court/referrals", params=params, headers=court.h)).json()
        assert page["total"] == 3
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [x["id"] for x in reversed(refs)]


async def test_a_court_sees_acknowledges_and_decides_only_its_own_referrals(client, world):
    mine = await make_court(client, world, "川1325")
    other = await make_court(client, world, "川1324", name="仪陇县人民法院", region_code="511324")
    _, ref = await referred(client, world, mine)
    url = f"{API}/court/referrals/{ref['id']}"
    r = await client.get(url, headers=other.h)
    assert r.status_code == 404
    r = await client.post(f"{url}/ack", json={"court_case_no": "(2026)川1324民初1号"}, headers=other.h)
    assert r.status_code == 404
    r = await client.post(f"{url}/decision", json={"decision": "filed", "court_case_no": "(2026)川1324民初1号",
                                                   "decided_at": iso(clock.now())}, headers=other.h)
    assert r.status_code == 404
    # 404 before the body is read
    r = await client.post(f"{url}/decision", content=b"{", headers={**other.h, "content-type": "application/json"})
    assert r.status_code == 404
    r = await client.get(f"{API}/court/referrals", headers=other.h)
    assert r.json()["total"] == 0
    r = await client.get(f"{API}/court/referrals/{uuid.uuid4()}", headers=mine.h)
    assert r.status_code == 404
    assert await count("SELECT count(*) FROM dispute_events WHERE actor LIKE 'court:%'") == 0
    assert await count("SELECT count(*) FROM audit_log WHERE actor = $1", other.actor) == 0


async def test_other_roles_do_not_use_the_court_endpoints(client, world):
    court = await make_court(client, world)
    _, ref = await referred(client, world, court)
    for who in ("village_a1", "bureau_county"):
        r = await client.get(f"{API}/court/referrals", headers=world.h(who))
        assert r.status_code == 403
        r = await client.post(f"{API}/court/referrals/{ref['id']}/ack", json={}, headers=world.h(who))
        assert r.status_code == 403
    # the admin reads every court's referrals but does not act for a court
    r = await client.get(f"{API}/court/referrals", headers=world.h("admin"))
    assert r.status_code == 200 and r.json()["total"] == 1
    r = await client.post(f"{API}/court/referrals/{ref['id']}/ack", json={}, headers=world.h("admin"))
    assert r.status_code == 403


# ---------------------------------------------------------------- ack and decision

async def test_ack_then_decision_on_the_timeline_with_exact_versions(client, world):
    court = await make_court(client, world)
    d, ref = await referred(client, world, court)
    url = f"{API}/court/referrals/{ref['id']}"
    r = await client.post(f"{url}/ack", json={"court_case_no": "(2026)川1325民诉前1号"}, headers=court.h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged"
    assert r.json()["court_case_no"] == "(2026)川1325民诉前1号"
    assert r.json()["dispute"]["version"] == 3
    r = await client.post(f"{url}/ack", json={}, headers=court.h)
    assert r.status_code == 409

    decided_at = clock.now()
    r = await client.post(f"{url}/decision", json={"decision": "filed", "court_case_no": "(2026)川1325民初88号",
                                                   "decided_at": iso(decided_at), "note": "已立案"}, headers=court.h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["decision"], body["court_case_no"]) == ("decided", "filed", "(2026)川1325民初88号")
    assert dt.datetime.fromisoformat(body["decided_at"]) == decided_at
    assert body["note"] == "已立案"

    r = await client.get(f"{API}/disputes/{d['id']}", headers=world.h("village_a1"))
    dispute = r.json()
    assert dispute["version"] == 4 and dispute["status"] == "referred"
    timeline = [(e["seq"], e["kind"], e["actor"]) for e in dispute["events"]]
    assert timeline == [(1, "registered", "token:m-village_a1"), (2, "referred", "token:m-village_a1"),
                        (3, "referral_acknowledged", court.actor), (4, "referral_decided", court.actor)]
    assert dispute["events"][2]["detail"] == {"referral_id": ref["id"], "court_case_no": "(2026)川1325民诉前1号"}
    assert dispute["events"][3]["detail"] == {"referral_id": ref["id"], "kind": "litigation", "decision": "filed",
                                              "court_case_no": "(2026)川1325民初88号", "note": "已立案"}
    assert dt.datetime.fromisoformat(dispute["events"][3]["at"]) == decided_at
    [dref] = dispute["referrals"]
    assert (dref["status"], dref["decision"], dref["court_case_no"]) == ("decided", "filed", "(2026)川1325民初88号")
    assert dispute["court_case_no"] == "(2026)川1325民初88号"   # filed: the dispute carries the court's number

    r = await client.post(f"{url}/decision", json={"decision": "not_filed", "decided_at": iso(clock.now())},
                          headers=court.h)
    assert r.status_code == 409
    assert await count("SELECT max(seq) FROM dispute_events") == 4


async def test_decision_may_follow_pending_directly(client, world):
    court = await make_court(client, world)
    _, ref = await referred(client, world, court)
    r = await client.post(f"{API}/court/referrals/{ref['id']}/decision",
                          json={"decision": "not_filed", "decided_at": iso(clock.now())}, headers=court.h)
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "not_filed" and "court_case_no" not in r.json()
    assert r.json()["dispute"]["court_case_no"] is None
    assert r.json()["dispute"]["version"] == 3
    assert [e["kind"] for e in r.json()["dispute"]["events"]] == ["registered", "referred", "referral_decided"]


async def test_decision_values_are_checked(client, world):
    court = await make_court(client, world)
    _, ref = await referred(client, world, court)
    url = f"{API}/court/referrals/{ref['id']}/decision"
    now = clock.now()
    cases = [
        ({"decision": "confirmed", "court_case_no": "(2026)川1325民初1号", "decided_at": iso(now)}, ["decision"]),
        ({"decision": "filed", "decided_at": iso(now)}, ["court_case_no"]),
        ({"decision": "filed", "court_case_no": "(2026)川1325民初1号",
          "decided_at": iso(now + dt.timedelta(hours=1))}, ["decided_at"]),
        ({"decision": "filed", "court_case_no": "(2026)川1325民初1号",
          "decided_at": iso(now - dt.timedelta(days=1))}, ["decided_at"]),
        ({"decision": "filed", "court_case_no": "号" * 101, "decided_at": iso(now)}, ["court_case_no"]),
        ({"decision": "filed", "court_case_no": "(2026)川1325民初1号", "decided_at": iso(now), "note": "注" * 10_001},
         ["note"]),
        ({"decision": "rejected", "decided_at": iso(now + dt.timedelta(days=1))}, ["decision", "court_case_no",
                                                                                  "decided_at"]),
    ]
    for body, bad in cases:
        r = await client.post(url, json=body, headers=court.h)
        assert r.status_code == 422, (body, r.text)
        assert sorted(e["field"] for e in r.json()["errors"]) == sorted(bad), body
    r = await client.post(url, json={"decision": "filed", "court_case_no": "x"}, headers=court.h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "decided_at"
    assert await count("SELECT count(*) FROM dispute_events") == 2
    assert await count("SELECT count(*) FROM referrals WHERE status = 'pending'") == 1


async def test_decision_keeps_the_number_the_acknowledgement_gave(client, world):
    court = await make_court(client, world)
    _, ref = await referred(client, world, court)
    url = f"{API}/court/referrals/{ref['id']}"
    await client.post(f"{url}/ack", json={"court_case_no": "(2026)川1325民初5号"}, headers=court.h)
    r = await client.post(f"{url}/decision", json={"decision": "filed", "decided_at": iso(clock.now())},
                          headers=court.h)
    assert r.status_code == 200, r.text
    assert r.json()["court_case_no"] == "(2026)川1325民初5号"
    assert r.json()["dispute"]["court_case_no"] == "(2026)川1325民初5号"


async def test_confirmation_decisions_and_a_new_application_after_rejection(client, world):
    court = await make_court(client, world)
    d = await resolved(client, world)
    h = world.h("village_a1")
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation", json={"court_id": court.id}, headers=h)
    ref = r.json()["referrals"][0]
    url = f"{API}/court/referrals/{ref['id']}/decision"
    r = await client.post(url, json={"decision": "filed", "court_case_no": "(2026)川1325民特1号",
                                     "decided_at": iso(clock.now())}, headers=court.h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "decision"
    r = await client.post(url, json={"decision": "rejected", "court_case_no": "(2026)川1325民特1号",
                                     "decided_at": iso(clock.now())}, headers=court.h)
    assert r.status_code == 200, r.text
    assert r.json()["dispute"]["version"] == 4
    # rejected: the parties may apply again (the pending one is decided)
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation", json={"court_id": court.id}, headers=h)
    assert r.status_code == 200, r.text
    second = next(x for x in r.json()["referrals"] if x["status"] == "pending")
    r = await client.post(f"{API}/court/referrals/{second['id']}/decision",
                          json={"decision": "confirmed", "court_case_no": "(2026)川1325民特2号",
                                "decided_at": iso(clock.now())}, headers=court.h)
    assert r.status_code == 200
    kinds = [(e["seq"], e["kind"]) for e in r.json()["dispute"]["events"]]
    assert kinds == [(1, "registered"), (2, "resolved"), (3, "confirmation_applied"), (4, "referral_decided"),
                     (5, "confirmation_applied"), (6, "referral_decided")]
    assert [o["event_type"] for o in await outbox_rows()] == ["referral.created", "referral.created"]


async def test_court_writes_are_not_held_back_by_a_frozen_month(client, world):
    court = await make_court(client, world)
    _, ref = await referred(client, world, court)
    d2 = await register(client, world)
    then = clock.now()
    # a month later the bureau freezes this month; the writes below are back-dated into it
    clock.freeze(then + dt.timedelta(days=32))
    r = await client.post(f"{API}/reports", json={"region": "511325", "month": clock.local(then).strftime("%Y-%m")},
                          headers=world.h("bureau_county"))
    assert r.status_code == 201, r.text
    r = await refer(client, world, d2, court, at=iso(then))
    assert r.status_code == 409  # the mediator is held back
    url = f"{API}/court/referrals/{ref['id']}"
    r = await client.post(f"{url}/ack", json={}, headers=court.h)
    assert r.status_code == 200, r.text
    r = await client.post(f"{url}/decision", json={"decision": "not_filed", "decided_at": iso(then)},
                          headers=court.h)
    assert r.status_code == 200, r.text


async def test_decision_with_idempotency_key_is_applied_once(client, world):
    court = await make_court(client, world)
    _, ref = await referred(client, world, court)
    url = f"{API}/court/referrals/{ref['id']}/decision"
    body = {"decision": "filed", "court_case_no": "(2026)川1325民初9号", "decided_at": iso(clock.now())}
    key = new_key()
    first = await client.post(url, json=body, headers={**court.h, "Idempotency-Key": key})
    again = await client.post(url, json=body, headers={**court.h, "Idempotency-Key": key})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert again.headers["idempotent-replayed"] == "true"
    assert await count("SELECT count(*) FROM dispute_events WHERE kind = 'referral_decided'") == 1
    r = await client.post(url, json={**body, "note": "改"}, headers={**court.h, "Idempotency-Key": key})
    assert r.status_code == 409
    # the same key on another endpoint is another request
    r = await client.post(f"{API}/court/referrals/{ref['id']}/ack", json=body, headers={**court.h,
                                                                                        "Idempotency-Key": key})
    assert r.status_code == 409


async def test_ack_needs_no_body(client, world):
    court = await make_court(client, world)
    _, ref = await referred(client, world, court)
    r = await client.post(f"{API}/court/referrals/{ref['id']}/ack", headers=court.h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged" and "court_case_no" not in r.json()
    r = await client.post(f"{API}/court/referrals/{ref['id']}/ack", headers=court.h, json={"court_case_no": 5})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "court_case_no"
