"""No input can poison stored data (API.md "Business times"): times before 2000-01-01,
`occurred_on` before 1949-10-01 and deadlines more than 10 years out are refused with a
422 naming the field the client sent, on every path (registration, transitions, court
entrustments and decisions), and change nothing; CHECK constraints hold the fixed bounds
behind the service; rows written by SQL at (or, before the constraints, beyond) the
bounds leave every read answering 200."""

from __future__ import annotations

import datetime as dt

import pytest

from mediation import bounds, clock, db
from tests.conftest import dispute_body, register
from tests.court_helpers import API, entrustment_body, make_court

BJ = clock.TZ
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BJ)


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW.astimezone(dt.UTC))
    yield
    clock.freeze(None)


async def stored_counts() -> tuple[int, int, int, int]:
    async with db.connection() as conn:
        return (await conn.fetchval("SELECT count(*) FROM disputes"),
                await conn.fetchval("SELECT count(*) FROM dispute_events"),
                await conn.fetchval("SELECT count(*) FROM dispute_parties"),
                await conn.fetchval("SELECT count(*) FROM referrals"))


# ---------------------------------------------------------------- registration

@pytest.mark.parametrize(("over", "field", "message"), [
    ({"registered_at": "0001-01-01T00:00:00Z"}, "registered_at", "must not be before 2000-01-01 (Beijing time)"),
    ({"registered_at": "0026-11-01T10:00:00+08:00"}, "registered_at", "must not be before 2000-01-01 (Beijing time)"),
    ({"registered_at": "0026-11-01T10:00:00"}, "registered_at", "must not be before 2000-01-01 (Beijing time)"),
    ({"registered_at": "1999-12-31T23:59:59+08:00"}, "registered_at", "must not be before 2000-01-01 (Beijing time)"),
    ({"deadline": "9999-12-31T23:59:59Z"}, "deadline", "must not be more than 10 years after registration"),
    ({"registered_at": "2026-11-01T10:00:00+08:00", "deadline": "2036-11-01T10:00:00.000001+08:00"}, "deadline",
     "must not be more than 10 years after registration"),
    ({"occurred_on": "1949-09-30"}, "occurred_on", "must not be before 1949-10-01"),
    ({"occurred_on": "0001-01-01"}, "occurred_on", "must not be before 1949-10-01"),
])
async def test_registration_outside_the_bounds_answers_422_and_writes_nothing(client, world, over, field, message):
    r = await client.post(f"{API}/disputes", json=dispute_body(world, **over), headers=world.h("village_a1"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": field, "message": message}]
    assert await stored_counts() == (0, 0, 0, 0)
    r = await client.get(f"{API}/disputes", headers=world.h("admin"))
    assert r.status_code == 200 and r.json()["total"] == 0


async def test_registration_at_the_bounds_is_accepted_and_answered_in_beijing_time(client, world):
    d = await register(client, world, registered_at="2000-01-01T00:00:00+08:00",
                       deadline="2010-01-01T00:00:00+08:00", occurred_on="1949-10-01")
    assert (d["registered_at"], d["deadline"], d["occurred_on"]) == (
        "2000-01-01T00:00:00+08:00", "2010-01-01T00:00:00+08:00", "1949-10-01")
    assert d["case_no"].startswith("511325-2000-")


async def test_a_deadline_ten_years_after_29_february_ends_on_28_february(client, world):
    d = await register(client, world, registered_at="2024-02-29T09:00:00+08:00",
                       deadline="2034-02-28T09:00:00+08:00")
    assert d["deadline"] == "2034-02-28T09:00:00+08:00"
    r = await client.post(f"{API}/disputes", headers=world.h("village_a1"), json=dispute_body(
        world, registered_at="2024-02-29T09:00:00+08:00", deadline="2034-02-28T09:00:01+08:00"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "deadline"


# ---------------------------------------------------------------- transitions

async def act(client, world, d, action, body, who="village_a1"):
    return await client.post(f"{API}/disputes/{d['id']}/{action}", json=body, headers=world.h(who))


@pytest.mark.parametrize(("action", "body", "field", "message"), [
    ("withdraw", {"reason": "x", "at": "1999-12-31T23:59:59+08:00"}, "at",
     "must not be before 2000-01-01 (Beijing time)"),
    ("withdraw", {"reason": "x", "at": "0026-11-01T10:00:00+08:00"}, "at",
     "must not be before 2000-01-01 (Beijing time)"),
    ("resolve", {"agreement": {"form": "oral", "terms": "x", "signed_at": "0026-11-01T10:00:00+08:00"}},
     "agreement.signed_at", "must not be before 2000-01-01 (Beijing time)"),
    ("resolve", {"agreement": {"form": "oral", "terms": "x", "signed_at": "2026-11-20T10:06:00+08:00"}},
     "agreement.signed_at", "must not be in the future"),
    ("resolve", {"agreement": {"form": "oral", "terms": "x", "signed_at": "2026-11-20T09:00:00+08:00",
                               "performance_due": "9999-12-31"}},
     "agreement.performance_due", "must not be more than 10 years after registration"),
    ("resolve", {"agreement": {"form": "oral", "terms": "x", "signed_at": "2026-11-20T09:00:00+08:00",
                               "performance_due": "1999-12-31"}},
     "agreement.performance_due", "must not be before 2000-01-01"),
    ("sessions", {"held_at": "0001-01-01T00:00:00Z", "method": "onsite", "mediator_ids": [], "summary": "x"},
     "held_at", "must not be before 2000-01-01 (Beijing time)"),
])
async def test_transition_times_outside_the_bounds_name_the_field_sent(client, world, action, body, field, message):
    d = await register(client, world, registered_at="2026-11-01T10:00:00+08:00")
    if action == "sessions":
        body = {**body, "mediator_ids": [str(world.mediators["village_a1"])]}
    r = await act(client, world, d, action, body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": field, "message": message}]
    after = (await client.get(f"{API}/disputes/{d['id']}", headers=world.h("admin"))).json()
    assert (after["version"], after["status"], len(after["events"])) == (1, "open", 1)


async def test_checked_at_before_2000_is_refused(client, world):
    d = await register(client, world, registered_at="2026-11-01T10:00:00+08:00")
    r = await act(client, world, d, "resolve", {"agreement": {"form": "oral", "terms": "x",
                                                              "signed_at": "2026-11-02T10:00:00+08:00",
                                                              "performance_due": "2036-11-01"}})
    assert r.status_code == 200, r.text
    assert r.json()["agreement"]["performance_due"] == "2036-11-01"
    r = await act(client, world, d, "performance", {"status": "performed", "checked_at": "0026-11-03T10:00:00"})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "checked_at", "message": "must not be before 2000-01-01 (Beijing time)"}]


# ---------------------------------------------------------------- the court's paths

async def test_entrustment_and_decision_times_outside_the_bounds_are_refused(client, world):
    court = await make_court(client, world, roster=["village_a1"])
    for over, field in (({"registered_at": "0001-01-01T00:00:00Z"}, "registered_at"),
                        ({"deadline": "9999-12-31T23:59:59Z"}, "deadline"),
                        ({"occurred_on": "1900-01-01"}, "occurred_on")):
        r = await client.post(f"{API}/court/entrustments", json=entrustment_body(world, **over), headers=court.h)
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]
    assert await stored_counts() == (0, 0, 0, 0)

    d = await register(client, world, registered_at="2026-11-01T10:00:00+08:00")
    r = await act(client, world, d, "refer", {"court_id": court.id, "reason": "起诉"})
    assert r.status_code == 200, r.text
    referral = r.json()["referrals"][0]
    r = await client.post(f"{API}/court/referrals/{referral['id']}/decision", headers=court.h,
                          json={"decision": "filed", "court_case_no": "(2026)川1325民初9号",
                                "decided_at": "0026-11-20T09:00:00+08:00"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "decided_at", "message": "must not be before 2000-01-01 (Beijing time)"}]
    assert (await stored_counts())[1] == 2


# ---------------------------------------------------------------- the constraints

async def test_the_constraints_refuse_what_the_service_refuses(client, world):
    import asyncpg

    d = await register(client, world)
    async with db.connection() as conn:
        for sql in ("UPDATE disputes SET registered_at = '1999-12-31 23:59:59+08', last_move_at = '1999-12-31 23:59:59+08'",
                    "UPDATE disputes SET occurred_on = '1949-09-30'",
                    "UPDATE disputes SET deadline = registered_at + interval '10 years 1 day'",
                    "UPDATE disputes SET deadline = registered_at - interval '1 second'",
                    "UPDATE disputes SET deadline = 'infinity'",
                    "UPDATE dispute_events SET at = '-infinity'"):
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(sql)
        assert await bounds.violations(conn) == []
    assert (await client.get(f"{API}/disputes/{d['id']}", headers=world.h("admin"))).status_code == 200


# ---------------------------------------------------------------- reads of whatever the database holds

async def read_everything(client, world, court) -> list[dict]:
    """Every list and detail a dispute shows up in, for every role that reads it."""
    urls = [(f"{API}/disputes", who) for who in ("admin", "bureau_county", "village_a1")]
    urls += [(f"{API}/{path}", "admin") for path in (
        "warnings", "deliveries", "stats/monthly?region=511325&month=2026-11",
        "stats/monthly?region=511325&month=2000-01", "stats/monthly/cases?region=511325&month=2026-11&metric=received",
        "stats/trend?region=511325&from=2026-01&to=2026-11", "stats/hotspots?region=511325&month=2026-11",
        "stats/monthly.csv?region=511325&month=2026-11", "disputes?registered_from=2000-01-01&registered_to=2000-01-02",
        "disputes?concluded_from=2000-01-01")]
    urls += [(f"{API}/disputes?q=extreme", "admin"), (f"{API}/disputes?overdue=true", "admin"),
             (f"{API}/disputes?limit=1", "admin"), (f"{API}/audit", "admin")]
    answers = []
    for url, who in urls:
        r = await client.get(url, headers=world.h(who))
        assert r.status_code == 200, (url, r.text)
        answers.append(r.json() if "json" in r.headers["content-type"] else r.text)
    page = answers[-2]
    if page["next_cursor"]:
        r = await client.get(f"{API}/disputes", params={"limit": 1, "cursor": page["next_cursor"]},
                             headers=world.h("admin"))
        assert r.status_code == 200, r.text
    for item in answers[0]["items"]:
        for q in ("", "?reveal=true"):
            r = await client.get(f"{API}/disputes/{item['id']}{q}", headers=world.h("admin"))
            assert r.status_code == 200, r.text
    for url in (f"{API}/court/referrals", f"{API}/court/entrustments"):
        r = await client.get(url, headers=court.h)
        assert r.status_code == 200, (url, r.text)
        answers.append(r.json())
        for item in r.json()["items"]:
            one = await client.get(f"{url}/{item.get('dispute_id') if 'referrals' not in url else item['id']}",
                                   headers=court.h)
            assert one.status_code == 200, one.text
    return answers


async def extreme_disputes(client, world, court) -> tuple[dict, dict]:
    """An entrusted dispute referred to nowhere and a referred one, to be rewritten by SQL."""
    entrusted = await client.post(f"{API}/court/entrustments", headers=court.h, json=entrustment_body(
        world, summary="extreme entrusted", registered_at="2026-11-01T10:00:00+08:00"))
    assert entrusted.status_code == 201, entrusted.text
    d = await register(client, world, summary="extreme referred", registered_at="2026-11-01T10:00:00+08:00")
    r = await act(client, world, d, "refer", {"court_id": court.id, "reason": "起诉"})
    assert r.status_code == 200, r.text
    return entrusted.json(), r.json()


async def rewrite(entrusted: dict, referred: dict, *, entrusted_set: str, referred_set: str,
                  events_at: tuple[str, str], referral_created: str) -> None:
    """Behind the service's back: plain SQL on the two disputes, their events and referral."""
    async with db.connection() as conn:
        await conn.execute(f"UPDATE disputes SET {entrusted_set} WHERE id = $1", entrusted["id"])
        await conn.execute(f"UPDATE disputes SET {referred_set} WHERE id = $1", referred["id"])
        for d, at in zip((entrusted, referred), events_at, strict=True):
            await conn.execute("UPDATE dispute_events SET at = $2::text::timestamptz WHERE dispute_id = $1",
                               d["id"], at)
        await conn.execute("UPDATE referrals SET created_at = $1::text::timestamptz", referral_created)


async def test_rows_at_the_bounds_written_by_sql_read_back_everywhere(client, world):
    court = await make_court(client, world, roster=["village_a1"])
    entrusted, referred = await extreme_disputes(client, world, court)
    edge = "'2000-01-01 00:00:00+08'"
    await rewrite(
        entrusted, referred,
        entrusted_set=f"registered_at = {edge}, last_move_at = {edge}, occurred_on = '1949-10-01', "
                      "deadline = '2010-01-01 00:00:00+08'",
        referred_set=f"registered_at = {edge}, last_move_at = {edge}, concluded_at = {edge}, "
                     "deadline = '2010-01-01 00:00:00+08', "
                     """agreement = '{"signed_at": "garbage", "performance_due": "99999-01-01"}'""",
        events_at=("2000-01-01 00:00:00+08", "2000-01-01 00:00:00+08"), referral_created="2000-01-01 00:00:00+08")
    answers = await read_everything(client, world, court)
    shown = {i["id"]: i for i in answers[0]["items"]}
    assert shown[entrusted["id"]]["registered_at"] == "2000-01-01T00:00:00+08:00"
    assert shown[entrusted["id"]]["deadline"] == "2010-01-01T00:00:00+08:00"
    assert shown[entrusted["id"]]["occurred_on"] == "1949-10-01"
    assert shown[referred["id"]]["agreement"]["signed_at"] == "garbage"


@pytest.fixture
async def without_bounds(pool):
    """The database as it was before the constraints: rows any writer could have left."""
    async with pool.acquire() as conn:
        for check in bounds.CHECKS:
            await conn.execute(f"ALTER TABLE {check.table} DROP CONSTRAINT {check.name}")
    try:
        yield
    finally:
        async with pool.acquire() as conn:
            await conn.execute("TRUNCATE disputes, dispute_events, dispute_parties, referrals, webhook_outbox CASCADE")
            await conn.execute(bounds.constraints_sql())


async def test_extreme_rows_from_before_the_constraints_read_back_everywhere(client, world, without_bounds):
    court = await make_court(client, world, roster=["village_a1"])
    entrusted, referred = await extreme_disputes(client, world, court)
    await rewrite(
        entrusted, referred,
        entrusted_set="registered_at = '-infinity', last_move_at = '0001-01-01 00:00:00+00', "
                      "occurred_on = '0001-01-01', deadline = 'infinity'",
        referred_set="registered_at = '0001-01-01 00:00:00+00', deadline = '9999-12-31 23:59:59+00', "
                     "concluded_at = '9999-12-31 23:59:59+00', last_move_at = '9999-12-31 23:59:59+00'",
        events_at=("0001-01-01 00:00:00+00", "-infinity"), referral_created="0026-11-01 10:00:00+08")
    async with db.connection() as conn:
        found = await bounds.violations(conn)
    assert {v.case_no for v in found} == {entrusted["case_no"], referred["case_no"]}
    answers = await read_everything(client, world, court)
    shown = {i["id"]: i for i in answers[0]["items"]}
    assert shown[referred["id"]]["registered_at"] == "0001-01-01T08:00:00+08:00"
    assert shown[referred["id"]]["deadline"] == "9999-12-31T23:59:59Z"
    assert shown[entrusted["id"]]["occurred_on"] == "0001-01-01"


# ---------------------------------------------------------------- display

@pytest.mark.parametrize(("value", "shown"), [
    (dt.datetime.min.replace(tzinfo=dt.UTC), "0001-01-01T08:00:00+08:00"),
    (dt.datetime.max.replace(tzinfo=dt.UTC), "9999-12-31T23:59:59.999999+00:00"),
    (dt.datetime(26, 11, 1, 2, 0, tzinfo=dt.UTC), "0026-11-01T10:00:00+08:00"),
    (dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC), "2026-11-01T10:00:00+08:00"),
    (dt.datetime(1988, 6, 1, 2, 0, tzinfo=dt.UTC), "1988-06-01T11:00:00+09:00"),
])
def test_local_shows_any_stored_time_without_raising(value, shown):
    assert clock.local(value).isoformat() == shown


@pytest.mark.parametrize(("text", "value"), [
    ("infinity", dt.datetime.max.replace(tzinfo=dt.UTC)),
    ("-infinity", dt.datetime.min.replace(tzinfo=dt.UTC)),
    ("20000-01-01T00:00:00+00:00", dt.datetime.max.replace(tzinfo=dt.UTC)),
    ("0001-12-31T23:59:59+00:00 BC", dt.datetime.min.replace(tzinfo=dt.UTC)),
    ("2026-11-01T10:00:00+08:00", dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)),
])
def test_stored_reads_postgresql_json_times(text, value):
    assert clock.stored(text) == value


def test_horizon_is_ten_years_of_beijing_wall_time():
    assert clock.horizon(dt.datetime(2024, 2, 29, 1, 0, tzinfo=BJ)) == dt.datetime(2034, 2, 28, 1, 0, tzinfo=BJ)
    assert clock.horizon(dt.datetime(2026, 1, 31, 20, 0, tzinfo=dt.UTC)) == dt.datetime(2036, 2, 1, 4, 0, tzinfo=BJ)
    assert clock.horizon(dt.datetime.max.replace(tzinfo=dt.UTC)) == dt.datetime.max.replace(tzinfo=dt.UTC)
