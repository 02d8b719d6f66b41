"""Stored names, addresses, phone numbers and search text in the forms the service now
writes (DESIGN.md "Data"; issue 11 items 6, 7): NFC with zero-width and bidi-control
characters removed from names, phone numbers without spaces and dashes, and the search
text rebuilt from the cleaned words. Only rows that need it are touched; a phone number
that does not become valid is left as it is (the service masks whatever is stored)."""

import asyncpg
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from mediation import fields
from migrations.sql import connection

ID = "2026-12-01T12:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "normalise stored names, addresses, phone numbers and search text"

#: rows a cleaning may change, found by PostgreSQL (the same characters as fields.INVISIBLE)
SUSPECT = (r"(({col} ~ '[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
           r"\u0001-\u001f\u007f]') OR NOT ({col} IS NFC NORMALIZED))")
BAD_PHONE = r"(phone !~ '^\+?[0-9]{{7,15}}$')"


def _name(value: str | None) -> str | None:
    """A stored name cleaned as the service cleans new ones; control characters, which the
    service now refuses, become spaces (a stored row cannot be refused)."""
    if value is None:
        return None
    cleaned = " ".join("".join(" " if fields.has_control(c) else c for c in fields.clean(value)).split())
    return cleaned or value


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    normal = fields.normal_phone(value.strip())
    return normal if fields.PHONE.fullmatch(normal) else value


async def normalise(conn: asyncpg.Connection) -> dict[str, int]:
    changed = {"parties": 0, "mediators": 0, "orgs": 0, "disputes": 0}
    touched: set = set()
    rows = await conn.fetch(
        f"SELECT id, dispute_id, name, address, phone FROM dispute_parties WHERE {SUSPECT.format(col='name')} "
        f"OR {SUSPECT.format(col='address')} OR {BAD_PHONE.format()}")
    for r in rows:
        new = (_name(r["name"]), _name(r["address"]), _phone(r["phone"]))
        if new != (r["name"], r["address"], r["phone"]):
            await conn.execute("UPDATE dispute_parties SET name = $2, address = $3, phone = $4 WHERE id = $1",
                               r["id"], *new)
            changed["parties"] += 1
            touched.add(r["dispute_id"])
    for r in await conn.fetch(f"SELECT id, name, phone FROM mediators WHERE {SUSPECT.format(col='name')} "
                              f"OR {BAD_PHONE.format()}"):
        new = (_name(r["name"]), _phone(r["phone"]))
        if new != (r["name"], r["phone"]):
            await conn.execute("UPDATE mediators SET name = $2, phone = $3 WHERE id = $1", r["id"], *new)
            changed["mediators"] += 1
    for r in await conn.fetch(f"SELECT id, name FROM orgs WHERE {SUSPECT.format(col='name')}"):
        if _name(r["name"]) != r["name"]:
            await conn.execute("UPDATE orgs SET name = $2 WHERE id = $1", r["id"], _name(r["name"]))
            changed["orgs"] += 1
    ids = [r["id"] for r in await conn.fetch(f"SELECT id FROM disputes WHERE {SUSPECT.format(col='search_text')}")]
    for r in await conn.fetch(
            """SELECT d.id, d.case_no, d.summary, d.search_text,
                   array(SELECT p.name FROM dispute_parties p WHERE p.dispute_id = d.id ORDER BY p.position) AS names
               FROM disputes d WHERE d.id = ANY($1::uuid[])""", list(touched | set(ids))):
        text = r["case_no"].lower() + " " + fields.search_words(r["summary"], *r["names"])
        if text != r["search_text"]:
            await conn.execute("UPDATE disputes SET search_text = $2 WHERE id = $1", r["id"], text)
            changed["disputes"] += 1
    return changed


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await normalise(connection())

    manager.add_raw(run)
    return manager
