"""Time: the one place that reads the clock (tests set it), the display zone and the
fixed bounds every business time keeps (API.md, "Business times")."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
#: what `local` falls back to where the zone's rules give no usable offset (before 1901
#: the zone answers local mean time, +08:06)
BEIJING = dt.timezone(dt.timedelta(hours=8))

#: no business time or date is before this (registered_at, at, held_at, signed_at, …)
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=TZ)
#: `occurred_on` (when the dispute arose) may go back to the founding of the PRC
EARLIEST_OCCURRED = dt.date(1949, 10, 1)
#: business times may run this far ahead of the server clock (clocks drift)
SKEW = dt.timedelta(minutes=5)
#: no deadline or performance_due is more than this many years after registration
HORIZON_YEARS = 10

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    return _frozen if _frozen is not None else dt.datetime.now(dt.UTC)


def freeze(at: dt.datetime | None) -> None:
    """For tests: make `now()` answer `at` (None to thaw)."""
    global _frozen
    _frozen = at


def local(value: dt.datetime | None) -> dt.datetime | None:
    """`value` in Beijing time (+08:00) for display. Never raises: a stored extreme
    (±infinity arrives as datetime.min/max, year 1, year 9999) is shown with the fixed
    +08:00 offset when it fits, otherwise as stored."""
    if value is None:
        return None
    try:
        shown = value.astimezone(TZ)
        offset = shown.utcoffset()
        if offset is not None and offset.total_seconds() % 3600 == 0:
            return shown
        return value.astimezone(BEIJING)
    except (OverflowError, ValueError):
        return value


def aware(value: dt.datetime) -> dt.datetime:
    """Naive times from clients are read as Beijing time, where every user is."""
    return value.replace(tzinfo=TZ) if value.tzinfo is None else value


def horizon(registered_at: dt.datetime) -> dt.datetime:
    """The latest deadline a dispute registered at `registered_at` may have: the same
    Beijing wall time `HORIZON_YEARS` later (29 February → 28 February), exactly as the
    CHECK constraint computes it."""
    try:
        start = registered_at.astimezone(TZ)
    except OverflowError:
        start = registered_at
    year = start.year + HORIZON_YEARS
    if year > dt.MAXYEAR:
        return dt.datetime.max.replace(tzinfo=dt.UTC)
    try:
        return start.replace(year=year)
    except ValueError:   # 29 February in a common year
        return start.replace(year=year, day=28)


def stored(value: str | dt.datetime | None) -> dt.datetime | None:
    """A timestamp read from a row or from PostgreSQL's JSON of one (ISO text,
    'infinity' and '-infinity' included), as an aware datetime."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):  # asyncpg answers ±infinity as a naive datetime.max/min
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if value == "infinity":
        return dt.datetime.max.replace(tzinfo=dt.UTC)
    if value == "-infinity":
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:   # a year PostgreSQL holds and Python cannot (BC, after 9999)
        return dt.datetime.min.replace(tzinfo=dt.UTC) if "BC" in value else dt.datetime.max.replace(tzinfo=dt.UTC)
