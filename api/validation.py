"""Request bodies checked strictly against their msgspec types before the handler runs,
naming every bad field at once in plain words.

Litestar converts bodies leniently (a string "3" for an integer, a number for a time),
which would accept requests the OpenAPI document says are wrong, and msgspec stops at
the first error, in its own English. So a body is first converted strictly (fast, in C);
only when that fails is it walked against the type's structure (`msgspec.inspect`) to
name every bad field with a message key from the catalogue. The walk reads the
constraints the types declare (lengths, patterns, ranges, Literal codes), never the
libraries' error text.

Runs as the app's `before_request` hook: after the guards (401 → 404/403), reading the
body (413), decoding it (400), before the domain's own checks (422, 409)."""

from __future__ import annotations

import datetime as dt
import functools
import types
import typing
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec
import msgspec.inspect as mi
from litestar import Request
from litestar.exceptions import SerializationException
from litestar.enums import RequestEncodingType
from litestar.params import ParameterKwarg
from litestar.types import Empty

from api.messages import N_
from api.schemas import PATTERN_MESSAGES
from mediation.errors import DomainError, FieldError, Invalid

class Malformed(DomainError):
    """The body is not JSON at all (or not JSON this service can read)."""

    status = 400
    title = "Malformed request"


# ---------------------------------------------------------------- the walk

def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind_fits(value: Any, t: mi.Type) -> bool:
    """Whether the JSON value is of the kind the type reads (before its constraints)."""
    t = _bare(t)
    if isinstance(t, mi.AnyType):
        return True
    if isinstance(t, mi.NoneType):
        return value is None
    if isinstance(t, mi.StrType | mi.UUIDType | mi.DateTimeType | mi.DateType | mi.TimeType):
        return isinstance(value, str)
    if isinstance(t, mi.LiteralType):
        return any(type(v) is type(value) for v in t.values)
    if isinstance(t, mi.BoolType):
        return isinstance(value, bool)
    if isinstance(t, mi.IntType):
        return _is_int(value) or (isinstance(value, float) and value.is_integer())
    if isinstance(t, mi.FloatType):
        return _is_int(value) or isinstance(value, float)
    if isinstance(t, mi.DecimalType):
        return _is_int(value) or isinstance(value, float | str)
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType | mi.TupleType):
        return isinstance(value, list)
    if isinstance(t, mi.StructType | mi.DictType | mi.TypedDictType | mi.DataclassType):
        return isinstance(value, dict)
    return False


def _bare(t: mi.Type) -> mi.Type:
    while isinstance(t, mi.Metadata):
        t = t.type
    return t


def _expected(t: mi.Type) -> tuple[str, dict[str, Any]]:
    """The message for a value of the wrong kind."""
    t = _bare(t)
    if isinstance(t, mi.UnionType):
        branches = [_bare(b) for b in t.types if not isinstance(_bare(b), mi.NoneType)]
        if len(branches) > 1:  # e.g. money, a string or a number: what the string must look like
            for b in branches:
                if isinstance(b, mi.StrType) and b.pattern in PATTERN_MESSAGES:
                    return PATTERN_MESSAGES[b.pattern], {}
        return _expected(branches[0]) if branches else (N_("must be null"), {})
    if isinstance(t, mi.StrType):
        return N_("must be text"), {}
    if isinstance(t, mi.LiteralType):
        return N_("must be one of {choices}"), {"choices": ", ".join(str(v) for v in t.values)}
    if isinstance(t, mi.BoolType):
        return N_("must be true or false"), {}
    if isinstance(t, mi.IntType):
        return N_("must be a whole number"), {}
    if isinstance(t, mi.FloatType | mi.DecimalType):
        return N_("must be a number"), {}
    if isinstance(t, mi.UUIDType):
        return N_("must be an id (a UUID such as 3f2b8c1e-…)"), {}
    if isinstance(t, mi.DateTimeType):
        return N_("must be a date and time such as 2026-03-01T09:30:00+08:00"), {}
    if isinstance(t, mi.DateType):
        return N_("must be a date such as 2026-03-01"), {}
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType | mi.TupleType):
        return N_("must be a list"), {}
    if isinstance(t, mi.StructType | mi.DictType | mi.TypedDictType | mi.DataclassType):
        return N_("must be an object"), {}
    return N_("has a value of the wrong kind"), {}


def _length(field: str, n: int, lo: int | None, hi: int | None, *, items: bool) -> Iterator[FieldError]:
    if lo is not None and n < lo:
        if items:
            yield FieldError(field, N_("must hold at least {min} items") if lo > 1 else N_("must not be empty"),
                             {"min": lo})
        else:
            yield FieldError(field, N_("must be at least {min} characters") if lo > 1 else N_("must not be empty"),
                             {"min": lo})
    elif hi is not None and n > hi:
        yield FieldError(field, N_("must hold at most {max} items") if items else N_("must be at most {max} characters"),
                         {"max": hi})


def _range(field: str, value: Any, t: mi.IntType | mi.FloatType | mi.DecimalType) -> Iterator[FieldError]:
    if t.ge is not None and value < t.ge:
        yield FieldError(field, N_("must not be negative") if t.ge == 0 else N_("must be at least {min}"),
                         {"min": t.ge})
    elif t.gt is not None and value <= t.gt:
        yield FieldError(field, N_("must be more than {min}"), {"min": t.gt})
    elif t.le is not None and value > t.le:
        yield FieldError(field, N_("must be at most {max}"), {"max": t.le})
    elif t.lt is not None and value >= t.lt:
        yield FieldError(field, N_("must be less than {max}"), {"max": t.lt})


_CONVERTED = {mi.UUIDType: uuid.UUID, mi.DateTimeType: dt.datetime, mi.DateType: dt.date, mi.DecimalType: Decimal}


_LAX = {mi.IntType: int, mi.FloatType: float, mi.BoolType: bool}


def explain(value: Any, t: mi.Type, field: str, *, lax: bool = False) -> Iterator[FieldError]:
    """Every way `value` (decoded JSON; with `lax`, a query string's text) misses type
    `t`; nothing when it fits."""
    t = _bare(t)
    if lax and isinstance(value, str) and type(t) in _LAX:
        try:
            value = msgspec.convert(value, _LAX[type(t)], strict=False)
        except msgspec.ValidationError:
            pass
    if isinstance(t, mi.AnyType):
        return
    if isinstance(t, mi.UnionType):
        yield from _explain_union(value, t, field, lax=lax)
        return
    if not _kind_fits(value, t):
        key, params = _expected(t)
        yield FieldError(field, key if value is not None or isinstance(t, mi.NoneType) else N_("must not be null"),
                         params if value is not None else {})
        return
    if isinstance(t, mi.StructType):
        yield from _explain_struct(value, t, field)
    elif isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        yield from _length(field, len(value), t.min_length, t.max_length, items=True)
        for i, item in enumerate(value):
            yield from explain(item, t.item_type, f"{field}[{i}]")
    elif isinstance(t, mi.LiteralType):
        if value not in t.values:
            yield FieldError(field, N_("must be one of {choices}"), {"choices": ", ".join(str(v) for v in t.values)})
    elif isinstance(t, mi.StrType):
        before = len(list(_length(field, len(value), t.min_length, t.max_length, items=False)))
        yield from _length(field, len(value), t.min_length, t.max_length, items=False)
        if not before and t.pattern is not None and not _compiled(t.pattern).search(value):
            yield FieldError(field, PATTERN_MESSAGES.get(t.pattern, N_("does not have the expected form")))
    elif isinstance(t, mi.IntType | mi.FloatType):
        yield from _range(field, value, t)
    elif type(t) in _CONVERTED:
        try:
            converted = msgspec.convert(value, _CONVERTED[type(t)], strict=True)
        except msgspec.ValidationError:
            yield FieldError(field, *_expected(t))
            return
        if isinstance(t, mi.DecimalType):
            yield from _range(field, converted, t)


def _explain_union(value: Any, t: mi.UnionType, field: str, *, lax: bool) -> Iterator[FieldError]:
    if value is None and any(isinstance(_bare(b), mi.NoneType) for b in t.types):
        return
    branches = [b for b in t.types if not isinstance(_bare(b), mi.NoneType)]
    fitting = [b for b in branches if _kind_fits(value, b)] or (branches if lax else [])
    for b in fitting:
        errors = list(explain(value, b, field, lax=lax))
        if not errors:
            return
    if fitting:
        yield from explain(value, fitting[0], field, lax=lax)
        return
    key, params = _expected(t) if value is not None else (N_("must not be null"), {})
    yield FieldError(field, key, params)


def _explain_struct(value: dict, t: mi.StructType, field: str) -> Iterator[FieldError]:
    if t.forbid_unknown_fields:
        known = {f.encode_name for f in t.fields}
        for name in value:
            if name not in known:
                yield FieldError(_join(field, str(name)), N_("is not a field of this request"))
    for f in t.fields:
        name = f.encode_name
        if name not in value:
            if f.required:
                yield FieldError(_join(field, name), N_("is required"))
            continue
        yield from explain(value[name], f.type, _join(field, name))


@functools.cache
def _compiled(pattern: str):
    import re

    return re.compile(pattern)


@functools.cache
def _type_info(annotation: Any) -> mi.Type:
    return mi.type_info(annotation)


def check(value: Any, annotation: Any, field: str = "", *, lax: bool = False) -> list[FieldError]:
    """Every bad field of `value` against `annotation` ([] when it fits strictly, or
    with `lax` as Litestar reads query parameters)."""
    try:
        msgspec.convert(value, annotation, strict=not lax)
        return []
    except msgspec.ValidationError:
        pass
    if not lax and _has_integral_float(value):
        # JSON Schema's `integer` includes 3.0; Litestar's own decoding reads it as 3
        try:
            msgspec.convert(_integral_floats(value), annotation, strict=True)
            return []
        except msgspec.ValidationError:
            pass
    errors = list(explain(value, _type_info(annotation), field, lax=lax))
    return [FieldError(e.field or "body", e.key, e.params) for e in errors] or [
        FieldError(field or "body", N_("has a value of the wrong kind"))]


def _has_integral_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_has_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_integral_float(v) for v in value)
    return False


def _integral_floats(value: Any) -> Any:
    """The JSON value with every whole float (3.0) as an int (3)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats(v) for v in value]
    return value


# ---------------------------------------------------------------- the hook

def _body_annotation(request: Request) -> Any:
    """The handler's JSON body type (Empty for no body, or a form the pages post)."""
    handler = request.route_handler
    data = handler.parsed_fn_signature.parameters.get("data") if handler else None
    if data is None:
        return Empty
    media_type = getattr(data.kwarg_definition, "media_type", RequestEncodingType.JSON)
    return data.annotation if media_type == RequestEncodingType.JSON else Empty


async def check_request(request: Request) -> None:
    """`before_request`: refuse an API query string that does not fit the parameters the
    handler declares, then a body that does not fit its `data` type."""
    if request.url.path.startswith(API_PREFIX):
        errors = query_errors(request)
        if errors:
            raise Invalid(errors)
    await check_body(request)


async def check_body(request: Request) -> None:
    """Refuse a body that does not fit the handler's `data` type."""
    annotation = _body_annotation(request)
    if annotation is Empty:
        return
    raw = await request.body()   # over the size limit: 413 here
    try:
        value = await request.json()   # cached on the connection: Litestar does not decode twice
    except RecursionError:
        raise Malformed(N_("The JSON in the request body is nested too deeply.")) from None
    except SerializationException:
        raise Malformed(N_("The request body is not valid JSON.")) from None
    if value is None and not raw.strip():
        if _accepts_none(annotation):
            return
        raise Malformed(N_("The request body is empty; a JSON object is expected."))
    errors = check(value, annotation)
    if errors:
        if any(e.field == "body" for e in errors) and not isinstance(value, dict):
            errors = [FieldError("body", N_("a JSON object is required"))]
        raise Invalid(errors)


API_PREFIX = "/api/"
_NOT_QUERY = frozenset({"request", "data", "self", "state", "scope", "headers", "cookies", "query"})


def _query_parameters(request: Request) -> dict[str, tuple[str, Any, bool]]:
    """wire name → (argument, the type as Litestar checks it, required) of the handler's
    query parameters."""
    handler = request.route_handler
    if handler is None:
        return {}
    model = getattr(handler.signature_model, "__annotations__", {})
    found: dict[str, tuple[str, Any, bool]] = {}
    for name, definition in handler.parsed_fn_signature.parameters.items():
        kwarg = definition.kwarg_definition
        if name in _NOT_QUERY or name in request.path_params or name not in model:
            continue
        if isinstance(kwarg, ParameterKwarg) and (kwarg.header or kwarg.cookie):
            continue
        if kwarg is not None and not isinstance(kwarg, ParameterKwarg):
            continue   # a dependency
        wire = kwarg.query if isinstance(kwarg, ParameterKwarg) and kwarg.query else name
        found[wire] = (name, model[name], definition.is_required)
    return found


def _present(annotation: Any) -> Any:
    """The type a value that is present must have: without the `None` of `X | None`
    (a query string cannot carry a null; leaving the parameter out is how)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        return typing.Union[tuple(kept)] if len(kept) > 1 else kept[0]
    return annotation


def _repeatable(annotation: Any) -> bool:
    origin = typing.get_origin(_present(annotation))
    if origin is typing.Annotated:
        origin = typing.get_origin(typing.get_args(_present(annotation))[0])
    return origin in (list, tuple, set, frozenset)


def query_errors(request: Request) -> list[FieldError]:
    """Every query parameter the handler does not declare, given twice, or of the wrong
    type, named as sent: the same refusals the OpenAPI document promises."""
    declared = _query_parameters(request)
    errors: list[FieldError] = [FieldError(wire, N_("is required")) for wire, (_, _, required) in declared.items()
                                if required and wire not in request.query_params]
    for key in dict.fromkeys(request.query_params.keys()):
        values = request.query_params.getall(key)
        if key not in declared:
            errors.append(FieldError(key, N_("is not a parameter of this request")))
            continue
        annotation = declared[key][1]
        if len(values) > 1 and not _repeatable(annotation):
            errors.append(FieldError(key, N_("must be given once")))
            continue
        present = _present(annotation)
        # numbers and true/false arrive as text; times and ids are read as written (not "0.5" as a time)
        errors.extend(check(values[0], present, key, lax=not _textual(present)))
    return errors


def _textual(annotation: Any) -> bool:
    try:
        t = _bare(_type_info(annotation))
    except TypeError:
        return False
    return isinstance(t, mi.DateTimeType | mi.DateType | mi.TimeType | mi.UUIDType)


def _accepts_none(annotation: Any) -> bool:
    try:
        msgspec.convert(None, annotation)
        return True
    except msgspec.ValidationError:
        return False
