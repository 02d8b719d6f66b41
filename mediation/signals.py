"""Domain events for other packages, delivered inside the publishing transaction.

`mediation` must not import `referrals`; when something the court side cares about
happens (an entrusted dispute concluded), the dispute service publishes it here and the
subscribers `referrals` registered at start-up write their rows (the outbox) on the same
connection, so they commit or roll back with the business change.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg


@dataclass(frozen=True)
class EventRecorded:
    """A dispute event was written (published in the same transaction)."""

    dispute_id: uuid.UUID
    case_no: str
    source: str
    court_id: uuid.UUID | None
    court_case_no: str | None
    kind: str
    at: Any
    detail: dict[str, Any]
    status_before: str
    status_after: str
    agreement: dict[str, Any] | None = None

    @property
    def concluded(self) -> bool:
        return self.status_before == "open" and self.status_after != "open"


@dataclass
class _Bus:
    subscribers: list[Callable[[asyncpg.Connection, Any], Awaitable[None]]] = field(default_factory=list)


_bus = _Bus()


def subscribe(handler: Callable[[asyncpg.Connection, Any], Awaitable[None]]) -> None:
    if handler not in _bus.subscribers:
        _bus.subscribers.append(handler)


async def publish(conn: asyncpg.Connection, event: Any) -> None:
    for handler in list(_bus.subscribers):
        await handler(conn, event)
