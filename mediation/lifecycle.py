"""The dispute lifecycle as pure rules: state + command → event, event + state → state.

No database and no clock here: the caller passes `now`. `decide` refuses with a domain
error or returns the event a command records; `evolve` applies an event to the state.
Registration and every stored event replay through `evolve`, which is how the columns the
statistics read (`status`, `tier`, `entry_tier`, `highest_tier`, `concluded_tier`,
`concluded_at`) are kept: `replay(events)` must give the row's columns back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from mediation import fields
from mediation.codes import MOVE_EVENT_KINDS, TIER_RANK
from mediation.errors import Collector, Conflict, Invalid, StaleVersion
from mediation.workdays import NO_CALENDAR, Calendar, period_end

#: judicial confirmation is applied for within 30 days of the agreement taking effect (Art. 33),
#: a period counted by the rule on periods (`workdays.period_end`)
CONFIRMATION_DAYS = 30
#: The most events a dispute's timeline may hold from its own side: every full answer
#: carries the whole timeline, so it must not grow without bound (a session summary may
#: hold 10,000 characters). Far beyond any real case; court writes are never refused.
MAX_EVENTS = 200


@dataclass(frozen=True)
class OrgRef:
    id: uuid.UUID
    tier: str
    county_code: str


@dataclass(frozen=True)
class Agreement:
    form: str
    terms: str
    signed_at: dt.datetime
    amount: Decimal | None = None
    performance_due: dt.date | None = None

    def as_detail(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "terms": self.terms,
            "signed_at": self.signed_at.isoformat(),
            "amount": None if self.amount is None else f"{self.amount:.2f}",
            "performance_due": None if self.performance_due is None else self.performance_due.isoformat(),
        }


@dataclass(frozen=True)
class DisputeState:
    status: str
    org_id: uuid.UUID
    tier: str
    entry_tier: str
    highest_tier: str
    registered_at: dt.datetime
    last_move_at: dt.datetime
    source: str
    county_code: str
    version: int = 1
    concluded_tier: str | None = None
    concluded_at: dt.datetime | None = None
    handler_org_ids: tuple[uuid.UUID, ...] = ()
    agreement: dict[str, Any] | None = None
    performance: str | None = None
    prevented: tuple[str, ...] = ()
    pending_confirmation: bool = False


@dataclass(frozen=True)
class Event:
    kind: str
    at: dt.datetime
    org_id: uuid.UUID | None
    tier: str | None
    detail: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- commands

@dataclass(frozen=True)
class Register:
    org: OrgRef
    source: str
    registered_at: dt.datetime


@dataclass(frozen=True)
class RecordSession:
    held_at: dt.datetime
    method: str
    mediator_ids: tuple[uuid.UUID, ...]
    summary: str


@dataclass(frozen=True)
class Escalate:
    to: OrgRef
    reason: str


@dataclass(frozen=True)
class Assign:
    to: OrgRef
    reason: str


@dataclass(frozen=True)
class Resolve:
    agreement: Agreement
    prevented: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fail:
    reason: str
    channel: str | None = None


@dataclass(frozen=True)
class Withdraw:
    reason: str


@dataclass(frozen=True)
class Reject:
    reason: str


@dataclass(frozen=True)
class RecordPerformance:
    status: str
    checked_at: dt.datetime


@dataclass(frozen=True)
class RecordVisit:
    satisfaction: str


@dataclass(frozen=True)
class Refer:
    court_id: uuid.UUID
    reason: str
    referral_id: uuid.UUID


@dataclass(frozen=True)
class ApplyConfirmation:
    court_id: uuid.UUID
    referral_id: uuid.UUID
    #: the working-day calendar around the window (without one, calendar days count)
    calendar: Calendar = NO_CALENDAR


@dataclass(frozen=True)
class AssessRisk:
    """A person's risk grade (风险评估) and the intake risks they see; replaces the last one."""

    level: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class AcknowledgeReferral:
    referral_id: uuid.UUID
    court_case_no: str | None


@dataclass(frozen=True)
class DecideReferral:
    referral_id: uuid.UUID
    referral_kind: str
    decision: str
    court_case_no: str | None


Command = (RecordSession | Escalate | Assign | Resolve | Fail | Withdraw | Reject | RecordPerformance
           | RecordVisit | Refer | ApplyConfirmation | AssessRisk | AcknowledgeReferral | DecideReferral)

def confirmation_window_ends(signed_at: dt.datetime, calendar: Calendar = NO_CALENDAR) -> dt.datetime:
    """The last moment to apply for judicial confirmation: 30 days from the agreement by
    the rule on periods (without a calendar, on calendar days: never later than the truth)."""
    return period_end(signed_at, CONFIRMATION_DAYS, calendar).deadline


def business_time(state: DisputeState, command: Command, at: dt.datetime | None,
                  now: dt.datetime) -> tuple[dt.datetime, str]:
    """The business time an action records, and the request field it came from (what a
    422 on it names: `agreement.signed_at`, not `at`): the `at` given, else the command's
    own time (a session's `held_at`, an agreement's `signed_at`, a check's `checked_at`),
    else now — but no earlier than the latest move, so a case registered a little ahead of
    this clock (skew allowed) can still move now."""
    if at is not None:
        return at, "at"
    if isinstance(command, RecordSession):
        return command.held_at, "held_at"
    if isinstance(command, Resolve):
        return command.agreement.signed_at, "agreement.signed_at"
    if isinstance(command, RecordPerformance):
        return command.checked_at, "checked_at"
    return max(now, state.last_move_at), "at"


# ---------------------------------------------------------------- rules

def check_business_time(state: DisputeState | None, at: dt.datetime, now: dt.datetime, *,
                        field_name: str = "at", registered_at: dt.datetime | None = None) -> None:
    errors = Collector()
    fields.time_in_bounds(errors, field_name, at, now=now)
    errors.raise_if_any()
    floor = registered_at if state is None else state.registered_at
    if floor is not None and at < floor:
        raise Invalid.field(field_name, "must not be before the dispute was registered")
    if state is not None and at < state.last_move_at:
        raise Invalid.field(field_name, "must not be before the dispute's latest move ({at})",
                            at=state.last_move_at.isoformat())


def register(command: Register, now: dt.datetime, county_code: str) -> tuple[DisputeState, Event]:
    """The first event. `registered_at` arrives checked (bounds, clock skew) with the
    registration's other fields, by `disputes.validate_registration`, its one home."""
    event = Event(kind="entrusted" if command.source == "court_entrusted" else "registered",
                  at=command.registered_at, org_id=command.org.id, tier=command.org.tier,
                  detail={"source": command.source})
    return initial_state(event, county_code), event


def initial_state(event: Event, county_code: str) -> DisputeState:
    assert event.org_id is not None and event.tier is not None
    return DisputeState(
        status="open", org_id=event.org_id, tier=event.tier, entry_tier=event.tier,
        highest_tier=event.tier, registered_at=event.at, last_move_at=event.at,
        source=event.detail.get("source", "application"), county_code=county_code, version=1,
        handler_org_ids=(event.org_id,),
    )


def _require_open(state: DisputeState, action: str) -> None:
    if state.status != "open":
        raise Conflict("cannot {action}: the dispute is {status}, not open", action=action, status=state.status)


def decide(state: DisputeState, command: Command, *, at: dt.datetime, now: dt.datetime,
           at_field: str = "at", version: int | None = None) -> Event:
    """The event `command` records at business time `at`, or a refusal naming `at_field`
    (the request field `at` came from, see `business_time`). A command's own time that
    `at` was not taken from is checked under its own name; the one it was is checked once."""
    here = {"org_id": state.org_id, "tier": state.tier}
    check_business_time(state, at, now, field_name=at_field)
    if version is not None and version != state.version:  # after the 422 on the time, before every other rule
        raise StaleVersion("the dispute is at version {current}, not {version}; reload it and try again",
                           current=state.version, version=version)
    if state.version >= MAX_EVENTS and not isinstance(command, AcknowledgeReferral | DecideReferral):
        raise Conflict("the dispute's timeline holds {count} events, the most one may hold", count=state.version)
    match command:
        case RecordSession():
            if at_field != "held_at":  # the stated time binds like `at`, which may be given apart from it
                check_business_time(None, command.held_at, now, field_name="held_at",
                                    registered_at=state.registered_at)
            _require_open(state, "record a session")
            return Event("session", at, **here, detail={
                "held_at": command.held_at.isoformat(), "method": command.method,
                "mediator_ids": [str(m) for m in command.mediator_ids], "summary": command.summary})
        case Escalate(to=to):
            _require_open(state, "escalate")
            if to.county_code != state.county_code:
                raise Invalid.field("to_org_id", "must be an organisation in the dispute's county")
            if TIER_RANK[to.tier] <= TIER_RANK[state.tier]:
                raise Invalid.field("to_org_id", "must be of a higher tier than {tier}", tier=state.tier)
            return Event("escalated", at, to.id, to.tier, {
                "from_org_id": str(state.org_id), "from_tier": state.tier, "reason": command.reason})
        case Assign(to=to):
            _require_open(state, "assign")
            if to.county_code != state.county_code:
                raise Invalid.field("to_org_id", "must be an organisation in the dispute's county")
            if to.id == state.org_id:
                raise Invalid.field("to_org_id", "the dispute is already at this organisation")
            if TIER_RANK[to.tier] > TIER_RANK[state.tier]:
                raise Invalid.field("to_org_id", "must be of the same or a lower tier than {tier}", tier=state.tier)
            return Event("assigned", at, to.id, to.tier, {
                "from_org_id": str(state.org_id), "from_tier": state.tier, "reason": command.reason})
        case Resolve(agreement=agreement):
            _require_open(state, "resolve")
            if at_field != "agreement.signed_at":
                check_business_time(None, agreement.signed_at, now, field_name="agreement.signed_at",
                                    registered_at=state.registered_at)
            errors = Collector()
            fields.due_in_bounds(errors, "agreement.performance_due", agreement.performance_due, state.registered_at)
            errors.raise_if_any()
            return Event("resolved", at, **here, detail={
                "agreement": agreement.as_detail(), "prevented": list(command.prevented)})
        case Fail():
            _require_open(state, "end mediation")
            kind = "returned" if state.source == "court_entrusted" else "failed"
            return Event(kind, at, **here, detail={"reason": command.reason, "channel": command.channel})
        case Withdraw():
            _require_open(state, "withdraw")
            return Event("withdrawn", at, **here, detail={"reason": command.reason})
        case Reject():
            _require_open(state, "reject")
            return Event("rejected", at, **here, detail={"reason": command.reason})
        case RecordPerformance():
            if at_field != "checked_at":
                check_business_time(None, command.checked_at, now, field_name="checked_at",
                                    registered_at=state.registered_at)
            if state.status != "resolved":
                raise Conflict("performance is followed up only on resolved disputes; this one is {status}",
                               status=state.status)
            return Event("performance", at, **here, detail={
                "status": command.status, "checked_at": command.checked_at.isoformat()})
        case RecordVisit():
            if state.status == "open":
                raise Conflict("a return visit is recorded only after the dispute concluded")
            return Event("visit", at, **here, detail={"satisfaction": command.satisfaction})
        case Refer():
            _require_open(state, "refer to a court")
            if state.source == "court_entrusted":
                raise Conflict("a court-entrusted dispute goes back to its court by `fail`, not by referral")
            return Event("referred", at, **here, detail={
                "referral_id": str(command.referral_id), "court_id": str(command.court_id), "reason": command.reason})
        case ApplyConfirmation():
            if state.status != "resolved" or not state.agreement or state.agreement.get("form") != "written":
                raise Conflict("judicial confirmation needs a resolved dispute with a written agreement")
            if state.pending_confirmation:
                raise Conflict("a judicial-confirmation application is already pending")
            signed = dt.datetime.fromisoformat(state.agreement["signed_at"])
            ends = confirmation_window_ends(signed, command.calendar)
            if at > ends:
                raise Conflict("judicial confirmation must be applied for within 30 days of the agreement "
                               "(the period ended {ends})", ends=ends.isoformat())
            return Event("confirmation_applied", at, **here, detail={
                "referral_id": str(command.referral_id), "court_id": str(command.court_id)})
        case AssessRisk():
            # any status: after the conclusion a person's grade is all that counts (转绿)
            return Event("risk_assessed", at, **here, detail={"level": command.level, "reasons": list(command.reasons)})
        case AcknowledgeReferral():
            return Event("referral_acknowledged", at, **here, detail={
                "referral_id": str(command.referral_id), "court_case_no": command.court_case_no})
        case DecideReferral():
            return Event("referral_decided", at, **here, detail={
                "referral_id": str(command.referral_id), "kind": command.referral_kind,
                "decision": command.decision, "court_case_no": command.court_case_no})
    raise TypeError(f"unknown command {command!r}")


def evolve(state: DisputeState, event: Event) -> DisputeState:
    """The state after `event`. Every event adds one to the version."""
    changes: dict[str, Any] = {"version": state.version + 1}
    if event.kind in MOVE_EVENT_KINDS:
        changes["last_move_at"] = max(state.last_move_at, event.at)
    if event.kind in ("escalated", "assigned"):
        assert event.org_id is not None and event.tier is not None
        changes.update(org_id=event.org_id, tier=event.tier)
        if TIER_RANK[event.tier] > TIER_RANK[state.highest_tier]:
            changes["highest_tier"] = event.tier
        if event.org_id not in state.handler_org_ids:
            changes["handler_org_ids"] = (*state.handler_org_ids, event.org_id)
    elif event.kind in ("resolved", "failed", "returned", "referred", "withdrawn", "rejected"):
        changes.update(status=event.kind, concluded_at=event.at, concluded_tier=state.tier)
        if event.kind == "resolved":
            changes.update(agreement=event.detail["agreement"], performance="pending",
                           prevented=tuple(event.detail.get("prevented") or ()))
    elif event.kind == "performance":
        changes["performance"] = event.detail["status"]
    elif event.kind == "confirmation_applied":
        changes["pending_confirmation"] = True
    elif event.kind == "referral_decided" and event.detail.get("kind") == "confirmation":
        changes["pending_confirmation"] = False
    return replace(state, **changes)


def replay(events: list[Event], county_code: str) -> DisputeState:
    """Fold a dispute's stored timeline (oldest first) back into its state."""
    state = initial_state(events[0], county_code)
    for event in events[1:]:
        state = evolve(state, event)
    return state
