"""The dispute's read models: what every answer about a dispute looks like, as msgspec
Structs (so the OpenAPI document names every field), built from the store's rows.

Times are answered in Asia/Shanghai (`+08:00`), money as a string with two places
("3000.00"), ID and phone numbers masked unless the caller may see them in full."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from mediation import clock, early_warning
from mediation.risk import Level
from mediation.workdays import DeadlineRule
from mediation.dispute_store import LIST_PARTIES
from mediation.codes import (
    AGREEMENT_FORMS,
    DISPUTE_TYPES,
    PARTY_KINDS,
    PARTY_ROLES,
    PERFORMANCE,
    SOURCES,
    STATUSES,
    TIERS,
)
from mediation.idnumbers import mask_id_number, mask_phone
from mediation.pagination import ListPage


def _codes(labels: dict[str, str]) -> Any:
    """The `Literal` of a code table's keys (`mediation.codes`), so the answer's schema
    lists the codes."""
    return Literal[tuple(labels)]  # type: ignore[valid-type]


Tier = _codes(TIERS)
DisputeType = _codes(DISPUTE_TYPES)
Source = _codes(SOURCES)
Status = _codes(STATUSES)
PartyRole = _codes(PARTY_ROLES)
PartyKind = _codes(PARTY_KINDS)
AgreementForm = _codes(AGREEMENT_FORMS)
Performance = _codes(PERFORMANCE)
#: the court side's codes (`referrals.service` holds their labels)
ReferralKind = Literal["litigation", "confirmation"]
ReferralStatus = Literal["pending", "acknowledged", "decided"]
Decision = Literal["filed", "not_filed", "confirmed", "rejected"]


class Party(msgspec.Struct):
    """A party: as validated on the way in (in full), and as answered (masked unless the
    caller may see it in full)."""

    role: PartyRole
    kind: PartyKind
    name: str
    id_number: str | None
    phone: str | None
    address: str | None


class Event(msgspec.Struct, kw_only=True):
    """One entry of the timeline. For `escalated`/`assigned`, `org_id`/`tier` are the
    destination and `detail` names the origin."""

    seq: int
    kind: str
    at: dt.datetime
    actor: str
    org_id: uuid.UUID | None
    tier: str | None
    detail: dict[str, Any]
    recorded_at: dt.datetime


class ReferralSummary(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A referral as the dispute shows it; the court reads the whole referral elsewhere."""

    id: uuid.UUID
    kind: ReferralKind
    court_id: uuid.UUID
    status: ReferralStatus
    created_at: dt.datetime
    decision: Decision | None = None
    decided_at: dt.datetime | None = None
    court_case_no: str | None = None


class Agreement(msgspec.Struct, kw_only=True):
    """The agreement as recorded. Its times are kept as text in the row's JSON: answered
    in `+08:00` when they read as times, otherwise as stored (a read never fails)."""

    form: AgreementForm | None
    terms: str | None
    signed_at: Annotated[str | None, msgspec.Meta(description="RFC 3339, +08:00")]
    amount: str | None
    performance_due: Annotated[str | None, msgspec.Meta(description="YYYY-MM-DD")]
    performance: Performance | None


class Risk(msgspec.Struct, kw_only=True):
    """`level` is the higher of `assessed` (what a person set last) and what the rules
    give now; `reasons` are rule and intake-risk codes."""

    level: Level
    assessed: Level | None
    reasons: list[str]


class EntrustmentKind(msgspec.Struct, kw_only=True):
    """How a court entrusted the dispute: 委派 (pre_filing) or 委托 (in_litigation)."""

    kind: str
    procedure: str | None


class DisputeItem(msgspec.Struct, kw_only=True):
    """A dispute in a list: no timeline, the first 5 parties and how many there are."""

    id: uuid.UUID
    case_no: str
    version: int
    type: DisputeType
    source: Source
    summary: str
    region_code: str
    org_id: uuid.UUID
    tier: Tier
    entry_tier: Tier
    highest_tier: Tier
    status: Status
    registered_at: dt.datetime
    occurred_on: dt.date | None
    deadline: dt.datetime
    concluded_at: dt.datetime | None
    concluded_tier: Tier | None
    amount: str | None
    persons_involved: int
    prevented: list[str]
    parties: list[Party]
    party_count: int
    agreement: Agreement | None
    court_case_no: str | None
    referrals: list[ReferralSummary]
    risk: Risk
    deadline_rule: DeadlineRule
    calendar_missing: bool
    court_id: uuid.UUID | None
    entrustment: EntrustmentKind | None


class Dispute(DisputeItem, kw_only=True):
    """A dispute in full: every party and the timeline, oldest first."""

    events: list[Event]


class DisputePage(ListPage, kw_only=True):
    items: list[DisputeItem]


# ---------------------------------------------------------------- from rows

def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _time(value: dt.datetime | str | None) -> dt.datetime | None:
    """A timestamp from a row, or from a JSON aggregate of rows (ISO text)."""
    return clock.local(clock.stored(value))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def party(p: Party | dict[str, Any], *, reveal: bool) -> Party:
    """The party as answered, from a validated `Party` or the store's JSON."""
    if isinstance(p, dict):
        p = Party(**p)
    if reveal:
        return p
    return msgspec.structs.replace(p, id_number=mask_id_number(p.id_number), phone=mask_phone(p.phone))


def event(e: Any) -> Event:
    return Event(seq=e["seq"], kind=e["kind"], at=_time(e["at"]), actor=e["actor"],
                 org_id=None if e["org_id"] is None else uuid.UUID(str(e["org_id"])), tier=e["tier"],
                 detail=_json(e["detail"]), recorded_at=_time(e["recorded_at"]))


def referral_summary(r: Any) -> ReferralSummary:
    decided = r["decision"] is not None
    return ReferralSummary(id=uuid.UUID(str(r["id"])), kind=r["kind"], court_id=uuid.UUID(str(r["court_id"])),
                           status=r["status"], created_at=_time(r["created_at"]),
                           decision=r["decision"] if decided else None,
                           decided_at=_time(r["decided_at"]) if decided else None,
                           court_case_no=r["court_case_no"])


def _time_text(value: Any) -> str | None:
    """A time stored as text in JSON, answered in `+08:00` (as stored when it is no time)."""
    if value is None:
        return None
    try:
        return clock.local(clock.aware(dt.datetime.fromisoformat(value))).isoformat()
    except (TypeError, ValueError, OverflowError):
        return str(value)


def agreement(row: Any) -> Agreement | None:
    stored = _json(row["agreement"])
    if stored is None:
        return None
    due = stored.get("performance_due")
    return Agreement(form=stored.get("form"), terms=stored.get("terms"),
                     signed_at=_time_text(stored.get("signed_at")), amount=stored.get("amount"),
                     performance_due=None if due is None else str(due), performance=row["performance"])


def risk_of(row: Any, at: dt.datetime | None = None) -> Risk:
    """From a row read with the store's `JUDGED` columns."""
    judged = early_warning.risk_of(row, at or clock.now())
    return Risk(level=judged.level, assessed=judged.assessed, reasons=list(judged.reasons))


def _common(row: Any, parties: list[Any], *, reveal: bool, judged: Any = None) -> dict[str, Any]:
    """`judged`: a row with the `JUDGED` columns, when `row` lacks them."""
    kind = row["entrustment_kind"]
    judged = row if judged is None else judged
    return dict(
        id=row["id"], case_no=row["case_no"], version=row["version"], type=row["type"], source=row["source"],
        summary=row["summary"], region_code=row["region_code"], org_id=row["org_id"], tier=row["tier"],
        entry_tier=row["entry_tier"], highest_tier=row["highest_tier"], status=row["status"],
        registered_at=clock.local(row["registered_at"]), occurred_on=row["occurred_on"],
        deadline=clock.local(row["deadline"]), concluded_at=clock.local(row["concluded_at"]),
        concluded_tier=row["concluded_tier"], amount=money(row["amount"]), persons_involved=row["persons_involved"],
        prevented=list(row["prevented"] or ()), parties=[party(p, reveal=reveal) for p in parties],
        party_count=row.get("party_count") or len(parties), agreement=agreement(row),
        court_case_no=row["court_case_no"],
        referrals=[referral_summary(r) for r in _json(row.get("referrals_json") or "[]")],
        risk=risk_of(judged), deadline_rule=judged["deadline_rule"], calendar_missing=judged["calendar_missing"],
        court_id=row["court_id"],
        entrustment=None if kind is None else EntrustmentKind(kind=kind, procedure=row["entrustment_procedure"]),
    )


def item(row: Any, *, reveal: bool = False) -> DisputeItem:
    """From a row the store read with `ITEM` (or `FULL`: the parties are cut here too)."""
    parties = _json(row["parties_json"])[:LIST_PARTIES]
    return DisputeItem(**_common(row, parties, reveal=reveal))


def full(row: Any, *, reveal: bool = False) -> Dispute:
    """From a row the store read with `FULL`."""
    return Dispute(**_common(row, _json(row["parties_json"]), reveal=reveal),
                   events=[event(e) for e in _json(row["events_json"])])


def registered(row: Any, parties: list[Party], first: Event, judged: Any) -> Dispute:
    """A dispute just registered, from what was written and what the store judged of it
    (`dispute_store.judged`): no referrals yet, one event."""
    return Dispute(**_common(row, parties, reveal=False, judged=judged), events=[first])
