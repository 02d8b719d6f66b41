"""Health and the audit log."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get

from api.answers import AuditPage, answer
from api.guards import ADMIN
from api.params import Actor, Cursor, Limit, page_size
from mediation import audit, db


@get("/healthz", summary="200 when the database answers, 503 otherwise", tags=["operations"], exclude_from_auth=True)
async def healthz() -> Response:
    if await db.ping():
        return Response({"status": "ok"}, status_code=200)
    return Response({"status": "unavailable", "detail": "the database does not answer"}, status_code=503)


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
