"""Court → mediation (API.md "诉调对接"): a court entrusts a case to an organisation on
its roster (委派/委托调解) with the limits of the 2025 rules, each POST safe to repeat
under an `Idempotency-Key`, reads the result back, and hears of every ending through
`entrustment.concluded` (thin, no personal data)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid

import pytest

from mediation import clock
from mediation.workdays import NO_CALENDAR, Calendar, package_years, period_end
from tests.conftest import VALID_ID
from tests.court_helpers import (
    API,
    PHONE,
    assert_no_personal_data,
    count,
    entrustment_body,
    make_court,
    new_key,
    outbox_rows,
)

URL = f"{API}/court/entrustments"
PACKAGE_CALENDAR = Calendar.of(package_years(), [d for days in package_years().values() for d in days])


@pytest.fixture(autouse=True)
def thaw():
    yield
    clock.freeze(None)


@pytest.fixture
async def court(client, world):
    return await make_court(client, world, roster=["village_a1", "town_a"])


def t(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


async def entrust(client, world, court, key: str | None = None, **over):
    headers = {**court.h, **({"Idempotency-Key": key} if key else {})}
    return await client.post(URL, json=entrustment_body(world, **over), headers=headers)


async def test_entrustment_creates_a_court_entrusted_dispute(client, world, court):
    received = clock.now() - dt.timedelta(hours=2)
    r = await entrust(client, world, court, registered_at=received.isoformat())
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["source"] == "court_entrusted" and d["status"] == "open" and d["version"] == 1
    assert d["court_case_no"] == "(2026)川1325民初123号"
    assert d["org_id"] == str(world.orgs["village_a1"]) and d["tier"] == "village"
    assert d["region_code"] == world.village_a1
    assert d["entrustment"] == {"kind": "in_litigation", "procedure": "ordinary"}
    assert t(d["registered_at"]) == received
    # 15 days from receipt by the rule on periods (tests/test_calendar.py has the holidays)
    limit = period_end(received, 15, NO_CALENDAR if received.year > 2026 else PACKAGE_CALENDAR)
    assert t(d["deadline"]) == limit.deadline and limit.deadline.time() == dt.time(23, 59, 59, 999999)
    assert d["parties"][0]["id_number"] == VALID_ID and d["parties"][0]["phone"] == PHONE  # unmasked for the court
    [event] = d["events"]
    assert (event["seq"], event["kind"], event["actor"]) == (1, "entrusted", court.actor)
    assert event["detail"] == {"source": "court_entrusted", "court_id": court.id,
                               "court_case_no": "(2026)川1325民初123号", "entrustment_kind": "in_litigation",
                               "procedure": "ordinary"}
    assert await count("SELECT count(*) FROM audit_log WHERE action = 'personal_data.reveal' AND actor = $1",
                       court.actor) == 1
    assert await count("SELECT count(*) FROM webhook_outbox") == 0

    # the holding organisation works it like any dispute, masked
    r = await client.get(f"{API}/disputes/{d['id']}", headers=world.h("village_a1"))
    assert r.status_code == 200 and r.json()["parties"][0]["id_number"] != VALID_ID
    r = await client.get(f"{API}/disputes", params={"source": "court_entrusted"}, headers=world.h("village_a1"))
    assert [x["id"] for x in r.json()["items"]] == [d["id"]]


@pytest.mark.parametrize(("over", "deadline"), [
    ({"kind": "in_litigation"}, "2026-03-17T23:59:59.999999+08:00"),
    ({"kind": "in_litigation", "procedure": "ordinary"}, "2026-03-17T23:59:59.999999+08:00"),
    ({"kind": "in_litigation", "procedure": "simple"}, "2026-03-09T23:59:59.999999+08:00"),
    # day 30 is 30 January 2025, inside the Spring Festival holiday (28 January – 4 February)
    ({"kind": "pre_filing", "registered_at": "2024-12-31T23:59:59+08:00",
      "court_case_no": "(2024)川1325民诉前调123号"}, "2025-02-05T23:59:59.999999+08:00"),
])
async def test_default_limits_30_15_7_days_from_receipt(client, world, court, over, deadline):
    over.setdefault("registered_at", "2026-03-02T09:00:00+08:00")
    r = await entrust(client, world, court, **over)
    assert r.status_code == 201, r.text
    assert r.json()["deadline"] == deadline


async def test_an_explicit_deadline_wins(client, world, court):
    received = clock.now() - dt.timedelta(days=1)
    deadline = received + dt.timedelta(days=45)  # 15 days + the 30-day extension both parties agreed to
    r = await entrust(client, world, court, procedure="simple", registered_at=received.isoformat(),
                      deadline=deadline.isoformat())
    assert r.status_code == 201, r.text
    assert t(r.json()["deadline"]) == deadline


async def test_default_receipt_is_now(client, world, court):
    now = dt.datetime(2026, 3, 2, 9, 30, tzinfo=clock.TZ)
    clock.freeze(now)
    r = await entrust(client, world, court)
    assert r.status_code == 201, r.text
    assert t(r.json()["registered_at"]) == now
    assert r.json()["deadline"] == "2026-03-17T23:59:59.999999+08:00"
    assert r.json()["case_no"] == "511325-2026-000001"


@pytest.mark.parametrize("received", [None, "2025-01-01T00:00:00+08:00", "2026-02-01T10:00:00+08:00"])
async def test_pre_filing_only_before_2025(client, world, court, received):
    over = {"kind": "pre_filing"}
    if received:
        over["registered_at"] = received
    r = await entrust(client, world, court, **over)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["registered_at"]
    assert await count("SELECT count(*) FROM disputes") == 0


async def test_org_must_be_on_the_roster(client, world, court):
    r = await entrust(client, world, court, org="village_b1")
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["org_id"]
    # another court's roster does not count
    await make_court(client, world, "川1324", name="仪陇县人民法院", region_code="511324", roster=["village_b1"])
    r = await entrust(client, world, court, org="village_b1")
    assert r.status_code == 422
    # taken off the roster: no new entrustments
    await client.delete(f"{API}/courts/{court.id}/roster/{world.orgs['town_a']}", headers=world.h("admin"))
    r = await entrust(client, world, court, org="town_a")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "org_id"
    assert await count("SELECT count(*) FROM disputes") == 0
    r = await entrust(client, world, court, org="village_a1")
    assert r.status_code == 201


async def test_entrustment_values_are_all_named(client, world, court):
    r = await entrust(client, world, court, kind="mediation", procedure="quick", summary="", court_case_no=" ",
                      type="murder", parties=[{"role": "applicant", "kind": "person", "name": "王五",
                                               "id_number": "110105194912310021"}])
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == sorted(
        ["court_case_no", "kind", "procedure", "type", "summary"])
    r = await entrust(client, world, court, parties=[{"role": "applicant", "kind": "person", "name": "王五",
                                                      "id_number": "110105194912310021"}])
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["parties[0].id_number"]
    r = await entrust(client, world, court, kind="pre_filing", procedure="simple", registered_at="2024-06-01T08:00:00+08:00")
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["procedure"]
    r = await client.post(URL, json={"kind": "in_litigation"}, headers=court.h)
    assert r.status_code == 422
    assert await count("SELECT count(*) FROM disputes") == 0


async def test_only_courts_entrust(client, world, court):
    for who in ("village_a1", "admin", "bureau_county"):
        r = await client.post(URL, json=entrustment_body(world), headers=world.h(who))
        assert r.status_code == 403, who
    # and mediators may not register court-entrusted disputes themselves
    r = await client.post(f"{API}/disputes", json={**entrustment_body(world), "source": "court_entrusted"},
                          headers=world.h("village_a1"))
    assert r.status_code == 422
    assert await count("SELECT count(*) FROM disputes") == 0


# ---------------------------------------------------------------- idempotency

async def test_same_key_and_body_answer_the_first_answer_again(client, world, court):
    key = new_key()
    first = await entrust(client, world, court, key=key)
    assert first.status_code == 201, first.text
    # the same JSON with other key order and spacing is the same request
    body = entrustment_body(world)
    raw = json.dumps(dict(reversed(list(body.items()))), ensure_ascii=False, indent=2).encode()
    again = await client.post(URL, content=raw, headers={**court.h, "Idempotency-Key": key,
                                                         "content-type": "application/json"})
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert await count("SELECT count(*) FROM disputes") == 1


async def test_same_key_with_another_body_is_409(client, world, court):
    key = new_key()
    assert (await entrust(client, world, court, key=key)).status_code == 201
    r = await entrust(client, world, court, key=key, summary="另一个案件")
    assert r.status_code == 409
    assert await count("SELECT count(*) FROM disputes") == 1


async def test_a_key_is_forgotten_after_24_hours_with_its_stored_answer(client, world, court, pool):
    key = new_key()
    assert (await entrust(client, world, court, key=key)).status_code == 201
    await pool.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    r = await entrust(client, world, court, key=key, summary="另一个案件")
    assert r.status_code == 201
    assert await count("SELECT count(*) FROM disputes") == 2
    assert await count("SELECT count(*) FROM idempotency_keys") == 1


async def test_keys_are_per_court(client, world, court):
    other = await make_court(client, world, "川1324", name="仪陇县人民法院", region_code="511324",
                             roster=["village_a1"])
    key = new_key()
    a = await entrust(client, world, court, key=key)
    b = await entrust(client, world, other, key=key)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert await count("SELECT count(*) FROM disputes") == 2


async def test_without_a_key_every_post_is_new(client, world, court):
    assert (await entrust(client, world, court)).status_code == 201
    assert (await entrust(client, world, court)).status_code == 201
    assert await count("SELECT count(*) FROM disputes") == 2


async def test_a_refused_request_stores_no_key(client, world, court):
    key = new_key()
    r = await entrust(client, world, court, key=key, org="village_b1")
    assert r.status_code == 422
    assert await count("SELECT count(*) FROM idempotency_keys") == 0
    r = await entrust(client, world, court, key=key)
    assert r.status_code == 201


async def test_bad_idempotency_key_is_422(client, world, court):
    r = await entrust(client, world, court, key="k" * 201)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_ten_concurrent_repeats_create_exactly_one_dispute(client, world, court):
    key = new_key()
    answers = await asyncio.gather(*(entrust(client, world, court, key=key) for _ in range(10)))
    assert [a.status_code for a in answers] == [201] * 10
    assert len({a.content for a in answers}) == 1
    assert sum(1 for a in answers if a.headers.get("idempotent-replayed") == "true") == 9
    assert await count("SELECT count(*) FROM disputes") == 1
    assert await count("SELECT count(*) FROM dispute_events") == 1
    assert await count("SELECT last FROM case_counters") == 1  # no case number burnt


# ---------------------------------------------------------------- reading the result

async def test_court_reads_the_result_of_its_entrustment(client, world, court):
    received = clock.now() - dt.timedelta(days=2)
    d = (await entrust(client, world, court, registered_at=received.isoformat())).json()
    r = await client.get(f"{URL}/{d['id']}", headers=court.h)
    assert r.status_code == 200, r.text
    assert r.json() == {"dispute_id": d["id"], "case_no": d["case_no"], "court_case_no": "(2026)川1325民初123号",
                        "kind": "in_litigation", "procedure": "ordinary", "status": "open",
                        "org_id": str(world.orgs["village_a1"]), "registered_at": d["registered_at"],
                        "deadline": d["deadline"], "risk": {"level": "green", "assessed": None, "reasons": []}}
    signed = clock.now() - dt.timedelta(hours=1)
    r = await client.post(f"{API}/disputes/{d['id']}/resolve", json={"agreement": {
        "form": "written", "terms": "赵六于五日内支付货款8000元", "signed_at": signed.isoformat(), "amount": 8000}},
        headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    r = await client.get(f"{URL}/{d['id']}", headers=court.h)
    body = r.json()
    assert body["status"] == "resolved"
    assert t(body["concluded_at"]) == signed
    assert body["agreement"]["terms"] == "赵六于五日内支付货款8000元"
    assert body["agreement"]["amount"] == "8000.00" and body["agreement"]["performance"] == "pending"

    r = await client.get(URL, headers=court.h)
    assert [i["dispute_id"] for i in r.json()["items"]] == [d["id"]] and r.json()["total"] == 1
    r = await client.get(URL, params={"status": "open"}, headers=court.h)
    assert r.json()["total"] == 0


async def test_another_court_and_ordinary_disputes_are_404(client, world, court):
    d = (await entrust(client, world, court)).json()
    other = await make_court(client, world, "川1324", name="仪陇县人民法院", region_code="511324")
    r = await client.get(f"{URL}/{d['id']}", headers=other.h)
    assert r.status_code == 404
    assert (await client.get(URL, headers=other.h)).json()["total"] == 0
    from tests.conftest import register

    plain = await register(client, world)
    r = await client.get(f"{URL}/{plain['id']}", headers=court.h)
    assert r.status_code == 404
    r = await client.get(f"{URL}/{uuid.uuid4()}", headers=court.h)
    assert r.status_code == 404


# ---------------------------------------------------------------- concluding

@pytest.mark.parametrize(("action", "body", "status"), [
    ("resolve", {"agreement": {"form": "oral", "terms": "双方和解", "signed_at": None}}, "resolved"),
    ("fail", {"reason": "被告不同意调解", "channel": "litigation"}, "returned"),
    ("withdraw", {"reason": "原告撤回"}, "withdrawn"),
    ("reject", {"reason": "不属于调解范围"}, "rejected"),
])
async def test_every_ending_tells_the_court(client, world, court, action, body, status):
    received = clock.now() - dt.timedelta(hours=3)
    d = (await entrust(client, world, court, registered_at=received.isoformat())).json()
    if action == "resolve":
        body["agreement"]["signed_at"] = clock.now().isoformat()
    r = await client.post(f"{API}/disputes/{d['id']}/{action}", json=body, headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == status
    [row] = await outbox_rows()
    assert row["event_type"] == "entrustment.concluded" and str(row["court_id"]) == court.id
    assert row["payload"]["type"] == "entrustment.concluded"
    assert row["payload"]["data"] == {"dispute_id": d["id"], "case_no": d["case_no"],
                                      "court_case_no": "(2026)川1325民初123号", "status": status}
    assert_no_personal_data(row["payload"])
    r = await client.get(f"{URL}/{d['id']}", headers=court.h)
    assert r.json()["status"] == status


async def test_moves_and_sessions_of_an_entrusted_dispute_send_nothing(client, world, court):
    d = (await entrust(client, world, court, registered_at=(clock.now() - dt.timedelta(hours=1)).isoformat())).json()
    r = await client.post(f"{API}/disputes/{d['id']}/escalate", json={"to_org_id": str(world.orgs["town_a"]),
                                                                      "reason": "村级调解未果"},
                          headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/disputes/{d['id']}/sessions", json={
        "held_at": clock.now().isoformat(), "method": "onsite", "mediator_ids": [str(world.mediators["town_a"])],
        "summary": "双方到场"}, headers=world.h("town_a"))
    assert r.status_code == 200, r.text
    assert await outbox_rows() == []
    # a court-entrusted dispute goes back by `fail`, never by a referral
    r = await client.post(f"{API}/disputes/{d['id']}/refer", json={"court_id": court.id, "reason": "起诉"},
                          headers=world.h("town_a"))
    assert r.status_code == 409
    r = await client.post(f"{API}/disputes/{d['id']}/fail", json={"reason": "调解不成"}, headers=world.h("town_a"))
    assert r.json()["status"] == "returned"
    [row] = await outbox_rows()
    assert row["payload"]["data"]["status"] == "returned"
    # a later visit is no second ending
    r = await client.post(f"{API}/disputes/{d['id']}/visit", json={"satisfaction": "satisfied"},
                          headers=world.h("town_a"))
    assert r.status_code == 200
    assert len(await outbox_rows()) == 1


async def test_no_outbox_payload_carries_personal_data(client, world, court):
    d = (await entrust(client, world, court, registered_at=(clock.now() - dt.timedelta(hours=1)).isoformat())).json()
    await client.post(f"{API}/disputes/{d['id']}/resolve", json={"agreement": {
        "form": "written", "terms": "王五与赵六和解，赵六赔偿王五", "signed_at": clock.now().isoformat()}},
        headers=world.h("village_a1"))
    await client.post(f"{API}/disputes/{d['id']}/confirmation", json={"court_id": court.id},
                      headers=world.h("village_a1"))
    from tests.conftest import register

    plain = await register(client, world)
    await client.post(f"{API}/disputes/{plain['id']}/refer", json={"court_id": court.id, "reason": "张三要求起诉李四"},
                      headers=world.h("village_a1"))
    rows = await outbox_rows()
    assert sorted(r["event_type"] for r in rows) == ["entrustment.concluded", "referral.created", "referral.created"]
    for row in rows:
        assert_no_personal_data(row["payload"])
        assert set(row["payload"]) == {"type", "timestamp", "data"}
        assert set(row["payload"]["data"]) <= {"referral_id", "dispute_id", "case_no", "court_case_no", "kind",
                                               "status"}


# ---------------------------------------------------------------- the rules without HTTP

def test_fingerprint_compares_json_canonically_and_per_endpoint():
    from referrals.service import request_fingerprint

    a = request_fingerprint("POST /court/entrustments", '{"a": 1, "b": ["张", 2]}'.encode())
    assert a == request_fingerprint("POST /court/entrustments", b'{ "b" : ["\\u5f20",2],\n"a":1 }')
    assert a != request_fingerprint("POST /court/entrustments", '{"a": 1, "b": ["张", 3]}'.encode())
    assert a != request_fingerprint("POST /court/referrals/x/ack", '{"a": 1, "b": ["张", 2]}'.encode())


def test_entrustment_limits():
    from referrals.service import entrustment_limit

    assert entrustment_limit("pre_filing", None) == dt.timedelta(days=30)
    assert entrustment_limit("in_litigation", "ordinary") == dt.timedelta(days=15)
    assert entrustment_limit("in_litigation", "simple") == dt.timedelta(days=7)
