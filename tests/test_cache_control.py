"""No answer that may carry personal data is kept by a browser or a proxy (issue 11,
item 3): every /api/v1 answer — lists, full views, errors and refusals alike — and every
page outside the static assets says `Cache-Control: no-store`."""

from __future__ import annotations

import re

from tests.conftest import VALID_ID, register

API = "/api/v1"


async def test_every_get_operation_of_the_api_answers_no_store(app, client, world):
    d = await register(client, world)
    schema = app.openapi_schema.to_schema()
    ids = {"dispute_id": d["id"], "org_id": str(world.orgs["village_a1"]), "code": world.county}
    seen = 0
    for path, item in schema["paths"].items():
        if "get" not in item or not path.startswith(API):
            continue
        concrete = re.sub(r"\{([^}:]+)[^}]*\}", lambda m: ids.get(m.group(1), "00000000-0000-0000-0000-000000000000"),
                          path)
        r = await client.get(concrete, headers=world.h("admin"))
        assert r.status_code < 500, (concrete, r.text)
        assert r.headers.get("cache-control") == "no-store", (concrete, r.status_code, r.headers)
        seen += 1
    assert seen >= 10


async def test_full_personal_data_answers_no_store(client, world):
    d = await register(client, world)
    r = await client.get(f"{API}/disputes/{d['id']}?reveal=true", headers=world.h("village_a1"))
    assert r.status_code == 200 and VALID_ID in r.text
    assert r.headers["cache-control"] == "no-store"


async def test_writes_errors_and_refusals_answer_no_store(client, world):
    r = await client.post(f"{API}/disputes", json={"parties": []}, headers=world.h("village_a1"))
    assert r.status_code == 422
    assert r.headers["cache-control"] == "no-store"
    r = await client.get(f"{API}/disputes")
    assert r.status_code == 401
    assert r.headers["cache-control"] == "no-store"
    r = await client.get(f"{API}/nothing-here", headers=world.h("admin"))
    assert r.status_code == 404
    assert r.headers["cache-control"] == "no-store"
    d = await register(client, world)
    assert (await client.get(f"{API}/disputes/{d['id']}", headers=world.h("village_b1"))).headers[
        "cache-control"] == "no-store"


async def test_pages_outside_the_static_assets_answer_no_store(client):
    r = await client.get("/healthz")
    assert r.headers["cache-control"] == "no-store"
    r = await client.get("/schema/openapi.json")
    assert r.headers["cache-control"] == "no-store"
