"""The domain's one flat exception hierarchy; `api` translates it to problem+json.

Every message is a stable key: English text with `{name}` placeholders (gettext's
convention: the source text is the message id), and the values for those placeholders
kept apart. `api.messages` translates the key and fills the placeholders at the edge,
so the same refusal reads in Chinese or English and the keys can be extracted with Babel.
Write `Invalid.field("deadline", "must be at most {years} years after registration", years=10)`,
never an f-string, or the key changes with every value and cannot be translated."""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass
from typing import Any


def fill(key: str, params: Mapping[str, Any]) -> str:
    """The key with its placeholders filled (a key without params is returned as is, so a
    text holding braces is never mistaken for a template)."""
    return key.format_map(params) if params else key


@dataclass(frozen=True)
class FieldError:
    field: str
    key: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        """In English, for logs and the command line."""
        return fill(self.key, self.params)


class DomainError(Exception):
    """Base of every refusal the domain makes."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **params: Any) -> None:
        self.key = detail
        self.params = params
        self.detail = fill(detail, params)
        super().__init__(self.detail)


class NotFound(DomainError):
    """The thing does not exist, or the caller may not read it (nothing leaks)."""

    status = 404
    title = "Not found"


class Forbidden(DomainError):
    """The caller may read the thing but not do what it asked."""

    status = 403
    title = "Forbidden"


class Conflict(DomainError):
    """The current state does not allow the request (or the version is stale)."""

    status = 409
    title = "Conflict"


class StaleVersion(Conflict):
    title = "Stale version"


class Invalid(DomainError):
    """Well-formed input with bad values; names every bad field it found."""

    status = 422
    title = "Unprocessable content"

    def __init__(self, errors: list[FieldError] | FieldError, detail: str | None = None) -> None:
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in self.errors))

    @classmethod
    def field(cls, field: str, message: str, **params: Any) -> Invalid:
        return cls([FieldError(field, message, params)])


class RateLimited(DomainError):
    """Too many attempts; `retry_after` seconds until the next one may be tried."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class Collector:
    """Gathers field errors so one answer names every bad field."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str, **params: Any) -> None:
        self.errors.append(FieldError(field, message, params))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise Invalid(self.errors)
