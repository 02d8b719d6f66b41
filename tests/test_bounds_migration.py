"""The bounds migration on a database that already holds rows breaking them: it refuses,
names their case numbers and changes nothing; `bounds.quarantine` sets them aside (one
JSON record each, audited) and the migration then completes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from piccolo.apps.migrations.commands.forwards import run_forwards

from mediation import bounds, db
from mediation.piccolo_conf import DB

BOUNDS_MIGRATION = "2026-12-01T12:05:00:000000"
MIGRATIONS = Path(__file__).parent.parent / "migrations"


def migration_before(mid: str) -> str:
    ids = sorted(line.split('"')[1] for f in MIGRATIONS.glob("tiaojie_*.py")
                 for line in f.read_text().splitlines() if line.startswith("ID = "))
    return ids[ids.index(mid) - 1]


@contextlib.contextmanager
def engine_on(url: str):
    """Point Piccolo's engine at `url`, apart from the tests' pool (as `tiaojie migrate` runs)."""
    saved_pool, saved_config = DB.pool, DB.config
    DB.pool = None
    db.configure(url)
    try:
        yield
    finally:
        DB.pool, DB.config = saved_pool, saved_config


async def migrate(url: str, migration_id: str = "all"):
    with engine_on(url):
        return await run_forwards(app_name="tiaojie", migration_id=migration_id)


@pytest.fixture
async def old_database(database_url, pool):
    """A separate database of the same cluster, migrated up to just before the bounds."""
    name = f"bounds_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    url = urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    try:
        result = await migrate(url, migration_before(BOUNDS_MIGRATION))
        assert result.success, result.message
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


DISPUTE = """INSERT INTO disputes (id, case_no, county_code, version, type, source, status, summary, region_code,
    org_id, handler_org_ids, tier, entry_tier, highest_tier, registered_at, occurred_on, deadline, last_move_at,
    persons_involved, search_text)
    VALUES ($1, $2, '511325', 1, 'neighbor', 'application', 'open', 'x', '511325000000', $3, ARRAY[$3]::uuid[],
            'county', 'county', 'county', $4::text::timestamptz, $5::text::date, $6::text::timestamptz, $4::text::timestamptz, 1, $2)"""


async def write_old_rows(url: str) -> None:
    """Three disputes that break the bounds and one that does not, as an older version
    (or a hand-written import) could have left them."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO regions (code, name, level, prefix) VALUES ('511325000000', '西充县', 'county', "
                           "'511325')")
        org = uuid.uuid4()
        await conn.execute("INSERT INTO orgs (id, name, tier, kind, region_code, county_code) VALUES "
                           "($1, '西充县中心', 'county', 'county_center', '511325000000', '511325')", org)
        rows = {
            "511325-2026-000001": ("2026-11-01 10:00+08", None, "2026-12-01 10:00+08"),      # fine
            "511325-0001-000001": ("-infinity", None, "2026-12-01 10:00+08"),
            "511325-2026-000002": ("2026-11-01 10:00+08", "1900-01-01", "9999-12-31 23:59:59+00"),
            "511325-2026-000003": ("2026-11-02 10:00+08", None, "2026-12-01 10:00+08"),      # a bad event
        }
        ids = {}
        for case_no, (registered, occurred, deadline) in rows.items():
            ids[case_no] = uuid.uuid4()
            await conn.execute(DISPUTE, ids[case_no], case_no, org, registered, occurred, deadline)
            await conn.execute("INSERT INTO dispute_parties (id, dispute_id, position, role, kind, name) VALUES "
                               "(gen_random_uuid(), $1, 0, 'applicant', 'person', '张三')", ids[case_no])
            await conn.execute("INSERT INTO dispute_events (id, dispute_id, seq, kind, at, actor) VALUES "
                               "(gen_random_uuid(), $1, 1, 'registered', $2::text::timestamptz, 'test')",
                               ids[case_no], "0026-11-02 10:00+08" if case_no.endswith("000003") else registered)
    finally:
        await conn.close()



async def test_the_migration_refuses_with_the_case_numbers_until_they_are_quarantined(old_database):
    await write_old_rows(old_database)
    with pytest.raises(Exception) as refused:
        await migrate(old_database)
    message = str(refused.value)
    for case_no in ("511325-0001-000001", "511325-2026-000002", "511325-2026-000003"):
        assert case_no in message
    assert "511325-2026-000001" not in message
    assert "tiaojie data quarantine" in message

    conn = await asyncpg.connect(old_database)
    try:
        assert not await conn.fetchval("SELECT count(*) FROM migration WHERE name = $1", BOUNDS_MIGRATION)
        assert not await conn.fetchval("SELECT count(*) FROM pg_constraint WHERE conname = 'disputes_deadline_bounds'")
        found = await bounds.violations(conn)
        assert [(v.case_no, v.constraint) for v in found] == [
            ("511325-0001-000001", "dispute_events_at_bounds"),
            ("511325-0001-000001", "disputes_deadline_bounds"),
            ("511325-0001-000001", "disputes_last_move_at_bounds"),
            ("511325-0001-000001", "disputes_registered_at_bounds"),
            ("511325-2026-000002", "disputes_deadline_bounds"),
            ("511325-2026-000002", "disputes_occurred_on_bounds"),
            ("511325-2026-000003", "dispute_events_at_bounds"),
        ]
        async with conn.transaction():
            moved = await bounds.quarantine(conn, [v.case_no for v in found] + ["511325-2026-999999"], actor="cli")
        assert moved == ["511325-0001-000001", "511325-2026-000002", "511325-2026-000003"]
        assert await bounds.violations(conn) == []
        assert await conn.fetchval("SELECT count(*) FROM disputes") == 1
        kept = await conn.fetchrow("SELECT reasons, record::text AS record FROM quarantined_disputes "
                                   "WHERE case_no = '511325-2026-000002'")
        assert kept["reasons"] == ["deadline not before registration nor more than 10 years after it",
                                   "occurred_on not before 1949-10-01"]
        assert '"张三"' in kept["record"] and '"1900-01-01"' in kept["record"]
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'dispute.quarantine'") == 3
    finally:
        await conn.close()

    result = await migrate(old_database)
    assert result.success, result.message
    conn = await asyncpg.connect(old_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_constraint WHERE conname LIKE '%\\_bounds'") == len(
            bounds.CHECKS)
    finally:
        await conn.close()


TIAOJIE = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "tiaojie"


async def test_the_command_line_lists_and_quarantines_what_blocks_the_migration(old_database, tmp_path):
    await write_old_rows(old_database)
    env = {**os.environ, "TIAOJIE_DATABASE_URL": old_database, "TIAOJIE_DATA_DIR": str(tmp_path),
           "TIAOJIE_LOG_LEVEL": "WARNING"}

    def tiaojie(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(TIAOJIE), *args], env=env, capture_output=True, text=True, timeout=300)

    refused = tiaojie("migrate")
    assert refused.returncode != 0 and "511325-0001-000001" in refused.stderr
    check = tiaojie("data", "check")
    assert check.returncode == 1, check.stderr
    assert [line.split(":")[0] for line in check.stdout.splitlines()] == [
        "511325-0001-000001"] * 4 + ["511325-2026-000002"] * 2 + ["511325-2026-000003"]
    moved = tiaojie("data", "quarantine", "511325-0001-000001", "511325-2026-000002")
    assert moved.returncode == 1 and moved.stdout.splitlines() == [
        "511325-2026-000003: event time (at) not before 2000-01-01 (Beijing) (dispute_events_at_bounds)"]
    assert "quarantined 2: 511325-0001-000001, 511325-2026-000002" in moved.stderr
    moved = tiaojie("data", "quarantine", "511325-2026-000003")
    assert (moved.returncode, moved.stdout) == (0, ""), moved.stderr
    assert tiaojie("migrate").returncode == 0
    assert tiaojie("data", "check").returncode == 0
