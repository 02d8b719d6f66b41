"""Opaque list cursors and the limit rule shared by every list."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from mediation.errors import Invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise Invalid.field("limit", "must be between 1 and {max}", max=MAX_LIMIT)
    return limit


def encode_cursor(*values) -> str:
    raw = json.dumps([str(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != n or not all(isinstance(v, str) for v in values):
            raise ValueError
        return values
    except (ValueError, json.JSONDecodeError):
        raise Invalid.field("cursor", "is not a cursor this service gave out") from None


@dataclass(frozen=True)
class Keyset:
    """A list's order and how a cursor resumes it: the SQL expressions ordered by, the
    row keys that hold their values, and how to read each value back from a cursor."""

    columns: tuple[str, ...]
    keys: tuple[str, ...]
    parsers: tuple[Callable[[str], Any], ...]
    descending: bool = True

    def order_by(self) -> str:
        direction = " DESC" if self.descending else ""
        return ", ".join(f"{c}{direction}" for c in self.columns)


@dataclass(frozen=True)
class Page:
    rows: list
    total: int
    next_cursor: str | None


async def keyset_page(conn, *, select: str, source: str, where: str, args: list, keyset: Keyset,
                      limit: int, cursor: str | None) -> Page:
    """One page of `SELECT {select} FROM {source} WHERE {where}` in keyset order, with the
    total of the whole list (the same `where`) and the cursor of the next page."""
    total = await conn.fetchval(f"SELECT count(*) FROM {source} WHERE {where}", *args)
    page_args = list(args)
    page_where = where
    if cursor:
        raw = decode_cursor(cursor, len(keyset.columns))
        try:
            values = [parse(v) for parse, v in zip(keyset.parsers, raw, strict=True)]
        except (ValueError, TypeError):
            raise Invalid.field("cursor", "is not a cursor this service gave out") from None
        first = len(page_args) + 1
        page_args.extend(values)
        params = ", ".join(f"${first + i}" for i in range(len(values)))
        page_where = f"({where}) AND ({', '.join(keyset.columns)}) {'<' if keyset.descending else '>'} ({params})"
    page_args.append(limit + 1)
    rows = await conn.fetch(
        f"SELECT {select} FROM {source} WHERE {page_where} ORDER BY {keyset.order_by()} LIMIT ${len(page_args)}",
        *page_args)
    more = len(rows) > limit
    rows = list(rows[:limit])
    next_cursor = encode_cursor(*(rows[-1][k] for k in keyset.keys)) if more and rows else None
    return Page(rows=rows, total=total, next_cursor=next_cursor)


class ListPage(msgspec.Struct, kw_only=True):
    """Every list answer: one page of items, the size of the whole list, and the cursor
    of the next page (null on the last). Each list subclasses it naming its item type
    (`items: list[DisputeItem]`), so the OpenAPI document describes the items."""

    items: list[Any]
    total: int
    next_cursor: str | None


def newest_first(column: str, alias: str) -> Keyset:
    """The usual order: a timestamp column newest first, ties broken by the UUID id."""
    return Keyset(columns=(f"{alias}.{column}", f"{alias}.id"), keys=(column, "id"),
                  parsers=(dt.datetime.fromisoformat, uuid.UUID))
