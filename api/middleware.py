"""Request ids and one redacted log line per request."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import loggable_path, loggable_query, redact_text

log = structlog.get_logger("tiaojie.http")
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    """Wrap the app's whole ASGI handler (`app.asgi_handler`) so that answers the router
    gives itself (unknown route 404, 405) get a request id and a log line too."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("state", {}).get("request_id"):
            await app(scope, receive, send)  # not http, or an outer instance already does it
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.fullmatch(incoming) and redact_text(incoming) == incoming else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        scope.setdefault("state", {})["request_id"] = request_id
        try:
            await app(scope, receive, send)
        finally:
            status = scope["state"].get("response_status", 500)
            query = loggable_query(scope.get("query_string", b""))
            log.info("request", method=scope["method"], path=loggable_path(scope["path"]), query=query, status=status,
                     ms=round((time.perf_counter() - started) * 1000, 1))
            structlog.contextvars.clear_contextvars()

    return middleware


#: assets that hold no personal data and may be cached as their handler says
CACHEABLE_PREFIXES = ("/static/", "/favicon.")


def _cache_headers(path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`Cache-Control: no-store` on every answer that may carry personal data: every API
    answer (whatever its handler set) and every page; static assets keep their own."""
    if path.startswith(CACHEABLE_PREFIXES):
        return headers
    if not path.startswith("/api/") and any(k.lower() == b"cache-control" for k, _ in headers):
        return headers  # a page that chose its own policy (the docs page, say)
    return [*(h for h in headers if h[0].lower() != b"cache-control"), (b"cache-control", b"no-store")]


async def stamp_response(message: Message, scope: Scope) -> None:
    """`before_send` hook: runs for every response, error answers from middleware too."""
    if message["type"] == "http.response.start":
        state = scope.setdefault("state", {})
        state["response_status"] = message["status"]
        headers = _cache_headers(scope.get("path", ""), list(message.get("headers", [])))
        request_id = state.get("request_id")
        if request_id:
            headers.append((b"x-request-id", request_id.encode()))
        message["headers"] = headers
