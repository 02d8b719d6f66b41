"""The fixed bounds of stored business times, held by CHECK constraints (DESIGN.md "Data"),
and what an operator does with rows written before the constraints existed.

The service refuses out-of-bounds times with a 422 naming the field (`mediation.fields`);
the constraints are the safety net behind it for every other writer (SQL by hand, an
import, a restore). Bounds that move with the clock ("not in the future") stay in the
service only, so a restore never trips over them.

Adding the constraints to a database whose rows break them would fail half-way; instead
migration 2026-12-01T12:05 refuses with the case numbers, and `violations` lists them
again. Each listed dispute is then either corrected by hand (an UPDATE of the named
column to the true value, then `tiaojie migrate` again) or set aside with `quarantine`,
which moves the dispute and every row that refers to it into `quarantined_disputes` as
one JSON record (nothing is lost; the case number stays taken) and audits the move.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import asyncpg

from mediation import audit

#: 2000-01-01 00:00 in Beijing: no business time is earlier (API.md, "Business times")
EARLIEST = "timestamptz '2000-01-01 00:00:00+08'"
#: far beyond any real date and well inside what the drivers can read back (years ≤ 9999)
CEILING = "timestamptz '9000-01-01 00:00:00+00'"


def _time(column: str) -> str:
    return f"{column} >= {EARLIEST} AND {column} < {CEILING}"


@dataclass(frozen=True)
class Check:
    table: str
    name: str
    predicate: str
    #: what a clerk reads in the list of violations
    rule: str


#: The constraints migration 2026-12-01T12:05 adds. Changing one means a new migration.
CHECKS: tuple[Check, ...] = (
    Check("disputes", "disputes_registered_at_bounds", _time("registered_at"),
          "registered_at not before 2000-01-01 (Beijing)"),
    Check("disputes", "disputes_occurred_on_bounds",
          "occurred_on >= date '1949-10-01' AND occurred_on < date '9000-01-01'",
          "occurred_on not before 1949-10-01"),
    Check("disputes", "disputes_deadline_bounds",
          "deadline >= registered_at AND deadline <= "
          "((registered_at AT TIME ZONE 'Asia/Shanghai') + interval '10 years') AT TIME ZONE 'Asia/Shanghai'",
          "deadline not before registration nor more than 10 years after it"),
    Check("disputes", "disputes_concluded_at_bounds", _time("concluded_at"),
          "concluded_at not before 2000-01-01 (Beijing)"),
    Check("disputes", "disputes_last_move_at_bounds", _time("last_move_at"),
          "last_move_at not before 2000-01-01 (Beijing)"),
    Check("dispute_events", "dispute_events_at_bounds", _time("at"),
          "event time (at) not before 2000-01-01 (Beijing)"),
    Check("referrals", "referrals_times_bounds",
          f"{_time('created_at')} AND {_time('acknowledged_at')} AND {_time('decided_at')}",
          "referral times not before 2000-01-01 (Beijing)"),
)


def constraints_sql() -> str:
    return "\n".join(f"ALTER TABLE {c.table} ADD CONSTRAINT {c.name} CHECK ({c.predicate});" for c in CHECKS)


@dataclass(frozen=True)
class Violation:
    case_no: str
    dispute_id: uuid.UUID
    constraint: str
    rule: str

    def __str__(self) -> str:
        return f"{self.case_no}: {self.rule} ({self.constraint})"


async def violations(conn: asyncpg.Connection) -> list[Violation]:
    """Every dispute with a row that breaks one of `CHECKS`, by case number."""
    out: list[Violation] = []
    for check in CHECKS:
        key = "id" if check.table == "disputes" else "dispute_id"
        rows = await conn.fetch(
            f"SELECT d.case_no, d.id FROM disputes d WHERE d.id IN "
            f"(SELECT {key} FROM {check.table} WHERE NOT ({check.predicate}))")
        out.extend(Violation(r["case_no"], r["id"], check.name, check.rule) for r in rows)
    return sorted(out, key=lambda v: (v.case_no, v.constraint))


def refusal(found: list[Violation]) -> str:
    """The migration's message when rows break the bounds."""
    lines = [f"{len({v.case_no for v in found})} dispute(s) hold times outside the fixed bounds; "
             "the constraints were not added and nothing changed:"]
    lines += [f"  {v}" for v in found]
    lines.append("Correct each value with an UPDATE, or set the disputes aside with "
                 "`tiaojie data quarantine CASE_NO...` (mediation.bounds.quarantine), then migrate again.")
    return "\n".join(lines)


async def _referencing(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """(table, column) of every single-column foreign key onto disputes."""
    rows = await conn.fetch(
        """SELECT c.conrelid::regclass::text AS tbl, a.attname AS col
           FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           WHERE c.contype = 'f' AND c.confrelid = 'disputes'::regclass AND cardinality(c.conkey) = 1
           ORDER BY 1, 2""")
    return [(r["tbl"], r["col"]) for r in rows]


async def quarantine(conn: asyncpg.Connection, case_nos: list[str], *, actor: str) -> list[str]:
    """Move the disputes `case_nos` and every row that refers to them into
    `quarantined_disputes`, one JSON record each, in the caller's transaction. Answers
    the case numbers moved; unknown ones are ignored."""
    found = await violations(conn)
    reasons: dict[str, list[str]] = {}
    for v in found:
        reasons.setdefault(v.case_no, []).append(v.rule)
    rows = await conn.fetch("SELECT id, case_no FROM disputes WHERE case_no = ANY($1::text[]) ORDER BY case_no",
                            case_nos)
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    children: dict[uuid.UUID, dict[str, list]] = {i: {} for i in ids}
    for table, column in await _referencing(conn):
        for r in await conn.fetch(
                f'SELECT "{column}" AS dispute_id, to_jsonb(t)::text AS row FROM {table} t '
                f'WHERE "{column}" = ANY($1::uuid[])', ids):
            children[r["dispute_id"]].setdefault(table, []).append(json.loads(r["row"]))
        await conn.execute(f'DELETE FROM {table} WHERE "{column}" = ANY($1::uuid[])', ids)
    for r in rows:
        dispute = json.loads(await conn.fetchval("SELECT to_jsonb(d)::text FROM disputes d WHERE id = $1", r["id"]))
        await conn.execute(
            "INSERT INTO quarantined_disputes (dispute_id, case_no, reasons, record, actor) "
            "VALUES ($1, $2, $3, $4::jsonb, $5)",
            r["id"], r["case_no"], reasons.get(r["case_no"], []),
            json.dumps({"dispute": dispute, **children[r["id"]]}, ensure_ascii=False), actor)
        await audit.record(conn, actor=actor, action="dispute.quarantine", entity="dispute", entity_id=r["id"],
                           dispute_id=r["id"], detail={"case_no": r["case_no"],
                                                       "reasons": reasons.get(r["case_no"], [])})
    await conn.execute("DELETE FROM disputes WHERE id = ANY($1::uuid[])", ids)
    return [r["case_no"] for r in rows]


async def check_or_quarantine(url: str, case_nos: list[str] | None = None, *,
                              actor: str = "cli") -> tuple[list[str], list[Violation]]:
    """For the command line: quarantine `case_nos` if given, in the database at `url` (no
    migration runs first: this is what unblocks one), in one transaction. Answers the case
    numbers moved and what still violates afterwards."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            moved = await quarantine(conn, case_nos, actor=actor) if case_nos else []
            return moved, await violations(conn)
    finally:
        await conn.close()
