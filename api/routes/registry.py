"""Regions, organisations and mediators (admin writes; scoped reads)."""

from __future__ import annotations

import uuid
from litestar import Controller, Request, get, patch, post

from api import answers
from api.answers import answer
from api.guards import ADMIN, org_admin, principal_of
from api.params import Cursor, Limit, Region, RegionPath, Search, Tier, page_size
from api.schemas import MediatorIn, MediatorPatch, OrgIn, RegionIn
from mediation import orgs, regions
from mediation.pagination import decode_cursor, encode_cursor


class RegionController(Controller):
    path = "/regions"
    tags = ["registry"]

    @post("/", summary="Register a region (admin)", guards=[ADMIN])
    async def create(self, request: Request, data: RegionIn) -> answers.Region:
        principal_of(request).require_admin()
        region = await regions.create(code=data.code, name=data.name, level=data.level,
                                      actor=principal_of(request).actor)
        return answer(region.as_dict(), answers.Region)

    @get("/", summary="List regions by parent (top level without `parent`)")
    async def list(self, parent: Region = None, limit: Limit = None, cursor: Cursor = None) -> answers.RegionPage:
        after = decode_cursor(cursor, 1)[0] if cursor else None
        n = page_size(limit)
        items, total = await regions.children(parent, limit=n + 1, after=after)
        more = len(items) > n
        items = items[:n]
        return answer({"items": [r.as_dict() for r in items], "total": total,
                       "next_cursor": encode_cursor(items[-1].code) if more else None}, answers.RegionPage)

    @get("/{code:str}", summary="One region")
    async def read(self, code: RegionPath) -> answers.Region:
        return answer((await regions.get(code)).as_dict(), answers.Region)


class OrgController(Controller):
    path = "/orgs"
    tags = ["registry"]

    @post("/", summary="Register a mediation organisation (admin)", guards=[ADMIN])
    async def create(self, request: Request, data: OrgIn) -> answers.Org:
        return answer(await orgs.create_org(principal_of(request), name=data.name, tier=data.tier, kind=data.kind,
                                            region_code=data.region_code), answers.Org)

    @get("/", summary="Organisations the caller may see (mediators: their county; bureau: its region)")
    async def list(self, request: Request, region: Region = None, tier: Tier = None,
                   q: Search = None, limit: Limit = None, cursor: Cursor = None) -> answers.OrgPage:
        return answer(await orgs.list_orgs(principal_of(request), region=region, tier=tier, q=q,
                                           limit=page_size(limit), cursor=cursor), answers.OrgPage)

    @get("/{org_id:uuid}", summary="One organisation")
    async def read(self, request: Request, org_id: uuid.UUID) -> answers.Org:
        return answer(await orgs.get_org(principal_of(request), org_id), answers.Org)

    @post("/{org_id:uuid}/mediators", summary="Add a mediator to an organisation (admin)", guards=[org_admin])
    async def add_mediator(self, request: Request, org_id: uuid.UUID, data: MediatorIn) -> answers.Mediator:
        return answer(await orgs.add_mediator(principal_of(request), org_id, name=data.name, phone=data.phone),
                      answers.Mediator)

    @patch("/{org_id:uuid}/mediators/{mediator_id:uuid}", summary="Rename or (de)activate a mediator (admin)",
           guards=[org_admin])
    async def update_mediator(self, request: Request, org_id: uuid.UUID, mediator_id: uuid.UUID,
                              data: MediatorPatch) -> answers.Mediator:
        return answer(await orgs.update_mediator(principal_of(request), org_id, mediator_id, name=data.name,
                                                 phone=data.phone, active=data.active), answers.Mediator)

    @get("/{org_id:uuid}/mediators", summary="The organisation's mediators")
    async def mediators(self, request: Request, org_id: uuid.UUID, limit: Limit = None,
                        cursor: Cursor = None) -> answers.MediatorPage:
        return answer(await orgs.list_mediators(principal_of(request), org_id, limit=page_size(limit),
                                                cursor=cursor), answers.MediatorPage)
