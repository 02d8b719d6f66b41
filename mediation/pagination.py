"""Opaque list cursors and the limit rule shared by every list."""

from __future__ import annotations

import base64
import json

from mediation.errors import Invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise Invalid.field("limit", f"must be between 1 and {MAX_LIMIT}")
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
