"""Health and the audit log."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get
from litestar.openapi.datastructures import ResponseSpec

from api.answers import DATABASE_DOWN, AuditPage, Health, answer
from api.guards import ADMIN
from api.params import Actor, Cursor, Limit, page_size
from mediation import audit, db


#: the 503 of /healthz and /readyz carries the same shape as their 200
UNHEALTHY = {503: ResponseSpec(data_container=Health, description="Not ready: `status` and `detail` say why",
                               generate_examples=False)}


@get("/healthz", summary="200 when the database answers, 503 otherwise", tags=["operations"], exclude_from_auth=True,
     responses=UNHEALTHY)
async def healthz() -> Response[Health]:
    if await db.ping():
        return Response(Health(status="ok"), status_code=200)
    return Response(DATABASE_DOWN, status_code=503)


#: 调 on a seal-red square: the service's own icon, so browsers need not ask elsewhere
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="10" '
    'fill="#b3261e"/><text x="32" y="46" font-size="40" text-anchor="middle" fill="#fff" '
    'font-family="Noto Sans CJK SC, sans-serif">调</text></svg>'
)


@get(["/favicon.ico", "/favicon.svg"], summary="The service icon", include_in_schema=False, exclude_from_auth=True,
     cache=86400)
async def favicon() -> Response:
    return Response(FAVICON_SVG, media_type="image/svg+xml")


class AuditController(Controller):
    path = "/audit"
    tags = ["operations"]
    guards = [ADMIN]

    @get("/", summary="Who viewed full personal data or changed what (admin)")
    async def list(self, dispute_id: uuid.UUID | None = None, actor: Actor = None,
                   limit: Limit = None, cursor: Cursor = None) -> AuditPage:
        return answer(await audit.list_entries(dispute_id=dispute_id, actor=actor, limit=page_size(limit),
                                               cursor=cursor), AuditPage)
