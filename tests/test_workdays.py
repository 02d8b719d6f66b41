"""The working-day calendar and the rule on periods, on the real State Council data
the `chinesecalendar` package carries (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from mediation import clock
from mediation.errors import Invalid
from mediation.workdays import (
    NO_CALENDAR,
    Calendar,
    CalendarDay,
    add_working_days,
    end_of_day,
    package_years,
    parse_csv,
    period_end,
)

YEARS = package_years()
CAL = Calendar.of(YEARS, [d for days in YEARS.values() for d in days])
D = dt.date


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=clock.TZ)


def test_the_package_knows_2004_to_2026():
    assert min(YEARS) == 2004 and max(YEARS) == 2026
    assert CAL.knows(D(2026, 12, 31)) and not CAL.knows(D(2027, 1, 1))


def test_2025_national_day_and_mid_autumn_holiday_with_its_adjusted_working_days():
    days = {d.date: (d.kind, d.name) for d in YEARS[2025] if D(2025, 9, 20) <= d.date <= D(2025, 10, 15)}
    assert days == {
        D(2025, 9, 28): ("adjusted_workday", "国庆节"),   # a Sunday worked
        **{D(2025, 10, n): ("holiday", "国庆节") for n in (1, 2, 3, 4, 5, 7, 8)},
        D(2025, 10, 6): ("holiday", "中秋"),
        D(2025, 10, 11): ("adjusted_workday", "国庆节"),  # a Saturday worked
    }
    assert [CAL.is_working_day(D(2025, 10, n)) for n in range(1, 13)] == [
        False, False, False, False, False, False, False, False, True, True, True, False]
    assert CAL.is_working_day(D(2025, 9, 28)) and not CAL.is_working_day(D(2025, 9, 27))


def test_2026_spring_festival():
    holidays = sorted(d.date for d in YEARS[2026] if d.kind == "holiday" and d.name == "春节")
    assert holidays == [D(2026, 2, n) for n in range(15, 24)]
    worked = sorted(d.date for d in YEARS[2026] if d.kind == "adjusted_workday" and d.name == "春节")
    assert worked == [D(2026, 2, 14), D(2026, 2, 28)]  # two Saturdays


def test_a_15_day_limit_ending_inside_the_national_day_holiday_moves_to_the_next_working_day():
    p = period_end(at(2025, 9, 20), 15, CAL)  # day 15 is 5 October, a holiday
    assert (p.start, p.last_day, p.calendar_missing) == (D(2025, 9, 20), D(2025, 10, 9), False)
    assert p.deadline.isoformat() == "2025-10-09T23:59:59.999999+08:00"


def test_a_15_day_limit_ending_on_an_adjusted_working_saturday_is_not_moved():
    p = period_end(at(2025, 9, 26), 15, CAL)
    assert p.last_day == D(2025, 10, 11) and p.last_day.weekday() == 5
    assert p.deadline.isoformat() == "2025-10-11T23:59:59.999999+08:00"


def test_an_ordinary_weekend_moves_the_last_day_to_monday():
    assert period_end(at(2025, 11, 1), 15, CAL).last_day == D(2025, 11, 17)  # the 16th is a Sunday


def test_spring_festival_2026_periods():
    assert period_end(at(2026, 2, 10), 7, CAL).last_day == D(2026, 2, 24)    # 17 Feb is 初一
    assert period_end(at(2026, 1, 15), 30, CAL).last_day == D(2026, 2, 14)   # an adjusted working Saturday
    assert period_end(at(2026, 1, 29), 30, CAL).last_day == D(2026, 2, 28)   # the other one
    assert period_end(at(2026, 2, 1), 15, CAL).last_day == D(2026, 2, 24)


def test_the_day_the_period_starts_is_the_beijing_day():
    after_midnight = dt.datetime(2025, 10, 31, 16, 30, tzinfo=dt.UTC)  # 00:30 on 1 November in Beijing
    assert period_end(after_midnight, 14, CAL).last_day == D(2025, 11, 17)  # the 15th is a Saturday
    before_midnight = dt.datetime(2025, 10, 31, 15, 59, tzinfo=dt.UTC)  # 23:59 on 31 October
    assert period_end(before_midnight, 14, CAL).last_day == D(2025, 11, 14)


def test_a_period_ending_in_a_year_without_data_counts_calendar_days_and_is_flagged():
    p = period_end(at(2026, 12, 19), 15, CAL)
    assert (p.last_day, p.calendar_missing) == (D(2027, 1, 3), True)
    assert p.deadline == end_of_day(D(2027, 1, 3))
    assert period_end(at(2026, 12, 19), 15, NO_CALENDAR).calendar_missing


def test_a_last_day_moved_forward_into_an_unknown_year_stops_there_flagged():
    cal = Calendar.of({2026}, [CalendarDay(D(2026, 12, 31), "holiday", "假想假日")])
    p = period_end(at(2026, 12, 16), 15, cal)
    assert (p.last_day, p.calendar_missing) == (D(2027, 1, 1), True)


def test_the_same_period_after_the_year_is_imported_is_exact():
    year, days = parse_csv("date,kind,name\n2027-01-01,holiday,元旦\n2027-01-02,holiday,元旦\n"
                           "2027-01-03,holiday,元旦\n")
    cal = Calendar.of({*YEARS, year}, [*(d for ds in YEARS.values() for d in ds), *days])
    p = period_end(at(2026, 12, 19), 15, cal)
    assert (p.last_day, p.calendar_missing) == (D(2027, 1, 4), False)


def test_working_days_ahead_skip_the_holiday():
    assert add_working_days(D(2025, 9, 30), 1, CAL) == D(2025, 10, 9)
    assert add_working_days(D(2025, 9, 26), 1, CAL) == D(2025, 9, 28)  # the Sunday worked
    assert add_working_days(D(2025, 10, 9), 3, CAL) == D(2025, 10, 13)


def test_csv_import_names_every_bad_line():
    with pytest.raises(Invalid) as e:
        parse_csv("2027-01-01,holiday,元旦\n2027-13-01,holiday,x\n2027-01-04,adjusted_workday,x\n"
                  "2027-01-05,rest,x\n2027-01-01,holiday,元旦\nonly,two\n")
    assert [(f.field, f.message) for f in e.value.errors] == [
        ("line 2", "'2027-13-01' is not a date (YYYY-MM-DD)"),
        ("line 3", "2027-01-04 is a weekday already; only a Saturday or Sunday can be an adjusted working day"),
        ("line 4", "kind must be one of holiday, adjusted_workday"),
        ("line 5", "2027-01-01 appears twice"),
        ("line 6", "must be date,kind,name"),
    ]


def test_csv_import_takes_one_year_a_file():
    with pytest.raises(Invalid) as e:
        parse_csv("2026-12-31,holiday,x\n2027-01-01,holiday,元旦\n")
    assert e.value.errors[0].field == "file" and "several years" in e.value.errors[0].message
    with pytest.raises(Invalid):
        parse_csv("date,kind,name\n")
    assert parse_csv("\ufeffdate,kind,name\r\n2027-01-02,adjusted_workday,春节\r\n") == (
        2027, [CalendarDay(D(2027, 1, 2), "adjusted_workday", "春节")])
