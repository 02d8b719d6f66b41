"""The court registry (admin writes, every role reads) and the court's roster."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, patch, post

from api.guards import ADMIN, court_exists, principal_of
from api.params import Cursor, Limit, Region, page_size
from referrals import courts
from api.schemas import CourtIn, CourtPatch, RosterIn


class CourtController(Controller):
    path = "/courts"
    tags = ["courts"]

    @post("/", summary="Register a court (admin); the answer shows its API token and webhook secret once",
          guards=[ADMIN])
    async def create(self, request: Request, data: CourtIn) -> dict[str, Any]:
        return await courts.create_court(principal_of(request), name=data.name, code=data.code,
                                         region_code=data.region_code, webhook_url=data.webhook_url)

    @get("/", summary="Courts (every role): id, name, code, region")
    async def list(self, request: Request, region: Region = None, limit: Limit = None,
                   cursor: Cursor = None) -> dict[str, Any]:
        return await courts.list_courts(principal_of(request), region=region, limit=page_size(limit), cursor=cursor)

    @get("/{court_id:uuid}", summary="One court")
    async def read(self, request: Request, court_id: uuid.UUID) -> dict[str, Any]:
        return await courts.get_court(principal_of(request), court_id)

    @patch("/{court_id:uuid}", summary="Change (and re-enable) the webhook URL (admin)",
           guards=[court_exists, ADMIN])
    async def update(self, request: Request, court_id: uuid.UUID, data: CourtPatch) -> dict[str, Any]:
        return await courts.set_webhook_url(principal_of(request), court_id, data.webhook_url)

    @post("/{court_id:uuid}/secrets", summary="A new webhook secret; the previous one signs for 24 more hours (admin)",
          guards=[court_exists, ADMIN])
    async def rotate_secret(self, request: Request, court_id: uuid.UUID) -> dict[str, Any]:
        return await courts.rotate_secret(principal_of(request), court_id)

    @post("/{court_id:uuid}/roster", summary="Put an organisation on the court's roster (特邀调解组织名册, admin)",
          guards=[court_exists, ADMIN])
    async def add_to_roster(self, request: Request, court_id: uuid.UUID, data: RosterIn) -> dict[str, Any]:
        return await courts.add_to_roster(principal_of(request), court_id, data.org_id)

    @get("/{court_id:uuid}/roster", summary="The court's roster by name (admin, the court, the bureau holding it)")
    async def roster(self, request: Request, court_id: uuid.UUID, limit: Limit = None,
                     cursor: Cursor = None) -> dict[str, Any]:
        return await courts.list_roster(principal_of(request), court_id, limit=page_size(limit), cursor=cursor)

    @delete("/{court_id:uuid}/roster/{org_id:uuid}", summary="Take an organisation off the roster (admin)",
            guards=[court_exists, ADMIN], status_code=204)
    async def remove_from_roster(self, request: Request, court_id: uuid.UUID, org_id: uuid.UUID) -> None:
        await courts.remove_from_roster(principal_of(request), court_id, org_id)
