"""A power cut on a busy machine: `tiaojie serve` and its embedded PostgreSQL are killed
with SIGKILL while writes are in flight, then the service is started again while three
CPU-bound processes keep both cores busy, so PostgreSQL is still in crash recovery (and the
killed postmaster may still be an unreaped zombie named in `postmaster.pid`) when the
service first looks. The test makes itself the processes' reaper (PR_SET_CHILD_SUBREAPER)
and reaps the killed postmaster only after the restart, as a busy init (or a container's
PID 1 that never reaps) does, so `postmaster.pid` names a zombie. It must wait and come back, every time, with every write it
acknowledged before the cut."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from mediation.embedded import EmbeddedPostgres, Postmaster
from tests.conftest import cluster_folder

TIAOJIE = Path(sys.executable).parent / "tiaojie"
CUTS = 3
START_TIMEOUT = 600  # a shared CI machine under three busy loops: generous, it is not what is measured


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([str(TIAOJIE), "serve", "--port", str(self.port)], env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, \
                f"tiaojie serve exited with {self.proc.returncode}:\n{self.log.read_text()[-4000:]}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/healthz", timeout=5).status_code == 200:
                    return
            time.sleep(0.5)
        raise AssertionError(f"tiaojie serve did not come up:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def set_child_subreaper(on: bool) -> None:
    import ctypes

    PR_SET_CHILD_SUBREAPER = 36
    assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0


def reap_zombies() -> None:
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error, ChildProcessError):
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, 0)


def power_cut(service: Service, cluster_dir: Path) -> None:
    """SIGKILL the service and every process of its PostgreSQL at once; the dead stay
    unreaped (zombies) until the caller reaps them."""
    pm = Postmaster.read(cluster_dir)
    assert pm is not None
    victims = [psutil.Process(pm.pid), *psutil.Process(pm.pid).children(recursive=True)]
    assert service.proc is not None
    os.killpg(service.proc.pid, signal.SIGKILL)
    for p in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    service.proc.wait()


class Writer(threading.Thread):
    """Registers organisations one after another; remembers those answered 201."""

    def __init__(self, service: Service, token: str, tag: str) -> None:
        super().__init__(daemon=True)
        self.service, self.token, self.tag = service, token, tag
        self.acknowledged: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.service.base, timeout=30,
                          headers={"Authorization": f"Bearer {self.token}"}) as http:
            i = 0
            while not self.stop.is_set():
                name = f"{self.tag}-{i:04d}人民调解委员会"
                try:
                    r = http.post("/api/v1/orgs", json={"name": name, "tier": "village", "kind": "village_committee",
                                                        "region_code": "511325101201"})
                except httpx.TransportError:
                    return  # the power went
                if r.status_code == 201:
                    self.acknowledged.append(name)
                i += 1


def stored_org_names(service: Service, token: str) -> set[str]:
    names: set[str] = set()
    cursor = None
    with httpx.Client(base_url=service.base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as http:
        while True:
            r = http.get("/api/v1/orgs", params={"limit": 500, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            body = r.json()
            names |= {o["name"] for o in body["items"]}
            cursor = body.get("next_cursor")
            if not cursor:
                return names


def busy_loops(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


@pytest.fixture
def data_root():
    with cluster_folder() as folder:
        yield folder


def test_power_cut_under_cpu_load_restarts_cleanly_with_every_acknowledged_write(tmp_path, data_root):
    data = data_root / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIAOJIE_")}
    env |= {"TIAOJIE_DATA_DIR": str(data), "TIAOJIE_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    cluster_dir = data / "pg"

    def cli(*args: str) -> str:
        done = subprocess.run([str(TIAOJIE), *args], env=env, capture_output=True, text=True, timeout=START_TIMEOUT)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    cli("migrate")
    token = cli("token", "create", "--role", "admin", "--name", "power-cut")
    service = Service(env, tmp_path / "serve.log")
    hogs: list[subprocess.Popen] = []
    acknowledged: list[str] = []
    set_child_subreaper(True)   # the postmaster, orphaned when pg_ctl exits, becomes our child
    try:
        service.start()
        service.wait_healthy()
        with httpx.Client(base_url=service.base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
            for code, name in [("510000", "四川省"), ("511300", "南充市"), ("511325", "西充县"),
                               ("511325101", "太平镇"), ("511325101201", "青龙村")]:
                r = http.post("/api/v1/regions", json={"code": code, "name": name})
                assert r.status_code == 201, r.text
        for cut in range(CUTS):
            writer = Writer(service, token, f"cut{cut}")
            writer.start()
            deadline = time.monotonic() + 120
            while len(writer.acknowledged) < 10 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(writer.acknowledged) >= 10, service.log.read_text()[-3000:]
            power_cut(service, cluster_dir)   # writes still in flight
            writer.join(timeout=60)
            acknowledged += writer.acknowledged

            hogs = busy_loops(3)
            service.start()
            service.wait_healthy()
            reap_zombies()           # only now: the restart found the killed postmaster a zombie
            for h in hogs:
                h.kill()
                h.wait()
            hogs = []
            stored = stored_org_names(service, token)
            missing = [n for n in acknowledged if n not in stored]
            assert missing == [], f"cut {cut + 1}: acknowledged but lost: {missing}"
        log = service.log.read_text()
        assert "Traceback" not in log
        assert "db.stale_pid" in log or "db.leftover" in log or "db.waiting" in log
    finally:
        for h in hogs:
            h.kill()
            h.wait()
        service.stop()
        set_child_subreaper(False)
        reap_zombies()
    # the last process to leave the cluster stopped it, though earlier users died without leaving
    deadline = time.monotonic() + START_TIMEOUT   # its shutdown, on a busy machine
    while EmbeddedPostgres(data).postmaster_pid is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    reap_zombies()
    assert EmbeddedPostgres(data).postmaster_pid is None


def test_a_command_waits_for_a_database_that_is_not_up_yet_and_says_so(tmp_path, data_root):
    server = EmbeddedPostgres(data_root / "db")
    url = server.start()
    socket_dir = server.socket_dir
    server.pg_ctl("-w", "-m", "fast", "stop", timeout=60)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIAOJIE_")}
    env |= {"TIAOJIE_DATABASE_URL": url, "TIAOJIE_DATA_DIR": str(tmp_path / "data"), "TIAOJIE_LOG_LEVEL": "INFO"}
    log = tmp_path / "migrate.log"
    proc = None
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen([str(TIAOJIE), "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while "db.waiting" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        assert "waiting for the database at postgresql://postgres@/postgres" in log.read_text()
        assert "to accept connections (nothing listens there yet)" in log.read_text()
        server.pg_ctl("-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(server.log_file), "start", timeout=120)
        assert proc.wait(timeout=START_TIMEOUT) == 0, log.read_text()
        assert "the database accepts connections after" in log.read_text()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        server.stop()
