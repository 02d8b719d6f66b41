"""The working-day calendar in the service: loaded at migration, read by any role,
imported for later years; court limits and the confirmation window follow the rule on
periods, and importing a year recomputes the open deadlines that depend on it."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from mediation import clock, db, workdays
from tests.conftest import register
from tests.court_helpers import API, count, entrustment_body, make_court
from tests.test_cli import tiaojie  # noqa: F401  (fixture)

CSV_2027 = "date,kind,name\n2027-01-01,holiday,元旦\n2027-01-02,holiday,元旦\n2027-01-03,holiday,元旦\n"


@pytest.fixture(autouse=True)
async def thaw_and_forget_2027(pool):
    yield
    clock.freeze(None)
    async with pool.acquire() as conn:  # the calendar tables outlive each test's truncation
        await conn.execute("DELETE FROM calendar_years WHERE year > 2026")


@pytest.fixture
async def court(client, world):
    return await make_court(client, world, roster=["village_a1"])


async def entrust(client, world, court, **over) -> dict:
    r = await client.post(f"{API}/court/entrustments", json=entrustment_body(world, **over), headers=court.h)
    assert r.status_code == 201, r.text
    return r.json()


async def stored(dispute_id: str):
    async with db.connection() as conn:
        return await conn.fetchrow(
            "SELECT deadline, deadline_rule, period_start, period_days, calendar_missing FROM disputes WHERE id = $1",
            uuid.UUID(dispute_id))


async def test_the_packages_years_are_loaded_at_migration_and_any_role_reads_them(client, world, court):
    for who in ("admin", "bureau_county", "village_a1"):
        r = await client.get(f"{API}/calendar/2025", headers=world.h(who))
        assert r.status_code == 200, r.text
    body = r.json()
    assert body["year"] == 2025 and body["source"] == "chinesecalendar 1.11.0"
    october = [d for d in body["days"] if d["date"].startswith("2025-10") or d["date"] == "2025-09-28"]
    assert october == [
        {"date": "2025-09-28", "kind": "adjusted_workday", "name": "国庆节"},
        *({"date": f"2025-10-0{n}", "kind": "holiday", "name": "中秋" if n == 6 else "国庆节"} for n in range(1, 9)),
        {"date": "2025-10-11", "kind": "adjusted_workday", "name": "国庆节"},
    ]
    r = await client.get(f"{API}/calendar/2026", headers=court.h)
    assert r.status_code == 200 and len([d for d in r.json()["days"] if d["name"] == "春节"]) == 11
    async with db.connection() as conn:
        assert await workdays.loaded_years(conn) == list(range(2004, 2027))


async def test_a_year_not_loaded_answers_404_and_no_token_401(client, world):
    for year in (2027, 1999, 99999):
        r = await client.get(f"{API}/calendar/{year}", headers=world.h("village_a1"))
        assert r.status_code == 404, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"{API}/calendar/2025")).status_code == 401


async def test_a_15_day_entrustment_received_before_national_day_ends_on_the_first_working_day_after(
        client, world, court):
    d = await entrust(client, world, court, registered_at="2025-09-20T10:00:00+08:00")
    assert d["deadline"] == "2025-10-09T23:59:59.999999+08:00"
    row = await stored(d["id"])
    assert (row["deadline_rule"], row["period_start"], row["period_days"], row["calendar_missing"]) == (
        "working_days_adjusted", dt.date(2025, 9, 20), 15, False)


async def test_a_limit_ending_on_an_adjusted_working_saturday_is_not_moved(client, world, court):
    d = await entrust(client, world, court, registered_at="2025-09-26T16:00:00+08:00")
    assert d["deadline"] == "2025-10-11T23:59:59.999999+08:00"


async def test_a_7_day_simple_procedure_limit_over_the_2026_spring_festival(client, world, court):
    d = await entrust(client, world, court, procedure="simple", registered_at="2026-02-10T09:00:00+08:00")
    assert d["deadline"] == "2026-02-24T23:59:59.999999+08:00"


async def test_a_deadline_the_court_sends_is_kept_as_sent(client, world, court):
    d = await entrust(client, world, court, registered_at="2025-09-20T10:00:00+08:00",
                      deadline="2025-10-05T12:00:00+08:00")
    assert d["deadline"] == "2025-10-05T12:00:00+08:00"
    row = await stored(d["id"])
    assert (row["deadline_rule"], row["period_start"], row["calendar_missing"]) == ("calendar_days", None, False)


async def test_the_mediation_default_stays_30_calendar_days(client, world):
    d = await register(client, world, registered_at="2025-09-05T10:00:00+08:00")
    assert d["deadline"] == "2025-10-05T10:00:00+08:00"
    assert (await stored(d["id"]))["deadline_rule"] == "calendar_days"


async def test_a_2027_period_is_flagged_until_its_year_is_imported_then_exact(client, world, court):
    clock.freeze(dt.datetime(2026, 12, 20, 9, 0, tzinfo=clock.TZ))
    d = await entrust(client, world, court, registered_at="2026-12-19T15:00:00+08:00")
    assert d["deadline"] == "2027-01-03T23:59:59.999999+08:00"  # calendar days: a Sunday, unknown year
    assert (await stored(d["id"]))["calendar_missing"] is True
    older = await entrust(client, world, court, registered_at="2026-12-01T15:00:00+08:00")  # ends in 2026
    before_older = await stored(older["id"])

    result = await workdays.import_file(CSV_2027, source="国办发明电〔2026〕(test copy)", actor="user:admin")
    assert (result.year, result.days, result.recomputed) == (2027, 3, 1)
    row = await stored(d["id"])
    assert row["calendar_missing"] is False
    assert clock.local(row["deadline"]).isoformat() == "2027-01-04T23:59:59.999999+08:00"
    assert await stored(older["id"]) == before_older
    r = await client.get(f"{API}/calendar/2027", headers=world.h("village_a1"))
    assert r.status_code == 200
    assert r.json()["days"][0] == {"date": "2027-01-01", "kind": "holiday", "name": "元旦"}
    async with db.connection() as conn:
        entry = await conn.fetchrow("SELECT actor, entity_id, detail FROM audit_log WHERE action = 'calendar.import'")
    assert (entry["actor"], entry["entity_id"]) == ("user:admin", "2027")
    assert json.loads(entry["detail"]) == {"source": "国办发明电〔2026〕(test copy)", "days": 3, "recomputed": 1}


async def test_a_concluded_dispute_keeps_its_deadline_when_a_year_is_imported(client, world, court):
    clock.freeze(dt.datetime(2026, 12, 20, 9, 0, tzinfo=clock.TZ))
    d = await entrust(client, world, court, registered_at="2026-12-19T15:00:00+08:00")
    r = await client.post(f"{API}/disputes/{d['id']}/withdraw", json={"reason": "原告撤诉"},
                          headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    assert (await workdays.import_file(CSV_2027, source="test", actor="user:admin")).recomputed == 0
    assert (await stored(d["id"]))["calendar_missing"] is True


async def test_the_missing_year_warning_is_logged_once_a_day(client, world, court):
    clock.freeze(dt.datetime(2026, 12, 20, 9, 0, tzinfo=clock.TZ))
    assert await workdays.check_missing_years() is None  # nothing depends on a missing year yet
    await entrust(client, world, court, registered_at="2026-12-19T15:00:00+08:00")
    first = await workdays.check_missing_years()
    assert first == workdays.MissingCalendar(years=[2027], disputes=1)
    clock.freeze(dt.datetime(2026, 12, 20, 23, 0, tzinfo=clock.TZ))
    assert await workdays.check_missing_years() is None  # the same day in Beijing
    clock.freeze(dt.datetime(2026, 12, 21, 0, 30, tzinfo=clock.TZ))
    assert await workdays.check_missing_years() == first
    await workdays.import_file(CSV_2027, source="test", actor="user:admin")
    clock.freeze(dt.datetime(2026, 12, 22, 9, 0, tzinfo=clock.TZ))
    assert await workdays.check_missing_years() is None
    assert await count("SELECT count(*) FROM calendar_warnings") == 2


async def test_judicial_confirmation_window_runs_past_the_national_day_holiday(client, world):
    court = await make_court(client, world)
    d = await register(client, world, registered_at="2025-09-01T10:00:00+08:00")
    r = await client.post(f"{API}/disputes/{d['id']}/resolve", json={"agreement": {
        "form": "written", "terms": "李四于十日内赔偿张三3000元", "signed_at": "2025-09-05T15:00:00+08:00"}},
        headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    # day 30 is 5 October, a holiday: the window runs to the end of 9 October
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation",
                          json={"court_id": court.id, "at": "2025-10-10T00:00:00+08:00"}, headers=world.h("village_a1"))
    assert r.status_code == 409, r.text
    assert "2025-10-09T23:59:59.999999+08:00" in r.json()["detail"]
    r = await client.post(f"{API}/disputes/{d['id']}/confirmation",
                          json={"court_id": court.id, "at": "2025-10-09T17:30:00+08:00"}, headers=world.h("village_a1"))
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- the command line

async def test_calendar_import_and_show_on_the_command_line(tiaojie, tmp_path, client, world, court):
    clock.freeze(dt.datetime(2026, 12, 20, 9, 0, tzinfo=clock.TZ))
    d = await entrust(client, world, court, registered_at="2026-12-19T15:00:00+08:00")
    clock.freeze(None)
    missing = tiaojie("calendar", "show", "2027")
    assert missing.returncode == 2 and "not loaded" in missing.stderr and missing.stdout == ""
    f = tmp_path / "2027.csv"
    f.write_text(CSV_2027, encoding="utf-8")
    r = tiaojie("calendar", "import", str(f), "--source", "国办发明电〔2026〕(test copy)")
    assert r.returncode == 0, r.stderr
    assert "2027: 3 days loaded; 1 open deadlines recomputed" in r.stderr
    row = await stored(d["id"])
    assert clock.local(row["deadline"]).isoformat() == "2027-01-04T23:59:59.999999+08:00"
    shown = tiaojie("calendar", "show", "2027")
    assert shown.returncode == 0 and shown.stdout == CSV_2027
    assert "国办发明电〔2026〕(test copy)" in shown.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("2027-01-04,adjusted_workday,元旦\n", encoding="utf-8")
    r = tiaojie("calendar", "import", str(bad))
    assert r.returncode == 2 and "line 1" in r.stderr and "weekday" in r.stderr
