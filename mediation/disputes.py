"""Dispute service: register, read, list and move disputes.

Each business action is one transaction: lock the row, check the version, let
`lifecycle` decide, then write the row, the event, the audit entry and whatever the
subscribers of `signals` add (the court outbox) together.

Inputs are objects with attributes (the API's msgspec Structs, or any namespace in
tests); every field is validated here so one answer names every bad field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from mediation import audit, clock, db, early_warning, fields, lifecycle, reports, signals
from mediation.access import Principal
from mediation.codes import (
    AGREEMENT_FORMS,
    DISPUTE_TYPES,
    FAIL_CHANNELS,
    PARTY_KINDS,
    PARTY_ROLES,
    PERFORMANCE,
    PREVENTED,
    SATISFACTION,
    SESSION_METHODS,
    SOURCES,
    STATUSES,
)
from mediation.errors import Collector, Forbidden, Invalid, NotFound, StaleVersion
from mediation.idnumbers import credit_code_problem, mask_id_number, mask_phone, resident_id_problem
from mediation.pagination import keyset_page, newest_first
from mediation.regions import canonical, filter_prefix

SUMMARY_MAX = 2000
TEXT_MAX = 10000
DEFAULT_DEADLINE = dt.timedelta(days=30)

DISPUTE_COLUMNS = """d.id, d.case_no, d.county_code, d.version, d.type, d.source, d.status, d.summary,
    d.region_code, d.org_id, d.handler_org_ids, d.tier, d.entry_tier, d.highest_tier, d.concluded_tier,
    d.registered_at, d.occurred_on, d.deadline, d.concluded_at, d.last_move_at, d.amount,
    d.persons_involved, d.agreement, d.performance, d.prevented, d.court_id, d.court_case_no"""


@dataclass(frozen=True)
class PartyInput:
    role: str
    kind: str
    name: str
    id_number: str | None
    phone: str | None
    address: str | None


def validate_parties(errors: Collector, parties: Any, field: str = "parties") -> list[PartyInput]:
    if not isinstance(parties, list | tuple) or not parties:
        errors.add(field, "at least one party is required")
        return []
    if len(parties) > 200:
        errors.add(field, "at most 200 parties")
        return []
    out = []
    for i, p in enumerate(parties):
        f = f"{field}[{i}]"
        role = fields.code(errors, f"{f}.role", getattr(p, "role", None), PARTY_ROLES)
        kind = fields.code(errors, f"{f}.kind", getattr(p, "kind", None), PARTY_KINDS)
        name = fields.name(errors, f"{f}.name", getattr(p, "name", None), max_len=200)
        id_number = getattr(p, "id_number", None)
        if id_number is not None:
            if not isinstance(id_number, str):
                errors.add(f"{f}.id_number", "must be text")
                id_number = None
            else:
                id_number = id_number.strip().upper()
                problem = None
                if kind == "person":
                    problem = resident_id_problem(id_number)
                elif kind == "organization":
                    problem = credit_code_problem(id_number)
                if problem:
                    errors.add(f"{f}.id_number", problem)
        phone = fields.phone(errors, f"{f}.phone", getattr(p, "phone", None))
        address = fields.name(errors, f"{f}.address", getattr(p, "address", None), max_len=500, required=False)
        out.append(PartyInput(role=role or "", kind=kind or "", name=name or "", id_number=id_number or None,
                              phone=phone, address=address))
    return out


# ---------------------------------------------------------------- reading

def _money_str(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def party_dict(r, reveal: bool) -> dict[str, Any]:
    return {
        "role": r["role"], "kind": r["kind"], "name": r["name"],
        "id_number": r["id_number"] if reveal else mask_id_number(r["id_number"]),
        "phone": r["phone"] if reveal else mask_phone(r["phone"]),
        "address": r["address"],
    }


def _ts(value: dt.datetime | str | None) -> dt.datetime | None:
    """A timestamp from a row, or from a JSON aggregate of rows (ISO text)."""
    return clock.local(clock.stored(value))


def event_dict(r) -> dict[str, Any]:
    detail = r["detail"]
    return {"seq": r["seq"], "kind": r["kind"], "at": _ts(r["at"]), "actor": r["actor"],
            "org_id": r["org_id"], "tier": r["tier"], "detail": json.loads(detail) if isinstance(detail, str) else detail,
            "recorded_at": _ts(r["recorded_at"])}


def referral_dict(r) -> dict[str, Any]:
    out = {"id": r["id"], "kind": r["kind"], "court_id": r["court_id"], "status": r["status"],
           "created_at": _ts(r["created_at"])}
    if r["decision"] is not None:
        out["decision"] = r["decision"]
        out["decided_at"] = _ts(r["decided_at"])
    if r["court_case_no"] is not None:
        out["court_case_no"] = r["court_case_no"]
    return out


def agreement_dict(row) -> dict[str, Any] | None:
    if row["agreement"] is None:
        return None
    agreement = json.loads(row["agreement"]) if isinstance(row["agreement"], str) else dict(row["agreement"])
    agreement["performance"] = row["performance"]
    return agreement


def dispute_dict(row, parties, events=None, referrals=(), *, reveal: bool = False,
                 party_count: int | None = None) -> dict[str, Any]:
    out = {
        "id": row["id"], "case_no": row["case_no"], "version": row["version"], "type": row["type"],
        "source": row["source"], "summary": row["summary"], "region_code": row["region_code"],
        "org_id": row["org_id"], "tier": row["tier"], "entry_tier": row["entry_tier"],
        "highest_tier": row["highest_tier"], "status": row["status"],
        "registered_at": clock.local(row["registered_at"]), "occurred_on": row["occurred_on"],
        "deadline": clock.local(row["deadline"]), "concluded_at": clock.local(row["concluded_at"]),
        "concluded_tier": row["concluded_tier"], "amount": _money_str(row["amount"]),
        "persons_involved": row["persons_involved"], "prevented": list(row["prevented"] or ()),
        "parties": [party_dict(p, reveal) for p in parties],
        "party_count": len(parties) if party_count is None else party_count,
        "agreement": agreement_dict(row), "court_case_no": row["court_case_no"],
        "referrals": [referral_dict(r) for r in referrals],
    }
    out.update(early_warning.answer_fields(row))
    if events is not None:
        out["events"] = [event_dict(e) for e in events]
    return out


async def _load(conn: asyncpg.Connection, dispute_id: uuid.UUID, *, lock: bool = False):
    return await conn.fetchrow(
        f"SELECT {DISPUTE_COLUMNS} FROM disputes d WHERE d.id = $1{' FOR UPDATE' if lock else ''}", dispute_id)


#: a dispute with its parties, timeline and referrals in one round trip
FULL_DISPUTE = f"""
    SELECT {DISPUTE_COLUMNS}, {early_warning.ANSWER_COLUMNS},
        (SELECT coalesce(json_agg(json_build_object('role', p.role, 'kind', p.kind, 'name', p.name,
                'id_number', p.id_number, 'phone', p.phone, 'address', p.address) ORDER BY p.position), '[]')
         FROM dispute_parties p WHERE p.dispute_id = d.id) AS parties_json,
        (SELECT coalesce(json_agg(json_build_object('seq', e.seq, 'kind', e.kind, 'at', e.at, 'actor', e.actor,
                'org_id', e.org_id, 'tier', e.tier, 'detail', e.detail, 'recorded_at', e.recorded_at)
                ORDER BY e.seq), '[]')
         FROM dispute_events e WHERE e.dispute_id = d.id) AS events_json,
        (SELECT coalesce(json_agg(json_build_object('id', r.id, 'kind', r.kind, 'court_id', r.court_id,
                'status', r.status, 'created_at', r.created_at, 'decision', r.decision,
                'decided_at', r.decided_at, 'court_case_no', r.court_case_no) ORDER BY r.created_at, r.id), '[]')
         FROM referrals r WHERE r.dispute_id = d.id) AS referrals_json
    FROM disputes d WHERE d.id = $1"""


async def _load_full(conn: asyncpg.Connection, dispute_id: uuid.UUID):
    return await conn.fetchrow(FULL_DISPUTE, dispute_id)


def full_dict(row, *, reveal: bool) -> dict[str, Any]:
    return dispute_dict(row, json.loads(row["parties_json"]), json.loads(row["events_json"]),
                        json.loads(row["referrals_json"]), reveal=reveal)


def _readable(principal: Principal, row) -> bool:
    return row is not None and principal.may_read_dispute(
        region_code=row["region_code"], handler_org_ids=row["handler_org_ids"], court_id=row["court_id"])


async def check_access(principal: Principal, dispute_id: uuid.UUID, *, act: bool = False) -> None:
    """404 when the caller may not read the dispute; 403 when it may read but not act."""
    async with db.connection() as conn:
        row = await conn.fetchrow("SELECT region_code, handler_org_ids, court_id, org_id FROM disputes WHERE id = $1",
                                  dispute_id)
    if not _readable(principal, row):
        raise NotFound(f"dispute {dispute_id} not found")
    if act and not principal.may_act_on_dispute(org_id=row["org_id"]):
        raise Forbidden("only the organisation currently holding the dispute may act on it")


async def get(principal: Principal, dispute_id: uuid.UUID, *, reveal: bool = False) -> dict[str, Any]:
    async with db.transaction() as conn:
        row = await _load_full(conn, dispute_id)
        if not _readable(principal, row):
            raise NotFound(f"dispute {dispute_id} not found")
        if reveal:
            if not principal.may_reveal(org_id=row["org_id"]):
                raise Forbidden("full personal data is shown only to admins and the holding organisation")
            await audit.record(conn, actor=principal.actor, action="personal_data.reveal", entity="dispute",
                               entity_id=dispute_id, dispute_id=dispute_id)
        return full_dict(row, reveal=reveal)


@dataclass(frozen=True)
class ListFilters:
    status: str | None = None
    type: str | None = None
    org_id: uuid.UUID | None = None
    region: str | None = None
    q: str | None = None
    overdue: bool = False
    source: str | None = None
    registered_from: str | None = None
    registered_to: str | None = None
    concluded_from: str | None = None
    concluded_to: str | None = None
    risk: str | None = None        # red | yellow (yellow means yellow or red)


#: the list's period filters: `{name}_from` / `{name}_to` bound the column `{name}_at`
PERIODS = ("registered", "concluded")


async def list_disputes(principal: Principal, filters: ListFilters, *, limit: int = 50,
                        cursor: str | None = None) -> dict[str, Any]:
    errors = Collector()
    fields.code(errors, "status", filters.status, STATUSES, required=False)
    fields.code(errors, "type", filters.type, DISPUTE_TYPES, required=False)
    fields.code(errors, "source", filters.source, SOURCES, required=False)
    region12 = None
    if filters.region:
        try:
            region12 = canonical(filters.region, "region")
        except Invalid as e:
            errors.errors.extend(e.errors)
    if filters.q is not None and len(filters.q) > 200:
        errors.add("q", "must be at most 200 characters")
    periods = {name: fields.period(errors, name, getattr(filters, f"{name}_from"), getattr(filters, f"{name}_to"))
               for name in PERIODS}
    fields.code(errors, "risk", filters.risk, {"red": "", "yellow": ""}, required=False)
    errors.raise_if_any()

    args: list = []
    conds = [principal.dispute_filter(args)]
    for column in ("status", "type", "source", "org_id"):
        value = getattr(filters, column)
        if value is not None:
            args.append(value)
            conds.append(f"d.{column} = ${len(args)}")
    for name, (begins, ends) in periods.items():
        for bound, op in ((begins, ">="), (ends, "<")):
            if bound is not None:
                args.append(bound)
                conds.append(f"d.{name}_at {op} ${len(args)}")
    async with db.connection() as conn:
        if region12:
            args.append(await filter_prefix(conn, region12) + "%")
            conds.append(f"d.region_code LIKE ${len(args)}")
        q = fields.search_words(filters.q).strip() if filters.q else ""
        if q:
            args.append("%" + _like_escape(q) + "%")
            conds.append(f"d.search_text LIKE ${len(args)}")
        if filters.overdue:
            args.append(clock.now())
            conds.append(f"d.status = 'open' AND d.deadline < ${len(args)}")
        if filters.risk:
            args.extend([clock.now(), early_warning.levels_at_or_above(filters.risk)])
            conds.append(f"{early_warning.level_filter('d', f'${len(args) - 1}')} = ANY(${len(args)}::text[])")
        page = await keyset_page(conn, select=f"{DISPUTE_COLUMNS}, {early_warning.ANSWER_COLUMNS}",
                                 source="disputes d", where=" AND ".join(conds),
                                 args=args, keyset=newest_first("registered_at", "d"), limit=limit, cursor=cursor)
        rows = page.rows
        ids = [r["id"] for r in rows]
        parties, counts = await list_item_parties(conn, ids)
        referral_rows = await conn.fetch(
            "SELECT * FROM referrals WHERE dispute_id = ANY($1::uuid[]) ORDER BY created_at, id", ids)
    refs: dict[uuid.UUID, list] = {}
    for r in referral_rows:
        refs.setdefault(r["dispute_id"], []).append(r)
    items = [dispute_dict(r, parties.get(r["id"], []), None, refs.get(r["id"], ()), party_count=counts.get(r["id"], 0))
             for r in rows]
    return {"items": items, "total": page.total, "next_cursor": page.next_cursor}


#: a list item carries this many parties (and `party_count`), so a page stays small however
#: many parties its disputes have; the full dispute carries every party
LIST_ITEM_PARTIES = 5


async def list_item_parties(conn: asyncpg.Connection, ids: list[uuid.UUID]
                            ) -> tuple[dict[uuid.UUID, list], dict[uuid.UUID, int]]:
    """The first parties of each dispute in a list, and how many each has in all."""
    rows = await conn.fetch(
        "SELECT * FROM dispute_parties WHERE dispute_id = ANY($1::uuid[]) AND position < $2 "
        "ORDER BY dispute_id, position", ids, LIST_ITEM_PARTIES)
    counts = await conn.fetch(
        "SELECT dispute_id, count(*) AS n FROM dispute_parties WHERE dispute_id = ANY($1::uuid[]) "
        "GROUP BY dispute_id", ids)
    first: dict[uuid.UUID, list] = {}
    for p in rows:
        first.setdefault(p["dispute_id"], []).append(p)
    return first, {r["dispute_id"]: r["n"] for r in counts}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------- registering

@dataclass(frozen=True)
class Registration:
    org_id: uuid.UUID
    type: str
    source: str
    summary: str
    parties: list[PartyInput]
    region_code: str | None
    registered_at: dt.datetime | None
    occurred_on: dt.date | None
    amount: Decimal | None
    persons_involved: int | None
    deadline: dt.datetime | None
    court_id: uuid.UUID | None = None
    court_case_no: str | None = None
    entrustment_kind: str | None = None        # pre_filing | in_litigation (court-entrusted only)
    entrustment_procedure: str | None = None   # ordinary | simple
    risk_reasons: tuple[str, ...] = ()         # intake risks: the first assessment


def validate_registration(data: Any, *, court_entrusted: bool = False) -> Registration:
    errors = Collector()
    org_id = fields.uuid_of(errors, "org_id", getattr(data, "org_id", None))
    dtype = fields.code(errors, "type", getattr(data, "type", None), DISPUTE_TYPES)
    if court_entrusted:
        source = "court_entrusted"
    else:
        source = fields.code(errors, "source", getattr(data, "source", None), SOURCES)
        if source == "court_entrusted":
            errors.add("source", "court-entrusted disputes arrive from the court through /court/entrustments")
    summary = fields.text(errors, "summary", getattr(data, "summary", None), max_len=SUMMARY_MAX)
    parties = validate_parties(errors, getattr(data, "parties", None))
    region_code = getattr(data, "region_code", None)
    if region_code is not None:
        try:
            region_code = canonical(region_code, "region_code")
        except Invalid as e:
            errors.errors.extend(e.errors)
    amount = fields.money(errors, "amount", getattr(data, "amount", None))
    persons = getattr(data, "persons_involved", None)
    if persons is not None and (not isinstance(persons, int) or isinstance(persons, bool) or not 1 <= persons <= 1_000_000):
        errors.add("persons_involved", "must be a whole number of at least 1")
    now = clock.now()
    registered_at = fields.aware_time(getattr(data, "registered_at", None))
    deadline = fields.aware_time(getattr(data, "deadline", None))
    occurred_on = getattr(data, "occurred_on", None)
    if fields.time_in_bounds(errors, "registered_at", registered_at, now=now):
        fields.deadline_in_bounds(errors, "deadline", deadline, registered_at or now)
        fields.occurred_in_bounds(errors, "occurred_on", occurred_on, registered_at or now)
    intake = early_warning.intake_reasons(errors, getattr(data, "risk_reasons", None))
    errors.raise_if_any()
    return Registration(org_id=org_id, type=dtype, source=source, summary=summary, parties=parties,
                        region_code=region_code, registered_at=registered_at, occurred_on=occurred_on,
                        amount=amount, persons_involved=persons, deadline=deadline, risk_reasons=intake)


async def _org_ref(conn: asyncpg.Connection, org_id: uuid.UUID, field: str) -> lifecycle.OrgRef:
    r = await conn.fetchrow("SELECT id, tier, county_code FROM orgs WHERE id = $1", org_id)
    if r is None:
        raise Invalid.field(field, f"org {org_id} does not exist")
    return lifecycle.OrgRef(id=r["id"], tier=r["tier"], county_code=r["county_code"])


async def register(principal: Principal, data: Any) -> dict[str, Any]:
    org_id = getattr(data, "org_id", None)  # 403 before 422 (API.md's order), so checked first
    if isinstance(org_id, uuid.UUID) and not principal.may_act_on_dispute(org_id=org_id):
        raise Forbidden("a mediator registers disputes only at their own organisation")
    reg = validate_registration(data)
    if not principal.may_act_on_dispute(org_id=reg.org_id):
        raise Forbidden("a mediator registers disputes only at their own organisation")
    async with db.transaction() as conn:
        written = await insert_dispute(conn, principal, reg,
                                       event_detail=early_warning.intake_event_detail(reg.risk_reasons))
        judged = await early_warning.answer_of(conn, written.row["id"])  # repeat looks at other disputes
    # answered from what was written (a new dispute has no referrals)
    out = dispute_dict(written.row, [dataclasses.asdict(p) for p in reg.parties], [written.event], (),
                       reveal=False)
    out.update(judged)
    return out


@dataclass(frozen=True)
class Written:
    row: Any                 # the dispute row (DISPUTE_COLUMNS)
    event: dict[str, Any]    # its first event, as stored


async def insert_dispute(conn: asyncpg.Connection, principal: Principal, reg: Registration,
                         *, default_deadline: dt.timedelta = DEFAULT_DEADLINE,
                         event_detail: dict[str, Any] | None = None) -> Written:
    """Write a new dispute, its parties, its first event and its audit entry in the
    caller's transaction, in two statements. The case-number counter is taken by the
    second (the last of the transaction), so its row lock lasts only until the commit."""
    now = clock.now()
    org = await conn.fetchrow("SELECT id, tier, county_code, region_code FROM orgs WHERE id = $1", reg.org_id)
    if org is None:
        raise Invalid.field("org_id", f"org {reg.org_id} does not exist")
    region_code = reg.region_code or org["region_code"]
    if region_code[:6] != org["county_code"]:
        raise Invalid.field("region_code", "must lie inside the organisation's county")
    if region_code != org["region_code"] and not await conn.fetchval("SELECT 1 FROM regions WHERE code = $1", region_code):
        raise Invalid.field("region_code", f"region {region_code} is not registered")
    registered_at = reg.registered_at or now
    errors = Collector()
    fields.deadline_in_bounds(errors, "deadline", reg.deadline, registered_at)
    errors.raise_if_any()
    await reports.refuse_frozen(conn, principal, region_code, registered_at, field="registered_at")
    ref = lifecycle.OrgRef(id=org["id"], tier=org["tier"], county_code=org["county_code"])
    state, event = lifecycle.register(lifecycle.Register(org=ref, source=reg.source, registered_at=registered_at),
                                      now, org["county_code"])
    if event_detail:
        event = lifecycle.Event(event.kind, event.at, event.org_id, event.tier, {**event.detail, **event_detail})
    dispute_id = uuid.uuid4()
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
        dispute_id, [p.role for p in parties], [p.kind for p in parties], [p.name for p in parties],
        [p.id_number for p in parties], [p.phone for p in parties], [p.address for p in parties],
        event.kind, event.at, principal.actor, event.org_id, event.tier, detail)
    year = registered_at.astimezone(clock.TZ).year
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
            RETURNING {DISPUTE_COLUMNS}
        ), audited AS (
            INSERT INTO audit_log (actor, action, entity, entity_id, dispute_id, detail)
            SELECT $18, 'dispute.register', 'dispute', $1::text, $1, jsonb_build_object('case_no', i.case_no)
            FROM inserted i
        )
        SELECT * FROM inserted
        """,
        dispute_id, org["county_code"], year, reg.type, reg.source, reg.summary, region_code, org["id"],
        state.tier, registered_at, reg.occurred_on, reg.deadline or registered_at + default_deadline,
        reg.amount, reg.persons_involved or len(parties), reg.court_id, reg.court_case_no, words,
        principal.actor, reg.entrustment_kind, reg.entrustment_procedure,
    )
    stored_event = {"seq": 1, "kind": event.kind, "at": event.at, "actor": principal.actor, "org_id": event.org_id,
                    "tier": event.tier, "detail": json.loads(detail), "recorded_at": recorded_at}
    return Written(row=row, event=stored_event)


# ---------------------------------------------------------------- transitions

def state_from_row(row, *, pending_confirmation: bool = False) -> lifecycle.DisputeState:
    agreement = row["agreement"]
    if isinstance(agreement, str):
        agreement = json.loads(agreement)
    return lifecycle.DisputeState(
        status=row["status"], org_id=row["org_id"], tier=row["tier"], entry_tier=row["entry_tier"],
        highest_tier=row["highest_tier"], registered_at=row["registered_at"], last_move_at=row["last_move_at"],
        source=row["source"], county_code=row["county_code"], version=row["version"],
        concluded_tier=row["concluded_tier"], concluded_at=row["concluded_at"],
        handler_org_ids=tuple(row["handler_org_ids"]), agreement=agreement, performance=row["performance"],
        prevented=tuple(row["prevented"] or ()), pending_confirmation=pending_confirmation)


def requested_version(data: Any, if_match: str | None) -> int | None:
    version = getattr(data, "version", None)
    if version is None and if_match:
        raw = if_match.strip().removeprefix("W/").strip('"')
        try:
            version = int(raw)
        except ValueError:
            raise Invalid.field("If-Match", 'must be the dispute version, e.g. "3"') from None
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise Invalid.field("version", "must be a positive whole number")
    return version


async def _build_command(conn: asyncpg.Connection, action: str, data: Any, state: lifecycle.DisputeState):
    errors = Collector()
    note = fields.text(errors, "note", getattr(data, "note", None), max_len=TEXT_MAX, required=False)
    cmd: Any = None
    if action == "sessions":
        held_at = fields.aware_time(getattr(data, "held_at", None))
        if held_at is None:
            errors.add("held_at", "is required")
        method = fields.code(errors, "method", getattr(data, "method", None), SESSION_METHODS)
        summary = fields.text(errors, "summary", getattr(data, "summary", None), max_len=TEXT_MAX)
        raw_ids = getattr(data, "mediator_ids", None)
        ids: list[uuid.UUID] = []
        if not isinstance(raw_ids, list | tuple) or not raw_ids:
            errors.add("mediator_ids", "at least one mediator is required")
        else:
            for i, m in enumerate(raw_ids):
                mid = fields.uuid_of(errors, f"mediator_ids[{i}]", m)
                if mid is not None:
                    ids.append(mid)
            if ids:
                active = {r["id"] for r in await conn.fetch(
                    "SELECT id FROM mediators WHERE id = ANY($1::uuid[]) AND org_id = $2 AND active", ids, state.org_id)}
                for i, mid in enumerate(ids):
                    if mid not in active:
                        errors.add(f"mediator_ids[{i}]", "is not an active mediator of the organisation holding the dispute")
        errors.raise_if_any()
        cmd = lifecycle.RecordSession(held_at=held_at, method=method, mediator_ids=tuple(dict.fromkeys(ids)),
                                      summary=summary)
    elif action in ("escalate", "assign"):
        to = fields.uuid_of(errors, "to_org_id", getattr(data, "to_org_id", None))
        reason = fields.text(errors, "reason", getattr(data, "reason", None), max_len=TEXT_MAX)
        errors.raise_if_any()
        ref = await _org_ref(conn, to, "to_org_id")
        cmd = (lifecycle.Escalate if action == "escalate" else lifecycle.Assign)(to=ref, reason=reason)
    elif action == "resolve":
        a = getattr(data, "agreement", None)
        if a is None:
            errors.add("agreement", "is required")
        else:
            form = fields.code(errors, "agreement.form", getattr(a, "form", None), AGREEMENT_FORMS)
            terms = fields.text(errors, "agreement.terms", getattr(a, "terms", None), max_len=TEXT_MAX)
            signed_at = fields.aware_time(getattr(a, "signed_at", None))
            if signed_at is None:
                errors.add("agreement.signed_at", "is required")
            amount = fields.money(errors, "agreement.amount", getattr(a, "amount", None))
            due = getattr(a, "performance_due", None)
        prevented = getattr(data, "prevented", None) or []
        for i, p in enumerate(prevented):
            fields.code(errors, f"prevented[{i}]", p, PREVENTED)
        errors.raise_if_any()
        cmd = lifecycle.Resolve(
            agreement=lifecycle.Agreement(form=form, terms=terms, signed_at=signed_at, amount=amount,
                                          performance_due=due),
            prevented=tuple(dict.fromkeys(prevented)))
    elif action == "fail":
        reason = fields.text(errors, "reason", getattr(data, "reason", None), max_len=TEXT_MAX)
        channel = fields.code(errors, "channel", getattr(data, "channel", None), FAIL_CHANNELS, required=False)
        errors.raise_if_any()
        cmd = lifecycle.Fail(reason=reason, channel=channel)
    elif action in ("withdraw", "reject"):
        reason = fields.text(errors, "reason", getattr(data, "reason", None), max_len=TEXT_MAX)
        errors.raise_if_any()
        cmd = (lifecycle.Withdraw if action == "withdraw" else lifecycle.Reject)(reason=reason)
    elif action == "performance":
        status = getattr(data, "status", None)
        if status == "pending" or status not in PERFORMANCE:
            errors.add("status", "must be one of performed, partial, breached")
        checked_at = fields.aware_time(getattr(data, "checked_at", None))
        if checked_at is None:
            errors.add("checked_at", "is required")
        errors.raise_if_any()
        cmd = lifecycle.RecordPerformance(status=status, checked_at=checked_at)
    elif action == "visit":
        satisfaction = fields.code(errors, "satisfaction", getattr(data, "satisfaction", None), SATISFACTION)
        errors.raise_if_any()
        cmd = lifecycle.RecordVisit(satisfaction=satisfaction)
    else:
        errors.raise_if_any()
        builder = _extra_commands.get(action)
        if builder is None:
            raise NotFound(f"no action {action!r} on disputes")
        cmd = await builder(conn, data, state)
    return cmd, note


#: commands other packages add (the court side: refer, confirmation): action → builder
_extra_commands: dict[str, Any] = {}


def register_action(action: str, builder) -> None:
    _extra_commands[action] = builder


ACTIONS = ("sessions", "escalate", "assign", "resolve", "fail", "withdraw", "reject", "performance", "visit")


LOCK_FOR_TRANSITION = f"""
    SELECT {DISPUTE_COLUMNS}, EXISTS (SELECT 1 FROM referrals r WHERE r.dispute_id = d.id
        AND r.kind = 'confirmation' AND r.status <> 'decided') AS pending_confirmation
    FROM disputes d WHERE d.id = $1 FOR UPDATE OF d"""


async def transition(principal: Principal, dispute_id: uuid.UUID, action: str, data: Any,
                     *, if_match: str | None = None) -> dict[str, Any]:
    now = clock.now()
    version = requested_version(data, if_match)
    async with db.transaction() as conn:
        row = await conn.fetchrow(LOCK_FOR_TRANSITION, dispute_id)
        if not _readable(principal, row):
            raise NotFound(f"dispute {dispute_id} not found")
        if not principal.may_act_on_dispute(org_id=row["org_id"]):
            raise Forbidden("only the organisation currently holding the dispute may act on it")
        state = state_from_row(row, pending_confirmation=row["pending_confirmation"])
        cmd, note = await _build_command(conn, action, data, state)
        at = fields.aware_time(getattr(data, "at", None)) or lifecycle.default_at(cmd, now)
        at_field = "at" if getattr(data, "at", None) is not None else lifecycle.default_at_field(cmd)
        if getattr(data, "at", None) is None and at == now:
            # a case registered a little ahead of this clock (skew allowed) can still move now
            at = max(now, state.last_move_at)
        lifecycle.check_business_time(state, at, now, field_name=at_field)
        if version is not None and version != state.version:
            raise StaleVersion(f"the dispute is at version {state.version}, not {version}; reload it and try again")
        await reports.refuse_frozen(conn, principal, row["region_code"], at, field=at_field)
        event = lifecycle.decide(state, cmd, at=at, now=now, at_field=at_field)
        if note:
            event = lifecycle.Event(event.kind, event.at, event.org_id, event.tier, {**event.detail, "note": note})
        await apply_event(conn, principal, row, state, event)
        return full_dict(await _load_full(conn, dispute_id), reveal=False)


async def apply_event(conn: asyncpg.Connection, principal: Principal, row, state: lifecycle.DisputeState,
                      event: lifecycle.Event, *, actor: str | None = None) -> lifecycle.DisputeState:
    """Evolve the state by `event` and write row, event, audit entry and signals."""
    new = lifecycle.evolve(state, event)
    agreement = json.dumps(new.agreement, ensure_ascii=False) if new.agreement is not None else None
    agreement_amount = None
    agreement_form = None
    if new.agreement is not None:
        agreement_form = new.agreement.get("form")
        if new.agreement.get("amount") is not None:
            agreement_amount = Decimal(new.agreement["amount"])
    who = actor or principal.actor
    # row, event and audit entry in one round trip
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
        row["id"], new.version, new.status, new.org_id, new.tier, new.highest_tier, new.concluded_tier,
        new.concluded_at, new.last_move_at, list(new.handler_org_ids), agreement, agreement_form,
        agreement_amount, new.performance, list(new.prevented),
        event.kind, event.at, who, event.org_id, event.tier, json.dumps(event.detail, ensure_ascii=False, default=str))
    await signals.publish(conn, signals.EventRecorded(
        dispute_id=row["id"], case_no=row["case_no"], source=row["source"], court_id=row["court_id"],
        court_case_no=row["court_case_no"], kind=event.kind, at=event.at, detail=event.detail,
        status_before=state.status, status_after=new.status, agreement=new.agreement))
    return new


async def events_of(dispute_id: uuid.UUID) -> tuple[Any, list[lifecycle.Event]]:
    """The stored row and timeline, for replay checks and exports."""
    async with db.connection() as conn:
        row = await _load(conn, dispute_id)
        rows = await conn.fetch("SELECT * FROM dispute_events WHERE dispute_id = $1 ORDER BY seq", dispute_id)
    return row, [lifecycle.Event(r["kind"], r["at"], r["org_id"], r["tier"], json.loads(r["detail"])) for r in rows]


