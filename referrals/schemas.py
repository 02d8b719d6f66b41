"""Request bodies of the court endpoints as msgspec Structs. msgspec checks the types;
codes, lengths and the court rules are checked in `referrals.courts` / `.service`, which
name every bad field at once. (`refer` and `confirmation` bodies live with the dispute
actions in `api.schemas`.)"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

import msgspec
from msgspec import Meta

from mediation.codes import DISPUTE_TYPES, PARTY_KINDS, PARTY_ROLES
from referrals.service import DECISIONS, ENTRUSTMENT_KINDS, PROCEDURES


def one_of(codes: dict[str, str]) -> Meta:
    return Meta(description="One of: " + ", ".join(f"`{k}` {v}" for k, v in codes.items()),
                examples=[next(iter(codes))])


Time = Annotated[dt.datetime, Meta(description="RFC 3339; without an offset read as Asia/Shanghai")]
CourtCaseNo = Annotated[str, Meta(description="As the court numbers it, e.g. (2026)川1325民初123号",
                                  examples=["(2026)川1325民初123号"])]
WebhookUrl = Annotated[str, Meta(description="http or https URL receiving Standard Webhooks POSTs",
                                 examples=["https://court.example/tiaojie/webhooks"])]


class CourtIn(msgspec.Struct):
    name: Annotated[str, Meta(examples=["西充县人民法院"])]
    code: Annotated[str, Meta(description="Court code: province abbreviation and digits", examples=["川1325"])]
    region_code: Annotated[str, Meta(description="6, 9 or 12 digits", examples=["511325"])]
    webhook_url: WebhookUrl | None = None


class CourtPatch(msgspec.Struct):
    webhook_url: Annotated[WebhookUrl | None, Meta(description="The new URL (null: the court pulls); "
                                                   "setting it re-enables delivery after a 410")]


class RosterIn(msgspec.Struct):
    org_id: uuid.UUID


class AckIn(msgspec.Struct):
    court_case_no: CourtCaseNo | None = None


_ALL_DECISIONS = {k: v for kind in DECISIONS.values() for k, v in kind.items()}


class DecisionIn(msgspec.Struct):
    decision: Annotated[str, Meta(description="litigation: `filed` | `not_filed`; confirmation: `confirmed` | "
                                  "`rejected`", examples=list(_ALL_DECISIONS))]
    decided_at: Time
    court_case_no: CourtCaseNo | None = None
    note: Annotated[str, Meta(description="At most 10,000 characters")] | None = None


class PartyIn(msgspec.Struct):
    role: Annotated[str, one_of(PARTY_ROLES)]
    kind: Annotated[str, one_of(PARTY_KINDS)]
    name: str
    id_number: Annotated[str, Meta(description="Resident ID (GB 11643) or credit code (GB 32100)")] | None = None
    phone: str | None = None
    address: str | None = None


class EntrustmentIn(msgspec.Struct):
    court_case_no: CourtCaseNo
    kind: Annotated[str, one_of(ENTRUSTMENT_KINDS)]
    org_id: Annotated[uuid.UUID, Meta(description="An organisation on the court's roster")]
    type: Annotated[str, one_of(DISPUTE_TYPES)]
    summary: Annotated[str, Meta(description="At most 2,000 characters")]
    parties: list[PartyIn]
    procedure: Annotated[str, one_of(PROCEDURES)] | None = None
    region_code: str | None = None
    deadline: Annotated[Time, Meta(description="Overrides the 30/15/7-day limit")] | None = None
    registered_at: Annotated[Time, Meta(description="When the organisation received the case (default now)")] | None = None
    occurred_on: dt.date | None = None
    amount: Annotated[Decimal, Meta(description='Yuan, two decimals; a JSON string ("3000.00") or number')] | None = None
    persons_involved: int | None = None
