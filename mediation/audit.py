"""The audit log: who saw full personal data or changed what, and when."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from mediation import clock, db
from mediation.pagination import Keyset, keyset_page

NEWEST_FIRST = Keyset(columns=("id",), keys=("id",), parsers=(int,))


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
        page = await keyset_page(conn, select="id, at, actor, action, entity, entity_id, dispute_id, detail",
                                 source="audit_log", where=where, args=args, keyset=NEWEST_FIRST, limit=limit,
                                 cursor=cursor)
    items = [{
        "id": r["id"], "at": clock.local(r["at"]), "actor": r["actor"], "action": r["action"], "entity": r["entity"],
        "entity_id": r["entity_id"], "dispute_id": r["dispute_id"], "detail": json.loads(r["detail"]),
    } for r in page.rows]
    return {"items": items, "total": page.total, "next_cursor": page.next_cursor}
