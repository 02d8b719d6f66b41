"""Disputes: register, read, list, and the lifecycle transitions."""


import uuid
from typing import Annotated

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import Parameter

from api.guards import READERS, dispute_actionable, dispute_readable, principal_of, registers_at_own_org, roles
from api.params import (
    Cursor,
    DisputeStatus,
    DisputeType,
    IfMatch,
    Limit,
    PeriodFrom,
    PeriodTo,
    Region,
    RiskLevel,
    Search,
    Source,
    page_size,
)
from api.schemas import (
    ConfirmationIn,
    DisputeIn,
    FailIn,
    MoveIn,
    PerformanceIn,
    ReasonIn,
    ReferIn,
    ResolveIn,
    SessionIn,
    VisitIn,
)
from mediation import disputes
from mediation.dispute_views import Dispute, DisputePage


def _transition(action: str, body: type[msgspec.Struct], summary: str):
    @post(f"/{{dispute_id:uuid}}/{action}", summary=summary, guards=[dispute_actionable], status_code=200,
          name=f"dispute-{action}")
    async def handler(self, request: Request, dispute_id: uuid.UUID, data: body, if_match: IfMatch = None) -> Dispute:  # type: ignore[valid-type]
        return await disputes.transition(principal_of(request), dispute_id, action, data, if_match=if_match)

    handler.fn.__name__ = action
    return handler


class DisputeController(Controller):
    path = "/disputes"
    tags = ["disputes"]
    guards = [READERS]

    @post("/", summary="Register a dispute (登记)", guards=[roles("admin", "mediator"), registers_at_own_org])
    async def register(self, request: Request, data: DisputeIn) -> Dispute:
        return await disputes.register(principal_of(request), data)

    @get("/", summary="Disputes the caller may read, newest registration first")
    async def list(self, request: Request, status: DisputeStatus = None, type: DisputeType = None,
                   org_id: uuid.UUID | None = None, region: Region = None,
                   q: Search = None, overdue: bool = False, source: Source = None,
                   registered_from: PeriodFrom = None, registered_to: PeriodTo = None,
                   concluded_from: PeriodFrom = None, concluded_to: PeriodTo = None,
                   risk: RiskLevel = None,
                   limit: Limit = None, cursor: Cursor = None) -> DisputePage:
        filters = disputes.ListFilters(status=status, type=type, org_id=org_id, region=region, q=q,
                                       overdue=overdue, source=source, registered_from=registered_from,
                                       registered_to=registered_to, concluded_from=concluded_from,
                                       concluded_to=concluded_to, risk=risk)
        return await disputes.list_disputes(principal_of(request), filters, limit=page_size(limit), cursor=cursor)

    @get("/{dispute_id:uuid}", summary="One dispute with its timeline", guards=[dispute_readable])
    async def read(self, request: Request, dispute_id: uuid.UUID,
                   reveal: Annotated[bool, Parameter(description="Full ID and phone numbers (audited)")] = False,
                   ) -> Dispute:
        return await disputes.get(principal_of(request), dispute_id, reveal=reveal)

    sessions = _transition("sessions", SessionIn, "Record a mediation session (调解记录)")
    escalate = _transition("escalate", MoveIn, "Escalate to a higher tier (上移)")
    assign = _transition("assign", MoveIn, "Assign to the same or a lower tier (分流交办)")
    resolve = _transition("resolve", ResolveIn, "Close with an agreement (调解成功)")
    fail = _transition("fail", FailIn, "End mediation without agreement (调解不成)")
    withdraw = _transition("withdraw", ReasonIn, "A party withdraws (撤回/终止)")
    reject = _transition("reject", ReasonIn, "Refuse the case (不予受理)")
    performance = _transition("performance", PerformanceIn, "Record performance of the agreement (履行)")
    visit = _transition("visit", VisitIn, "Record a return visit (回访)")
    refer = _transition("refer", ReferIn, "Refer to a court for litigation (引导诉讼)")
    confirmation = _transition("confirmation", ConfirmationIn, "Apply for judicial confirmation (司法确认)")
