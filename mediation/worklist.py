"""The mediator's work list (DESIGN.md "HTTP and pages"): the open disputes the
committee holds, the most urgent first (red, then yellow, then within each the overdue,
those due within 3 working days, the rest by deadline), with how many of each."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from mediation import clock, db, early_warning, workdays
from mediation.access import Principal

DUE_SOON_WORKING_DAYS = 3
LIMIT = 200


@dataclass(frozen=True)
class WorkItem:
    id: uuid.UUID
    case_no: str
    type: str
    source: str
    summary: str
    tier: str
    registered_at: dt.datetime
    deadline: dt.datetime
    party_names: str
    urgency: str  # overdue | due_soon | later
    risk: str     # red | yellow | green (mediation.risk, judged now)


@dataclass(frozen=True)
class WorkList:
    items: list[WorkItem]
    open: int
    overdue: int
    due_soon: int
    red: int
    yellow: int


async def work_list(principal: Principal, *, limit: int = LIMIT) -> WorkList:
    """Open disputes the principal's committee holds (an admin or the bureau: every open
    dispute it may read), earliest deadline first — so overdue ones lead, then those due
    within three working days, then the rest; red and yellow disputes lead, in that order."""
    now = clock.now()
    async with db.connection() as conn:
        today = workdays.local_date(now)
        calendar = await workdays.calendar_between(conn, today, today + dt.timedelta(days=30))
    soon = workdays.end_of_day(workdays.add_working_days(today, DUE_SOON_WORKING_DAYS, calendar))
    args: list = [now, soon]
    if principal.role == "mediator":
        args.append(principal.org_id)
        scope = f"d.org_id = ${len(args)}"
    else:
        scope = principal.dispute_filter(args)
    args.append(limit)
    level = early_warning.level_filter("d", "$1")
    async with db.connection() as conn:
        rows = await conn.fetch(
            f"""WITH open AS (
                    SELECT d.*, {level} AS risk FROM disputes d WHERE d.status = 'open' AND {scope}
                ), counted AS (
                    SELECT count(*) AS open, count(*) FILTER (WHERE deadline < $1) AS overdue,
                           count(*) FILTER (WHERE deadline >= $1 AND deadline <= $2) AS due_soon,
                           count(*) FILTER (WHERE risk = 'red') AS red,
                           count(*) FILTER (WHERE risk = 'yellow') AS yellow
                    FROM open
                )
                SELECT c.*, d.id, d.case_no, d.type, d.source, d.summary, d.tier, d.registered_at, d.deadline,
                       d.risk,
                       (SELECT string_agg(p.name, '、' ORDER BY p.position) FROM dispute_parties p
                        WHERE p.dispute_id = d.id) AS party_names,
                       CASE WHEN d.deadline < $1 THEN 'overdue' WHEN d.deadline <= $2 THEN 'due_soon'
                            ELSE 'later' END AS urgency
                FROM counted c LEFT JOIN LATERAL (
                    SELECT * FROM open ORDER BY CASE risk WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 ELSE 2 END,
                                               deadline, id LIMIT ${len(args)}) d ON TRUE""", *args)
    items = [WorkItem(id=r["id"], case_no=r["case_no"], type=r["type"], source=r["source"], summary=r["summary"],
                      tier=r["tier"], registered_at=clock.local(r["registered_at"]),
                      deadline=clock.local(r["deadline"]), party_names=r["party_names"] or "",
                      urgency=r["urgency"], risk=r["risk"])
             for r in rows if r["id"] is not None]
    counts = rows[0]
    return WorkList(items=items, open=counts["open"], overdue=counts["overdue"], due_soon=counts["due_soon"],
                    red=counts["red"], yellow=counts["yellow"])


# ---------------------------------------------------------------- what the action forms offer

@dataclass(frozen=True)
class Choice:
    id: uuid.UUID
    name: str
    tier: str | None = None


async def county_orgs(county_code: str) -> list[Choice]:
    """Every committee of the county (escalate and assign pick from them)."""
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT id, name, tier FROM orgs WHERE county_code = $1 ORDER BY region_code, name",
                                county_code)
    return [Choice(r["id"], r["name"], r["tier"]) for r in rows]


async def active_mediators(org_id: uuid.UUID) -> list[Choice]:
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT id, name FROM mediators WHERE org_id = $1 AND active ORDER BY name", org_id)
    return [Choice(r["id"], r["name"]) for r in rows]


async def county_courts(county_code: str) -> list[Choice]:
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT id, name FROM courts WHERE region_code LIKE $1 ORDER BY name",
                                county_code + "%")
    return [Choice(r["id"], r["name"]) for r in rows]


async def names(ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names of the orgs, mediators and courts a timeline mentions."""
    if not ids:
        return {}
    async with db.connection() as conn:
        rows = await conn.fetch(
            """SELECT id, name FROM orgs WHERE id = ANY($1::uuid[])
               UNION ALL SELECT id, name FROM mediators WHERE id = ANY($1::uuid[])
               UNION ALL SELECT id, name FROM courts WHERE id = ANY($1::uuid[])""", ids)
    return {r["id"]: r["name"] for r in rows}


# ---------------------------------------------------------------- the court handoff, as a committee sees it

HANDOFF_LIMIT = 100


async def handoffs(principal: Principal, *, limit: int = HANDOFF_LIMIT) -> dict[str, list[dict]]:
    """Referrals and entrustments of the disputes the principal reads, newest first, each
    with the state of its latest webhook to the court (pending, delivered or dead)."""
    args: list = []
    scope = principal.dispute_filter(args)
    args.append(limit)
    delivery = """(SELECT o.status FROM webhook_outbox o
                    WHERE o.payload -> 'data' ->> 'dispute_id' = d.id::text AND {match}
                    ORDER BY o.created_at DESC LIMIT 1)"""
    async with db.connection() as conn:
        referrals = await conn.fetch(
            f"""SELECT r.id, r.kind, r.status, r.decision, r.court_case_no, r.created_at, d.id AS dispute_id,
                       d.case_no, c.name AS court_name,
                       {delivery.format(match="o.payload -> 'data' ->> 'referral_id' = r.id::text")} AS delivery
                FROM referrals r JOIN disputes d ON d.id = r.dispute_id JOIN courts c ON c.id = r.court_id
                WHERE {scope} ORDER BY r.created_at DESC, r.id LIMIT ${len(args)}""", *args)
        entrusted = await conn.fetch(
            f"""SELECT d.id AS dispute_id, d.case_no, d.court_case_no, d.entrustment_kind, d.entrustment_procedure,
                       d.status, d.deadline, d.registered_at, c.name AS court_name,
                       {delivery.format(match="o.event_type = 'entrustment.concluded'")} AS delivery
                FROM disputes d JOIN courts c ON c.id = d.court_id
                WHERE d.source = 'court_entrusted' AND {scope}
                ORDER BY d.registered_at DESC, d.id LIMIT ${len(args)}""", *args)
    return {"referrals": [dict(r) for r in referrals], "entrustments": [dict(r) for r in entrusted]}
