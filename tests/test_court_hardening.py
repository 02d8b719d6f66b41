"""Court-side findings of the security probe (issue 11): webhook URLs that carry a
password, the deliveries list telling an admin which internal ports are open, the roster
read outside the court's circle."""

from __future__ import annotations

import importlib
import json
import socket

import pytest

from mediation import db
from referrals.court_sim import Reply
from referrals.worker import COULD_NOT_CONNECT, EXCHANGE_FAILED
from tests.court_helpers import API, count, make_court
from tests.test_delivery import enqueue, eventually, receiver, rows, settled, worker  # noqa: F401  (fixtures)

CREDENTIAL_URLS = [
    "http://user:pw@court.test/hooks",
    "https://user@court.test/hooks",
    "https://:pw@court.test/hooks",
    "https://a%40b:p%3Aw@court.test:8443/hooks",
]


# ---------------------------------------------------------------- webhook URLs with credentials

@pytest.mark.parametrize("url", CREDENTIAL_URLS)
async def test_registering_a_court_with_credentials_in_its_webhook_url_is_refused(client, world, url):
    body = {"name": "西充县人民法院", "code": "川1325", "region_code": "511325", "webhook_url": url}
    r = await client.post(f"{API}/courts", json=body, headers=world.h("admin"))
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["webhook_url"]
    assert "pw" not in r.text
    assert await count("SELECT count(*) FROM courts") == 0
    assert await count("SELECT count(*) FROM audit_log WHERE entity = 'court'") == 0


@pytest.mark.parametrize("url", CREDENTIAL_URLS)
async def test_setting_a_webhook_url_with_credentials_is_refused_and_changes_nothing(client, world, url):
    court = await make_court(client, world, webhook_url="https://court.test/hooks")
    before = await count("SELECT count(*) FROM audit_log")
    r = await client.patch(f"{API}/courts/{court.id}", json={"webhook_url": url}, headers=world.h("admin"))
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["webhook_url"]
    r = await client.get(f"{API}/courts/{court.id}", headers=world.h("admin"))
    assert r.json()["webhook_url"] == "https://court.test/hooks"
    assert await count("SELECT count(*) FROM audit_log") == before


async def test_a_password_stored_before_the_rule_is_never_shown(client, world):
    court = await make_court(client, world, webhook_url="https://court.test/hooks")
    async with db.connection() as conn:
        await conn.execute("UPDATE courts SET webhook_url = 'http://user:s3cret@court.test:8080/hooks'")
    for path in (f"{API}/courts", f"{API}/courts/{court.id}"):
        r = await client.get(path, headers=world.h("admin"))
        assert "s3cret" not in r.text and "user:" not in r.text
    r = await client.get(f"{API}/courts/{court.id}", headers=world.h("admin"))
    assert r.json()["webhook_url"] == "http://[redacted]@court.test:8080/hooks"
    r = await client.patch(f"{API}/courts/{court.id}", json={"webhook_url": "https://court.test/v2"},
                           headers=world.h("admin"))
    assert r.status_code == 200
    r = await client.get(f"{API}/audit", headers=world.h("admin"))
    assert "s3cret" not in r.text
    (entry,) = [e for e in r.json()["items"] if e["action"] == "court.webhook"]
    assert entry["detail"]["previous_url"] == "http://[redacted]@court.test:8080/hooks"


async def test_the_migration_redacts_credentials_in_the_audit_log_and_records_that_it_did(pool):
    migration = importlib.import_module("migrations.tiaojie_2026_12_01t16_00_00_000000")
    entries = [
        ("court.create", {"name": "某法院", "webhook_url": "http://user:pw@court.test/hooks"}),
        ("court.webhook", {"webhook_url": "https://a.test/x?y=1", "previous_url": "https://u:p@old.test:9/h#f",
                           "released": 2}),
        ("court.webhook", {"webhook_url": "https://clean.test/", "previous_url": None}),
        ("dispute.register", {"summary": "user@example.com wrote"}),
    ]
    async with db.transaction() as conn:
        before = await conn.fetchval("SELECT count(*) FROM audit_log")
        for action, detail in entries:
            await conn.execute("INSERT INTO audit_log (actor, action, entity, detail) VALUES ('token:a', $1, 'court', "
                               "$2::jsonb)", action, json.dumps(detail))
        await conn.execute(migration.SQL)
        rows_after = await conn.fetch("SELECT id, action, detail::text AS detail FROM audit_log ORDER BY id OFFSET $1",
                                      before)
        await conn.execute(migration.SQL)  # a second run finds nothing more and records nothing
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 5 + before
    details = [json.loads(r["detail"]) for r in rows_after]
    assert details[0] == {"name": "某法院", "webhook_url": "http://[redacted]@court.test/hooks"}
    assert details[1] == {"webhook_url": "https://a.test/x?y=1", "previous_url": "https://[redacted]@old.test:9/h#f",
                          "released": 2}
    assert details[2] == entries[2][1] and details[3] == entries[3][1]
    record = rows_after[4]
    assert record["action"] == "audit.redact"
    assert details[4]["entries"] == 2 and details[4]["entry_ids"] == [rows_after[0]["id"], rows_after[1]["id"]]
    assert details[4]["migration"] == migration.ID
    assert all("pw" not in r["detail"] and "u:p@" not in r["detail"] for r in rows_after)


# ---------------------------------------------------------------- last_error without socket detail

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _court_at(url: str) -> str:
    from tests.test_delivery import make_court as court_row

    court_id, _ = await court_row(url)
    (msg,) = await enqueue(court_id)
    return msg


async def test_a_refused_connection_is_reported_without_socket_detail(worker):
    port = _closed_port()
    msg = await _court_at(f"http://127.0.0.1:{port}/hooks")
    await worker(schedule=(0,))
    await eventually(lambda: settled(msg))
    row = (await rows(msg))[msg]
    assert (row["status"], row["last_status"], row["last_error"]) == ("dead", None, COULD_NOT_CONNECT)
    assert str(port) not in row["last_error"]


async def test_an_endpoint_that_hangs_up_without_http_gets_one_generic_error(receiver, worker):
    court = receiver(lambda _: Reply(drop=True))
    msg = await _court_at(court.url)
    await worker(schedule=(0,))
    await eventually(lambda: settled(msg))
    row = (await rows(msg))[msg]
    assert (row["status"], row["last_error"]) == ("dead", EXCHANGE_FAILED)


async def test_http_status_codes_are_still_reported(receiver, worker):
    court = receiver(lambda _: Reply(status=503))
    msg = await _court_at(court.url)
    await worker(schedule=(0,))
    await eventually(lambda: settled(msg))
    row = (await rows(msg))[msg]
    assert (row["last_status"], row["last_error"]) == (503, "HTTP 503")


# ---------------------------------------------------------------- roster scope

async def test_the_roster_is_read_by_the_admin_the_court_and_the_bureau_holding_it_only(client, world):
    court = await make_court(client, world, roster=["village_a1", "town_b"])
    other = await make_court(client, world, "川1324", name="仪陇县人民法院", region_code="511324")
    for who in ("admin", "bureau_county"):
        r = await client.get(f"{API}/courts/{court.id}/roster", headers=world.h(who))
        assert r.status_code == 200, who
        assert r.json()["total"] == 2
    r = await client.get(f"{API}/courts/{court.id}/roster", headers=court.h)
    assert r.status_code == 200 and r.json()["total"] == 2
    # a mediator (even of an org on the roster), a bureau of a township or another county,
    # another court: 404, as for a court that does not exist
    for headers in (world.h("village_a1"), world.h("village_b1"), world.h("other_county"),
                    world.h("bureau_town_a"), world.h("bureau_other"), other.h):
        r = await client.get(f"{API}/courts/{court.id}/roster", headers=headers)
        assert r.status_code == 404
        assert "太平" not in r.text and "大全" not in r.text
    r = await client.get(f"{API}/courts/{other.id}/roster", headers=world.h("bureau_other"))
    assert r.status_code == 200 and r.json()["total"] == 0


async def test_the_roster_pages_like_every_list(client, world):
    court = await make_court(client, world, roster=["village_a1", "village_a2", "village_b1", "town_a", "town_b"])
    seen, cursor = [], None
    while True:
        r = await client.get(f"{API}/courts/{court.id}/roster", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                             headers=world.h("admin"))
        assert r.status_code == 200
        body = r.json()
        assert len(body["items"]) <= 2 and body["total"] == 5
        seen += [i["name"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen) and len(set(seen)) == 5
    r = await client.get(f"{API}/courts/{court.id}/roster", params={"limit": 501}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit"
