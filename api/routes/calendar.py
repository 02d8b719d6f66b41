"""The working-day calendar: `GET /calendar/{year}` (any role but metrics)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec
from litestar import Controller, get

from api.guards import roles
from mediation import workdays


class CalendarDayOut(msgspec.Struct):
    date: dt.date
    kind: Literal["holiday", "adjusted_workday"]
    name: str


class CalendarYearOut(msgspec.Struct):
    year: int
    source: str
    loaded_at: dt.datetime
    days: list[CalendarDayOut]


class CalendarController(Controller):
    path = "/calendar"
    tags = ["calendar"]
    guards = [roles("admin", "bureau", "mediator", "court")]

    @get("/{year:int}", summary="A year's holidays and adjusted working days (404 when not loaded)")
    async def year(self, year: int) -> CalendarYearOut:
        loaded = await workdays.read_year(year)
        return CalendarYearOut(year=loaded.year, source=loaded.source, loaded_at=loaded.loaded_at,
                               days=[CalendarDayOut(date=d.date, kind=d.kind, name=d.name) for d in loaded.days])
