"""Mediation organisations (调委会, 司法所, 多元化解中心) and their mediators."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from mediation import audit, clock, db, fields
from mediation.access import Principal
from mediation.codes import ORG_KIND_TIERS, ORG_KINDS, TIER_REGION_LEVEL, TIERS
from mediation.errors import Collector, Invalid, NotFound
from mediation.idnumbers import mask_phone
from mediation.pagination import Keyset, keyset_page
from mediation.regions import canonical, filter_prefix

ORG_COLUMNS = "o.id, o.name, o.tier, o.kind, o.region_code, o.county_code, o.created_at, r.name AS region_name"


BY_REGION = Keyset(columns=("o.region_code", "o.id"), keys=("region_code", "id"), parsers=(str, uuid.UUID),
                   descending=False)


def org_dict(r) -> dict[str, Any]:
    return {"id": r["id"], "name": r["name"], "tier": r["tier"], "kind": r["kind"],
            "region_code": r["region_code"], "region_name": r["region_name"],
            "county_code": r["county_code"], "created_at": clock.local(r["created_at"])}


async def create_org(principal: Principal, *, name: str, tier: str, kind: str, region_code: str) -> dict:
    principal.require_admin()
    errors = Collector()
    name = fields.name(errors, "name", name, max_len=200)
    if tier not in TIERS:
        errors.add("tier", "must be one of {choices}", choices=", ".join(TIERS))
    if kind not in ORG_KINDS:
        errors.add("kind", "must be one of {choices}", choices=", ".join(ORG_KINDS))
    elif tier in TIERS and tier not in ORG_KIND_TIERS[kind]:
        errors.add("tier", "a {kind} sits at tier {tiers}", kind=kind, tiers=" or ".join(ORG_KIND_TIERS[kind]))
    code12 = None
    try:
        code12 = canonical(region_code, "region_code")
    except Invalid as e:
        errors.errors.extend(e.errors)
    errors.raise_if_any()
    async with db.transaction() as conn:
        region = await conn.fetchrow("SELECT code, level FROM regions WHERE code = $1", code12)
        if region is None:
            raise Invalid.field("region_code", "region {code} is not registered", code=code12)
        if region["level"] != TIER_REGION_LEVEL[tier]:
            raise Invalid.field("region_code", "a {tier}-tier organisation sits in a {level} region, not a {found}",
                                tier=tier, level=TIER_REGION_LEVEL[tier], found=region["level"])
        org_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO orgs (id, name, tier, kind, region_code, county_code) VALUES ($1, $2, $3, $4, $5, $6)",
            org_id, name, tier, kind, code12, code12[:6])
        await audit.record(conn, actor=principal.actor, action="org.create", entity="org", entity_id=org_id,
                           detail={"name": name, "tier": tier, "kind": kind, "region_code": code12})
    return await get_org(principal, org_id)


async def get_org(principal: Principal, org_id: uuid.UUID) -> dict:
    async with db.connection() as conn:
        r = await conn.fetchrow(f"SELECT {ORG_COLUMNS} FROM orgs o JOIN regions r ON r.code = o.region_code WHERE o.id = $1",
                                org_id)
    if r is None or not principal.may_read_org(region_code=r["region_code"], county_code=r["county_code"]):
        raise NotFound("org {org_id} not found", org_id=org_id)
    return org_dict(r)


async def list_orgs(principal: Principal, *, region: str | None = None, tier: str | None = None,
                    q: str | None = None, limit: int = 50, cursor: str | None = None) -> dict:
    args: list = []
    conds = [principal.org_filter(args)]
    if region:
        code12 = canonical(region, "region")
        async with db.connection() as conn:
            args.append(await filter_prefix(conn, code12) + "%")
        conds.append(f"o.region_code LIKE ${len(args)}")
    if tier:
        if tier not in TIERS:
            raise Invalid.field("tier", "must be one of {choices}", choices=", ".join(TIERS))
        args.append(tier)
        conds.append(f"o.tier = ${len(args)}")
    q = fields.clean(q).strip() if q else None
    if q:
        args.append("%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")  # literal text
        conds.append(f"o.name ILIKE ${len(args)}")
    where = " AND ".join(conds)
    async with db.connection() as conn:
        page = await keyset_page(
            conn, select=ORG_COLUMNS, source="orgs o JOIN regions r ON r.code = o.region_code", where=where,
            args=args, keyset=BY_REGION, limit=limit, cursor=cursor)
    return {"items": [org_dict(r) for r in page.rows], "total": page.total, "next_cursor": page.next_cursor}


def mediator_dict(r, *, reveal: bool = False) -> dict[str, Any]:
    return {"id": r["id"], "org_id": r["org_id"], "name": r["name"],
            "phone": r["phone"] if reveal else mask_phone(r["phone"]), "active": r["active"],
            "created_at": clock.local(r["created_at"])}


def _mediator_fields(errors: Collector, name: Any, phone: Any, *,
                     name_required: bool = True) -> tuple[str | None, str | None]:
    """The name and phone number as stored (cleaned, normal form)."""
    name = fields.name(errors, "name", name, max_len=100, required=name_required or name is not None)
    return name, fields.phone(errors, "phone", phone)


async def add_mediator(principal: Principal, org_id: uuid.UUID, *, name: str, phone: str | None) -> dict:
    await get_org(principal, org_id)
    principal.require_admin()
    errors = Collector()
    name, phone = _mediator_fields(errors, name, phone)
    errors.raise_if_any()
    async with db.transaction() as conn:
        r = await conn.fetchrow("INSERT INTO mediators (id, org_id, name, phone) VALUES ($1, $2, $3, $4) RETURNING *",
                                uuid.uuid4(), org_id, name, phone)
        await audit.record(conn, actor=principal.actor, action="mediator.create", entity="mediator",
                           entity_id=r["id"], detail={"org_id": org_id, "name": r["name"]})
    return mediator_dict(r)


#: an organisation's mediators in the order they joined
BY_JOINING = Keyset(columns=("m.created_at", "m.id"), keys=("created_at", "id"),
                    parsers=(dt.datetime.fromisoformat, uuid.UUID), descending=False)


async def list_mediators(principal: Principal, org_id: uuid.UUID, *, limit: int = 50,
                         cursor: str | None = None) -> dict:
    """The organisation's mediators, paged like every list (no answer grows with the registry)."""
    await get_org(principal, org_id)
    async with db.connection() as conn:
        page = await keyset_page(conn, select="m.*", source="mediators m", where="m.org_id = $1", args=[org_id],
                                 keyset=BY_JOINING, limit=limit, cursor=cursor)
    return {"items": [mediator_dict(r) for r in page.rows], "total": page.total, "next_cursor": page.next_cursor}


async def update_mediator(principal: Principal, org_id: uuid.UUID, mediator_id: uuid.UUID, *,
                          name: str | None = None, phone: str | None = None, active: bool | None = None) -> dict:
    """Rename, re-number or (de)activate a mediator. An inactive mediator stays on past
    session records but may not be named on new ones."""
    await get_org(principal, org_id)
    principal.require_admin()
    errors = Collector()
    name, phone = _mediator_fields(errors, name, phone, name_required=False)
    errors.raise_if_any()
    async with db.transaction() as conn:
        r = await conn.fetchrow(
            """UPDATE mediators SET name = coalesce($3, name), phone = coalesce($4, phone),
                   active = coalesce($5, active)
               WHERE id = $1 AND org_id = $2 RETURNING *""",
            mediator_id, org_id, name, phone, active)
        if r is None:
            raise NotFound("mediator {mediator_id} not found in org {org_id}", mediator_id=mediator_id, org_id=org_id)
        changed = {k: v for k, v in (("name", name), ("active", active), ("phone", "changed" if phone else None))
                   if v is not None}
        await audit.record(conn, actor=principal.actor, action="mediator.update", entity="mediator",
                           entity_id=mediator_id, detail={"org_id": org_id, **changed})
    return mediator_dict(r)


async def placement(conn, org_id: uuid.UUID):
    """Where an org sits (id, tier, county_code, region_code), on the caller's connection;
    None when it does not exist."""
    return await conn.fetchrow("SELECT id, tier, county_code, region_code FROM orgs WHERE id = $1", org_id)


async def active_mediators(conn, org_id: uuid.UUID, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `ids` are active mediators of the org."""
    return {r["id"] for r in await conn.fetch(
        "SELECT id FROM mediators WHERE id = ANY($1::uuid[]) AND org_id = $2 AND active", ids, org_id)}
