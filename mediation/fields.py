"""Field checks every service shares: each adds a named error to a `Collector` and
returns the cleaned value (or None), so one answer names every bad field."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from mediation import clock
from mediation.errors import Collector

MONEY_MAX = Decimal("999999999999.99")


def text(errors: Collector, field: str, value: Any, *, max_len: int, required: bool = True) -> str | None:
    if value is None:
        if required:
            errors.add(field, "is required")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        errors.add(field, "must be a non-empty text")
        return None
    value = unicodedata.normalize("NFC", value)
    if len(value) > max_len:
        errors.add(field, "must be at most {max} characters", max=max_len)
        return None
    if "\x00" in value:
        errors.add(field, "must not contain NUL characters")
        return None
    if has_control(value, TEXT_CONTROLS):
        errors.add(field, "must not contain control characters other than line breaks and tabs")
        return None
    return value


def code(errors: Collector, field: str, value: Any, codes: dict[str, str], *, required: bool = True) -> str | None:
    if value is None:
        if required:
            errors.add(field, "is required")
        return None
    if value not in codes:
        errors.add(field, "must be one of {choices}", choices=", ".join(codes))
        return None
    return value


def money(errors: Collector, field: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        errors.add(field, "must be a decimal amount in yuan")
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.add(field, "must be a decimal amount in yuan")
        return None
    if not amount.is_finite():
        errors.add(field, "must be a decimal amount in yuan")
        return None
    if amount < 0:
        errors.add(field, "must not be negative")
        return None
    if amount > MONEY_MAX or amount.as_tuple().exponent < -2:
        errors.add(field, "must have at most two decimal places and 12 digits before them")
        return None
    return amount.quantize(Decimal("0.01"))


def aware_time(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else clock.aware(value)


def uuid_of(errors: Collector, field: str, value: Any, *, required: bool = True) -> uuid.UUID | None:
    if value is None:
        if required:
            errors.add(field, "is required")
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        errors.add(field, "must be an id")
        return None


# ---------------------------------------------------------------- business-time bounds (API.md)

def time_in_bounds(errors: Collector, field: str, value: dt.datetime | None, *, now: dt.datetime) -> bool:
    """A business time: not before 2000-01-01 (Beijing) and at most 5 minutes ahead of `now`."""
    if value is None:
        return True
    if value < clock.EARLIEST:
        errors.add(field, "must not be before 2000-01-01 (Beijing time)")
        return False
    if value > now + clock.SKEW:
        errors.add(field, "must not be in the future")
        return False
    return True


def deadline_in_bounds(errors: Collector, field: str, value: dt.datetime | None, registered_at: dt.datetime) -> bool:
    """A deadline: not before registration and at most 10 years after it."""
    if value is None:
        return True
    if value < registered_at:
        errors.add(field, "must not be before registration")
        return False
    if value > clock.horizon(registered_at):
        errors.add(field, "must not be more than {years} years after registration", years=clock.HORIZON_YEARS)
        return False
    return True


def _day_in_bounds(errors: Collector, field: str, value: dt.date | None, earliest: dt.date, latest: dt.date,
                   *, too_late: str) -> bool:
    if value is None:
        return True
    if value < earliest:
        errors.add(field, "must not be before {earliest}", earliest=earliest.isoformat())
        return False
    if value > latest:
        errors.add(field, too_late)
        return False
    return True


def due_in_bounds(errors: Collector, field: str, value: dt.date | None, registered_at: dt.datetime) -> bool:
    """A due date: not before 2000-01-01 and at most 10 years after registration."""
    return _day_in_bounds(errors, field, value, clock.EARLIEST.date(), clock.horizon(registered_at).date(),
                          too_late=f"must not be more than {clock.HORIZON_YEARS} years after registration")


def occurred_in_bounds(errors: Collector, field: str, value: dt.date | None, registered_at: dt.datetime) -> bool:
    """When the dispute arose: not before 1949-10-01 and not after the day of registration."""
    return _day_in_bounds(errors, field, value, clock.EARLIEST_OCCURRED, registered_at.astimezone(clock.TZ).date(),
                          too_late="must not be after registration")


# ---------------------------------------------------------------- text and phone numbers (DESIGN.md "Data")

#: zero-width characters and bidirectional controls: invisible, and they split a name (张\u200b三)
INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
#: what a text may hold of the control characters: line breaks and tabs
TEXT_CONTROLS = frozenset("\n\r\t")


def clean(value: str) -> str:
    """The form names are stored and searched in: NFC, invisible characters removed."""
    return INVISIBLE.sub("", unicodedata.normalize("NFC", value))


def search_words(*texts: str) -> str:
    """What `q` is matched against (and how `q` itself is read): cleaned, lower case."""
    return clean(" ".join(texts)).lower()


def has_control(value: str, allowed: frozenset[str] = frozenset()) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in allowed for c in value)


def name(errors: Collector, field: str, value: Any, *, max_len: int, required: bool = True) -> str | None:
    """A name (of a party, a mediator, an organisation) or an address: one line, NFC,
    zero-width and bidi-control characters removed, other control characters refused,
    outer spaces trimmed."""
    if value is None:
        if required:
            errors.add(field, "is required")
        return None
    if not isinstance(value, str):
        errors.add(field, "must be a non-empty text")
        return None
    cleaned = clean(value).strip()
    if has_control(cleaned):
        errors.add(field, "must be one line without control characters")
        return None
    if not cleaned:
        if required:
            errors.add(field, "must be a non-empty text")
        return None
    if len(cleaned) > max_len:
        errors.add(field, "must be at most {max} characters", max=max_len)
        return None
    return cleaned


PHONE = re.compile(r"\+?[0-9]{7,15}")


def normal_phone(value: str) -> str:
    """A phone number in its stored form: NFKC (full-width digits become digits), spaces
    and dashes removed. Valid when it then matches `PHONE`."""
    return "".join(c for c in unicodedata.normalize("NFKC", value)
                   if c != "-" and unicodedata.category(c) != "Zs")


def phone(errors: Collector, field: str, value: Any) -> str | None:
    """API.md: digits after removing spaces and `-`, optionally a leading `+`, 7 to 15
    digits; answered in that normal form."""
    if value is None:
        return None
    normal = normal_phone(value) if isinstance(value, str) else ""
    if not PHONE.fullmatch(normal):
        errors.add(field, "must be a phone number: 7 to 15 digits, optionally a leading +, spaces and dashes allowed")
        return None
    return normal


# ---------------------------------------------------------------- list periods (API.md "Disputes")

_UNENCODED_PLUS = re.compile(r"(T[0-9:.]+) ([0-9]{2}:?[0-9]{2})$")


def instant(errors: Collector, field: str, value: str | None) -> dt.datetime | None:
    """A period bound of a list filter: a date (`2026-10-01`, the start of that day in
    Beijing) or an RFC 3339 time (without an offset read as Beijing time)."""
    if value is None or not value.strip():
        return None
    text = _UNENCODED_PLUS.sub(r"\1+\2", value.strip())   # a '+' sent unencoded arrives as a space
    try:
        if len(text) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=clock.TZ)
        elif "T" in text.upper() or " " in text:
            moment = clock.aware(dt.datetime.fromisoformat(text))
        else:
            raise ValueError(text)
        moment.astimezone(dt.UTC)   # representable wherever it is compared
    except (ValueError, OverflowError):
        errors.add(field, "must be a date (2026-10-01) or an RFC 3339 time (2026-10-01T08:00:00+08:00)")
        return None
    return moment


def period(errors: Collector, name: str, start: str | None,
           end: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """`{name}_from` (inclusive) and `{name}_to` (exclusive): a date as `_to` ends the
    period when that day begins, so `_from=2026-10-01&_to=2026-11-01` is October."""
    begins = instant(errors, f"{name}_from", start)
    ends = instant(errors, f"{name}_to", end)
    if begins is not None and ends is not None and ends <= begins:
        errors.add(f"{name}_to", "must be after {start}", start=f"{name}_from")
    return begins, ends
