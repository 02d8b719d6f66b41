"""Shared set-up for the court tests: register courts through the API, put orgs on
their rosters, read the outbox, and the bodies the court endpoints take."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from mediation import db
from tests.conftest import VALID_ID, World, bearer

API = "/api/v1"
PHONE = "13812345678"


@dataclass
class Court:
    id: str
    code: str
    token: str
    secret: str
    body: dict

    @property
    def h(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def actor(self) -> str:
        return f"court:{self.id}"


async def make_court(client, world: World, code: str = "川1325", *, name: str = "西充县人民法院",
                     region_code: str = "511325", webhook_url: str | None = None, roster=()) -> Court:
    body = {"name": name, "code": code, "region_code": region_code}
    if webhook_url is not None:
        body["webhook_url"] = webhook_url
    r = await client.post(f"{API}/courts", json=body, headers=world.h("admin"))
    assert r.status_code == 201, r.text
    data = r.json()
    court = Court(id=data["id"], code=code, token=data["api_token"], secret=data["webhook_secret"], body=data)
    for org in roster:
        r = await client.post(f"{API}/courts/{court.id}/roster", json={"org_id": str(world.orgs[org])},
                              headers=world.h("admin"))
        assert r.status_code == 201, r.text
    return court


async def outbox_rows(event_type: str | None = None) -> list[dict]:
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT id, court_id, event_type, payload::text AS payload, status, next_attempt_at FROM webhook_outbox "
            "WHERE $1::text IS NULL OR event_type = $1 ORDER BY created_at, id", event_type)
    return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]


async def count(sql: str, *args) -> int:
    async with db.connection() as conn:
        return await conn.fetchval(sql, *args)


def assert_no_personal_data(payload: dict) -> None:
    text = json.dumps(payload, ensure_ascii=False)
    for secret in (VALID_ID, PHONE, "张三", "李四", "王五"):
        assert secret not in text, f"{secret} leaked into {text}"


def entrustment_body(world: World, org: str = "village_a1", **over) -> dict:
    body = {
        "court_case_no": "(2026)川1325民初123号",
        "kind": "in_litigation",
        "org_id": str(world.orgs[org]),
        "type": "contract",
        "summary": "王五诉赵六买卖合同纠纷，经双方同意委托调解",
        "parties": [
            {"role": "applicant", "kind": "person", "name": "王五", "id_number": VALID_ID, "phone": PHONE},
            {"role": "respondent", "kind": "person", "name": "赵六"},
        ],
    }
    body.update(over)
    return body


def new_key() -> str:
    return f"key-{uuid.uuid4()}"
