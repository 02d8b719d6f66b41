"""The dispute store: SQL in and out for `disputes`, `dispute_parties`, `dispute_events`
and the case counters. It knows no rules (those are `lifecycle`'s and the service's) and
no answer shapes (those are `dispute_views`'); `referrals` calls it rather than writing
dispute SQL of its own.

The dispute read models carry their referrals' summaries, and a transition needs to
know whether a confirmation is pending, so two reads here look at `referrals`, a table
`referrals` owns: those are the only ones, and they only read."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from mediation import clock, early_warning, fields, lifecycle
from mediation.pagination import Page, keyset_page, newest_first

COLUMNS = """d.id, d.case_no, d.county_code, d.version, d.type, d.source, d.status, d.summary,
    d.region_code, d.org_id, d.handler_org_ids, d.tier, d.entry_tier, d.highest_tier, d.concluded_tier,
    d.registered_at, d.occurred_on, d.deadline, d.concluded_at, d.last_move_at, d.amount,
    d.persons_involved, d.agreement, d.performance, d.prevented, d.court_id, d.court_case_no,
    d.entrustment_kind, d.entrustment_procedure"""

#: what every answer judges beside the row: `risk`, `deadline_rule`, `calendar_missing`
#: (`early_warning` owns the rules; the facts are read with the row)
JUDGED = early_warning.ANSWER_COLUMNS

#: a list item shows this many parties (API.md); `party_count` says how many there are
LIST_PARTIES = 5

_PARTIES_JSON = """(SELECT coalesce(json_agg(json_build_object('role', p.role, 'kind', p.kind, 'name', p.name,
            'id_number', p.id_number, 'phone', p.phone, 'address', p.address) ORDER BY p.position), '[]')
     FROM dispute_parties p WHERE p.dispute_id = d.id{cut}) AS parties_json,
    (SELECT count(*) FROM dispute_parties p WHERE p.dispute_id = d.id) AS party_count"""
_EVENTS_JSON = """(SELECT coalesce(json_agg(json_build_object('seq', e.seq, 'kind', e.kind, 'at', e.at,
            'actor', e.actor, 'org_id', e.org_id, 'tier', e.tier, 'detail', e.detail, 'recorded_at', e.recorded_at)
            ORDER BY e.seq), '[]')
     FROM dispute_events e WHERE e.dispute_id = d.id) AS events_json"""
_REFERRALS_JSON = """(SELECT coalesce(json_agg(json_build_object('id', r.id, 'kind', r.kind, 'court_id', r.court_id,
            'status', r.status, 'created_at', r.created_at, 'decision', r.decision,
            'decided_at', r.decided_at, 'court_case_no', r.court_case_no) ORDER BY r.created_at, r.id), '[]')
     FROM referrals r WHERE r.dispute_id = d.id) AS referrals_json"""

#: a dispute with every party, its timeline and its referrals, in one round trip
FULL = f"{COLUMNS}, {JUDGED}, {_PARTIES_JSON.format(cut='')}, {_EVENTS_JSON}, {_REFERRALS_JSON}"
#: a list item: the first parties, their count and the referrals, no timeline; `risk_repeat`
#: comes from `with_repeats`, one query for the page
ITEM = f"{COLUMNS}, {early_warning.PAGE_ANSWER_COLUMNS}, {_PARTIES_JSON.format(cut=f' AND p.position < {LIST_PARTIES}')}, {_REFERRALS_JSON}"

PENDING_CONFIRMATION = """EXISTS (SELECT 1 FROM referrals r WHERE r.dispute_id = d.id
        AND r.kind = 'confirmation' AND r.status <> 'decided') AS pending_confirmation"""


# ---------------------------------------------------------------- reading

async def scope_row(conn: asyncpg.Connection, dispute_id: uuid.UUID):
    """What access checks need: region, handlers, court and holder."""
    return await conn.fetchrow("SELECT region_code, handler_org_ids, court_id, org_id FROM disputes WHERE id = $1",
                               dispute_id)


async def full(conn: asyncpg.Connection, dispute_id: uuid.UUID):
    return await conn.fetchrow(f"SELECT {FULL} FROM disputes d WHERE d.id = $1", dispute_id)


async def with_repeats(conn: asyncpg.Connection, rows: list) -> list[dict[str, Any]]:
    """Rows read with `ITEM`, each with its `risk_repeat` (one query for them all)."""
    repeated = await early_warning.repeats(conn, [r["id"] for r in rows])
    return [{**r, "risk_repeat": r["id"] in repeated} for r in rows]


async def items(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """List items of the disputes `ids`, by id."""
    if not ids:
        return {}
    rows = await conn.fetch(f"SELECT {ITEM} FROM disputes d WHERE d.id = ANY($1::uuid[])", ids)
    return {r["id"]: r for r in await with_repeats(conn, rows)}


async def page(conn: asyncpg.Connection, *, where: str, args: list, limit: int, cursor: str | None,
               select: str = ITEM) -> Page:
    """Disputes matching `where` (on `disputes d`), newest registration first (list items
    unless `select` says otherwise)."""
    found = await keyset_page(conn, select=select, source="disputes d", where=where, args=args,
                              keyset=newest_first("registered_at", "d"), limit=limit, cursor=cursor)
    if select is ITEM:
        found = dataclasses.replace(found, rows=await with_repeats(conn, found.rows))
    return found


async def row(conn: asyncpg.Connection, dispute_id: uuid.UUID, *, where: str = "TRUE", args: tuple = (),
              judged: bool = False):
    """The dispute's own columns (with `judged`, and what `JUDGED` reads), when it also
    matches `where` (arguments from $2)."""
    select = f"{COLUMNS}, {JUDGED}" if judged else COLUMNS
    return await conn.fetchrow(f"SELECT {select} FROM disputes d WHERE d.id = $1 AND {where}", dispute_id, *args)


async def judged(conn: asyncpg.Connection, dispute_id: uuid.UUID):
    """What `JUDGED` reads of one dispute (a registration's answer: `repeat` looks at the
    other disputes, so it is read after the write)."""
    return await conn.fetchrow(f"SELECT d.id, d.status, d.source, d.persons_involved, d.deadline, d.registered_at, "
                               f"{JUDGED} FROM disputes d WHERE d.id = $1", dispute_id)


async def lock(conn: asyncpg.Connection, dispute_id: uuid.UUID):
    """The row for a change, locked, with whether a confirmation is pending (the
    lifecycle's state needs it)."""
    return await conn.fetchrow(f"SELECT {COLUMNS}, {PENDING_CONFIRMATION} FROM disputes d WHERE d.id = $1 "
                               "FOR UPDATE OF d", dispute_id)


async def events(conn: asyncpg.Connection, dispute_id: uuid.UUID) -> list[lifecycle.Event]:
    rows = await conn.fetch("SELECT * FROM dispute_events WHERE dispute_id = $1 ORDER BY seq", dispute_id)
    return [lifecycle.Event(r["kind"], r["at"], r["org_id"], r["tier"], json.loads(r["detail"])) for r in rows]


def state_of(row) -> lifecycle.DisputeState:
    """The lifecycle's state from a row `lock` read."""
    agreement = row["agreement"]
    if isinstance(agreement, str):
        agreement = json.loads(agreement)
    return lifecycle.DisputeState(
        status=row["status"], org_id=row["org_id"], tier=row["tier"], entry_tier=row["entry_tier"],
        highest_tier=row["highest_tier"], registered_at=row["registered_at"], last_move_at=row["last_move_at"],
        source=row["source"], county_code=row["county_code"], version=row["version"],
        concluded_tier=row["concluded_tier"], concluded_at=row["concluded_at"],
        handler_org_ids=tuple(row["handler_org_ids"]), agreement=agreement, performance=row["performance"],
        prevented=tuple(row["prevented"] or ()), pending_confirmation=bool(row.get("pending_confirmation")))


# ---------------------------------------------------------------- writing

@dataclass(frozen=True)
class NewDispute:
    """What a registration writes: the service's checked `Registration` (type, source,
    summary, parties, occurred_on, amount, court fields) and what it derived."""

    id: uuid.UUID
    registration: Any
    county_code: str
    region_code: str
    org_id: uuid.UUID
    tier: str
    registered_at: dt.datetime
    deadline: dt.datetime
    persons_involved: int
    first_event: lifecycle.Event
    actor: str


async def insert(conn: asyncpg.Connection, new: NewDispute):
    """Write the dispute, its parties, its first event and its audit entry in the caller's
    transaction, in two statements; answer the dispute row and the event's `recorded_at`.
    The case-number counter is taken by the second (the last of the transaction), so its
    row lock lasts only until the commit."""
    event = new.first_event
    reg = new.registration
    parties = reg.parties
    detail = json.dumps(event.detail, ensure_ascii=False, default=str)
    # the parties' and the event's foreign keys are deferred: the dispute row comes last
    recorded_at = await conn.fetchval(
        """
        WITH parties AS (
            INSERT INTO dispute_parties (id, dispute_id, position, role, kind, name, id_number, phone, address)
            SELECT gen_random_uuid(), $1, t.position - 1, t.role, t.kind, t.name, t.id_number, t.phone, t.address
            FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                WITH ORDINALITY AS t(role, kind, name, id_number, phone, address, position)
        )
        INSERT INTO dispute_events (id, dispute_id, seq, kind, at, actor, org_id, tier, detail)
        VALUES (gen_random_uuid(), $1, 1, $8, $9, $10, $11, $12, $13::jsonb)
        RETURNING recorded_at
        """,
        new.id, [p.role for p in parties], [p.kind for p in parties], [p.name for p in parties],
        [p.id_number for p in parties], [p.phone for p in parties], [p.address for p in parties],
        event.kind, event.at, new.actor, event.org_id, event.tier, detail)
    year = new.registered_at.astimezone(clock.TZ).year
    words = fields.search_words(reg.summary, *(p.name for p in parties))
    row = await conn.fetchrow(
        f"""
        WITH counter AS (
            INSERT INTO case_counters AS c (county_code, year, last) VALUES ($2, $3, 1)
            ON CONFLICT (county_code, year) DO UPDATE SET last = c.last + 1
            RETURNING last
        ), numbered AS (
            SELECT $2 || '-' || $3::text || '-' || lpad(last::text, 6, '0') AS case_no FROM counter
        ), inserted AS (
            INSERT INTO disputes AS d (id, case_no, county_code, version, type, source, status, summary,
                region_code, org_id, handler_org_ids, tier, entry_tier, highest_tier, registered_at, occurred_on,
                deadline, last_move_at, amount, persons_involved, court_id, court_case_no, search_text,
                entrustment_kind, entrustment_procedure)
            SELECT $1, n.case_no, $2, 1, $4, $5, 'open', $6, $7, $8, ARRAY[$8]::uuid[], $9, $9, $9, $10, $11, $12,
                $10, $13, $14, $15, $16, lower(n.case_no) || ' ' || $17, $19, $20
            FROM numbered n
            RETURNING {COLUMNS}
        ), audited AS (
            INSERT INTO audit_log (actor, action, entity, entity_id, dispute_id, detail)
            SELECT $18, 'dispute.register', 'dispute', $1::text, $1, jsonb_build_object('case_no', i.case_no)
            FROM inserted i
        )
        SELECT * FROM inserted
        """,
        new.id, new.county_code, year, reg.type, reg.source, reg.summary, new.region_code, new.org_id,
        new.tier, new.registered_at, reg.occurred_on, new.deadline, reg.amount, new.persons_involved,
        reg.court_id, reg.court_case_no, words, new.actor, reg.entrustment_kind, reg.entrustment_procedure,
    )
    return row, recorded_at


async def save(conn: asyncpg.Connection, dispute_id: uuid.UUID, new: lifecycle.DisputeState,
               event: lifecycle.Event, *, actor: str) -> None:
    """The row as `new`, the event and its audit entry, in one round trip."""
    agreement = json.dumps(new.agreement, ensure_ascii=False) if new.agreement is not None else None
    agreement_amount = None
    agreement_form = None
    if new.agreement is not None:
        agreement_form = new.agreement.get("form")
        if new.agreement.get("amount") is not None:
            agreement_amount = Decimal(new.agreement["amount"])
    await conn.execute(
        """
        WITH updated AS (
            UPDATE disputes SET version = $2, status = $3, org_id = $4, tier = $5, highest_tier = $6,
                concluded_tier = $7, concluded_at = $8, last_move_at = $9, handler_org_ids = $10::uuid[],
                agreement = $11::jsonb, agreement_form = $12, agreement_amount = $13, performance = $14,
                prevented = $15::text[], updated_at = now()
            WHERE id = $1
        ), event AS (
            INSERT INTO dispute_events (id, dispute_id, seq, kind, at, actor, org_id, tier, detail)
            VALUES (gen_random_uuid(), $1, $2, $16, $17, $18, $19, $20, $21::jsonb)
        )
        INSERT INTO audit_log (actor, action, entity, entity_id, dispute_id, detail)
        VALUES ($18, 'dispute.' || $16, 'dispute', $1::text, $1, jsonb_build_object('version', $2::int))
        """,
        dispute_id, new.version, new.status, new.org_id, new.tier, new.highest_tier, new.concluded_tier,
        new.concluded_at, new.last_move_at, list(new.handler_org_ids), agreement, agreement_form,
        agreement_amount, new.performance, list(new.prevented),
        event.kind, event.at, actor, event.org_id, event.tier, json.dumps(event.detail, ensure_ascii=False, default=str))


async def set_court_case_no(conn: asyncpg.Connection, dispute_id: uuid.UUID, court_case_no: str) -> None:
    """The court filed the case: the dispute carries the court's case number from now on."""
    await conn.execute("UPDATE disputes SET court_case_no = $2 WHERE id = $1", dispute_id, court_case_no)
