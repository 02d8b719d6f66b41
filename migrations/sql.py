"""Run a migration's raw SQL in one transaction on the configured engine's database.

Piccolo's column `choices` create no constraints and its migrations cannot express
deferrable foreign keys or trigram indexes, so the schema is written as SQL here."""

import asyncpg
from piccolo.engine import engine_finder


async def run_sql(sql: str) -> None:
    engine = engine_finder()
    conn = await asyncpg.connect(**engine.config)
    try:
        async with conn.transaction():
            await conn.execute(sql)
    finally:
        await conn.close()
