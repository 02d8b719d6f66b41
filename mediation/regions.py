"""Regions (统计用区划代码): code forms, levels, parents, scope prefixes, import."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from mediation import audit, db
from mediation.codes import LEVEL_PREFIX_LENGTH, REGION_LEVELS
from mediation.errors import Conflict, Invalid, NotFound

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str
    parent_code: str | None

    @property
    def prefix(self) -> str:
        return scope_prefix(self.code, self.level)

    def as_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "level": self.level, "parent_code": self.parent_code}


def canonical(code: str, field: str = "region_code") -> str:
    """The 12-digit form of a 6-, 9- or 12-digit region code (2- and 4-digit province and
    city codes are accepted too)."""
    if not isinstance(code, str) or not code.isascii() or not code.isdigit() or len(code) not in (2, 4, 6, 9, 12):
        raise Invalid.field(field, "must be a region code of 6, 9 or 12 digits")
    return code.ljust(12, "0")


def derive_level(code12: str) -> str:
    if code12[9:] != "000":
        return "village"
    if code12[6:9] != "000":
        return "township"
    if code12[4:6] != "00":
        return "county"
    if code12[2:4] != "00":
        return "city"
    return "province"


def scope_prefix(code12: str, level: str) -> str:
    """The digits a code inside this region starts with (METRICS.md: trailing zeros
    stripped at the region's level)."""
    return code12[: LEVEL_PREFIX_LENGTH[level]]


async def filter_prefix(conn, code12: str) -> str:
    """The prefix a `region=` filter matches: the registered region's level decides
    (东莞市 441900 is a county), an unregistered code's level is derived from its digits."""
    level = await conn.fetchval("SELECT level FROM regions WHERE code = $1", code12)
    return scope_prefix(code12, level or derive_level(code12))


def _parent_candidates(code12: str, level: str) -> list[tuple[str, bool]]:
    """(parent code, required) from the nearest level up."""
    if level == "village":
        return [(code12[:9] + "000", True)]
    if level == "township":
        return [(code12[:6] + "000000", True)]
    if level == "county":
        return [(code12[:4] + "0" * 8, False), (code12[:2] + "0" * 10, False)]
    if level == "city":
        return [(code12[:2] + "0" * 10, False)]
    return []


def _level_is_possible(code12: str, level: str) -> bool:
    n = LEVEL_PREFIX_LENGTH[level]
    return code12[n:] == "0" * (12 - n) and code12[:n] != "0" * n


def _row(r) -> Region:
    return Region(code=r["code"], name=r["name"], level=r["level"], parent_code=r["parent_code"])


async def get(code: str) -> Region:
    code12 = canonical(code, "code")
    async with db.connection() as conn:
        r = await conn.fetchrow("SELECT code, name, level, parent_code FROM regions WHERE code = $1", code12)
    if r is None:
        raise NotFound("region {code} is not registered", code=code12)
    return _row(r)


async def find(code12: str) -> Region | None:
    async with db.connection() as conn:
        r = await conn.fetchrow("SELECT code, name, level, parent_code FROM regions WHERE code = $1", code12)
    return _row(r) if r else None


async def children(parent: str | None, *, within_prefix: str | None = None, limit: int = 500,
                   after: str | None = None) -> tuple[list[Region], int]:
    conds, args = [], []
    if parent is None:
        conds.append("parent_code IS NULL")
    else:
        args.append(canonical(parent, "parent"))
        conds.append(f"parent_code = ${len(args)}")
    if within_prefix:
        args.append(within_prefix + "%")
        conds.append(f"code LIKE ${len(args)}")
    where = " AND ".join(conds)
    async with db.connection() as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM regions WHERE {where}", *args)
        page_args = list(args)
        page_where = where
        if after:
            page_args.append(after)
            page_where += f" AND code > ${len(page_args)}"
        page_args.append(limit)
        rows = await conn.fetch(
            f"SELECT code, name, level, parent_code FROM regions WHERE {page_where} ORDER BY code LIMIT ${len(page_args)}",
            *page_args,
        )
    return [_row(r) for r in rows], total


async def create(*, code: str, name: str, level: str | None = None, conn=None, actor: str = "system") -> Region:
    code12 = canonical(code, "code")
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or "\x00" in name:
        raise Invalid.field("name", "must be 1 to 100 characters")
    if level is None:
        level = derive_level(code12)
    elif level not in REGION_LEVELS:
        raise Invalid.field("level", "must be one of {choices}", choices=", ".join(REGION_LEVELS))
    if not _level_is_possible(code12, level):
        raise Invalid.field("level", "code {code} cannot be a {level}", code=code12, level=level)
    async with db.transaction() as c:
        parent_code = None
        for candidate, required in _parent_candidates(code12, level):
            if candidate == code12:
                continue
            exists = await c.fetchval("SELECT 1 FROM regions WHERE code = $1", candidate)
            if exists:
                parent_code = candidate
                break
            if required:
                need = "township" if level == "village" else "county"
                raise Invalid.field("code", "its {level} {code} is not registered", level=need, code=candidate)
        row = await c.fetchrow(
            """INSERT INTO regions (code, name, level, prefix, parent_code) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (code) DO NOTHING RETURNING code""",
            code12, name.strip(), level, scope_prefix(code12, level), parent_code,
        )
        if row is None:
            raise Conflict("region {code} already exists", code=code12)
        await audit.record(c, actor=actor, action="region.create", entity="region", entity_id=code12,
                           detail={"name": name.strip(), "level": level})
    return Region(code=code12, name=name.strip(), level=level, parent_code=parent_code)


# ---------------------------------------------------------------- import

@dataclass
class ImportResult:
    read: int = 0
    written: int = 0
    skipped: list[str] | None = None


def parse_division_file(text: str) -> list[tuple[str, str, str | None]]:
    """Rows of (code, name, level or None) from a division-code CSV (`code,name,...`) as
    published in the national code files; county-level codes ending in `00` (东莞市 441900)
    are counties."""
    rows = []
    reader = csv.reader(io.StringIO(text))
    for line in reader:
        if not line or not line[0].strip():
            continue
        code = line[0].strip().lstrip("\ufeff")
        if not code.isdigit():
            continue  # the heading
        name = line[1].strip() if len(line) > 1 else ""
        level = "county" if len(code) == 6 else None
        rows.append((code, name, level))
    return rows


async def import_rows(rows: Iterable[tuple[str, str, str | None]], *,
                      progress: Callable[[int, int], None] | None = None, batch: int = 2000) -> ImportResult:
    """Upsert regions, shallowest first, so every township finds its county. Rows whose
    required parent is missing are skipped and reported."""
    order = {lvl: i for i, lvl in enumerate(LEVEL_PREFIX_LENGTH)}
    by_code: dict[str, tuple[str, str]] = {}
    for code, name, level in rows:
        code12 = canonical(code, "code")
        lvl = level or derive_level(code12)
        # a county-level city (东莞市 4419 / 441900) is one code: the county entry wins
        if code12 not in by_code or order[lvl] > order[by_code[code12][1]]:
            by_code[code12] = (name, lvl)
    items = sorted(((c, n, lv) for c, (n, lv) in by_code.items()), key=lambda x: (order[x[2]], x[0]))
    # a statement cannot see its own inserts: one level at a time, so parents exist
    chunks = []
    for lvl in LEVEL_PREFIX_LENGTH:
        same = [i for i in items if i[2] == lvl]
        chunks.extend(same[s : s + batch] for s in range(0, len(same), batch))
    result = ImportResult(read=len(items), skipped=[])
    done = 0
    for chunk in chunks:
        codes = [c for c, _, _ in chunk]
        names = [n for _, n, _ in chunk]
        levels = [lv for _, _, lv in chunk]
        prefixes = [scope_prefix(c, lv) for c, _, lv in chunk]
        async with db.transaction() as conn:
            written = await conn.fetch(
                """
                WITH input AS (
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                        AS t(code, name, level, prefix)
                ), located AS (
                    SELECT i.*,
                        CASE i.level
                            WHEN 'village' THEN (SELECT r.code FROM regions r WHERE r.code = substr(i.code, 1, 9) || '000')
                            WHEN 'township' THEN (SELECT r.code FROM regions r WHERE r.code = substr(i.code, 1, 6) || '000000')
                            WHEN 'county' THEN coalesce(
                                (SELECT r.code FROM regions r WHERE r.code = substr(i.code, 1, 4) || '00000000' AND r.code <> i.code),
                                (SELECT r.code FROM regions r WHERE r.code = substr(i.code, 1, 2) || '0000000000'))
                            WHEN 'city' THEN (SELECT r.code FROM regions r WHERE r.code = substr(i.code, 1, 2) || '0000000000')
                        END AS parent_code
                    FROM input i
                )
                INSERT INTO regions (code, name, level, prefix, parent_code)
                SELECT code, name, level, prefix, parent_code FROM located
                WHERE level NOT IN ('village', 'township') OR parent_code IS NOT NULL
                ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level,
                    prefix = excluded.prefix, parent_code = excluded.parent_code
                RETURNING code
                """,
                codes, names, levels, prefixes,
            )
        got = {r["code"] for r in written}
        result.written += len(got)
        result.skipped.extend(c for c in codes if c not in got)
        done += len(chunk)
        if progress:
            progress(done, len(items))
    return result


async def import_file(path: Path, *, progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Import one division-code CSV, or a folder holding provinces/cities/areas/streets."""
    if path.is_dir():
        rows = []
        for name in ("provinces.csv", "cities.csv", "areas.csv", "streets.csv"):
            if (path / name).exists():
                rows.extend(parse_division_file((path / name).read_text(encoding="utf-8-sig")))
    else:
        rows = parse_division_file(path.read_text(encoding="utf-8-sig"))
    return await import_rows(rows, progress=progress)


async def import_county(county_code: str) -> ImportResult:
    """Import one county with its province, city and townships from the shipped files."""
    c6 = county_code[:6]
    rows: list[tuple[str, str, str | None]] = []
    for name, keep in (
        ("provinces.csv", lambda code: code == c6[:2]),
        ("cities.csv", lambda code: code == c6[:4]),
        ("areas.csv", lambda code: code == c6),
        ("streets.csv", lambda code: code.startswith(c6)),
    ):
        rows.extend(r for r in parse_division_file((DATA_DIR / name).read_text(encoding="utf-8")) if keep(r[0]))
    return await import_rows(rows)


async def registered(conn, code12: str) -> bool:
    """Whether the region exists, on the caller's connection (inside its transaction)."""
    return bool(await conn.fetchval("SELECT 1 FROM regions WHERE code = $1", code12))
