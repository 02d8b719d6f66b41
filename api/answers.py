"""The answers of the registry, court registry, deliveries and audit operations, as
msgspec Structs, so the OpenAPI document describes every field an answer carries.

Their services (`mediation.regions`, `mediation.orgs`, `referrals.courts`,
`referrals.worker`, `mediation.audit`) answer plain dicts that the pages and the command
line read too; a controller shapes them into these with `answer()`, which checks every
field on the way out. The dispute and referral answers are the services' own read models
(`mediation.dispute_views`, `referrals.service`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from mediation.pagination import ListPage

T = TypeVar("T")


def answer(value: Any, shape: type[T]) -> T:
    """`value` (a service's dict, or a page of them) as the Struct `shape`."""
    return msgspec.convert(value, shape)


# ---------------------------------------------------------------- health

class Health(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`/healthz` and `/readyz`: 200 with ok/ready, 503 with what is missing."""
    status: Literal["ok", "ready", "unavailable", "migrating"]
    detail: str | None = None
    pending: list[str] | None = None   # the migrations not applied yet (readyz, migrating)


DATABASE_DOWN = Health(status="unavailable", detail="the database does not answer")


# ---------------------------------------------------------------- registry

class Region(msgspec.Struct, kw_only=True):
    code: str
    name: str
    level: str
    parent_code: str | None


class RegionPage(ListPage, kw_only=True):
    items: list[Region]


class Org(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    tier: str
    kind: str
    region_code: str
    region_name: str | None
    county_code: str
    created_at: dt.datetime


class OrgPage(ListPage, kw_only=True):
    items: list[Org]


class Mediator(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    phone: str | None
    active: bool
    created_at: dt.datetime


class MediatorPage(ListPage, kw_only=True):
    items: list[Mediator]


# ---------------------------------------------------------------- courts

class Court(msgspec.Struct, kw_only=True):
    """Every role sees who the court is; only admins (and the court itself) see where its
    webhooks go, so those fields are absent for the others."""

    id: uuid.UUID
    name: str
    code: str
    region_code: str
    webhook_url: str | None | UnsetType = UNSET
    webhook_disabled_at: dt.datetime | None | UnsetType = UNSET
    created_at: dt.datetime | UnsetType = UNSET


class CourtCreated(Court, kw_only=True):
    """The new court with its API token and webhook secret, shown this once."""

    token_name: str
    api_token: str
    webhook_secret: str


class CourtPage(ListPage, kw_only=True):
    items: list[Court]


class SecretRotated(msgspec.Struct, kw_only=True):
    court_id: uuid.UUID
    webhook_secret: str
    previous_valid_until: dt.datetime


class RosterEntry(msgspec.Struct, kw_only=True):
    court_id: uuid.UUID
    org_id: uuid.UUID
    name: str
    tier: str
    kind: str
    region_code: str
    added_at: dt.datetime


class RosterPage(ListPage, kw_only=True):
    items: list[RosterEntry]


# ---------------------------------------------------------------- deliveries and audit

class Delivery(msgspec.Struct, kw_only=True):
    id: str
    court_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    dead_at: dt.datetime | None


class DeliveryPage(ListPage, kw_only=True):
    items: list[Delivery]


class AuditEntry(msgspec.Struct, kw_only=True):
    id: int
    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    dispute_id: uuid.UUID | None
    detail: Any


class AuditPage(ListPage, kw_only=True):
    items: list[AuditEntry]
