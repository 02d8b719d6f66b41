"""The transactional outbox: webhook events are written in the transaction of the
business change that caused them, and the worker (`referrals.worker`) delivers them."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import asyncpg

from mediation import clock

NOTIFY_CHANNEL = "tiaojie_outbox"
EVENT_TYPES = ("referral.created", "entrustment.concluded")


def new_message_id() -> str:
    # Standard Webhooks ids are opaque strings; `msg_` + a UUID keeps them recognisable
    return f"msg_{uuid.uuid4().hex}"


async def enqueue(conn: asyncpg.Connection, *, court_id: uuid.UUID, event_type: str, data: dict[str, Any],
                  at: dt.datetime | None = None) -> str:
    """Add one webhook event for `court_id` in the caller's transaction and wake the
    workers when it commits (NOTIFY is delivered at commit, never for a rollback).

    The body is fixed here, so every retry sends the same bytes under the same
    `webhook-id`. `data` must stay thin: ids, numbers and statuses, no personal data."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    message_id = new_message_id()
    timestamp = (at or clock.now()).astimezone(dt.UTC)
    payload = {"type": event_type, "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
               "data": {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in data.items() if v is not None}}
    await conn.execute(
        """INSERT INTO webhook_outbox (id, court_id, event_type, payload, next_attempt_at, created_at)
           VALUES ($1, $2, $3, $4::jsonb, $5, $5)""",
        message_id, court_id, event_type, json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        clock.now())
    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return message_id
