"""The parties' lookup (API.md "the parties' lookup"): the right code answers status,
holder, next step and deadline in plain Chinese; an unknown case and a wrong code are
indistinguishable; failures are limited per case number and per address across
processes; every lookup is audited; no name or ID number ever leaves."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mediation import clock, db, lookup
from tests.conftest import VALID_ID, register
from tests.court_helpers import count

URL = "/api/v1/public/lookup"
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=clock.TZ)


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(NOW)
    yield
    clock.freeze(None)


@pytest.fixture
async def case(client, world) -> dict:
    return await register(client, world, registered_at="2026-11-18T09:00:00+08:00")


def assert_nothing_personal(text: str) -> None:
    for secret in ("张三", "李四", VALID_ID, "13812345678", "宅基地"):
        assert secret not in text, f"{secret} leaked: {text}"


async def test_the_right_code_answers_where_the_case_stands(client, world, case):
    for code in ("5678", "002X", "002x"):  # phone or ID number, the check character in either case
        r = await client.post(URL, json={"case_no": case["case_no"], "code": code})
        assert r.status_code == 200, r.text
        assert r.json() == {
            "case_no": case["case_no"], "status": "open", "status_label": "调解中", "tier": "village",
            "org_name": "太平一村人民调解委员会", "deadline": "2026-12-18T09:00:00+08:00",
            "next_step": lookup.NEXT_STEPS["open"], "updated_at": "2026-11-18T09:00:00+08:00",
        }
        assert_nothing_personal(r.text)
    r = await client.post(URL, json={"case_no": f"  {case['case_no'].lower()} ", "code": "5678"})
    assert r.status_code == 200


async def test_a_concluded_case_tells_the_next_step_and_no_deadline(client, world, case):
    r = await client.post(f"/api/v1/disputes/{case['id']}/resolve", json={"agreement": {
        "form": "written", "terms": "李四赔偿张三3000元", "signed_at": "2026-11-19T15:00:00+08:00"}},
        headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    body = (await client.post(URL, json={"case_no": case["case_no"], "code": "5678"})).json()
    assert (body["status"], body["status_label"], body["deadline"]) == ("resolved", "调解成功", None)
    assert body["next_step"].startswith("双方已达成调解协议") and body["updated_at"] == "2026-11-19T15:00:00+08:00"
    assert_nothing_personal(json.dumps(body, ensure_ascii=False))


async def test_unknown_case_and_wrong_code_answer_byte_identical_404s(client, world, case):
    wrong = await client.post(URL, json={"case_no": case["case_no"], "code": "0000"})
    unknown = await client.post(URL, json={"case_no": "511325-2026-999999", "code": "5678"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.content == unknown.content
    assert wrong.headers["content-type"] == unknown.headers["content-type"] == "application/problem+json"
    assert wrong.json()["detail"] == lookup.NO_MATCH


async def test_a_malformed_code_is_422_and_needs_no_token(client):
    r = await client.post(URL, json={"case_no": "511325-2026-000001", "code": "12"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "code"


async def test_the_sixth_failure_for_a_case_number_is_429_even_with_the_right_code(client, world, case):
    for _ in range(5):
        assert (await client.post(URL, json={"case_no": case["case_no"], "code": "0000"})).status_code == 404
    r = await client.post(URL, json={"case_no": case["case_no"], "code": "5678"})
    assert r.status_code == 429 and r.headers["retry-after"] == "3600"
    assert r.json()["status"] == 429
    assert (await client.post(URL, json={"case_no": case["case_no"], "code": "0000"})).status_code == 429
    # refusals while limited do not extend the limit; an hour after the first failures it lifts
    clock.freeze(NOW + dt.timedelta(minutes=30))
    r = await client.post(URL, json={"case_no": case["case_no"], "code": "5678"})
    assert r.status_code == 429 and r.headers["retry-after"] == "1800"
    clock.freeze(NOW + dt.timedelta(hours=1, seconds=1))
    assert (await client.post(URL, json={"case_no": case["case_no"], "code": "5678"})).status_code == 200


async def test_unknown_case_numbers_are_limited_the_same_way(client):
    for _ in range(5):
        assert (await client.post(URL, json={"case_no": "511325-2026-424242", "code": "1234"})).status_code == 404
    assert (await client.post(URL, json={"case_no": "511325-2026-424242", "code": "1234"})).status_code == 429


async def test_thirty_failures_from_one_address_refuse_the_thirty_first(client, world, case):
    for n in range(30):
        r = await client.post(URL, json={"case_no": f"511325-2026-{n:06d}9", "code": "1234"})
        assert r.status_code == 404, n
    r = await client.post(URL, json={"case_no": case["case_no"], "code": "5678"})
    assert r.status_code == 429


async def test_x_forwarded_for_counts_only_from_a_configured_proxy(app, client, world, case):
    # the test client's peer is 127.0.0.1: without configuration its header is ignored
    for n in range(30):
        await client.post(URL, json={"case_no": f"511325-2026-{n:06d}8", "code": "1234"},
                          headers={"X-Forwarded-For": f"10.0.0.{n}"})
    r = await client.post(URL, json={"case_no": case["case_no"], "code": "5678"},
                          headers={"X-Forwarded-For": "10.9.9.9"})
    assert r.status_code == 429
    app.state.trusted_proxies = lookup.Proxies.parse("127.0.0.1/32")
    try:
        r = await client.post(URL, json={"case_no": case["case_no"], "code": "5678"},
                              headers={"X-Forwarded-For": "203.0.113.7"})
        assert r.status_code == 200, r.text
    finally:
        app.state.trusted_proxies = lookup.Proxies()
    async with db.connection() as conn:
        clients = {r["client"] for r in await conn.fetch("SELECT client FROM lookup_attempts")}
    assert clients == {"127.0.0.1", "203.0.113.7"}


def test_the_client_address_behind_proxies():
    proxies = lookup.Proxies.parse("10.0.0.0/8, 192.168.1.1")
    assert lookup.client_address("198.51.100.1", ["203.0.113.7"], proxies) == "198.51.100.1"
    assert lookup.client_address("10.1.2.3", ["203.0.113.7"], proxies) == "203.0.113.7"
    # a client cannot hide behind a forged first hop: the last untrusted one counts
    assert lookup.client_address("10.1.2.3", ["1.1.1.1, 203.0.113.7, 192.168.1.1"], proxies) == "203.0.113.7"
    assert lookup.client_address("10.1.2.3", [], proxies) == "10.1.2.3"
    assert lookup.client_address("10.1.2.3", ["garbage"], proxies) == "10.1.2.3"


async def test_every_lookup_is_audited_without_the_code(client, world, case):
    await client.post(URL, json={"case_no": case["case_no"], "code": "5678"})
    await client.post(URL, json={"case_no": case["case_no"], "code": "0000"})
    await client.post(URL, json={"case_no": "511325-2026-999999", "code": "0000"})
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT actor, entity_id, detail::text AS detail FROM audit_log "
                                "WHERE action = 'public.lookup' ORDER BY id")
    assert [(r["actor"], r["entity_id"], json.loads(r["detail"])) for r in rows] == [
        ("public:127.0.0.1", case["case_no"], {"outcome": "answered"}),
        ("public:127.0.0.1", case["case_no"], {"outcome": "no_match"}),
        ("public:127.0.0.1", "511325-2026-999999", {"outcome": "no_match"}),
    ]
    assert "5678" not in "".join(r["detail"] for r in rows)


# ---------------------------------------------------------------- two real server processes

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        code = ("import uvicorn; from api.app import create_app; "
                f"uvicorn.run(create_app(run_worker=False), host='127.0.0.1', port={self.port}, log_config=None)")
        env = {**os.environ, "TIAOJIE_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    async def ready(self, timeout: float = 60) -> None:
        async with httpx.AsyncClient() as c:
            for _ in range(int(timeout / 0.2)):
                assert self.proc.poll() is None, "server exited"
                try:
                    if (await c.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


async def test_the_sixth_failure_is_429_across_two_server_processes(database_url, client, world, case, tmp_path):
    clock.freeze(None)  # the servers read the real clock
    servers = [Server(database_url, tmp_path / f"server-{n}.log") for n in range(2)]
    try:
        await asyncio.gather(*(s.ready() for s in servers))
        async with httpx.AsyncClient(timeout=30) as c:
            async def wrong(server: Server) -> int:
                return (await c.post(f"{server.url}{URL}", json={"case_no": case["case_no"], "code": "0000"})).status_code
            a, b = servers
            assert [await wrong(a), await wrong(b), await wrong(a), await wrong(b), await wrong(a)] == [404] * 5
            r = await c.post(f"{b.url}{URL}", json={"case_no": case["case_no"], "code": "5678"})
            assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 3600
            assert await wrong(a) == 429
    finally:
        for s in servers:
            s.stop()
    assert await count("SELECT count(*) FROM lookup_attempts WHERE outcome = 'no_match'") == 5
    assert await count("SELECT count(*) FROM audit_log WHERE action = 'public.lookup'") == 7
