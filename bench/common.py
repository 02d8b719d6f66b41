"""Shared pieces of the benchmarks: a database, a running `tiaojie serve`, a small
HTTP/1.1 client, CPU accounting from /proc and percentiles.

Nothing here is imported by the service; the benchmarks import the service only to
start an embedded PostgreSQL and to read its code tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the machine

def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    return f"{os.cpu_count()} CPUs (nproc), {model}{mem}, Python {sys.version.split()[0]}"


# ---------------------------------------------------------------- a database

class Database:
    """TIAOJIE_DATABASE_URL when set, else an embedded PostgreSQL in a temporary folder."""

    def __init__(self) -> None:
        self.url = os.environ.get("TIAOJIE_DATABASE_URL") or None
        self.embedded = None
        self.tmp: tempfile.TemporaryDirectory | None = None

    def start(self) -> str:
        if self.url is None:
            sys.path.insert(0, str(ROOT))
            from mediation.embedded import EmbeddedPostgres

            self.tmp = tempfile.TemporaryDirectory(prefix="tiaojie-bench-")
            self.embedded = EmbeddedPostgres(Path(self.tmp.name))
            self.url = self.embedded.start()
        return self.url

    @property
    def postmaster_pid(self) -> int | None:
        return None if self.embedded is None else self.embedded.postmaster_pid

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
        if self.tmp is not None:
            self.tmp.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiaojie(*args: str, url: str) -> str:
    """Run the `tiaojie` command against `url` and return its stdout."""
    env = {**os.environ, "TIAOJIE_DATABASE_URL": url}
    out = subprocess.run([str(VENV_BIN / "tiaojie"), *args], env=env, capture_output=True, text=True,
                         cwd=ROOT, timeout=120, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"tiaojie {' '.join(args)} failed: {out.stderr[-2000:]}")
    return out.stdout.strip()


# ---------------------------------------------------------------- the server

@dataclass
class Server:
    """`tiaojie serve --workers N` as a subprocess on 127.0.0.1."""

    url: str
    workers: int = 1
    log_path: Path | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    how: str = ""
    source: Path | None = None  # run the server from a copy of the packages (A/B of a change)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        env = {**os.environ, "TIAOJIE_DATABASE_URL": self.url}
        if self.source is not None:
            env["PYTHONPATH"] = str(self.source)
        cmd = [str(VENV_BIN / "tiaojie"), "serve", "--port", str(self.port), "--workers", str(self.workers)]
        self.how = f"tiaojie serve --workers {self.workers}"
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path else ""
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {' '.join(cmd)}\n{tail}")
            with contextlib.suppress(OSError), urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                if r.status == 200 and len(self.worker_pids()) >= self.workers:
                    return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("the server did not answer /healthz in time")

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the server itself, or uvicorn's workers)."""
        if self.proc is None:
            return []
        if self.workers == 1:
            return [self.proc.pid]
        return [p for p in children(self.proc.pid) if "spawn_main" in _cmdline(p)]

    def all_pids(self) -> list[int]:
        return [] if self.proc is None else [self.proc.pid, *descendants(self.proc.pid)]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- /proc accounting

def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and int(st[1]) == pid:
                out.append(int(entry))
    return out


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out.extend(kids)
        todo.extend(kids)
    return out


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU seconds used so far by these processes (not their children)."""
    total = 0
    for pid in pids:
        st = _stat(pid)
        if st is not None:
            total += int(st[11]) + int(st[12])
    return total / CLK_TCK


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class CpuMeter:
    """CPU seconds per named group of processes between start() and stop(). Groups are
    callables returning pids, re-evaluated at both ends (PostgreSQL backends come and go,
    so a group's figure covers the processes alive at the end; backends live as long as
    the pools, which outlive the window)."""

    def __init__(self, groups: dict[str, callable]) -> None:
        self.groups = groups
        self.before: dict[str, dict[int, float]] = {}
        self.result: dict[str, float] = {}
        self.machine: float = 0.0

    def _snap(self) -> dict[str, dict[int, float]]:
        return {name: {p: cpu_seconds([p]) for p in pids()} for name, pids in self.groups.items()}

    def start(self) -> None:
        self.before = self._snap()
        self.m0 = machine_busy()
        self.t0 = time.monotonic()

    def stop(self) -> None:
        after = self._snap()
        m1 = machine_busy()
        self.elapsed = time.monotonic() - self.t0
        for name, procs in after.items():
            self.result[name] = sum(v - self.before[name].get(p, 0.0) for p, v in procs.items())
        busy = m1[0] - self.m0[0]
        self.machine = busy / CLK_TCK

    def shares(self) -> dict[str, float]:
        """CPU cores used on average by each group (1.0 = one core busy the whole time)."""
        out = {name: secs / self.elapsed for name, secs in self.result.items()}
        out["whole machine"] = self.machine / self.elapsed
        return out


# ---------------------------------------------------------------- statistics

def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list; nan when empty."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


# ---------------------------------------------------------------- a small HTTP/1.1 client

class HttpError(Exception):
    pass


class RawHttp:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for JSON
    requests. A load generator built on httpx spends several times the CPU per request
    of this one, and on a small machine that CPU is taken from the server under test."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = (f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                     "Content-Type: application/json\r\nAccept: application/json\r\n").encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            await self._connect()
        assert self.reader is not None and self.writer is not None
        self.writer.write(b"%s %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
                          % (method.encode(), path.encode(), self.head, len(body), body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        chunked = close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            payload = b"".join(parts)
        elif length is not None:
            payload = await self.reader.readexactly(length)
        else:
            raise HttpError("a response without Content-Length")
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def use_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
