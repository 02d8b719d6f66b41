"""RFC 9457 problem+json for every error: domain refusals, framework errors, and the
unexpected (logged, answered without a trace); the pages the problem `type` URLs name;
and the one place that documents every operation's error answers in the OpenAPI document.

Texts come from the message catalogue (`api.messages`) in the language the client
prefers; nothing a library wrote reaches the client."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import asyncpg.exceptions._base
import msgspec
import structlog
from litestar import Litestar, MediaType, Request, Response, get
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import ParameterKwarg
from litestar.routes import HTTPRoute

from api import messages
from api.document import tidy
from api.messages import N_
from api.validation import check
from mediation.errors import DomainError, FieldError, Invalid, RateLimited

PROBLEM = "application/problem+json"
log = structlog.get_logger("tiaojie.http")


class ProblemType(msgspec.Struct, frozen=True):
    slug: str
    status: int
    title: str
    explanation: str
    detail: str = ""


def _problem_types() -> dict[int, ProblemType]:
    """The table in `api/problem_types.toml`: each type once, with its title, its default
    detail and the explanation its page shows (all catalogue keys)."""
    import tomllib
    from importlib import resources

    text = (resources.files("api") / "problem_types.toml").read_bytes()
    return {p.status: p for p in msgspec.convert(tomllib.loads(text.decode())["type"], list[ProblemType])}


#: every problem type the service answers with; `type` is `/problems/<slug>`
PROBLEM_TYPES: dict[int, ProblemType] = _problem_types()
_GENERIC = ProblemType("error", 400, N_("Error"), N_("The request could not be completed."))

#: what the service says for each status when no more precise message applies
DETAILS: dict[int, str] = {status: p.detail for status, p in PROBLEM_TYPES.items() if p.detail}


# ---------------------------------------------------------------- the body

class FieldProblem(msgspec.Struct):
    """One bad field: where it is in the request, and what is wrong with it."""

    field: Annotated[str, msgspec.Meta(description="The field as the client sent it, e.g. `parties[0].id_number`; "
                                                   "`body` for the whole body")]
    message: Annotated[str, msgspec.Meta(description="What is wrong, in plain words")]


class Problem(msgspec.Struct, omit_defaults=True):
    """An error answer (RFC 9457)."""

    type: Annotated[str, msgspec.Meta(description="A URL on this service whose page explains the problem",
                                      examples=["/problems/invalid-values"])]
    title: Annotated[str, msgspec.Meta(description="The problem type in a few words")]
    status: Annotated[int, msgspec.Meta(description="The HTTP status code", ge=400, le=599)]
    detail: Annotated[str, msgspec.Meta(description="This occurrence, in plain words")]
    errors: Annotated[list[FieldProblem], msgspec.Meta(description="Each bad field (422 only)")] | None = None


def language(request: Request) -> messages.Language:
    return messages.negotiate(request.headers.get("accept-language"))


def problem(request: Request, status: int, detail: str, params: dict | None = None, *,
            errors: list[FieldError] | None = None, headers: dict[str, str] | None = None) -> Response:
    """A problem answer; `detail` and each error's message are catalogue keys."""
    lang = language(request)
    kind = PROBLEM_TYPES.get(status, _GENERIC)
    body = Problem(type=f"/problems/{kind.slug}", title=messages.translate(kind.title, lang), status=status,
                   detail=messages.translate(detail, lang, params))
    if errors is not None:
        body.errors = [FieldProblem(e.field, messages.translate(e.key, lang, e.params)) for e in errors]
        if not params and detail == DETAILS[422]:
            body.detail = "; ".join(f"{e.field}: {e.message}" for e in body.errors)
    return Response(body, status_code=status, media_type=PROBLEM, headers=headers)


# ---------------------------------------------------------------- handlers

def _domain(request: Request, exc: DomainError) -> Response:
    if isinstance(exc, Invalid):
        return problem(request, 422, DETAILS[422], errors=exc.errors)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(request, exc.status, exc.key, exc.params, headers=headers)


def _validation(request: Request, exc: ValidationException) -> Response:
    """Litestar's refusals of query, path and header parameters (bodies are checked
    before, by `api.validation.check_body`): each parameter named as the client sent it
    (`from`, `If-Match`), the message from the type and constraints it declares."""
    handler = request.route_handler
    errors: list[FieldError] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict) or not item.get("key"):
            continue
        name, wire, source = _parameter(handler, str(item["key"]), str(item.get("source") or ""))
        raw = _raw_parameter(request, wire, source)
        declared = _declared(handler, name)
        found = check(raw, declared, wire, lax=True) if declared is not None and raw is not None else []
        errors.extend(found or [FieldError(wire, N_("is required") if raw is None else N_("has a value of the wrong kind"))])
    if not errors:
        errors = [FieldError("body", N_("has a value of the wrong kind"))]
    return problem(request, 422, DETAILS[422], errors=errors)


def _parameter(handler: HTTPRouteHandler | None, key: str, source: str) -> tuple[str, str, str]:
    """(the handler's argument, the name on the wire, where it travels) for an error key."""
    if handler is None:
        return key, key, source
    for name, definition in handler.parsed_fn_signature.parameters.items():
        kwarg = definition.kwarg_definition
        aliases = (kwarg.query, kwarg.header, kwarg.cookie) if isinstance(kwarg, ParameterKwarg) else ()
        if key == name or key in aliases:
            if isinstance(kwarg, ParameterKwarg) and kwarg.header:
                return name, kwarg.header, "header"
            if isinstance(kwarg, ParameterKwarg) and kwarg.cookie:
                return name, kwarg.cookie, "cookie"
            wire = kwarg.query if isinstance(kwarg, ParameterKwarg) and kwarg.query else name
            return name, wire, source or "query"
    return key, key, source


def _declared(handler: HTTPRouteHandler | None, name: str):
    """The parameter's type as Litestar checks it, with the constraints it declares."""
    if handler is None:
        return None
    model = handler.signature_model
    return getattr(model, "__annotations__", {}).get(name)


def _raw_parameter(request: Request, key: str, source: str) -> str | None:
    if source == "header":
        return request.headers.get(key)
    if source == "cookie":
        return request.cookies.get(key)
    if source == "path":
        value = request.path_params.get(key)
        return None if value is None else str(value)
    return request.query_params.get(key)


def _http(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    # our own texts (the bearer middleware's) are catalogue keys; a library's wording is not shown
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail in _OWN_DETAILS else DETAILS.get(status, "")
    headers = dict(exc.headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if status >= 500:
        log.error("http_error", status=status, detail=exc.detail)
    if status == 400 and isinstance(exc.__cause__, RecursionError):
        detail = _TOO_DEEP
    return problem(request, status, detail or N_("The request could not be completed."), headers=headers or None)


_TOO_DEEP = N_("The JSON in the request body is nested too deeply.")
#: HTTPException details this service raises itself (everything else is replaced by DETAILS)
_OWN_DETAILS = frozenset({
    N_("An `Authorization: Bearer <token>` header is required."),
    N_("The token is unknown or revoked."),
    _TOO_DEEP,
})

_VALUE_ERRORS = (asyncpg.exceptions.DataError, asyncpg.exceptions._base.DataError)

#: the database is away (stopped, restarting, unreachable, out of connections): 503, not 500
_UNAVAILABLE = (asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError,
                asyncpg.exceptions.TooManyConnectionsError)


def _database_unavailable(exc: Exception) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        return "connection" in str(exc)  # "connection is closed", not a misuse of the driver
    return isinstance(exc, OSError) and _raised_in(exc, "asyncpg")


def _raised_in(exc: BaseException, package: str) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if f"/{package}/" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def _unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, RecursionError) and (_raised_in(exc, "msgspec") or _raised_in(exc, "litestar")):
        # a body nested ~1000 levels deep: the JSON decoder gives up, the client's doing
        return problem(request, 400, _TOO_DEEP)
    if _database_unavailable(exc):
        log.warning("database_unavailable", path=request.url.path, method=request.method, error=type(exc).__name__)
        return problem(request, 503, DETAILS[503], headers={"Retry-After": "5"})
    if isinstance(exc, _VALUE_ERRORS):
        # a value the database cannot store (a NUL character, a date out of its range):
        # the client's doing, so 422; logged because a domain check should have caught it
        log.warning("value_refused_by_database", path=request.url.path, method=request.method,
                    error=type(exc).__name__)
        return problem(request, 422, N_("A value cannot be stored (out of range, or it holds a NUL character)."),
                       errors=[FieldError("body", N_("holds a value out of range or a NUL character"))])
    log.exception("unhandled_error", path=request.url.path, method=request.method)
    return problem(request, 500, DETAILS[500])


EXCEPTION_HANDLERS = {
    DomainError: _domain,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}


# ---------------------------------------------------------------- the pages behind `type`

_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" type="image/svg+xml" href="/favicon.svg"></head>
<body><h1>{title}</h1><p>HTTP {status}</p><p>{explanation}</p>
<p><a href="/schema">{docs}</a></p></body></html>
"""


@get("/problems/{slug:str}", summary="What a problem type means", include_in_schema=False,
     exclude_from_auth=True, media_type=MediaType.HTML, name="problem-type")
async def problem_page(request: Request, slug: str) -> Response:
    """The page a problem's `type` URL names (no token needed)."""
    import html

    found = next((p for p in PROBLEM_TYPES.values() if p.slug == slug), None)
    if found is None:
        return problem(request, 404, DETAILS[404])
    lang = language(request)
    text = {k: html.escape(messages.translate(v, lang)) for k, v in
            {"title": found.title, "explanation": found.explanation, "docs": N_("API documentation")}.items()}
    return Response(_PAGE.format(lang="zh-CN" if lang == "zh" else "en", status=found.status, **text),
                    media_type=MediaType.HTML, headers={"Content-Language": lang, "Vary": "Accept-Language"})


# ---------------------------------------------------------------- the OpenAPI document

def _statuses(route: HTTPRoute, handler: HTTPRouteHandler) -> list[int]:
    """The error statuses an operation can answer, from what it declares: a token (401),
    guards (403), path parameters and required query parameters (404), a body (413, 400), any input (422), a change
    by a caller with a token (409), the database (503); `opt={"problems": [...]}` adds
    others (e.g. 429)."""
    method = next(iter(handler.http_methods))
    has_body = "data" in handler.parsed_fn_signature.parameters
    inputs = has_body or bool(route.path_parameters) or any(
        name not in ("request", "data", "self") for name in handler.parsed_fn_signature.parameters)
    api = route.path.startswith("/api/")
    signed = api and not handler.opt.get("exclude_from_auth")
    statuses = set(handler.opt.get("problems", ()))
    if signed:
        statuses.add(401)
    if handler.resolve_guards():
        statuses.add(403)
    if route.path_parameters or _names_a_thing(handler):
        statuses.add(404)
    if has_body:
        statuses |= {400, 413}
    if inputs:
        statuses.add(422)
    if signed and method in ("POST", "PUT", "PATCH", "DELETE"):
        statuses.add(409)
    if api:
        statuses.add(503)
    return sorted(statuses)


def _names_a_thing(handler: HTTPRouteHandler) -> bool:
    """A required query parameter addresses something that may not exist or not be
    visible (the region of the statistics), like a path parameter does."""
    for name, definition in handler.parsed_fn_signature.parameters.items():
        kwarg = definition.kwarg_definition
        if (name not in ("request", "data", "self") and isinstance(kwarg, ParameterKwarg) and kwarg.required
                and not kwarg.header and not kwarg.cookie):
            return True
    return False


def document_errors(app: Litestar) -> None:
    """Document every operation's error answers as problem+json, in one place, and drop
    Litestar's default `400 {status_code, detail, extra}` (this service answers 422)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            declared = dict(handler.responses or {})
            for status in _statuses(route, handler):
                kind = PROBLEM_TYPES[status]
                declared.setdefault(status, ResponseSpec(
                    data_container=Problem, media_type=PROBLEM, generate_examples=False,
                    description=f"{kind.title}: see /problems/{kind.slug}"))
            handler.responses = declared
    openapi = app.openapi_schema   # built now, once, from the responses above
    tidy(app, openapi)
    for item in (openapi.paths or {}).values():
        for operation in (item.get, item.put, item.post, item.delete, item.patch, item.head, item.options):
            if operation is None or not operation.responses:
                continue
            default = operation.responses.get("400")
            if default is not None and MediaType.JSON in (getattr(default, "content", None) or {}):
                del operation.responses["400"]
