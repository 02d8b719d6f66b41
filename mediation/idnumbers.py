"""Identity numbers: GB 11643 resident IDs, GB 32100 unified social credit codes, masking."""

from __future__ import annotations

import datetime as dt
import re

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def resident_id_problem(value: str) -> str | None:
    """Why `value` is not a valid 18-character resident ID (GB 11643-1999), or None."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        return "must be 18 characters: 17 digits and a check digit or X"
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "contains an impossible birth date"
    if born.year < 1900 or born > dt.date.today():
        return "contains an impossible birth date"
    if resident_id_check_char(value[:17]) != value[17]:
        return "check character does not match (GB 11643)"
    return None


def credit_code_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(value: str) -> str | None:
    """Why `value` is not a valid unified social credit code (GB 32100-2015), or None."""
    if len(value) != 18 or any(c not in _USCC_ALPHABET for c in value):
        return "must be 18 characters of 0-9 and A-Y without I, O, S, V, Z"
    if not value[8:17].isalnum():
        return "organization code part is malformed"
    if credit_code_check_char(value[:17]) != value[17]:
        return "check character does not match (GB 32100)"
    return None


def mask_id_number(value: str | None) -> str | None:
    """`5113**********123X`: the first 4 and last 4 characters kept."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """At most the last 4 digits shown: `138****0001` (a mobile number keeps its first 3
    too, which name only the carrier), `****4567` for a short number."""
    if not value:
        return value
    if len(value) <= 4:
        return "*" * len(value)
    if len(value) >= 11:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    return "*" * (len(value) - 4) + value[-4:]
