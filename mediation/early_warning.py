"""Risk in the service: the facts `mediation.risk` judges, read with each dispute; the
`risk=` list filter; `POST /disputes/{id}/risk` (an event, `risk_assessed`); and the
warning list (`GET /warnings`).

Nothing is written back when time passes: `overdue` and every other reason are judged at
the moment of reading, from the dispute row and its events. A person's assessment is the
latest `risk_assessed` event by business time (ties by event order); registration's intake
risks count as the first one.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from mediation import clock, db, fields, lifecycle, risk
from mediation.access import Principal
from mediation.errors import Collector, Forbidden, Invalid
from mediation.pagination import decode_cursor, encode_cursor
from mediation.regions import canonical, filter_prefix

#: the level a registration's intake risks set as its first assessment
INTAKE_LEVEL: risk.Level = "red"


def _before(at: str | None) -> str:
    return "" if at is None else f" AND e.at < {at}"


def facts_sql(alias: str = "d", *, before: str | None = None, repeat: bool = True) -> str:
    """Select-list columns with what `risk_of` needs beside the dispute's own columns
    (`before`: a SQL expression; only events with business time before it count).
    `repeat=False` leaves `risk_repeat` out: a page of disputes asks `repeats` for it."""
    d = alias
    return f"""
        (SELECT count(*) FROM dispute_events e WHERE e.dispute_id = {d}.id AND e.kind = 'escalated'{_before(before)}
        ) AS risk_escalations,
        (SELECT coalesce(e.detail->>'level', e.detail->>'risk_level') FROM dispute_events e
         WHERE e.dispute_id = {d}.id AND (e.kind = 'risk_assessed' OR e.detail ? 'risk_level'){_before(before)}
         ORDER BY e.at DESC, e.seq DESC LIMIT 1) AS risk_assessed,
        (SELECT ARRAY(SELECT jsonb_array_elements_text(coalesce(e.detail->'reasons', e.detail->'risk_reasons')))
         FROM dispute_events e
         WHERE e.dispute_id = {d}.id AND (e.kind = 'risk_assessed' OR e.detail ? 'risk_level'){_before(before)}
         ORDER BY e.at DESC, e.seq DESC LIMIT 1) AS risk_intake""" + (
        f""",
        {repeat_sql(d)} AS risk_repeat""" if repeat else "")


def repeat_sql(d: str = "d") -> str:
    """A party's ID number (resident ID or credit code) in another dispute registered in
    the `REPEAT_MONTHS` before this one, anywhere in the database."""
    return f"""EXISTS (
            SELECT 1 FROM dispute_parties p
            JOIN dispute_parties q ON q.id_number = p.id_number AND q.dispute_id <> p.dispute_id
            JOIN disputes o ON o.id = q.dispute_id
            WHERE p.dispute_id = {d}.id AND p.id_number IS NOT NULL
              AND o.registered_at < {d}.registered_at
              AND o.registered_at >= (({d}.registered_at AT TIME ZONE 'Asia/Shanghai')
                                      - interval '{risk.REPEAT_MONTHS} months') AT TIME ZONE 'Asia/Shanghai')"""


def risk_of(row: Any, at: dt.datetime) -> risk.Risk:
    """The risk of a row holding the dispute's columns and `facts_sql`'s."""
    assessed = row["risk_assessed"]
    assessment = risk.Assessment(assessed, tuple(row["risk_intake"] or ())) if assessed else None
    facts = risk.Facts(concluded=row["status"] != "open", source=row["source"],
                       persons_involved=row["persons_involved"], deadline=clock.stored(row["deadline"]),
                       escalations=row["risk_escalations"], repeat=row["risk_repeat"], assessment=assessment)
    return risk.assess(facts, at)


def level_filter(alias: str, at_param: str) -> str:
    """The effective level of `alias` at `at_param`, as SQL (the rules of `mediation.risk`)."""
    d = alias
    esc = f"(SELECT count(*) FROM dispute_events e WHERE e.dispute_id = {d}.id AND e.kind = 'escalated')"
    last = (f"FROM dispute_events e WHERE e.dispute_id = {d}.id AND (e.kind = 'risk_assessed' "
            f"OR e.detail ? 'risk_level') ORDER BY e.at DESC, e.seq DESC LIMIT 1")
    assessed = f"(SELECT coalesce(e.detail->>'level', e.detail->>'risk_level') {last})"
    intake = (f"(SELECT ARRAY(SELECT jsonb_array_elements_text(coalesce(e.detail->'reasons', "
              f"e.detail->'risk_reasons'))) {last})")
    return risk.level_sql(concluded=f"{d}.status <> 'open'", source=f"{d}.source", persons=f"{d}.persons_involved",
                          deadline=f"{d}.deadline", escalations=esc, repeat=repeat_sql(d), assessed=assessed,
                          intake=intake, at=at_param)


def validate_level_filter(value: str | None, field: str = "risk") -> str | None:
    if value is None:
        return None
    if value not in ("red", "yellow"):
        raise Invalid.field(field, "must be red or yellow")
    return value


def levels_at_or_above(level: str) -> list[str]:
    return [lv for lv in risk.LEVELS if risk.RANK[lv] >= risk.RANK[level]]


# ---------------------------------------------------------------- assessing

def validate_assessment(errors: Collector, level: Any, reasons: Any, *, level_field: str = "level",
                        reasons_field: str = "reasons") -> tuple[str | None, tuple[str, ...]]:
    lv = fields.code(errors, level_field, level, risk.LEVELS)
    out: list[str] = []
    for i, code in enumerate(reasons or ()):
        if fields.code(errors, f"{reasons_field}[{i}]", code, risk.INTAKE_RISKS) is not None:
            out.append(code)
    return lv, tuple(dict.fromkeys(out))


async def build_assessment(conn: asyncpg.Connection, data: Any, state: lifecycle.DisputeState,
                           errors: Collector) -> lifecycle.AssessRisk:
    """`POST /disputes/{id}/risk {level, reasons?, note?}`."""
    level, reasons = validate_assessment(errors, getattr(data, "level", None), getattr(data, "reasons", None))
    errors.raise_if_any()
    return lifecycle.AssessRisk(level=level or "green", reasons=reasons)


def install() -> None:
    """Called once by the app factory: `POST /disputes/{id}/risk` becomes a dispute action."""
    from mediation import disputes

    disputes.add_action("risk", build_assessment)


# ---------------------------------------------------------------- the warning list

@dataclass(frozen=True)
class WarningFilters:
    region: str | None = None
    level: str = "yellow"
    since: dt.datetime | None = None


async def list_warnings(principal: Principal, filters: WarningFilters, *, limit: int = 50,
                        cursor: str | None = None) -> dict[str, Any]:
    """Open disputes at `level` or above, most recent rise first."""
    errors = Collector()
    fields.code(errors, "level", filters.level, {"red": "", "yellow": ""})
    region12 = None
    if filters.region:
        try:
            region12 = canonical(filters.region, "region")
        except Invalid as e:
            errors.errors.extend(e.errors)
    errors.raise_if_any()
    now = clock.now()
    args: list[Any] = [now]
    async with db.connection() as conn:
        if principal.role == "mediator":
            org = await conn.fetchrow("SELECT tier, county_code FROM orgs WHERE id = $1", principal.org_id)
            if org is None or org["tier"] != "county":
                raise Forbidden("warnings are for the bureau, the county centre and admins")
            args.append(org["county_code"] + "%")
            scope = f"d.region_code LIKE ${len(args)}"
        elif principal.role in ("admin", "bureau"):
            scope = principal.dispute_filter(args)
        else:
            raise Forbidden("warnings are for the bureau, the county centre and admins")
        conds = ["d.status = 'open'", scope]
        if region12:
            args.append(await filter_prefix(conn, region12) + "%")
            conds.append(f"d.region_code LIKE ${len(args)}")
        args.append(levels_at_or_above(filters.level))
        conds.append(f"{level_filter('d', '$1')} = ANY(${len(args)}::text[])")
        rows = await conn.fetch(
            f"""SELECT d.id, d.case_no, d.status, d.source, d.persons_involved, d.deadline, d.registered_at,
                       d.region_code, d.org_id, o.name AS org_name, {facts_sql('d')},
                       (SELECT coalesce(json_agg(json_build_object('at', e.at, 'seq', e.seq, 'kind', e.kind,
                               'level', coalesce(e.detail->>'level', e.detail->>'risk_level'),
                               'reasons', coalesce(e.detail->'reasons', e.detail->'risk_reasons'))
                               ORDER BY e.seq), '[]')
                        FROM dispute_events e WHERE e.dispute_id = d.id
                          AND (e.kind IN ('escalated', 'risk_assessed') OR e.detail ? 'risk_level')) AS changes
                FROM disputes d JOIN orgs o ON o.id = d.org_id
                WHERE {' AND '.join(conds)}""", *args)
    items = []
    for r in rows:
        current = risk_of(r, now)
        rose = _reached_at(r, now)
        if filters.since is not None and rose < filters.since:
            continue
        items.append({"dispute_id": r["id"], "case_no": r["case_no"], "level": current.level,
                      "reasons": list(current.reasons), "reached_at": clock.local(rose),
                      "org": {"id": r["org_id"], "name": r["org_name"]}, "region_code": r["region_code"]})
    items.sort(key=lambda i: (i["reached_at"], str(i["dispute_id"])), reverse=True)
    total = len(items)
    if cursor:
        at_text, id_text = decode_cursor(cursor, 2)
        try:
            key = (dt.datetime.fromisoformat(at_text), str(uuid.UUID(id_text)))
        except ValueError:
            raise Invalid.field("cursor", "is not a cursor this service gave out") from None
        items = [i for i in items if (i["reached_at"], str(i["dispute_id"])) < key]
    page = items[:limit]
    more = len(items) > limit
    next_cursor = encode_cursor(page[-1]["reached_at"].isoformat(), page[-1]["dispute_id"]) if more and page else None
    return {"items": page, "total": total, "next_cursor": next_cursor}


def _reached_at(r: Any, now: dt.datetime) -> dt.datetime:
    changes = []
    for c in json.loads(r["changes"]) if isinstance(r["changes"], str) else r["changes"]:
        at = dt.datetime.fromisoformat(c["at"])
        if c["kind"] == "escalated":
            changes.append(risk.Change(at=at, seq=c["seq"], escalation=True))
        elif c["level"]:
            changes.append(risk.Change(at=at, seq=c["seq"], assessment=risk.Assessment(
                c["level"], tuple(c["reasons"] or ()))))
    base = risk.Facts(concluded=False, source=r["source"], persons_involved=r["persons_involved"],
                      deadline=r["deadline"], escalations=0, repeat=r["risk_repeat"])
    # the registration's own intake risks are an assessment at registration
    return risk.reached_at(base, r["registered_at"], changes, now)


# ---------------------------------------------------------------- risk at a moment (METRICS.md), for the statistics

_ASSESSMENT = "(x.kind = 'risk_assessed' OR x.detail ? 'risk_level')"


def level_at_sql(at: str, d: str = "d") -> str:
    """The effective level of `d` at moment `at` (a SQL expression) by METRICS.md's "Risk at
    a moment": only what happened before `at` by business time counts."""
    last = (f"FROM dispute_events x WHERE x.dispute_id = {d}.id AND {_ASSESSMENT} AND x.at < {at} "
            f"ORDER BY x.at DESC, x.seq DESC LIMIT 1")
    return risk.level_sql(
        concluded=f"({d}.concluded_at IS NOT NULL AND {d}.concluded_at < {at})", source=f"{d}.source",
        persons=f"{d}.persons_involved", deadline=f"{d}.deadline",
        escalations=(f"(SELECT count(*) FROM dispute_events x WHERE x.dispute_id = {d}.id "
                     f"AND x.kind = 'escalated' AND x.at < {at})"),
        repeat=repeat_sql(d), assessed=f"(SELECT coalesce(x.detail->>'level', x.detail->>'risk_level') {last})",
        intake=(f"(SELECT ARRAY(SELECT jsonb_array_elements_text(coalesce(x.detail->'reasons', "
                f"x.detail->'risk_reasons'))) {last})"),
        at=at)


def first_red_sql(d: str = "d") -> str:
    """When `d` first became red, or NULL: only many people (from registration) and a
    person's assessment can make a dispute red. An assessment makes it red from its own
    moment when it is the latest there (no later one with the same business time) and
    either sets red or, while the dispute is open, records an intake risk."""
    intake = ", ".join(f"'{c}'" for c in risk.INTAKE_RISKS)
    return f"""LEAST(
        CASE WHEN {d}.persons_involved >= {risk.LARGE_GROUP_PERSONS} THEN {d}.registered_at END,
        (SELECT min(x.at) FROM dispute_events x
         WHERE x.dispute_id = {d}.id AND {_ASSESSMENT}
           AND NOT EXISTS (SELECT 1 FROM dispute_events y WHERE y.dispute_id = {d}.id AND y.at = x.at
                           AND y.seq > x.seq AND (y.kind = 'risk_assessed' OR y.detail ? 'risk_level'))
           AND (coalesce(x.detail->>'level', x.detail->>'risk_level') = 'red'
                OR (({d}.concluded_at IS NULL OR {d}.concluded_at > x.at)
                    AND ARRAY(SELECT jsonb_array_elements_text(coalesce(x.detail->'reasons',
                        x.detail->'risk_reasons'))) && ARRAY[{intake}]::text[]))))"""


#: disputes assessed in a period `{s}`..`{e}` (a red assessment after the conclusion is still a
#: first red; the statistics' scan includes these besides the received, concluded and open)
ASSESSED_IN_PERIOD = ("d.id IN (SELECT x.dispute_id FROM dispute_events x WHERE x.kind = 'risk_assessed' "
                      "AND x.at >= {s} AND x.at < {e})")


# ---------------------------------------------------------------- what every dispute answers

#: what a dispute answer reads beside the dispute's own columns (status, source, persons,
#: deadline) for `risk_of`, `deadline_rule` and `calendar_missing` (mediation.dispute_store)
ANSWER_COLUMNS = f"d.deadline_rule, d.calendar_missing, {facts_sql('d')}"
#: the same for a page of disputes, but `risk_repeat` from `repeats` (one query a page)
PAGE_ANSWER_COLUMNS = f"d.deadline_rule, d.calendar_missing, {facts_sql('d', repeat=False)}"

#: `repeat_sql` for many disputes at once: each (dispute, ID number) pair once, and each
#: other dispute holding such a number once, however many parties share it (a per-row
#: EXISTS walks every party row of every party sharing the number: 200 × 40,000 in the
#: fat-list benchmark)
REPEATS = f"""
    WITH mine AS (
        SELECT DISTINCT p.dispute_id, p.id_number FROM dispute_parties p
        WHERE p.dispute_id = ANY($1::uuid[]) AND p.id_number IS NOT NULL
    ), seen AS (
        SELECT DISTINCT q.id_number, q.dispute_id FROM dispute_parties q
        WHERE q.id_number IN (SELECT id_number FROM mine)
    )
    SELECT DISTINCT m.dispute_id FROM mine m
    JOIN disputes d ON d.id = m.dispute_id
    JOIN seen s ON s.id_number = m.id_number AND s.dispute_id <> m.dispute_id
    JOIN disputes o ON o.id = s.dispute_id
    WHERE o.registered_at < d.registered_at
      AND o.registered_at >= ((d.registered_at AT TIME ZONE 'Asia/Shanghai')
                              - interval '{risk.REPEAT_MONTHS} months') AT TIME ZONE 'Asia/Shanghai'"""


async def repeats(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of the disputes `ids` the `repeat` rule holds for, in one query."""
    if not ids:
        return set()
    return {r["dispute_id"] for r in await conn.fetch(REPEATS, ids)}


def intake_reasons(errors: Collector, reasons: Any) -> tuple[str, ...]:
    """Registration's `risk_reasons` (intake risks), each checked."""
    if reasons is None:
        return ()
    if not isinstance(reasons, list | tuple):
        errors.add("risk_reasons", "must be a list of intake risks")
        return ()
    out: list[str] = []
    for i, code in enumerate(reasons):
        if fields.code(errors, f"risk_reasons[{i}]", code, risk.INTAKE_RISKS) is not None:
            out.append(code)
    return tuple(dict.fromkeys(out))


def intake_event_detail(reasons: tuple[str, ...]) -> dict[str, Any]:
    """The first event's detail for intake risks: they count as the first assessment."""
    return {"risk_level": INTAKE_LEVEL, "risk_reasons": list(reasons)} if reasons else {}
