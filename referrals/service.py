"""诉调对接 rules, both ways.

Mediation → court: `refer` (a litigation referral, 引导诉讼) and `confirmation` (司法确认)
are dispute actions; their builders below check the court, the lifecycle decides, and the
`referrals` row and its `referral.created` webhook are written by the subscriber
(`referrals.subscribers`) in the dispute's transaction.

Court → mediation: the court acknowledges and decides referrals addressed to it, and
entrusts cases (委派/委托调解) to the organisations on its roster. Each of those is one
transaction; a court POST with an `Idempotency-Key` runs inside the transaction that
holds the key's row, so a repeat waits for the first and answers what it answered.

Courts see parties in full on what is addressed to them; every such view is audited.
Court writes are never held back by a frozen monthly report: the court's dates are facts
the bureau's figures must follow, not mediator edits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, TypeVar

import asyncpg
import msgspec

from mediation import clock, db, dispute_store, dispute_views, disputes, fields, lifecycle, signals, workdays
from mediation.access import Principal
from mediation.codes import STATUSES
from mediation.dispute_views import Agreement, Decision, Dispute, DisputeItem, ReferralKind, ReferralStatus, Risk, Status
from mediation.errors import Collector, Conflict, Forbidden, Invalid, NotFound
from mediation.pagination import ListPage, keyset_page, newest_first
from referrals import courts, outbox

TEXT_MAX = disputes.TEXT_MAX
CASE_NO_MAX = 100
IDEMPOTENCY_KEY_MAX = 200

REFERRAL_KINDS: dict[str, str] = {"litigation": "引导诉讼", "confirmation": "司法确认"}
REFERRAL_STATUSES: dict[str, str] = {"pending": "待接收", "acknowledged": "已接收", "decided": "已决定"}
DECISIONS: dict[str, dict[str, str]] = {
    "litigation": {"filed": "已立案", "not_filed": "不予立案"},
    "confirmation": {"confirmed": "确认有效", "rejected": "驳回申请"},
}
ENTRUSTMENT_KINDS: dict[str, str] = {"pre_filing": "委派调解(诉前)", "in_litigation": "委托调解(立案后)"}
PROCEDURES: dict[str, str] = {"ordinary": "普通程序", "simple": "简易程序"}

#: 委派调解 (pre-filing) ended with the 2025 rules: since then courts file first
PRE_FILING_UNTIL = dt.datetime(2025, 1, 1, tzinfo=clock.TZ)
#: the mediation limit a court's entrustment carries unless it sends its own deadline
ENTRUSTMENT_LIMITS: dict[tuple[str, str | None], dt.timedelta] = {
    ("pre_filing", None): dt.timedelta(days=30),
    ("in_litigation", "ordinary"): dt.timedelta(days=15),
    ("in_litigation", "simple"): dt.timedelta(days=7),
}

REFERRAL_COLUMNS = """r.id, r.dispute_id, r.court_id, r.kind, r.status, r.decision, r.court_case_no, r.reason,
    r.note, r.created_at, r.acknowledged_at, r.decided_at"""


class _ReferralFields(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: uuid.UUID
    kind: ReferralKind
    court_id: uuid.UUID
    status: ReferralStatus
    created_at: dt.datetime
    dispute_id: uuid.UUID
    reason: str | None = None
    acknowledged_at: dt.datetime | None = None
    decision: Decision | None = None
    decided_at: dt.datetime | None = None
    court_case_no: str | None = None
    note: str | None = None


class Referral(_ReferralFields, kw_only=True, omit_defaults=True):
    """A referral addressed to a court, with its dispute in full (parties unmasked)."""

    dispute: Dispute


class ReferralItem(_ReferralFields, kw_only=True, omit_defaults=True):
    """A referral in the court's list: its dispute as a list item (parties unmasked)."""

    dispute: DisputeItem


class EntrustmentResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The result of an entrustment as the court reads it (结案报告)."""

    dispute_id: uuid.UUID
    case_no: str
    court_case_no: str | None
    kind: Literal["pre_filing", "in_litigation"] | None
    procedure: Literal["ordinary", "simple"] | None
    status: Status
    org_id: uuid.UUID
    registered_at: dt.datetime
    deadline: dt.datetime
    concluded_at: dt.datetime | None = None
    agreement: Agreement | None = None
    risk: Risk | None = None   # on the court's read of one entrustment (not in its list)


class ReferralPage(ListPage, kw_only=True):
    items: list[ReferralItem]


class EntrustmentPage(ListPage, kw_only=True):
    items: list[EntrustmentResult]


# ---------------------------------------------------------------- small checks

def _case_no(errors: Collector, field: str, value: Any, *, required: bool) -> str | None:
    """Court case numbers are kept as the court sent them, e.g. (2026)川1325民初123号."""
    text = fields.text(errors, field, value, max_len=CASE_NO_MAX, required=required)
    return None if text is None else text.strip()


def _require_court(principal: Principal) -> uuid.UUID:
    if principal.role != "court" or principal.court_id is None:
        raise Forbidden("only a court acts on referrals and entrustments")
    return principal.court_id


# ---------------------------------------------------------------- mediation → court

async def _court_field(conn: asyncpg.Connection, errors: Collector, value: Any) -> uuid.UUID | None:
    if value is None:
        errors.add("court_id", "is required")
        return None
    try:
        court_id = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        errors.add("court_id", "must be an id")
        return None
    if not await conn.fetchval("SELECT 1 FROM courts WHERE id = $1", court_id):
        errors.add("court_id", "court {court_id} is not registered", court_id=court_id)
        return None
    return court_id


async def parse_refer(conn: asyncpg.Connection, data: Any, state: lifecycle.DisputeState,
                      errors: Collector) -> lifecycle.Refer:
    """`POST /disputes/{id}/refer {court_id, reason}`: a litigation referral (引导诉讼)."""
    court_id = await _court_field(conn, errors, getattr(data, "court_id", None))
    reason = fields.text(errors, "reason", getattr(data, "reason", None), max_len=TEXT_MAX, required=True)
    errors.raise_if_any()
    return lifecycle.Refer(court_id=court_id, reason=reason, referral_id=uuid.uuid4())


async def parse_confirmation(conn: asyncpg.Connection, data: Any, state: lifecycle.DisputeState,
                             errors: Collector) -> lifecycle.ApplyConfirmation:
    """`POST /disputes/{id}/confirmation {court_id}`: 司法确认. The 30-day window and the
    one-pending rule are the lifecycle's; the dispute type never matters."""
    court_id = await _court_field(conn, errors, getattr(data, "court_id", None))
    errors.raise_if_any()
    calendar = workdays.NO_CALENDAR
    if state.agreement and state.agreement.get("signed_at"):
        signed = dt.datetime.fromisoformat(state.agreement["signed_at"])
        calendar = await workdays.calendar_for(conn, signed, lifecycle.CONFIRMATION_DAYS)
    return lifecycle.ApplyConfirmation(court_id=court_id, referral_id=uuid.uuid4(), calendar=calendar)


async def open_referral(conn: asyncpg.Connection, event: signals.EventRecorded) -> uuid.UUID:
    """The referral a `referred` / `confirmation_applied` event created, and its webhook.

    The webhook is always enqueued: the worker holds it while the court has no URL or
    its URL is disabled, so a URL set later still receives it."""
    referral_id = uuid.UUID(str(event.detail["referral_id"]))
    court_id = uuid.UUID(str(event.detail["court_id"]))
    kind = "litigation" if event.kind == "referred" else "confirmation"
    await conn.execute(
        """INSERT INTO referrals (id, dispute_id, court_id, kind, status, reason, created_at)
           VALUES ($1, $2, $3, $4, 'pending', $5, $6)""",
        referral_id, event.dispute_id, court_id, kind, event.detail.get("reason"), event.at)
    await outbox.enqueue(conn, court_id=court_id, event_type="referral.created", data={
        "referral_id": referral_id, "dispute_id": event.dispute_id, "case_no": event.case_no,
        "kind": kind, "status": "pending"})
    return referral_id


async def announce_conclusion(conn: asyncpg.Connection, event: signals.EventRecorded) -> None:
    """An entrusted dispute ended (resolved, returned, withdrawn, rejected): 结案报告."""
    await outbox.enqueue(conn, court_id=event.court_id, event_type="entrustment.concluded", data={
        "dispute_id": event.dispute_id, "case_no": event.case_no, "court_case_no": event.court_case_no,
        "status": event.status_after})


# ---------------------------------------------------------------- views for the court

async def _audit_reveals(conn: asyncpg.Connection, principal: Principal, items: list[tuple[uuid.UUID, dict]]) -> None:
    """One `personal_data.reveal` entry per dispute shown in full (a list page too)."""
    if items:
        await conn.executemany(
            "INSERT INTO audit_log (actor, action, entity, entity_id, dispute_id, detail) "
            "VALUES ($1, 'personal_data.reveal', 'dispute', $2, $3, $4::jsonb)",
            [(principal.actor, str(did), did, json.dumps(detail, ensure_ascii=False, default=str))
             for did, detail in items])


def _referral_fields(r) -> dict[str, Any]:
    decided = r["decision"] is not None
    return dict(id=r["id"], kind=r["kind"], court_id=r["court_id"], status=r["status"],
                created_at=clock.local(r["created_at"]), dispute_id=r["dispute_id"], reason=r["reason"],
                acknowledged_at=clock.local(r["acknowledged_at"]), decision=r["decision"],
                decided_at=clock.local(r["decided_at"]) if decided else None, court_case_no=r["court_case_no"],
                note=r["note"])


async def _referral(conn: asyncpg.Connection, principal: Principal, r) -> Referral:
    """One referral with its dispute in full, parties unmasked (audited)."""
    await _audit_reveals(conn, principal, [(r["dispute_id"], {"referral_id": r["id"]})])
    dispute = dispute_views.full(await dispute_store.full(conn, r["dispute_id"]), reveal=True)
    return Referral(**_referral_fields(r), dispute=dispute)


async def _visible_referral(conn: asyncpg.Connection, principal: Principal, referral_id: uuid.UUID,
                            *, lock: bool = False):
    """The referral, when the caller may see it: its court (or an admin). Another court's
    answers 404, exactly like one that does not exist."""
    row = await conn.fetchrow(
        f"SELECT {REFERRAL_COLUMNS} FROM referrals r WHERE r.id = $1{' FOR UPDATE' if lock else ''}", referral_id)
    if row is None or not (principal.is_admin or (principal.role == "court" and row["court_id"] == principal.court_id)):
        raise NotFound("referral {referral_id} not found", referral_id=referral_id)
    return row


async def check_referral_access(principal: Principal, referral_id: uuid.UUID) -> None:
    async with db.connection() as conn:
        await _visible_referral(conn, principal, referral_id)


async def get_referral(principal: Principal, referral_id: uuid.UUID) -> Referral:
    async with db.transaction() as conn:
        return await _referral(conn, principal, await _visible_referral(conn, principal, referral_id))


async def list_referrals(principal: Principal, *, status: str | None = None, kind: str | None = None,
                         court_id: uuid.UUID | None = None, limit: int = 50,
                         cursor: str | None = None) -> ReferralPage:
    """The referrals addressed to the calling court (an admin: every court's, or one's),
    newest first, each with its dispute as a list item, parties unmasked (audited)."""
    errors = Collector()
    fields.code(errors, "status", status, REFERRAL_STATUSES, required=False)
    fields.code(errors, "kind", kind, REFERRAL_KINDS, required=False)
    errors.raise_if_any()
    args: list[Any] = []
    conds = []
    if principal.role == "court":
        args.append(principal.court_id)
        conds.append(f"r.court_id = ${len(args)}")
    elif not principal.is_admin:
        raise Forbidden("only courts read their referrals")
    elif court_id is not None:
        args.append(court_id)
        conds.append(f"r.court_id = ${len(args)}")
    for column, value in (("status", status), ("kind", kind)):
        if value is not None:
            args.append(value)
            conds.append(f"r.{column} = ${len(args)}")
    where = " AND ".join(conds) or "TRUE"
    async with db.transaction() as conn:
        page = await keyset_page(conn, select=REFERRAL_COLUMNS, source="referrals r", where=where, args=args,
                                 keyset=newest_first("created_at", "r"), limit=limit, cursor=cursor)
        rows = page.rows
        disputes_shown = await dispute_store.items(conn, list(dict.fromkeys(r["dispute_id"] for r in rows)))
        await _audit_reveals(conn, principal, [(r["dispute_id"], {"referral_id": r["id"]}) for r in rows])
    items = [ReferralItem(**_referral_fields(r), dispute=dispute_views.item(disputes_shown[r["dispute_id"]],
                                                                            reveal=True)) for r in rows]
    return ReferralPage(items=items, total=page.total, next_cursor=page.next_cursor)


# ---------------------------------------------------------------- court → mediation: decisions

async def _locked(conn: asyncpg.Connection, principal: Principal, referral_id: uuid.UUID):
    """Dispute first, then referral: the same order as dispute transitions take."""
    ref = await _visible_referral(conn, principal, referral_id)
    row = await dispute_store.lock(conn, ref["dispute_id"])
    ref = await _visible_referral(conn, principal, referral_id, lock=True)
    return row, ref


async def acknowledge(principal: Principal, referral_id: uuid.UUID, data: Any) -> Referral:
    """`POST /court/referrals/{id}/ack`: the court has received the referral (optional)."""
    _require_court(principal)
    errors = Collector()
    court_case_no = _case_no(errors, "court_case_no", getattr(data, "court_case_no", None), required=False)
    now = clock.now()
    async with db.transaction() as conn:
        await _visible_referral(conn, principal, referral_id)
        errors.raise_if_any()
        row, ref = await _locked(conn, principal, referral_id)
        if ref["status"] != "pending":
            raise Conflict("the referral is already {status}", status=ref["status"])
        state = dispute_store.state_of(row)
        # a referral recorded a few minutes ahead (clock skew) is acknowledged no earlier
        at = max(now, state.last_move_at)
        event = lifecycle.decide(state, lifecycle.AcknowledgeReferral(referral_id=referral_id,
                                                                      court_case_no=court_case_no), at=at, now=now)
        await disputes.apply_event(conn, principal, row, state, event, actor=principal.actor)
        ref = await conn.fetchrow(
            f"""UPDATE referrals r SET status = 'acknowledged', acknowledged_at = $2,
                    court_case_no = COALESCE($3, r.court_case_no)
                WHERE r.id = $1 RETURNING {REFERRAL_COLUMNS}""", referral_id, at, court_case_no)
        return await _referral(conn, principal, ref)


async def decide(principal: Principal, referral_id: uuid.UUID, data: Any) -> Referral:
    """`POST /court/referrals/{id}/decision`: filed / not_filed (litigation), confirmed /
    rejected (confirmation), at the court's `decided_at`. A decision is final (409 again).

    `court_case_no` may be left out when the acknowledgement already gave one."""
    _require_court(principal)
    errors = Collector()
    decision = getattr(data, "decision", None)
    court_case_no = _case_no(errors, "court_case_no", getattr(data, "court_case_no", None), required=False)
    note = fields.text(errors, "note", getattr(data, "note", None), max_len=TEXT_MAX, required=False)
    raw_at = getattr(data, "decided_at", None)
    decided_at = None if raw_at is None else clock.aware(raw_at)
    now = clock.now()
    async with db.transaction() as conn:
        ref = await _visible_referral(conn, principal, referral_id)
        allowed = DECISIONS[ref["kind"]]
        if decision is None:
            errors.add("decision", "is required")
        elif decision not in allowed:
            errors.add("decision", "a {kind} referral is decided {allowed}", kind=ref["kind"], allowed=" or ".join(allowed))
        if (getattr(data, "court_case_no", None) is None and decision != "not_filed"
                and ref["court_case_no"] is None):
            errors.add("court_case_no", "is required unless the decision is not_filed")
        if decided_at is None:
            errors.add("decided_at", "is required")
        elif not fields.time_in_bounds(errors, "decided_at", decided_at, now=now):
            pass
        elif decided_at < ref["created_at"]:
            errors.add("decided_at", "must not be before the referral was made ({at})",
                       at=clock.local(ref["created_at"]).isoformat())
        errors.raise_if_any()
        row, ref = await _locked(conn, principal, referral_id)
        if ref["status"] == "decided":
            raise Conflict("the referral was already decided ({decision})", decision=ref["decision"])
        state = dispute_store.state_of(row)
        case_no = court_case_no or ref["court_case_no"]
        command = lifecycle.DecideReferral(referral_id=referral_id, referral_kind=ref["kind"], decision=decision,
                                           court_case_no=case_no)
        event = lifecycle.decide(state, command, at=decided_at, now=now, at_field="decided_at")
        if note:
            event = dataclasses.replace(event, detail={**event.detail, "note": note})
        await disputes.apply_event(conn, principal, row, state, event, actor=principal.actor)
        if decision == "filed":
            await dispute_store.set_court_case_no(conn, row["id"], case_no)
        ref = await conn.fetchrow(
            f"""UPDATE referrals r SET status = 'decided', decision = $2, court_case_no = $3, decided_at = $4,
                    note = $5
                WHERE r.id = $1 RETURNING {REFERRAL_COLUMNS}""", referral_id, decision, case_no, decided_at, note)
        return await _referral(conn, principal, ref)


# ---------------------------------------------------------------- court → mediation: entrustments

def entrustment_limit(kind: str, procedure: str | None) -> dt.timedelta:
    return ENTRUSTMENT_LIMITS[(kind, procedure if kind == "in_litigation" else None)]


async def entrust(principal: Principal, data: Any) -> Dispute:
    """`POST /court/entrustments`: a new dispute with `source = court_entrusted`, at an
    organisation on the court's roster, first event `entrusted`."""
    court_id = _require_court(principal)
    errors = Collector()
    court_case_no = _case_no(errors, "court_case_no", getattr(data, "court_case_no", None), required=True)
    kind = fields.code(errors, "kind", getattr(data, "kind", None), ENTRUSTMENT_KINDS, required=True)
    procedure = fields.code(errors, "procedure", getattr(data, "procedure", None), PROCEDURES, required=False)
    if kind == "pre_filing" and procedure is not None:
        errors.add("procedure", "applies only to in_litigation entrustments (委托调解)")
    reg = None
    try:
        reg = disputes.validate_registration(data, court_entrusted=True)
    except Invalid as e:
        errors.errors.extend(e.errors)
    if kind == "pre_filing":
        raw = getattr(data, "registered_at", None)
        received = clock.now() if raw is None else clock.aware(raw)
        if received >= PRE_FILING_UNTIL:
            errors.add("registered_at", "pre_filing (委派调解) is accepted only for cases received before "
                       "2025-01-01; since then courts file first and entrust in_litigation")
    errors.raise_if_any()
    assert reg is not None and kind is not None
    if kind == "in_litigation":
        procedure = procedure or "ordinary"
    reg = dataclasses.replace(reg, court_id=court_id, court_case_no=court_case_no, entrustment_kind=kind,
                              entrustment_procedure=procedure)
    async with db.transaction() as conn:
        if not await courts.on_roster(conn, court_id, reg.org_id):
            raise Invalid.field("org_id", "is not on the court's roster of invited mediation organisations "
                                "(特邀调解组织名册)")
        limit = None
        if reg.deadline is None:  # a deadline the court sends is kept as sent
            received = reg.registered_at or clock.now()
            limit = await workdays.period(conn, received, entrustment_limit(kind, procedure).days)
            reg = dataclasses.replace(reg, registered_at=received, deadline=limit.deadline)
        row = (await disputes.insert_dispute(
            conn, principal, reg,
            event_detail={"court_id": str(court_id), "court_case_no": court_case_no, "entrustment_kind": kind,
                          "procedure": procedure})).row
        if limit is not None:
            await workdays.set_deadline(conn, row["id"], limit)
        await _audit_reveals(conn, principal, [(row["id"], {"entrustment": True})])
        return dispute_views.full(await dispute_store.full(conn, row["id"]), reveal=True)


def _entrustment(row) -> EntrustmentResult:
    return EntrustmentResult(
        dispute_id=row["id"], case_no=row["case_no"], court_case_no=row["court_case_no"],
        kind=row["entrustment_kind"], procedure=row["entrustment_procedure"], status=row["status"],
        org_id=row["org_id"], registered_at=clock.local(row["registered_at"]), deadline=clock.local(row["deadline"]),
        concluded_at=clock.local(row["concluded_at"]), agreement=dispute_views.agreement(row),
        # the court sees the risk of what it entrusted
        risk=dispute_views.risk_of(row) if "risk_repeat" in row.keys() else None)


def _entrustment_filter(principal: Principal, args: list) -> str:
    if principal.role == "court":
        args.append(principal.court_id)
        return f"d.source = 'court_entrusted' AND d.court_id = ${len(args)}"
    if principal.is_admin:
        return "d.source = 'court_entrusted'"
    raise Forbidden("only courts read their entrustments")


async def get_entrustment(principal: Principal, dispute_id: uuid.UUID) -> EntrustmentResult:
    """The result the mediation organisation reports back (结案报告): status, when it
    ended, and the agreement if there is one."""
    args: list[Any] = [dispute_id]
    where = _entrustment_filter(principal, args)
    async with db.connection() as conn:
        row = await dispute_store.row(conn, dispute_id, where=where, args=tuple(args[1:]), judged=True)
    if row is None:
        raise NotFound("entrustment {dispute_id} not found", dispute_id=dispute_id)
    return _entrustment(row)


async def list_entrustments(principal: Principal, *, status: str | None = None, limit: int = 50,
                            cursor: str | None = None) -> EntrustmentPage:
    errors = Collector()
    fields.code(errors, "status", status, STATUSES, required=False)
    errors.raise_if_any()
    args: list[Any] = []
    where = _entrustment_filter(principal, args)
    if status is not None:
        args.append(status)
        where += f" AND d.status = ${len(args)}"
    async with db.connection() as conn:
        page = await dispute_store.page(conn, where=where, args=args, limit=limit, cursor=cursor,
                                        select=dispute_store.COLUMNS)
    return EntrustmentPage(items=[_entrustment(r) for r in page.rows], total=page.total, next_cursor=page.next_cursor)


# ---------------------------------------------------------------- idempotency of court POSTs

def request_fingerprint(route: str, body: bytes) -> str:
    """What "the same request" means: the same endpoint and the same JSON, compared
    canonically (key order and spacing do not matter)."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()


#: how long a court's Idempotency-Key is remembered (then the key may be reused)
IDEMPOTENCY_RETENTION = dt.timedelta(hours=24)
PURGE_CHANCE = 0.02


def _shown_in_full(body: Any) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """The disputes a stored court answer shows with parties unmasked, with the detail its
    first answer was audited with: a referral view carries its dispute under `dispute`,
    an entrustment answer is the dispute itself."""
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("dispute"), dict):
        return [(uuid.UUID(str(body["dispute"]["id"])), {"referral_id": body["id"]})]
    if "parties" in body and "id" in body:
        return [(uuid.UUID(str(body["id"])), {"entrustment": True})]
    return []


T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Answer(Generic[T]):
    status: int
    body: T
    replayed: bool = False


async def idempotent(principal: Principal, key: str | None, fingerprint: str,
                     run: Callable[[], Awaitable[T]], *, status: int, answer: type[T]) -> Answer[T]:
    """Run a court POST at most once per `Idempotency-Key`.

    The key's row is inserted first, in the transaction that does the work: a concurrent
    repeat's INSERT waits on that row until the first commits (then finds the answer)
    or rolls back (then does the work itself). A refused request stores nothing, like
    every refusal; the stored answer is the JSON the first caller received."""
    court_id = _require_court(principal)
    if key is None:
        return Answer(status, await run())
    if not key.strip() or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise Invalid.field("Idempotency-Key", "must be 1 to {max} printable characters", max=IDEMPOTENCY_KEY_MAX)
    async with db.transaction() as conn:
        # stored answers hold unmasked party data: keep them only as long as a retry needs
        if random.random() < PURGE_CHANCE:
            await conn.execute("DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval",
                               IDEMPOTENCY_RETENTION)
        await conn.execute("DELETE FROM idempotency_keys WHERE court_id = $1 AND key = $2 "
                           "AND created_at < now() - $3::interval", court_id, key, IDEMPOTENCY_RETENTION)
        mine = await conn.fetchval(
            "INSERT INTO idempotency_keys (court_id, key, request_hash) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING 1", court_id, key, fingerprint)
        if not mine:
            stored = await conn.fetchrow(
                "SELECT request_hash, status_code, response::text AS response FROM idempotency_keys "
                "WHERE court_id = $1 AND key = $2", court_id, key)
            if stored is None or stored["status_code"] is None:
                raise Conflict("a request with this Idempotency-Key is still being processed; retry")
            if stored["request_hash"] != fingerprint:
                raise Conflict("this Idempotency-Key was used with a different request; use a new key")
            # a replay shows the parties in full again: audited like the first answer
            await _audit_reveals(conn, principal, [(dispute_id, {**detail, "replayed": True})
                                                   for dispute_id, detail in _shown_in_full(json.loads(stored["response"]))])
            return Answer(stored["status_code"], msgspec.json.decode(stored["response"], type=answer), replayed=True)
        body = await run()
        stored_text = await conn.fetchval(
            "UPDATE idempotency_keys SET status_code = $3, response = $4::jsonb WHERE court_id = $1 AND key = $2 "
            "RETURNING response::text", court_id, key, status, msgspec.json.encode(body).decode())
        # answer the stored form, so the first answer and every repeat are the same bytes
        return Answer(status, msgspec.json.decode(stored_text, type=answer))
