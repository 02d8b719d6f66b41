"""The deliveries admin API: what the webhook worker has done and what is waiting, and a
hand retry for dead deliveries. Mounted under /api/v1 by `api.app`.

`referrals` does not import `api`, so the admin guard here reads the `Principal` the
bearer middleware put on the connection and refuses with the domain's `Forbidden`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Parameter

from mediation.errors import Forbidden
from mediation.pagination import check_limit
from referrals import worker

Limit = Annotated[int | None, Parameter(description="Page size, 1–500 (default 50)")]
Cursor = Annotated[str | None, Parameter(description="`next_cursor` of the previous page")]
Status = Annotated[str | None, Parameter(description="pending | delivered | dead")]


async def admin_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if getattr(connection.user, "role", None) != "admin":
        raise Forbidden("this needs the role admin")


class DeliveryController(Controller):
    path = "/deliveries"
    tags = ["court handoff"]
    guards = [admin_only]

    @get("/", summary="Webhook deliveries, newest first (admin)")
    async def list(self, status: Status = None, court_id: uuid.UUID | None = None, limit: Limit = None,
                   cursor: Cursor = None) -> dict[str, Any]:
        return await worker.list_deliveries(status=status, court_id=court_id, limit=check_limit(limit),
                                            cursor=cursor)

    @post("/{message_id:str}/retry", status_code=200,
          summary="Start a dead delivery over with a fresh schedule (admin); 409 unless dead")
    async def retry(self, request: Request, message_id: str) -> dict[str, Any]:
        return await worker.retry_delivery(message_id, actor=request.user.actor)


DELIVERY_HANDLERS: list[Any] = [DeliveryController]
