"""Reading submitted forms into the objects the services take (the same services and
the same checks as the API), with the few conversions a browser form needs: text to
dates, times and numbers, repeated fields, blank meaning absent."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import Any

from litestar.datastructures import FormMultiDict

from mediation import clock
from mediation.errors import Collector

PARTY_FIELDS = ("role", "kind", "name", "id_number", "phone", "address")
MAX_PARTIES = 50


def text(form: FormMultiDict, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    value = str(value).replace("\r\n", "\n").strip()
    return value or None


def optional_id(errors: Collector, form: FormMultiDict, name: str) -> uuid.UUID | None:
    """A chosen record (a committee, a court): blank is none; anything else must be an id."""
    raw = text(form, name)
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        errors.add(name, "must be an id")
        return None


def as_values(form: FormMultiDict) -> dict[str, Any]:
    """What was typed, to show again: single fields as text, repeated ones as lists."""
    out: dict[str, Any] = {}
    for key in form:
        if key == "_csrf_token":
            continue
        values = [str(v) for v in form.getall(key)]
        out[key] = values if len(values) > 1 or key in ("mediator_ids", "prevented") else values[0]
    return out


def local_time(errors: Collector, form: FormMultiDict, name: str) -> dt.datetime | None:
    """A `datetime-local` input (Beijing time, where every user is)."""
    raw = text(form, name)
    if raw is None:
        return None
    try:
        return clock.aware(dt.datetime.fromisoformat(raw))
    except ValueError:
        errors.add(name, "应为日期和时间，例如 2026-12-01 09:30")
        return None


def date(errors: Collector, form: FormMultiDict, name: str) -> dt.date | None:
    raw = text(form, name)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.add(name, "应为日期，例如 2026-12-01")
        return None


def whole_number(errors: Collector, form: FormMultiDict, name: str) -> int | None:
    raw = text(form, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        errors.add(name, "应为整数")
        return None


def version(form: FormMultiDict) -> int | None:
    raw = text(form, "version")
    return int(raw) if raw and raw.isdigit() else None


# ---------------------------------------------------------------- parties

def party_count(form: FormMultiDict) -> int:
    raw = text(form, "party_count") or "1"
    return max(1, min(int(raw) if raw.isdigit() else 1, MAX_PARTIES))


def parties(form: FormMultiDict, count: int) -> list[dict[str, str]]:
    return [{f: str(form.get(f"parties[{i}].{f}") or "") for f in PARTY_FIELDS} for i in range(count)]


def party_inputs(rows: list[dict[str, str]]) -> list[SimpleNamespace]:
    return [SimpleNamespace(**{f: (row[f].strip() or None) for f in PARTY_FIELDS}) for row in rows]


def parties_as_values(rows: list[dict[str, str]]) -> dict[str, str]:
    return {f"parties[{i}].{f}": v for i, row in enumerate(rows) for f, v in row.items()}
