"""The OpenAPI document's last touches, where Litestar's generator says less (or other)
than the service does: query, path and header parameters are never `null` (a query
string cannot carry one; absent is how a client leaves one out), and a request body
that refuses unknown fields says so (`additionalProperties: false`)."""

from __future__ import annotations

from typing import Any

import msgspec.inspect as mi
from litestar import Litestar
from litestar.openapi.spec import OpenAPI, Schema
from litestar.routes import HTTPRoute


def _not_null(schema: Schema) -> None:
    """A parameter's schema without its `null` branch, in place."""
    for key in ("one_of", "any_of"):
        branches = getattr(schema, key)
        if not branches or not any(isinstance(b, Schema) and b.type == "null" for b in branches):
            continue
        kept = [b for b in branches if not (isinstance(b, Schema) and b.type == "null")]
        if len(kept) == 1 and isinstance(kept[0], Schema):
            for name in ("type", "format", "enum", "pattern", "items"):
                if getattr(kept[0], name, None) is not None and getattr(schema, name, None) is None:
                    setattr(schema, name, getattr(kept[0], name))
            kept = None
        setattr(schema, key, kept)
    if isinstance(schema.type, list | tuple):
        kinds = [t for t in schema.type if str(getattr(t, "value", t)) != "null"]
        schema.type = kinds[0] if len(kinds) == 1 else kinds
    if schema.enum is not None:
        schema.enum = [v for v in schema.enum if v is not None]


def _structs(t: mi.Type, seen: set[type]) -> None:
    """Every Struct type reachable from `t`."""
    while isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(t, mi.StructType):
        if t.cls in seen:
            return
        seen.add(t.cls)
        for f in t.fields:
            _structs(f.type, seen)
    elif isinstance(t, mi.UnionType):
        for b in t.types:
            _structs(b, seen)
    elif isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        _structs(t.item_type, seen)
    elif isinstance(t, mi.DictType):
        _structs(t.value_type, seen)


def _closed_bodies(app: Litestar) -> set[str]:
    """The component names of request bodies (and their parts) that refuse unknown fields."""
    seen: set[type] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None:
                try:
                    _structs(mi.type_info(data.annotation), seen)
                except (TypeError, ValueError):
                    continue
    return {cls.__name__ for cls in seen if getattr(cls, "__struct_config__", None) is not None
            and cls.__struct_config__.forbid_unknown_fields}


def tidy(app: Litestar, openapi: OpenAPI) -> None:
    for item in (openapi.paths or {}).values():
        for operation in (item.get, item.put, item.post, item.delete, item.patch):
            for parameter in (operation.parameters or []) if operation else []:
                schema: Any = getattr(parameter, "schema", None)
                if isinstance(schema, Schema):
                    _not_null(schema)
    schemas = (openapi.components.schemas or {}) if openapi.components else {}
    for name in _closed_bodies(app):
        schema = schemas.get(name)
        if isinstance(schema, Schema):
            schema.additional_properties = False
