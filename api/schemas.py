"""Request bodies as msgspec Structs. Types msgspec checks itself (ids, times, numbers);
codes and limits are checked by the domain, which names every bad field at once."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

import msgspec
from msgspec import Meta

from mediation.codes import (
    AGREEMENT_FORMS,
    DISPUTE_TYPES,
    FAIL_CHANNELS,
    ORG_KINDS,
    PERFORMANCE,
    PREVENTED,
    REGION_LEVELS,
    SATISFACTION,
    SESSION_METHODS,
    SOURCES,
    TIERS,
)

from referrals.schemas import PartyIn  # noqa: F401  (one party body for mediators and courts)


def one_of(codes: dict[str, str]) -> Meta:
    return Meta(description="One of: " + ", ".join(f"`{k}` {v}" for k, v in codes.items()),
                examples=[next(iter(codes))])


Money = Annotated[Decimal, Meta(description='Yuan, two decimals; a JSON string ("3000.00") or number')]
Time = Annotated[dt.datetime, Meta(description="RFC 3339; without an offset read as Asia/Shanghai")]
Version = Annotated[int, Meta(description="The dispute version you read; stale answers 409")]


class RegionIn(msgspec.Struct):
    code: Annotated[str, Meta(description="6, 9 or 12 digits (统计用区划代码)", examples=["511325101"])]
    name: str
    level: Annotated[str, one_of(REGION_LEVELS)] | None = None


class OrgIn(msgspec.Struct):
    name: str
    tier: Annotated[str, one_of(TIERS)]
    kind: Annotated[str, one_of(ORG_KINDS)]
    region_code: str


class MediatorIn(msgspec.Struct):
    name: str
    phone: str | None = None


class MediatorPatch(msgspec.Struct):
    name: str | None = None
    phone: str | None = None
    active: bool | None = None


class DisputeIn(msgspec.Struct):
    org_id: uuid.UUID
    type: Annotated[str, one_of(DISPUTE_TYPES)]
    source: Annotated[str, one_of(SOURCES)]
    summary: Annotated[str, Meta(description="At most 2,000 characters")]
    parties: list[PartyIn]
    region_code: str | None = None
    registered_at: Time | None = None
    occurred_on: dt.date | None = None
    amount: Money | None = None
    persons_involved: int | None = None
    deadline: Time | None = None


class _Transition(msgspec.Struct, kw_only=True):
    version: Version | None = None
    at: Time | None = None
    note: str | None = None


class SessionIn(_Transition, kw_only=True):
    held_at: Time
    method: Annotated[str, one_of(SESSION_METHODS)]
    mediator_ids: list[uuid.UUID]
    summary: str


class MoveIn(_Transition, kw_only=True):
    to_org_id: uuid.UUID
    reason: str


class AgreementIn(msgspec.Struct):
    form: Annotated[str, one_of(AGREEMENT_FORMS)]
    terms: str
    signed_at: Time
    amount: Money | None = None
    performance_due: dt.date | None = None


class ResolveIn(_Transition, kw_only=True):
    agreement: AgreementIn
    prevented: list[Annotated[str, one_of(PREVENTED)]] = []


class FailIn(_Transition, kw_only=True):
    reason: str
    channel: Annotated[str, one_of(FAIL_CHANNELS)] | None = None


class ReasonIn(_Transition, kw_only=True):
    reason: str


class PerformanceIn(_Transition, kw_only=True):
    status: Annotated[str, one_of({k: v for k, v in PERFORMANCE.items() if k != "pending"})]
    checked_at: Time


class VisitIn(_Transition, kw_only=True):
    satisfaction: Annotated[str, one_of(SATISFACTION)]


class ReferIn(_Transition, kw_only=True):
    court_id: uuid.UUID
    reason: str


class ConfirmationIn(_Transition, kw_only=True):
    court_id: uuid.UUID


class ReportIn(msgspec.Struct, kw_only=True):
    """上报: freeze a region's monthly figures."""

    region: Annotated[str, Meta(description="Region code (6, 9 or 12 digits)", examples=["511325"])]
    month: Annotated[str, Meta(description="An ended month, YYYY-MM (Asia/Shanghai)", examples=["2026-10"])]
