"""The domain's one flat exception hierarchy; `api` translates it to problem+json."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """Base of every refusal the domain makes."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


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
    def field(cls, field: str, message: str) -> Invalid:
        return cls([FieldError(field, message)])


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

    def add(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise Invalid(self.errors)
