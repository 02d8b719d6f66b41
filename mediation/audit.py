"""The audit log: who saw full personal data or changed what, and when."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from mediation import db
from mediation.errors import Invalid
from mediation.pagination import decode_cursor, encode_cursor


async def record(conn: asyncpg.Connection, *, actor: str, action: str, entity: str,
                 entity_id: Any = None, dispute_id: uuid.UUID | None = None,
                 detail: dict[str, Any] | None = None) -> None:
    """Written in the caller's transaction, so a refused change leaves no entry."""
    await conn.execute(
        "INSERT INTO audit_log (actor, action, entity, entity_id, dispute_id, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        actor, action, entity, None if entity_id is None else str(entity_id), dispute_id,
        json.dumps(detail or {}, ensure_ascii=False, default=str),
    )


async def list_entries(*, dispute_id: uuid.UUID | None = None, actor: str | None = None,
                       limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    conds, args = ["TRUE"], []
    if dispute_id is not None:
        args.append(dispute_id)
        conds.append(f"dispute_id = ${len(args)}")
    if actor:
        args.append(actor)
        conds.append(f"actor = ${len(args)}")
    where = " AND ".join(conds)
    async with db.connection() as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM audit_log WHERE {where}", *args)
        page_args = list(args)
        page_where = where
        if cursor:
            (last_id,) = decode_cursor(cursor, 1)
            if not last_id.isdigit():
                raise Invalid.field("cursor", "is not a cursor this service gave out")
            page_args.append(int(last_id))
            page_where += f" AND id < ${len(page_args)}"
        page_args.append(limit + 1)
        rows = await conn.fetch(
            f"SELECT id, at, actor, action, entity, entity_id, dispute_id, detail FROM audit_log "
            f"WHERE {page_where} ORDER BY id DESC LIMIT ${len(page_args)}", *page_args)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [{
        "id": r["id"], "at": r["at"], "actor": r["actor"], "action": r["action"], "entity": r["entity"],
        "entity_id": r["entity_id"], "dispute_id": r["dispute_id"], "detail": json.loads(r["detail"]),
    } for r in rows]
    return {"items": items, "total": total,
            "next_cursor": encode_cursor(rows[-1]["id"]) if more and rows else None}
