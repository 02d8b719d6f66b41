"""Test set-up: one embedded PostgreSQL 18 per session, migrations applied once, tables
truncated before each test; the app driven in-process over httpx's ASGI transport so
the tests and the app share one event loop and one pool."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from hypothesis import settings as hypothesis_settings

import referrals
from mediation import accounts, db, orgs, regions
from mediation.access import SYSTEM
from mediation.embedded import EmbeddedPostgres

hypothesis_settings.register_profile("ci", max_examples=40, derandomize=True, deadline=None)
hypothesis_settings.register_profile("dev", max_examples=40, deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

KEEP_TABLES = {"migration", "calendar_years", "calendar_days"}  # the calendar is loaded at migration


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TIAOJIE_TEST_DATABASE_URL")
    if url:
        yield url
        return
    with cluster_folder() as folder:
        server = EmbeddedPostgres(folder)
        yield server.start()
        server.stop()


@contextlib.asynccontextmanager
async def scratch_database(database_url: str, name: str):
    """A second, empty database beside the test database; yields its URL, dropped after."""
    async with db.connection() as conn:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    try:
        yield database_url.replace("/postgres?", f"/{name}?")
    finally:
        async with db.connection() as conn:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def cluster_folder():
    """A folder for an embedded cluster outside pytest's tmp root: every new pytest session
    (other checkouts on the machine included) closes that root to its owner, and as root
    PostgreSQL runs as another user who must reach its files by their full paths."""
    folder = Path(tempfile.mkdtemp(prefix="tiaojie-test-pg-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def pool(database_url):
    referrals.install()  # as the app factory does: tests drive the services directly too
    await db.migrate(database_url)
    await db.connect(database_url, min_size=2, max_size=30)
    yield db.pool()
    await db.disconnect()


@pytest.fixture(autouse=True)
def clean(request):
    """Empty tables for every test that uses the database (through `pool` or
    `database_url`, directly or by another fixture); a test that does not (the pure
    rules) starts no PostgreSQL."""
    if "pool" in request.fixturenames or "database_url" in request.fixturenames:
        request.getfixturevalue("empty_tables")


@pytest.fixture
async def empty_tables(pool):
    async with pool.acquire() as conn:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") if r["tablename"] not in KEEP_TABLES]
        if tables:
            await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@pytest.fixture
async def session_loop(pool):
    """The loop the pool lives on, for sync Hypothesis tests that run coroutines on it."""
    return asyncio.get_running_loop()


@pytest.fixture(scope="session")
def app():
    from api.app import create_app

    return create_app(manage_database=False, run_worker=False)


@pytest.fixture(scope="session")
async def served(database_url, pool, tmp_path_factory):
    """A real `tiaojie serve` on 127.0.0.1, seeded through its API (tests/served.py)."""
    from tests.served import served_service

    async for service in served_service(database_url, pool, tmp_path_factory.mktemp("served")):
        yield service


@pytest.fixture
async def client(app, pool):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """A small county (西充县) with two towns, three villages and their committees."""

    county: str = "511325000000"
    town_a: str = "511325101000"   # 太平镇
    town_b: str = "511325102000"   # 大全镇
    village_a1: str = "511325101201"
    village_a2: str = "511325101202"
    village_b1: str = "511325102201"
    orgs: dict[str, uuid.UUID] = field(default_factory=dict)
    mediators: dict[str, uuid.UUID] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    other_county_org: uuid.UUID | None = None

    def h(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who])


async def build_world() -> World:
    w = World()
    await regions.import_rows([
        ("51", "四川省", None), ("5113", "南充市", None), ("511325", "西充县", "county"),
        ("511325101", "太平镇", None), ("511325102", "大全镇", None),
        ("511325101201", "太平一村", None), ("511325101202", "太平二村", None), ("511325102201", "大全一村", None),
        ("511324", "仪陇县", "county"), ("511324100", "金城镇", None), ("511324100205", "罩板村", None),
    ])
    specs = {
        "county_center": ("西充县矛盾纠纷多元化解中心", "county", "county_center", w.county),
        "town_a": ("太平镇人民调解委员会", "township", "township_committee", w.town_a),
        "town_b": ("大全镇人民调解委员会", "township", "township_committee", w.town_b),
        "village_a1": ("太平一村人民调解委员会", "village", "village_committee", w.village_a1),
        "village_a2": ("太平二村人民调解委员会", "village", "village_committee", w.village_a2),
        "village_b1": ("大全一村人民调解委员会", "village", "village_committee", w.village_b1),
        "other_county": ("罩板村人民调解委员会", "village", "village_committee", "511324100205"),
    }
    for key, (name, tier, kind, region) in specs.items():
        org = await orgs.create_org(SYSTEM, name=name, tier=tier, kind=kind, region_code=region)
        w.orgs[key] = org["id"]
        m = await orgs.add_mediator(SYSTEM, org["id"], name=f"{name[:2]}调解员", phone="13800000001")
        w.mediators[key] = m["id"]
        w.tokens[key] = (await accounts.create_token(role="mediator", org_id=org["id"], name=f"m-{key}")).token
    w.other_county_org = w.orgs["other_county"]
    w.tokens["admin"] = (await accounts.create_token(role="admin", name="admin")).token
    w.tokens["bureau_county"] = (await accounts.create_token(role="bureau", region=w.county, name="b-county")).token
    w.tokens["bureau_town_a"] = (await accounts.create_token(role="bureau", region=w.town_a, name="b-town-a")).token
    w.tokens["bureau_other"] = (await accounts.create_token(role="bureau", region="511324", name="b-other")).token
    return w


@pytest.fixture
async def world(pool) -> World:
    return await build_world()


VALID_ID = "11010519491231002X"  # GB 11643 sample: check character X


def dispute_body(w: World, org: str = "village_a1", **over) -> dict:
    body = {
        "org_id": str(w.orgs[org]),
        "type": "neighbor",
        "source": "application",
        "summary": "张三与李四因宅基地边界发生纠纷",
        "parties": [
            {"role": "applicant", "kind": "person", "name": "张三", "id_number": VALID_ID, "phone": "13812345678"},
            {"role": "respondent", "kind": "person", "name": "李四"},
        ],
    }
    body.update(over)
    return body


async def register(client, w: World, org: str = "village_a1", who: str | None = None, **over) -> dict:
    r = await client.post("/api/v1/disputes", json=dispute_body(w, org, **over), headers=w.h(who or org))
    assert r.status_code == 201, r.text
    return r.json()
