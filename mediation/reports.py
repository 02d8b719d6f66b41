"""Frozen monthly reports (上报): a bureau freezes a region's month once it has ended; the
frozen figures never change, the live ones may (late records, court decisions), and a
report shows both and the difference.

While a month is frozen for a region, a mediator's or an admin's write whose business time
falls in that month on a dispute inside that region is refused (409) until an admin
reopens it; court writes are never refused (`refuse_frozen` is called where writes are
checked). Freezing and reopening are audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec

from mediation import audit, clock, db, stats
from mediation.access import Principal
from mediation.errors import Conflict, Forbidden, NotFound


class RateDifference(msgspec.Struct):
    numerator: int
    denominator: int
    rate: float | None        # live rate − frozen rate; null when either is null


class Differences(msgspec.Struct):
    counts: dict[str, int | str]
    rates: dict[str, RateDifference]
    durations: dict[str, float | None]
    changed: list[str]          # the keys of every figure that differs


class Report(msgspec.Struct):
    region: stats.RegionRef
    month: str
    status: str                 # frozen | reopened
    frozen_at: dt.datetime
    frozen_by: str
    reopened_at: dt.datetime | None
    reopened_by: str | None
    frozen: stats.MonthlyStats
    live: stats.MonthlyStats
    differences: Differences


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def differences(frozen: stats.MonthlyStats, live: stats.MonthlyStats) -> Differences:
    counts: dict[str, int | str] = {}
    changed: list[str] = []
    for c in stats.COUNTS:
        before, after = frozen.counts[c.key], live.counts[c.key]
        if c.amount:
            counts[c.key] = f"{Decimal(str(after)) - Decimal(str(before)):.2f}"
        else:
            counts[c.key] = int(after) - int(before)
        if before != after:
            changed.append(c.key)
    rates = {}
    for r in stats.RATES:
        before, after = frozen.rates[r.key], live.rates[r.key]
        b, a = _decimal(before.rate), _decimal(after.rate)
        rates[r.key] = RateDifference(numerator=after.numerator - before.numerator,
                                      denominator=after.denominator - before.denominator,
                                      rate=None if a is None or b is None else float(a - b))
        if (before.numerator, before.denominator) != (after.numerator, after.denominator):
            changed.append(r.key)
    durations = {}
    for key in stats.DURATIONS:
        b, a = _decimal(getattr(frozen.durations, key)), _decimal(getattr(live.durations, key))
        durations[key] = None if a is None or b is None else float(a - b)
        if a != b:
            changed.append(key)
    return Differences(counts=counts, rates=rates, durations=durations, changed=changed)


async def _scope(conn, principal: Principal, region: Any) -> stats.Scope:
    return await stats.readable_scope(conn, principal, region)


def _view(row, scope: stats.Scope, live: stats.MonthlyStats) -> Report:
    frozen = msgspec.json.decode(row["figures"], type=stats.MonthlyStats) if isinstance(row["figures"], str | bytes) \
        else msgspec.convert(row["figures"], stats.MonthlyStats)
    return Report(region=scope.region, month=row["month"],
                  status="frozen" if row["reopened_at"] is None else "reopened",
                  frozen_at=clock.local(row["frozen_at"]), frozen_by=row["frozen_by"],
                  reopened_at=clock.local(row["reopened_at"]), reopened_by=row["reopened_by"],
                  frozen=frozen, live=live, differences=differences(frozen, live))


async def freeze(principal: Principal, region: Any, month: Any) -> Report:
    """上报: store the month's figures for the region as they stand now (the primary)."""
    if principal.role not in ("admin", "bureau"):
        raise Forbidden("only a bureau (for its region) or an admin freezes a monthly report")
    async with db.transaction() as conn:
        scope = await _scope(conn, principal, region)
        p = stats.period(month)
        now = clock.now()
        if p.end > now:
            raise Conflict("{month} has not ended yet: a month is reported once it is over", month=p.month)
        live = await stats.compute_monthly(conn, scope, p)
        row = await conn.fetchrow(
            """INSERT INTO stats_reports (id, region_code, month, prefix, period_start, period_end, figures,
                   frozen_at, frozen_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
               ON CONFLICT (region_code, month) WHERE reopened_at IS NULL DO NOTHING
               RETURNING month, figures::text AS figures, frozen_at, frozen_by, reopened_at, reopened_by""",
            uuid.uuid4(), scope.region.code, p.month, scope.prefix, p.start, p.end,
            msgspec.json.encode(live).decode(), now, principal.actor)
        if row is None:
            raise Conflict("{month} is already frozen for {region}; an admin may reopen it", month=p.month,
                           region=scope.region.code)
        await audit.record(conn, actor=principal.actor, action="report.freeze", entity="report",
                           entity_id=f"{scope.region.code}/{p.month}", detail={"region": scope.region.code,
                                                                            "month": p.month})
        return _view(row, scope, live)


_LATEST = """SELECT month, figures::text AS figures, frozen_at, frozen_by, reopened_at, reopened_by
             FROM stats_reports WHERE region_code = $1 AND month = $2
             ORDER BY (reopened_at IS NULL) DESC, frozen_at DESC LIMIT 1"""


async def get(principal: Principal, region: Any, month: Any) -> Report:
    """The frozen figures (or the last ones, once reopened), the live ones and the difference.
    Read on the primary, not the statistics' replica: a report just frozen is found at once,
    and its live figures are the ones the next freeze would store."""
    async with db.connection() as conn:
        scope = await _scope(conn, principal, region)
        p = stats.period(month)
        row = await conn.fetchrow(_LATEST, scope.region.code, p.month)
        if row is None:
            raise NotFound("{month} has not been reported for {region}", month=p.month, region=scope.region.code)
        return _view(row, scope, await stats.compute_monthly(conn, scope, p))


async def reopen(principal: Principal, region: Any, month: Any) -> Report:
    principal.require_admin("reopen a frozen monthly report")
    async with db.transaction() as conn:
        scope = await _scope(conn, principal, region)
        p = stats.period(month)
        row = await conn.fetchrow(
            """UPDATE stats_reports SET reopened_at = $3, reopened_by = $4
               WHERE region_code = $1 AND month = $2 AND reopened_at IS NULL
               RETURNING month, figures::text AS figures, frozen_at, frozen_by, reopened_at, reopened_by""",
            scope.region.code, p.month, clock.now(), principal.actor)
        if row is None:
            raise Conflict("{month} is not frozen for {region}", month=p.month, region=scope.region.code)
        await audit.record(conn, actor=principal.actor, action="report.reopen", entity="report",
                           entity_id=f"{scope.region.code}/{p.month}", detail={"region": scope.region.code,
                                                                            "month": p.month})
        return _view(row, scope, await stats.compute_monthly(conn, scope, p))


async def refuse_frozen(conn: asyncpg.Connection, principal: Principal, region_code: str, at: dt.datetime,
                        *, field: str = "at") -> None:
    """409 when a mediator's or an admin's write at business time `at` on a dispute in
    `region_code` falls in a month frozen for a region holding it. Courts are never refused."""
    if principal.role == "court":
        return
    row = await conn.fetchrow(
        """SELECT region_code, month FROM stats_reports
           WHERE reopened_at IS NULL AND period_start <= $2 AND period_end > $2
             AND starts_with($1, prefix)
           ORDER BY length(prefix) LIMIT 1""", region_code, at)
    if row is not None:
        raise FrozenMonth(f"{row['month']} has been reported (上报) for region {row['region_code']}: a record "
                          f"with `{field}` in that month is refused until an admin reopens the report")


class FrozenMonth(Conflict):
    title = "Month already reported"

