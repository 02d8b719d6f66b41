"""The dispute service: register, read, list and move disputes.

Each business action is one transaction: lock the row, check the version, let
`lifecycle` decide, then save the row, the event, the audit entry and whatever the
subscribers of `signals` add (the court outbox) together. SQL lives in `dispute_store`,
answer shapes in `dispute_views`; the rules in `lifecycle`.

Inputs are objects with attributes (the API's msgspec Structs, or any namespace in
tests); every field is validated here so one answer names every bad field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from mediation import (
    audit,
    clock,
    db,
    dispute_store,
    dispute_views,
    early_warning,
    fields,
    lifecycle,
    orgs,
    regions,
    reports,
    signals,
)
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
from mediation.dispute_views import Dispute, DisputePage, Party
from mediation.errors import Collector, Forbidden, Invalid, NotFound
from mediation.idnumbers import credit_code_problem, resident_id_problem
from mediation.regions import canonical, filter_prefix

SUMMARY_MAX = 2000
TEXT_MAX = 10000
DEFAULT_DEADLINE = dt.timedelta(days=30)


def validate_parties(errors: Collector, parties: Any, field: str = "parties") -> list[Party]:
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
        out.append(Party(role=role or "", kind=kind or "", name=name or "", id_number=id_number or None,
                         phone=phone, address=address))
    return out


# ---------------------------------------------------------------- who may read and act

def authorise(principal: Principal, row: Any, dispute_id: uuid.UUID, *, act: bool = False) -> None:
    """404 when the caller may not read the dispute; 403 when it may read but not act.

    The API's guard runs this before the body is read (so 404/403 come before 422); a
    transition runs it again on the locked row, because the holder may have changed in
    between (that one is the one that counts)."""
    if row is None or not principal.may_read_dispute(
            region_code=row["region_code"], handler_org_ids=row["handler_org_ids"], court_id=row["court_id"]):
        raise NotFound("dispute {dispute_id} not found", dispute_id=dispute_id)
    if act and not principal.may_act_on_dispute(org_id=row["org_id"]):
        raise Forbidden("only the organisation currently holding the dispute may act on it")


async def check_access(principal: Principal, dispute_id: uuid.UUID, *, act: bool = False) -> None:
    async with db.connection() as conn:
        authorise(principal, await dispute_store.scope_row(conn, dispute_id), dispute_id, act=act)


# ---------------------------------------------------------------- reading

async def get(principal: Principal, dispute_id: uuid.UUID, *, reveal: bool = False) -> Dispute:
    async with db.transaction() as conn:
        row = await dispute_store.full(conn, dispute_id)
        authorise(principal, row, dispute_id)
        if reveal:
            if not principal.may_reveal(org_id=row["org_id"]):
                raise Forbidden("full personal data is shown only to admins and the holding organisation")
            await audit.record(conn, actor=principal.actor, action="personal_data.reveal", entity="dispute",
                               entity_id=dispute_id, dispute_id=dispute_id)
        return dispute_views.full(row, reveal=reveal)


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
                        cursor: str | None = None) -> DisputePage:
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
        page = await dispute_store.page(conn, where=" AND ".join(conds), args=args, limit=limit, cursor=cursor)
    return DisputePage(items=[dispute_views.item(r) for r in page.rows], total=page.total,
                    next_cursor=page.next_cursor)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------- registering

@dataclass(frozen=True)
class Registration:
    org_id: uuid.UUID
    type: str
    source: str
    summary: str
    parties: list[Party]
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


def validate_registration(data: Any, *, court_entrusted: bool = False,
                          principal: Principal | None = None) -> Registration:
    """Every field of a registration checked, all bad fields named at once. With a
    `principal`, 403 first when it may not register at the org (API.md's order: 403
    before 422)."""
    errors = Collector()
    org_id = fields.uuid_of(errors, "org_id", getattr(data, "org_id", None))
    if principal is not None and org_id is not None and not principal.may_act_on_dispute(org_id=org_id):
        raise Forbidden("a mediator registers disputes only at their own organisation")
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


async def register(principal: Principal, data: Any) -> Dispute:
    reg = validate_registration(data, principal=principal)
    async with db.transaction() as conn:
        written = await insert_dispute(conn, principal, reg,
                                       event_detail=early_warning.intake_event_detail(reg.risk_reasons))
        judged = await dispute_store.judged(conn, written.row["id"])  # `repeat` looks at the other disputes
    # answered from what was written (a new dispute has no referrals)
    return dispute_views.registered(written.row, reg.parties, written.first, judged)


@dataclass(frozen=True)
class Written:
    row: Any                      # the dispute row (dispute_store.COLUMNS)
    first: dispute_views.Event    # its first event, as stored


async def insert_dispute(conn: asyncpg.Connection, principal: Principal, reg: Registration,
                         *, default_deadline: dt.timedelta = DEFAULT_DEADLINE,
                         event_detail: dict[str, Any] | None = None) -> Written:
    """Write a validated registration in the caller's transaction (the org and region
    checks need the database, so they are here)."""
    org = await orgs.placement(conn, reg.org_id)
    if org is None:
        raise Invalid.field("org_id", "org {org_id} does not exist", org_id=reg.org_id)
    region_code = reg.region_code or org["region_code"]
    if region_code[:6] != org["county_code"]:
        raise Invalid.field("region_code", "must lie inside the organisation's county")
    if region_code != org["region_code"] and not await regions.registered(conn, region_code):
        raise Invalid.field("region_code", "region {code} is not registered", code=region_code)
    now = clock.now()
    registered_at = reg.registered_at or now  # the deadline was checked against it (or now) by validate_registration
    await reports.refuse_frozen(conn, principal, region_code, registered_at, field="registered_at")
    ref = lifecycle.OrgRef(id=org["id"], tier=org["tier"], county_code=org["county_code"])
    state, event = lifecycle.register(lifecycle.Register(org=ref, source=reg.source, registered_at=registered_at),
                                      now, org["county_code"])
    if event_detail:
        event = lifecycle.Event(event.kind, event.at, event.org_id, event.tier, {**event.detail, **event_detail})
    new = dispute_store.NewDispute(
        id=uuid.uuid4(), registration=reg, county_code=org["county_code"], region_code=region_code,
        org_id=org["id"], tier=state.tier, registered_at=registered_at,
        deadline=reg.deadline or registered_at + default_deadline,
        persons_involved=reg.persons_involved or len(reg.parties), first_event=event, actor=principal.actor)
    row, recorded_at = await dispute_store.insert(conn, new)
    first = dispute_views.Event(seq=1, kind=event.kind, at=clock.local(event.at), actor=principal.actor,
                                org_id=event.org_id, tier=event.tier, detail=event.detail,
                                recorded_at=clock.local(recorded_at))
    return Written(row=row, first=first)


# ---------------------------------------------------------------- transitions

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


#: reads an action's body into a lifecycle command: adds every bad field to the
#: collector (raising itself when a lookup needs valid values first)
Parser = Callable[[asyncpg.Connection, Any, lifecycle.DisputeState, Collector], Awaitable[Any]]


def _time(errors: Collector, field: str, value: Any) -> dt.datetime | None:
    at = fields.aware_time(value)
    if at is None:
        errors.add(field, "is required")
    return at


async def _session(conn: asyncpg.Connection, data: Any, state: lifecycle.DisputeState,
                   errors: Collector) -> lifecycle.RecordSession:
    held_at = _time(errors, "held_at", getattr(data, "held_at", None))
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
            active = await orgs.active_mediators(conn, state.org_id, ids)
            for i, mid in enumerate(ids):
                if mid not in active:
                    errors.add(f"mediator_ids[{i}]", "is not an active mediator of the organisation holding the dispute")
    errors.raise_if_any()
    return lifecycle.RecordSession(held_at=held_at, method=method, mediator_ids=tuple(dict.fromkeys(ids)),
                                   summary=summary)


def _move(command: type[lifecycle.Escalate] | type[lifecycle.Assign]) -> Parser:
    async def parse(conn: asyncpg.Connection, data: Any, state: lifecycle.DisputeState, errors: Collector):
        to = fields.uuid_of(errors, "to_org_id", getattr(data, "to_org_id", None))
        reason = fields.text(errors, "reason", getattr(data, "reason", None), max_len=TEXT_MAX)
        errors.raise_if_any()
        org = await orgs.placement(conn, to)
        if org is None:
            raise Invalid.field("to_org_id", "org {org_id} does not exist", org_id=to)
        return command(to=lifecycle.OrgRef(id=org["id"], tier=org["tier"], county_code=org["county_code"]),
                       reason=reason)
    return parse


async def _resolve(conn: asyncpg.Connection, data: Any, state: lifecycle.DisputeState,
                   errors: Collector) -> lifecycle.Resolve:
    a = getattr(data, "agreement", None)
    if a is None:
        errors.add("agreement", "is required")
    else:
        form = fields.code(errors, "agreement.form", getattr(a, "form", None), AGREEMENT_FORMS)
        terms = fields.text(errors, "agreement.terms", getattr(a, "terms", None), max_len=TEXT_MAX)
        signed_at = _time(errors, "agreement.signed_at", getattr(a, "signed_at", None))
        amount = fields.money(errors, "agreement.amount", getattr(a, "amount", None))
        due = getattr(a, "performance_due", None)
    prevented = getattr(data, "prevented", None) or []
    for i, p in enumerate(prevented):
        fields.code(errors, f"prevented[{i}]", p, PREVENTED)
    errors.raise_if_any()
    return lifecycle.Resolve(
        agreement=lifecycle.Agreement(form=form, terms=terms, signed_at=signed_at, amount=amount,
                                      performance_due=due),
        prevented=tuple(dict.fromkeys(prevented)))


async def _fail(conn: asyncpg.Connection, data: Any, state: lifecycle.DisputeState,
                errors: Collector) -> lifecycle.Fail:
    reason = fields.text(errors, "reason", getattr(data, "reason", None), max_len=TEXT_MAX)
    channel = fields.code(errors, "channel", getattr(data, "channel", None), FAIL_CHANNELS, required=False)
    return lifecycle.Fail(reason=reason, channel=channel)


def _with_reason(command: type[lifecycle.Withdraw] | type[lifecycle.Reject]) -> Parser:
    async def parse(conn: asyncpg.Connection, data: Any, state: lifecycle.DisputeState, errors: Collector):
        return command(reason=fields.text(errors, "reason", getattr(data, "reason", None), max_len=TEXT_MAX))
    return parse


async def _performance(conn: asyncpg.Connection, data: Any, state: lifecycle.DisputeState,
                       errors: Collector) -> lifecycle.RecordPerformance:
    status = getattr(data, "status", None)
    if status == "pending" or status not in PERFORMANCE:
        errors.add("status", "must be one of performed, partial, breached")
    checked_at = _time(errors, "checked_at", getattr(data, "checked_at", None))
    return lifecycle.RecordPerformance(status=status, checked_at=checked_at)


async def _visit(conn: asyncpg.Connection, data: Any, state: lifecycle.DisputeState,
                 errors: Collector) -> lifecycle.RecordVisit:
    return lifecycle.RecordVisit(
        satisfaction=fields.code(errors, "satisfaction", getattr(data, "satisfaction", None), SATISFACTION))


#: the dispute actions and how each reads its body; `add_action` adds the court side's
ACTIONS: dict[str, Parser] = {
    "sessions": _session,
    "escalate": _move(lifecycle.Escalate),
    "assign": _move(lifecycle.Assign),
    "resolve": _resolve,
    "fail": _fail,
    "withdraw": _with_reason(lifecycle.Withdraw),
    "reject": _with_reason(lifecycle.Reject),
    "performance": _performance,
    "visit": _visit,
}
_added_actions: dict[str, Parser] = {}


def add_action(action: str, parse: Parser) -> None:
    """For the court side (`referrals.install()`): `refer` and `confirmation`."""
    _added_actions[action] = parse


def parser_of(action: str) -> Parser:
    parse = ACTIONS.get(action) or _added_actions.get(action)
    if parse is None:
        raise NotFound("no action {action} on disputes", action=action)
    return parse


async def transition(principal: Principal, dispute_id: uuid.UUID, action: str, data: Any,
                     *, if_match: str | None = None) -> Dispute:
    now = clock.now()
    parse = parser_of(action)
    version = requested_version(data, if_match)
    async with db.transaction() as conn:
        row = await dispute_store.lock(conn, dispute_id)
        authorise(principal, row, dispute_id, act=True)
        state = dispute_store.state_of(row)
        errors = Collector()
        note = fields.text(errors, "note", getattr(data, "note", None), max_len=TEXT_MAX, required=False)
        command = await parse(conn, data, state, errors)
        errors.raise_if_any()
        at, at_field = lifecycle.business_time(state, command, fields.aware_time(getattr(data, "at", None)), now)
        event = lifecycle.decide(state, command, at=at, now=now, at_field=at_field, version=version)
        await reports.refuse_frozen(conn, principal, row["region_code"], at, field=at_field)
        if note:
            event = dataclasses.replace(event, detail={**event.detail, "note": note})
        await apply_event(conn, principal, row, state, event)
        return dispute_views.full(await dispute_store.full(conn, dispute_id))


async def apply_event(conn: asyncpg.Connection, principal: Principal, row, state: lifecycle.DisputeState,
                      event: lifecycle.Event, *, actor: str | None = None) -> lifecycle.DisputeState:
    """Evolve the state by `event`; save row, event and audit entry; publish the signal."""
    new = lifecycle.evolve(state, event)
    await dispute_store.save(conn, row["id"], new, event, actor=actor or principal.actor)
    await signals.publish(conn, signals.EventRecorded(
        dispute_id=row["id"], case_no=row["case_no"], source=row["source"], court_id=row["court_id"],
        court_case_no=row["court_case_no"], kind=event.kind, at=event.at, detail=event.detail,
        status_before=state.status, status_after=new.status, agreement=new.agreement))
    return new


async def events_of(dispute_id: uuid.UUID) -> tuple[Any, list[lifecycle.Event]]:
    """The stored row and timeline, for replay checks and exports."""
    async with db.connection() as conn:
        return await dispute_store.row(conn, dispute_id), await dispute_store.events(conn, dispute_id)
