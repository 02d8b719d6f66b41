"""The audit log's answers: times in Beijing time (+08:00) like every other answer."""

from __future__ import annotations

import datetime as dt

from mediation import db
from tests.conftest import register

API = "/api/v1"


async def test_audit_entries_answer_their_times_with_the_beijing_offset(client, world):
    d = await register(client, world)
    async with db.connection() as conn:
        await conn.execute("UPDATE audit_log SET at = '2026-11-20 02:00:00+00' WHERE dispute_id = $1", d["id"])
    r = await client.get(f"{API}/audit", params={"dispute_id": d["id"]}, headers=world.h("admin"))
    assert r.status_code == 200, r.text
    [entry] = [e for e in r.json()["items"] if e["action"] == "dispute.register"]
    assert entry["at"] == "2026-11-20T10:00:00+08:00"
    assert all(dt.datetime.fromisoformat(e["at"]).utcoffset() == dt.timedelta(hours=8) for e in r.json()["items"])
