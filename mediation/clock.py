"""Time: the one place that reads the clock (tests set it) and the display zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    return _frozen if _frozen is not None else dt.datetime.now(dt.UTC)


def freeze(at: dt.datetime | None) -> None:
    """For tests: make `now()` answer `at` (None to thaw)."""
    global _frozen
    _frozen = at


def local(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(TZ)


def aware(value: dt.datetime) -> dt.datetime:
    """Naive times from clients are read as Beijing time, where every user is."""
    return value.replace(tzinfo=TZ) if value.tzinfo is None else value
