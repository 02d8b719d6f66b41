"""Several processes on one PostgreSQL, as a province runs it (issue 10): `tiaojie serve
--workers 2` (two uvicorn processes on one port) beside a second `tiaojie serve` and a
`tiaojie worker`, on a database of their own on the test cluster. Case numbers stay
gap-free under concurrent registrations through both, a revoked token stops working in
every process, a sign-in made in one process holds (and ends) in the other, and each court
delivery reaches a real HTTP receiver on 127.0.0.1 once, with four delivery workers
competing for the outbox. And `serve --workers 2` on the embedded PostgreSQL starts the
cluster once, in the parent, and stops it on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from tests import test_delivery
from tests.conftest import VALID_ID
from tests.page_helpers import PASSWORD, csrf_token
from tests.served import ago, cli, database_url_for, free_port, ok, register_regions, tiaojie

receiver = test_delivery.receiver  # the fixture: a court endpoint on 127.0.0.1

DATABASE = "tiaojie_processes"
STARTUP_SECONDS = 240


class Started:
    """A `tiaojie` command run in the background, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(tiaojie(*args), env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def answering(self, base: str) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    return
            assert time.monotonic() < deadline, f"{base} did not become ready:\n{self.log.read_text()}"
            time.sleep(0.3)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._out.close()
        return self.proc.returncode


@pytest.fixture
def started():
    running: list[Started] = []

    def start(env: dict[str, str], log: Path, *args: str) -> Started:
        running.append(Started(env, log, *args))
        return running[-1]

    yield start
    for s in running:
        s.stop()


def _seed(base: str, env: dict[str, str]) -> dict[str, str]:
    admin = cli(env, "token", "create", "--role", "admin", "--name", "processes-admin")
    a = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as c:
        register_regions(c, a)
        village = ok(c.post("/orgs", json={"name": "青龙村人民调解委员会", "tier": "village",
                                            "kind": "village_committee", "region_code": "511325101201"}, headers=a))
        court = ok(c.post("/courts", json={"name": "西充县人民法院", "code": "川1325", "region_code": "511325"},
                           headers=a))
        ok(c.post(f"/courts/{court['id']}/roster", json={"org_id": village["id"]}, headers=a))
    mediator = cli(env, "token", "create", "--role", "mediator", "--org", village["id"], "--name", "processes-m")
    return {"admin": admin, "mediator": mediator, "org": village["id"], "court": court["id"]}


def _dispute(org: str, n: int) -> dict:
    return {"org_id": org, "type": "neighbor", "source": "application", "summary": f"第{n}号宅基地边界纠纷",
            "registered_at": ago(hours=2),
            "parties": [{"role": "applicant", "kind": "person", "name": "张三", "id_number": VALID_ID,
                         "phone": "13812345678"}, {"role": "respondent", "kind": "person", "name": "李四"}]}


async def _until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def test_two_serve_processes_and_a_worker_share_one_database_correctly(pool, database_url, tmp_path,
                                                                           started, receiver):
    await pool.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    await pool.execute(f"CREATE DATABASE {DATABASE}")
    url = database_url_for(database_url, DATABASE)
    env = {**os.environ, "TIAOJIE_DATABASE_URL": url, "TIAOJIE_DATA_DIR": str(tmp_path / "unused"),
           "PYTHONUNBUFFERED": "1"}
    court = receiver()
    one, two = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    a = started(env, tmp_path / "serve-a.log", "serve", "--workers", "2", "--port", one.rsplit(":", 1)[1])
    b = started(env, tmp_path / "serve-b.log", "serve", "--port", two.rsplit(":", 1)[1])
    a.answering(one)
    b.answering(two)
    w = started(env, tmp_path / "worker.log", "worker")
    ids = _seed(one, env)
    conn = await asyncpg.connect(url)
    try:
        # the API refuses a loopback webhook URL (as it should); the test court is on 127.0.0.1
        await conn.execute("UPDATE courts SET webhook_url = $1", court.url)
        # both processes of `serve --workers 2` are up, each with its own pool
        holders = {r["application_name"] for r in await conn.fetch(
            "SELECT DISTINCT application_name FROM pg_stat_activity WHERE application_name LIKE 'tiaojie-%'")}
        children = {f"tiaojie-{p.pid}" for p in psutil.Process(a.proc.pid).children()
                    if "spawn_main" in " ".join(p.cmdline())}
        assert len(children) == 2 and children <= holders, (children, holders)

        m = {"Authorization": f"Bearer {ids['mediator']}"}
        async with httpx.AsyncClient(timeout=60) as c:
            # 40 registrations at once, alternately through each server
            answers = await asyncio.gather(*(c.post(f"{(one, two)[n % 2]}/api/v1/disputes", json=_dispute(ids["org"], n),
                                                    headers=m) for n in range(40)))
            disputes = [ok(r) for r in answers]
            numbers = sorted(int(d["case_no"].rsplit("-", 1)[1]) for d in disputes)
            assert numbers == list(range(1, 41)), numbers
            assert len({d["case_no"].rsplit("-", 1)[0] for d in disputes}) == 1

            # referrals made through both servers: each event reaches the court once
            refused = await asyncio.gather(*(c.post(f"{(one, two)[n % 2]}/api/v1/disputes/{d['id']}/refer",
                                                    json={"court_id": ids["court"], "reason": "当事人要求诉讼"},
                                                    headers=m) for n, d in enumerate(disputes[:20])))
            for r in refused:
                ok(r, 200)

            async def all_delivered() -> bool:
                return not await conn.fetchval("SELECT count(*) FROM webhook_outbox WHERE status <> 'delivered'")
            await _until(all_delivered, 60, "the deliveries did not all go out")
            events = {str(r["id"]) for r in await conn.fetch("SELECT id FROM webhook_outbox")}
            assert len(events) >= 20
            per_event: dict[str, int] = {}
            for got in court.received:
                per_event[got.webhook_id] = per_event.get(got.webhook_id, 0) + 1
            assert set(per_event) == events and set(per_event.values()) == {1}
            assert court.overlaps == []

            # a revoked token stops working in every process within the cache's 3 s
            token = cli(env, "token", "create", "--role", "admin", "--name", "to-revoke")
            t = {"Authorization": f"Bearer {token}"}
            for base in (one, one, one, two):
                ok(await c.get(f"{base}/api/v1/courts", headers=t), 200)
            cli(env, "token", "revoke", "to-revoke")
            await asyncio.sleep(3.5)
            for base in (one, one, one, one, two, two):
                assert (await c.get(f"{base}/api/v1/courts", headers=t)).status_code == 401

        # a session opened through one server holds in the other, and signing out there ends it
        done = subprocess.run(tiaojie("user", "create", "wang", "--role", "mediator", "--org", ids["org"],
                                      "--password-stdin"), env=env, input=PASSWORD + "\n", capture_output=True,
                              text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stderr
        with httpx.Client(timeout=30) as browser:   # cookies are not per port: one jar for both servers
            page = browser.get(f"{two}/ui/signin")
            r = browser.post(f"{two}/ui/signin", data={"_csrf_token": csrf_token(page.text), "username": "wang",
                                                       "password": PASSWORD})
            assert r.status_code == 303, r.text[:500]
            for base in (one, one, one):
                assert browser.get(f"{base}/ui/work").status_code == 200
            work = browser.get(f"{one}/ui/work")
            r = browser.post(f"{one}/ui/signout", data={"_csrf_token": csrf_token(work.text)})
            assert r.status_code == 303
            session = r.request.headers.get("cookie", "")
            assert "tj_session" in session
            stale = {"cookie": session}
            with httpx.Client(timeout=30) as old:
                for base in (two, one):
                    r = old.get(f"{base}/ui/work", headers=stale)
                    assert r.status_code == 303 and r.headers["location"].startswith("/ui/signin")
    finally:
        await conn.close()
    assert [a.stop(), b.stop(), w.stop()] == [0, 0, 0]
    # the parent of `--workers 2` ended its processes with itself
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in _spawned(a))


def _spawned(s: Started) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [p for p in psutil.Process(s.proc.pid).children(recursive=True)]
    return []


def _postmasters(cluster: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            cmd = p.info["cmdline"] or []
            if p.info["name"] == "postgres" and "-D" in cmd and Path(cmd[cmd.index("-D") + 1]) == cluster:
                found.append(p)
    return found


def test_serve_with_workers_starts_the_embedded_postgresql_once_and_stops_it(tmp_path, started):
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "TIAOJIE_DATABASE_URL"}
    env |= {"TIAOJIE_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
    port = free_port()
    s = started(env, tmp_path / "serve.log", "serve", "--workers", "2", "--port", str(port),
                "--admin-token-file", str(tmp_path / "admin"))
    s.answering(f"http://127.0.0.1:{port}")
    token = (tmp_path / "admin").read_text().strip()
    h = {"Authorization": f"Bearer {token}"}
    for _ in range(12):
        ok(httpx.get(f"http://127.0.0.1:{port}/api/v1/courts", headers=h, timeout=30), 200)
    assert len(_postmasters((data / "pg").resolve())) == 1
    assert s.log.read_text().count('"db.starting"') == 1
    # request counts are summed over both processes, whichever answers the scrape
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=h, timeout=30).text
    assert 'tiaojie_http_requests_total{method="GET",route="/api/v1/courts",status="200"} 12.0' in metrics
    assert s.stop() == 0
    assert _postmasters((data / "pg").resolve()) == []


async def test_the_processes_of_serve_workers_end_when_their_parent_is_killed(pool, database_url, tmp_path, started):
    await pool.execute("DROP DATABASE IF EXISTS tiaojie_orphans WITH (FORCE)")
    await pool.execute("CREATE DATABASE tiaojie_orphans")
    env = {**os.environ, "TIAOJIE_DATABASE_URL": database_url_for(database_url, "tiaojie_orphans"),
           "PYTHONUNBUFFERED": "1"}
    port = free_port()
    s = started(env, tmp_path / "serve.log", "serve", "--workers", "2", "--port", str(port))
    s.answering(f"http://127.0.0.1:{port}")
    children = [p for p in psutil.Process(s.proc.pid).children() if "spawn_main" in " ".join(p.cmdline())]
    assert len(children) == 2
    s.proc.send_signal(signal.SIGKILL)   # the parent alone, as the OOM killer would
    s.proc.wait()
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], "orphaned server processes keep the port"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    await pool.execute("DROP DATABASE IF EXISTS tiaojie_orphans WITH (FORCE)")
