"""What the court side does when the dispute service records an event.

Handlers run inside the dispute's transaction (`mediation.signals`), so the referral
row and the outbox row commit or roll back with the event that caused them."""

from __future__ import annotations

from typing import Any

import asyncpg

from mediation import disputes, signals
from referrals import service


async def on_event_recorded(conn: asyncpg.Connection, event: Any) -> None:
    if not isinstance(event, signals.EventRecorded):
        return
    if event.kind in ("referred", "confirmation_applied"):
        await service.open_referral(conn, event)
    if event.concluded and event.source == "court_entrusted" and event.court_id is not None:
        await service.announce_conclusion(conn, event)


def install() -> None:
    """Idempotent: the dispute actions `refer` and `confirmation`, and the subscriber."""
    disputes.add_action("refer", service.parse_refer)
    disputes.add_action("confirmation", service.parse_confirmation)
    signals.subscribe(on_event_recorded)
