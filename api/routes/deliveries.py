"""The deliveries admin API: what the webhook worker has done and what is waiting, and a
hand retry for dead deliveries."""

from __future__ import annotations

import uuid

from litestar import Controller, Request, get, post

from api.answers import Delivery, DeliveryPage, answer
from api.guards import ADMIN, principal_of
from api.params import Cursor, DeliveryStatus, Limit, page_size
from referrals import worker

class DeliveryController(Controller):
    path = "/deliveries"
    tags = ["court handoff"]
    guards = [ADMIN]

    @get("/", summary="Webhook deliveries, newest first (admin)")
    async def list(self, status: DeliveryStatus = None, court_id: uuid.UUID | None = None, limit: Limit = None,
                   cursor: Cursor = None) -> DeliveryPage:
        return answer(await worker.list_deliveries(status=status, court_id=court_id, limit=page_size(limit),
                                                   cursor=cursor), DeliveryPage)

    @post("/{message_id:str}/retry", status_code=200,
          summary="Start a dead delivery over with a fresh schedule (admin); 409 unless dead")
    async def retry(self, request: Request, message_id: str) -> Delivery:
        return answer(await worker.retry_delivery(message_id, actor=principal_of(request).actor), Delivery)
