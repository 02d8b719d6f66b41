"""RFC 9457 problem+json for every error: domain refusals, framework errors, and the
unexpected (logged, answered without a trace)."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import asyncpg.exceptions._base
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from mediation.errors import DomainError, Invalid, RateLimited

PROBLEM = "application/problem+json"
log = structlog.get_logger("tiaojie.http")

_TYPES = {
    400: "malformed-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    409: "conflict", 413: "payload-too-large", 415: "unsupported-media-type", 422: "invalid-values",
    429: "too-many-requests", 500: "internal-error", 503: "unavailable",
}
_TITLES = {
    400: "Malformed request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 413: "Request body too large", 415: "Unsupported media type",
    422: "Invalid values", 500: "Internal error", 503: "Service unavailable",
}


def problem(status: int, detail: str, *, title: str | None = None, errors: list[dict] | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": f"/problems/{_TYPES.get(status, 'error')}",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM, headers=headers)


def _domain(_: Request, exc: DomainError) -> Response:
    if isinstance(exc, Invalid):
        return problem(422, exc.detail, errors=[{"field": e.field, "message": e.message} for e in exc.errors])
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(exc.status, exc.detail, title=exc.title, headers=headers)


_MISSING = re.compile(r"Object missing required field `([^`]+)`")


def _field_of(key: str | None) -> str:
    if not key:
        return "body"
    return key.removeprefix("$.").removeprefix("$") or "body"


def _validation(request: Request, exc: ValidationException) -> Response:
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = []
    malformed = False
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", ""))
        source = item.get("source")
        if "malformed" in message.lower() or "json is malformed" in message.lower() or "truncated" in message.lower():
            malformed = True
        field = _field_of(item.get("key"))
        if " - at `" in message:
            message, _, at = message.partition(" - at `")
            field = _field_of(at.rstrip("`"))
        elif field == "data":
            field = "body"
            if message in ("'data'", '"data"'):  # no body at all, or JSON null
                message = "a JSON object is required"
        missing = _MISSING.match(message)
        if missing:
            field = f"{field}.{missing.group(1)}" if field != "body" else missing.group(1)
            message = "is required"
        elif source in ("query", "header", "path", "cookie"):
            field = item.get("key") or field
        errors.append({"field": field, "message": message})
    raw = getattr(request, "_body", None)
    if isinstance(raw, bytes) and not raw.strip() and any(e["field"] == "body" for e in errors):
        return problem(400, "The request body is empty; a JSON object is expected.")
    if malformed or (not errors and "JSON" in exc.detail):
        return problem(400, "The request body is not valid JSON.")
    if not errors:
        errors = [{"field": "body", "message": exc.detail}]
    return problem(422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


def _http(_: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(status, "Error")
    headers = dict(exc.headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if status >= 500:
        log.error("http_error", status=status, detail=detail)
    return problem(status, detail, headers=headers or None)


_VALUE_ERRORS = (asyncpg.exceptions.DataError, asyncpg.exceptions._base.DataError)


#: the database is away (stopped, restarting, unreachable, out of connections): 503, not 500
_UNAVAILABLE = (asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError,
                asyncpg.exceptions.TooManyConnectionsError)


def _database_unavailable(exc: Exception) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        return "connection" in str(exc)  # "connection is closed", not a misuse of the driver
    if isinstance(exc, OSError):  # refused, no socket, timed out: only when raised inside the driver
        tb = exc.__traceback__
        while tb is not None:
            if "asyncpg" in tb.tb_frame.f_code.co_filename:
                return True
            tb = tb.tb_next
    return False


def _unexpected(request: Request, exc: Exception) -> Response:
    if _database_unavailable(exc):
        log.warning("database_unavailable", path=request.url.path, method=request.method, error=type(exc).__name__)
        return problem(503, "The database is not answering; try again shortly.", headers={"Retry-After": "5"})
    if isinstance(exc, _VALUE_ERRORS):
        # a value the database cannot store (a NUL character, a date out of its range):
        # the client's doing, so 422; logged because a domain check should have caught it
        log.warning("value_refused_by_database", path=request.url.path, method=request.method,
                    error=type(exc).__name__)
        return problem(422, "A value cannot be stored (out of range, or it holds a NUL character).",
                       errors=[{"field": "body", "message": "holds a value out of range or a NUL character"}])
    log.exception("unhandled_error", path=request.url.path, method=request.method)
    return problem(500, "Something went wrong on our side; the request id is in the x-request-id header.")


EXCEPTION_HANDLERS = {
    DomainError: _domain,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM", "problem", "MediaType"]
