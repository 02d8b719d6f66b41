"""Risk: a person's assessment of a dispute (`POST /disputes/{id}/risk`) and the warning
list (`GET /warnings`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import Parameter

from api.guards import dispute_actionable, principal_of, roles
from api.params import Cursor, IfMatch, Limit, Region, page_size
from api.schemas import RiskIn
from mediation import disputes, early_warning
from mediation.dispute_views import Dispute



class WarningOrg(msgspec.Struct):
    id: uuid.UUID
    name: str


class WarningItem(msgspec.Struct):
    dispute_id: uuid.UUID
    case_no: str
    level: Literal["yellow", "red"]
    reasons: list[str]
    reached_at: dt.datetime
    org: WarningOrg
    region_code: str


class WarningPage(msgspec.Struct):
    items: list[WarningItem]
    total: int
    next_cursor: str | None


class RiskController(Controller):
    path = "/disputes"
    tags = ["risk"]

    @post("/{dispute_id:uuid}/risk", summary="Record a risk assessment (风险评估), replacing the last one",
          guards=[roles("admin", "mediator"), dispute_actionable], status_code=200, name="dispute-risk")
    async def assess(self, request: Request, dispute_id: uuid.UUID, data: RiskIn,
                     if_match: IfMatch = None) -> Dispute:
        return await disputes.transition(principal_of(request), dispute_id, "risk", data, if_match=if_match)


class WarningController(Controller):
    path = "/warnings"
    tags = ["risk"]
    guards = [roles("admin", "bureau", "mediator")]

    @get("/", summary="Open disputes at red or yellow (or above), most recent rise first")
    async def list(self, request: Request, region: Region = None,
                   level: Annotated[Literal["red", "yellow"], Parameter(description="red, or yellow and above")] = "yellow",
                   since: Annotated[dt.datetime | None, Parameter(description="Rose to its level at or after")] = None,
                   limit: Limit = None, cursor: Cursor = None) -> WarningPage:
        page = await early_warning.list_warnings(
            principal_of(request), early_warning.WarningFilters(region=region, level=level, since=since),
            limit=page_size(limit), cursor=cursor)
        return msgspec.convert(page, WarningPage)
