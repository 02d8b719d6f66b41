"""China's working-day calendar and the Civil Procedure Law's rule on periods (Art. 85).

The one home of both. Working days are data, not arithmetic: each year the State Council
publishes its holidays and the weekend days that become working days (调休). The years the
`chinesecalendar` package knows are loaded at migration (`package_years`); later years
are imported from a CSV (`date,kind,name`) when their notice appears (`import_year`).

The rule on periods (`period_end`): the day the period starts is not counted, so a
period of N days from an instant in day S has S + N as its last day; a last day that is a
rest day (a Saturday or Sunday that is not an adjusted working day, or a holiday) moves to
the next working day; the period ends at the last moment of that day in Beijing time. A
period whose last day falls in a year the calendar lacks cannot be known exactly: it is
computed on calendar days and flagged `calendar_missing`, and importing that year
recomputes it (`recompute_open_deadlines`).

The mediation default (30 days after registration) is calendar days and stays an instant.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import asyncpg
import structlog

from mediation import clock, db
from mediation.errors import Collector, Invalid, NotFound

DayKind = Literal["holiday", "adjusted_workday"]
DeadlineRule = Literal["calendar_days", "working_days_adjusted"]
DAY_KINDS: dict[str, str] = {"holiday": "法定节假日", "adjusted_workday": "调休上班"}
DEADLINE_RULES: dict[str, str] = {"calendar_days": "按自然日计算", "working_days_adjusted": "期间届满日遇节假日顺延"}

log = structlog.get_logger("tiaojie.calendar")

PACKAGE_SOURCE = "chinesecalendar"
END_OF_DAY = dt.time(23, 59, 59, 999999)
YEAR_MIN, YEAR_MAX = 2000, 2200
NAME_MAX = 100
#: a holiday block is at most nine days; a period's last day never moves further than this
MAX_SHIFT = dt.timedelta(days=31)


@dataclass(frozen=True)
class CalendarDay:
    date: dt.date
    kind: DayKind
    name: str


@dataclass(frozen=True)
class Calendar:
    """The holidays and adjusted working days of the years in `years` (others unknown)."""

    years: frozenset[int]
    holidays: frozenset[dt.date]
    adjusted_workdays: frozenset[dt.date]

    @classmethod
    def of(cls, years: Iterable[int], days: Iterable[CalendarDay]) -> Calendar:
        days = list(days)
        return cls(years=frozenset(years),
                   holidays=frozenset(d.date for d in days if d.kind == "holiday"),
                   adjusted_workdays=frozenset(d.date for d in days if d.kind == "adjusted_workday"))

    def knows(self, day: dt.date) -> bool:
        return day.year in self.years

    def is_working_day(self, day: dt.date) -> bool:
        """For a day of a known year (a weekend day of an unknown year reads as resting)."""
        if day in self.holidays:
            return False
        if day in self.adjusted_workdays:
            return True
        return day.weekday() < 5


#: no year known: every period is counted on calendar days (and flagged)
NO_CALENDAR = Calendar(years=frozenset(), holidays=frozenset(), adjusted_workdays=frozenset())


@dataclass(frozen=True)
class Period:
    """A period counted by the rule: from the day of `start`, `days` days."""

    start: dt.date
    days: int
    last_day: dt.date
    deadline: dt.datetime
    calendar_missing: bool
    rule: DeadlineRule = "working_days_adjusted"


def end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=clock.TZ)


def local_date(instant: dt.datetime) -> dt.date:
    return clock.aware(instant).astimezone(clock.TZ).date()


def period_end(start: dt.datetime | dt.date, days: int, calendar: Calendar) -> Period:
    """The Civil Procedure Law's rule on periods (Art. 85) on `calendar`.

    A last day in a year the calendar lacks stays where calendar days put it and is
    flagged; so does one moved forward into such a year (the first unknown day is kept)."""
    first = start if not isinstance(start, dt.datetime) else local_date(start)
    last = first + dt.timedelta(days=days)
    missing = False
    while True:
        if not calendar.knows(last):
            missing = True
            break
        if calendar.is_working_day(last):
            break
        last += dt.timedelta(days=1)
    return Period(start=first, days=days, last_day=last, deadline=end_of_day(last), calendar_missing=missing)


def add_working_days(day: dt.date, n: int, calendar: Calendar) -> dt.date:
    """The n-th working day after `day` (weekends rest in years the calendar lacks)."""
    while n > 0:
        day += dt.timedelta(days=1)
        if calendar.is_working_day(day):
            n -= 1
    return day


# ---------------------------------------------------------------- the package's years

def package_years() -> dict[int, list[CalendarDay]]:
    """Every year the installed `chinesecalendar` knows, by year, with Chinese names."""
    from chinese_calendar import constants  # only when loading: the table is the service's source

    def name(english: str) -> str:
        try:
            return constants.Holiday(english).chinese
        except ValueError:
            return english

    out: dict[int, list[CalendarDay]] = {}
    for day, english in constants.holidays.items():
        out.setdefault(day.year, []).append(CalendarDay(day, "holiday", name(english)))
    for day, english in constants.workdays.items():
        out.setdefault(day.year, []).append(CalendarDay(day, "adjusted_workday", name(english)))
    for days in out.values():
        days.sort(key=lambda d: d.date)
    return out


def package_source() -> str:
    from importlib.metadata import version

    return f"{PACKAGE_SOURCE} {version('chinesecalendar')}"


# ---------------------------------------------------------------- CSV files

def parse_csv(text: str) -> tuple[int, list[CalendarDay]]:
    """A year's `date,kind,name` rows (a header line is allowed); every bad line named."""
    errors = Collector()
    days: list[CalendarDay] = []
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if rows and [c.strip().lower() for c in rows[0]][:3] == ["date", "kind", "name"]:
        rows = rows[1:]
    seen: set[dt.date] = set()
    for number, row in enumerate(rows, start=1):
        field = f"line {number}"
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 3:
            errors.add(field, "must be date,kind,name")
            continue
        raw_date, kind, name = (c.strip() for c in row)
        try:
            day = dt.date.fromisoformat(raw_date)
        except ValueError:
            errors.add(field, "{value} is not a date (YYYY-MM-DD)", value=repr(raw_date))
            continue
        if kind not in DAY_KINDS:
            errors.add(field, "kind must be one of {choices}", choices=", ".join(DAY_KINDS))
            continue
        if not name or len(name) > NAME_MAX:
            errors.add(field, "name must be 1 to {max} characters", max=NAME_MAX)
            continue
        if day in seen:
            errors.add(field, "{day} appears twice", day=day)
            continue
        if kind == "adjusted_workday" and day.weekday() < 5:
            errors.add(field, "{day} is a weekday already; only a Saturday or Sunday can be an adjusted working day",
                       day=day)
            continue
        seen.add(day)
        days.append(CalendarDay(day, kind, name))  # type: ignore[arg-type]
    years = {d.date.year for d in days}
    if not days:
        errors.add("file", "holds no days")
    elif len(years) > 1:
        errors.add("file", "holds days of several years ({years}); import one year a file",
                   years=", ".join(map(str, sorted(years))))
    errors.raise_if_any()
    year = years.pop()
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise Invalid.field("file", "year {year} is outside {first}–{last}", year=year, first=YEAR_MIN, last=YEAR_MAX)
    return year, sorted(days, key=lambda d: d.date)


# ---------------------------------------------------------------- the table

async def store_year(conn: asyncpg.Connection, year: int, days: list[CalendarDay], source: str) -> None:
    """Replace one year's rows (in the caller's transaction)."""
    await conn.execute("DELETE FROM calendar_days WHERE year = $1", year)
    await conn.execute(
        """INSERT INTO calendar_years AS y (year, source) VALUES ($1, $2)
           ON CONFLICT (year) DO UPDATE SET source = EXCLUDED.source, loaded_at = now()""", year, source)
    await conn.execute(
        """INSERT INTO calendar_days (day, year, kind, name)
           SELECT t.day, $1, t.kind, t.name FROM unnest($2::date[], $3::text[], $4::text[]) AS t(day, kind, name)""",
        year, [d.date for d in days], [d.kind for d in days], [d.name for d in days])


async def calendar_between(conn: asyncpg.Connection, first: dt.date, last: dt.date) -> Calendar:
    """The calendar of the years from `first` to `last`: a window, in one round trip."""
    rows = await conn.fetch(
        """SELECT y.year, d.day, d.kind, d.name FROM calendar_years y
           LEFT JOIN calendar_days d ON d.year = y.year
           WHERE y.year BETWEEN $1 AND $2""", first.year, last.year)
    return Calendar.of({r["year"] for r in rows},
                       [CalendarDay(r["day"], r["kind"], r["name"]) for r in rows if r["day"] is not None])


async def calendar_for(conn: asyncpg.Connection, start: dt.datetime, days: int) -> Calendar:
    """The calendar a period of `days` days from `start` needs."""
    first = local_date(start)
    return await calendar_between(conn, first, first + dt.timedelta(days=days) + MAX_SHIFT)


async def period(conn: asyncpg.Connection, start: dt.datetime, days: int) -> Period:
    return period_end(start, days, await calendar_for(conn, start, days))


@dataclass(frozen=True)
class LoadedYear:
    year: int
    source: str
    loaded_at: dt.datetime
    days: list[CalendarDay]


async def year_of(conn: asyncpg.Connection, year: int) -> LoadedYear | None:
    head = await conn.fetchrow("SELECT year, source, loaded_at FROM calendar_years WHERE year = $1", year)
    if head is None:
        return None
    rows = await conn.fetch("SELECT day, kind, name FROM calendar_days WHERE year = $1 ORDER BY day", year)
    return LoadedYear(year=head["year"], source=head["source"], loaded_at=clock.local(head["loaded_at"]),
                      days=[CalendarDay(r["day"], r["kind"], r["name"]) for r in rows])


async def read_year(year: int) -> LoadedYear:
    """`GET /calendar/{year}` and `tiaojie calendar show`: the loaded year, else NotFound."""
    async with db.connection() as conn:
        loaded = await year_of(conn, year) if YEAR_MIN <= year <= YEAR_MAX else None
    if loaded is None:
        raise NotFound("the calendar of {year} is not loaded; import the State Council's notice for it "
                       "with `tiaojie calendar import FILE`", year=year)
    return loaded


async def import_file(text: str, *, source: str, actor: str) -> ImportResult:
    """`tiaojie calendar import FILE`: parse, store, recompute, audit, in one transaction."""
    year, days = parse_csv(text)
    async with db.transaction() as conn:
        return await import_year(conn, year, days, source=source, actor=actor)


async def loaded_years(conn: asyncpg.Connection) -> list[int]:
    return [r["year"] for r in await conn.fetch("SELECT year FROM calendar_years ORDER BY year")]


# ---------------------------------------------------------------- deadlines that follow the rule

async def set_deadline(conn: asyncpg.Connection, dispute_id: uuid.UUID, p: Period) -> None:
    """Record that a dispute's deadline is a period by the rule (so a later import can recompute it)."""
    await conn.execute(
        """UPDATE disputes SET deadline = $2, deadline_rule = 'working_days_adjusted', period_start = $3,
               period_days = $4, calendar_missing = $5 WHERE id = $1""",
        dispute_id, p.deadline, p.start, p.days, p.calendar_missing)


async def recompute_open_deadlines(conn: asyncpg.Connection, year: int) -> int:
    """Open disputes whose period's last day may fall in `year` (nominally in it, or in
    the weeks before it and moved into it) get their deadline recomputed; returns how
    many changed."""
    rows = await conn.fetch(
        """SELECT id, period_start, period_days, deadline, calendar_missing FROM disputes
           WHERE status = 'open' AND deadline_rule = 'working_days_adjusted'
             AND (period_start + period_days) BETWEEN $1 AND $2""",
        dt.date(year, 1, 1) - MAX_SHIFT, dt.date(year, 12, 31))
    if not rows:
        return 0
    first = min(r["period_start"] for r in rows)
    last = max(r["period_start"] + dt.timedelta(days=r["period_days"]) for r in rows) + MAX_SHIFT
    calendar = await calendar_between(conn, first, last)
    changed = []
    for r in rows:
        p = period_end(r["period_start"], r["period_days"], calendar)
        if p.deadline != r["deadline"] or p.calendar_missing != r["calendar_missing"]:
            changed.append((r["id"], p))
    if changed:
        await conn.execute(
            """UPDATE disputes d SET deadline = t.deadline, calendar_missing = t.missing
               FROM unnest($1::uuid[], $2::timestamptz[], $3::bool[]) AS t(id, deadline, missing)
               WHERE d.id = t.id""",
            [i for i, _ in changed], [p.deadline for _, p in changed], [p.calendar_missing for _, p in changed])
    return len(changed)


@dataclass(frozen=True)
class ImportResult:
    year: int
    days: int
    recomputed: int


async def import_year(conn: asyncpg.Connection, year: int, days: list[CalendarDay], *, source: str,
                      actor: str) -> ImportResult:
    """Load (or replace) a year and recompute the open deadlines that depend on it, in
    the caller's transaction, with an audit entry."""
    await store_year(conn, year, days, source)
    recomputed = await recompute_open_deadlines(conn, year)
    await conn.execute(
        """INSERT INTO audit_log (actor, action, entity, entity_id, detail)
           VALUES ($1, 'calendar.import', 'calendar_year', $2, $3::jsonb)""",
        actor, str(year), json.dumps({"source": source, "days": len(days), "recomputed": recomputed}))
    return ImportResult(year=year, days=len(days), recomputed=recomputed)


# ---------------------------------------------------------------- the daily warning

@dataclass(frozen=True)
class MissingCalendar:
    years: list[int]
    disputes: int


async def missing_years_today(conn: asyncpg.Connection, today: dt.date) -> MissingCalendar | None:
    """The missing years open disputes depend on, once per day across every process:
    only the first caller of the day gets an answer (the row it inserts is the mark)."""
    rows = await conn.fetch(
        """SELECT extract(year FROM period_start + period_days)::int AS year, count(*) AS n FROM disputes
           WHERE status = 'open' AND calendar_missing GROUP BY 1 ORDER BY 1""")
    if not rows:
        return None
    missing = MissingCalendar(years=[r["year"] for r in rows], disputes=sum(r["n"] for r in rows))
    marked = await conn.fetchval(
        """INSERT INTO calendar_warnings (day, years, disputes) VALUES ($1, $2, $3)
           ON CONFLICT (day) DO NOTHING RETURNING day""", today, missing.years, missing.disputes)
    return missing if marked is not None else None


async def check_missing_years() -> MissingCalendar | None:
    """Log the day's warning when open disputes depend on a year the calendar lacks
    (at most once a day across every process); returns what it logged."""
    async with db.transaction() as conn:
        missing = await missing_years_today(conn, local_date(clock.now()))
    if missing is not None:
        log.warning("calendar.missing_years", years=missing.years, open_disputes=missing.disputes,
                    hint="import the State Council's holiday notice: tiaojie calendar import FILE")
    return missing


async def watch_missing_years(*, every: float = 3600.0) -> None:
    """Runs inside `tiaojie serve` until cancelled: checks hourly, logs daily."""
    while True:
        try:
            await check_missing_years()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("calendar.missing_years_check_failed")
        await asyncio.sleep(every)
