"""/readyz, /metrics and `tiaojie migrate --check`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from api.routes import metrics as metrics_module
from mediation import accounts, db
from tests.conftest import bearer, register, scratch_database

TIAOJIE = Path(sys.executable).parent / "tiaojie"
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def fresh_scrapes(monkeypatch):
    monkeypatch.setattr(metrics_module, "SCRAPE_CACHE_SECONDS", 0.0)


def sample(text: str, metric: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(metric) + (r"\{" + re.escape(want) + r"\}" if labels else "") + r" (\S+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else None


async def test_readyz_answers_200_once_every_migration_is_applied(client, monkeypatch):
    monkeypatch.setattr(db, "_schema_current", False)
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready"}


async def test_readyz_answers_503_while_a_migration_is_pending(client, monkeypatch):
    shipped = db.known_migrations()
    monkeypatch.setattr(db, "known_migrations", lambda: [*shipped, ("2099-01-01T00:00:00:000000", "not yet")])
    monkeypatch.setattr(db, "_schema_current", False)
    r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "migrating", "detail": "1 migrations are not applied yet",
                        "pending": ["2099-01-01T00:00:00:000000"]}


async def test_metrics_needs_an_admin_or_a_metrics_token(client, world):
    r = await client.get("/metrics")
    assert r.status_code == 401 and r.headers["content-type"].startswith(PROBLEM)
    r = await client.get("/metrics", headers=bearer("tj_unknown"))
    assert r.status_code == 401
    r = await client.get("/metrics", headers=world.h("bureau_county"))
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    metrics_token = (await accounts.create_token(role="metrics", name="prometheus")).token
    assert (await client.get("/metrics", headers=bearer(metrics_token))).status_code == 200
    assert (await client.get("/metrics", headers=world.h("admin"))).status_code == 200
    # and a metrics token opens nothing else
    assert (await client.get("/api/v1/disputes", headers=bearer(metrics_token))).status_code == 401


async def test_metrics_count_requests_by_route_template_and_status(client, world):
    before = (await client.get("/metrics", headers=world.h("admin"))).text
    d = await register(client, world)
    for _ in range(3):
        assert (await client.get(f"/api/v1/disputes/{d['id']}", headers=world.h("village_a1"))).status_code == 200
    assert (await client.get(f"/api/v1/disputes/{d['id']}", headers=world.h("village_b1"))).status_code == 404
    after = (await client.get("/metrics", headers=world.h("admin"))).text
    assert after.startswith("# HELP") and "tiaojie_http_request_duration_seconds_bucket" in after
    route = "/api/v1/disputes/{dispute_id}"

    def delta(**labels):
        return (sample(after, "tiaojie_http_requests_total", **labels) or 0) - \
            (sample(before, "tiaojie_http_requests_total", **labels) or 0)

    assert delta(method="GET", route=route, status="200") == 3
    assert delta(method="GET", route=route, status="404") == 1
    assert delta(method="POST", route="/api/v1/disputes", status="201") == 1
    assert d["id"] not in after                                   # templates, never raw paths
    count = sample(after, "tiaojie_http_request_duration_seconds_count", method="GET", route=route)
    assert count is not None and count - (sample(before, "tiaojie_http_request_duration_seconds_count",
                                                 method="GET", route=route) or 0) == 4


async def test_metrics_show_deliveries_pool_and_open_and_overdue_disputes_per_county(client, world):
    await register(client, world)
    late = await register(client, world)
    await register(client, world, org="other_county")
    async with db.connection() as conn:
        await conn.execute("UPDATE disputes SET registered_at = now() - interval '40 days', deadline = now() - interval '1 day' "
                           "WHERE id = $1", late["id"])
        court_id = await conn.fetchval(
            "INSERT INTO courts (id, name, code, region_code, webhook_url) VALUES (gen_random_uuid(), '西充县人民法院', "
            "'川1325', '511325000000', 'http://127.0.0.1:9/hook') RETURNING id")
        for i, status in enumerate(["pending", "pending", "dead", "delivered"]):
            await conn.execute(
                "INSERT INTO webhook_outbox (id, court_id, event_type, payload, status, created_at) "
                "VALUES ($1, $2, 'referral.created', '{}', $3, now() - make_interval(mins => $4))",
                f"msg_{i}", court_id, status, 10 * (i + 1))
    text = (await client.get("/metrics", headers=world.h("admin"))).text
    assert sample(text, "tiaojie_deliveries_pending") == 2
    assert sample(text, "tiaojie_deliveries_dead") == 1
    assert 1200 <= sample(text, "tiaojie_deliveries_oldest_pending_seconds") < 1200 + 600
    assert sample(text, "tiaojie_disputes_open", county="511325", name="西充县") == 2
    assert sample(text, "tiaojie_disputes_overdue", county="511325", name="西充县") == 1
    assert sample(text, "tiaojie_disputes_open", county="511324", name="仪陇县") == 1
    assert sample(text, "tiaojie_disputes_overdue", county="511324", name="仪陇县") == 0
    assert sample(text, "tiaojie_db_pool_connections", state="max") == 30


async def test_migrate_check_lists_pending_migrations_and_exits_1_until_applied(database_url, pool):
    async with scratch_database(database_url, "tiaojie_upgrade") as url:
        env = {**os.environ, "TIAOJIE_DATABASE_URL": url, "TIAOJIE_LOG_LEVEL": "WARNING"}

        def tiaojie(*args):
            return subprocess.run([str(TIAOJIE), *args], env=env, capture_output=True, text=True, timeout=300)

        assert tiaojie("migrate").returncode == 0
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("DROP INDEX webhook_outbox_dead_idx")
            await conn.execute("DELETE FROM migration WHERE name = '2026-12-01T13:01:00:000000'")
        finally:
            await conn.close()
        r = tiaojie("migrate", "--check")
        assert r.returncode == 1, r.stderr
        assert r.stdout == ("2026-12-01T13:01:00:000000  /metrics counts dead deliveries from an index, "
                            "not a scan of every delivery ever sent\n")
        assert tiaojie("migrate").returncode == 0
        r = tiaojie("migrate", "--check")
        assert r.returncode == 0, r.stderr
        assert r.stdout == "" and "no pending migrations" in r.stderr


async def test_backup_and_restore_round_trip_and_restore_refuses_a_database_holding_data(
        client, world, database_url, tmp_path):
    d = await register(client, world)
    await register(client, world, org="village_b1")
    env = {**os.environ, "TIAOJIE_DATABASE_URL": database_url, "TIAOJIE_LOG_LEVEL": "WARNING"}
    file = tmp_path / "county.dump"
    done = subprocess.run([str(TIAOJIE), "backup", str(file)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    manifest = __import__("json").loads((tmp_path / "county.dump.manifest.json").read_text())
    assert manifest["counts"]["disputes"] == 2 and manifest["counts"]["api_tokens"] == len(world.tokens)
    assert len(manifest["sha256"]) == 64

    def snapshot_sql():
        return ("SELECT (SELECT array_agg(case_no ORDER BY case_no) FROM disputes) AS cases, "
                "(SELECT array_agg(token_hash ORDER BY token_hash) FROM api_tokens) AS tokens, "
                "(SELECT count(*) FROM dispute_events) AS events, (SELECT count(*) FROM audit_log) AS audit")

    async with db.connection() as conn:
        before = dict(await conn.fetchrow(snapshot_sql()))
    async with scratch_database(database_url, "tiaojie_restored") as url:
        target = {**env, "TIAOJIE_DATABASE_URL": url}
        done = subprocess.run([str(TIAOJIE), "restore", str(file)], env=target, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert "counts checked" in done.stderr
        conn = await asyncpg.connect(url)
        try:
            assert dict(await conn.fetchrow(snapshot_sql())) == before
            assert await conn.fetchval("SELECT id FROM disputes WHERE case_no = $1", d["case_no"]) is not None
        finally:
            await conn.close()
        again = subprocess.run([str(TIAOJIE), "restore", str(file)], env=target, capture_output=True, text=True,
                               timeout=300)
        assert again.returncode == 2
        assert "already holds tables" in again.stderr and "--force" in again.stderr
        forced = subprocess.run([str(TIAOJIE), "restore", "--force", str(file)], env=target, capture_output=True,
                                text=True, timeout=300)
        assert forced.returncode == 0, forced.stderr
        data = bytearray(file.read_bytes())
        data[len(data) // 2] ^= 0xFF                       # one damaged byte
        file.write_bytes(bytes(data))
        damaged = subprocess.run([str(TIAOJIE), "restore", "--force", str(file)], env=target, capture_output=True,
                                 text=True, timeout=300)
        assert damaged.returncode == 1 and "does not match its manifest's checksum" in damaged.stderr
