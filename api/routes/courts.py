"""The court registry (admin writes, every role reads) and the court's roster."""

from __future__ import annotations

import uuid

from litestar import Controller, Request, delete, get, patch, post

from api.answers import Court, CourtCreated, CourtPage, RosterEntry, RosterPage, SecretRotated, answer
from api.guards import ADMIN, court_exists, principal_of
from api.params import Cursor, Limit, Region, page_size
from api.schemas import CourtIn, CourtPatch, RosterIn
from referrals import courts


class CourtController(Controller):
    path = "/courts"
    tags = ["courts"]

    @post("/", summary="Register a court (admin); the answer shows its API token and webhook secret once",
          guards=[ADMIN])
    async def create(self, request: Request, data: CourtIn) -> CourtCreated:
        return answer(await courts.create_court(principal_of(request), name=data.name, code=data.code,
                                                region_code=data.region_code, webhook_url=data.webhook_url),
                      CourtCreated)

    @get("/", summary="Courts (every role): id, name, code, region")
    async def list(self, request: Request, region: Region = None, limit: Limit = None,
                   cursor: Cursor = None) -> CourtPage:
        return answer(await courts.list_courts(principal_of(request), region=region, limit=page_size(limit),
                                               cursor=cursor), CourtPage)

    @get("/{court_id:uuid}", summary="One court")
    async def read(self, request: Request, court_id: uuid.UUID) -> Court:
        return answer(await courts.get_court(principal_of(request), court_id), Court)

    @get("/{court_id:uuid}/roster", summary="The court's roster by name (admin, the court, the bureau holding it)")
    async def roster(self, request: Request, court_id: uuid.UUID, limit: Limit = None,
                     cursor: Cursor = None) -> RosterPage:
        return answer(await courts.list_roster(principal_of(request), court_id, limit=page_size(limit),
                                               cursor=cursor), RosterPage)


class CourtAdminController(Controller):
    """An admin's changes to a registered court: 404 for an unknown court, then 403 for
    anyone but an admin (one guard list for every change)."""

    path = "/courts"
    tags = ["courts"]
    guards = [court_exists, ADMIN]

    @patch("/{court_id:uuid}", summary="Change (and re-enable) the webhook URL (admin)")
    async def update(self, request: Request, court_id: uuid.UUID, data: CourtPatch) -> Court:
        return answer(await courts.set_webhook_url(principal_of(request), court_id, data.webhook_url), Court)

    @post("/{court_id:uuid}/secrets", summary="A new webhook secret; the previous one signs for 24 more hours (admin)")
    async def rotate_secret(self, request: Request, court_id: uuid.UUID) -> SecretRotated:
        return answer(await courts.rotate_secret(principal_of(request), court_id), SecretRotated)

    @post("/{court_id:uuid}/roster", summary="Put an organisation on the court's roster (特邀调解组织名册, admin)")
    async def add_to_roster(self, request: Request, court_id: uuid.UUID, data: RosterIn) -> RosterEntry:
        return answer(await courts.add_to_roster(principal_of(request), court_id, data.org_id), RosterEntry)

    @delete("/{court_id:uuid}/roster/{org_id:uuid}", summary="Take an organisation off the roster (admin)",
            status_code=204)
    async def remove_from_roster(self, request: Request, court_id: uuid.UUID, org_id: uuid.UUID) -> None:
        await courts.remove_from_roster(principal_of(request), court_id, org_id)
