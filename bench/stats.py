"""Time the statistics queries on a generated province (bench/generate.py), each against a
hand-written single SQL statement for the same figures, in the same run.

    python bench/stats.py [--repeat 5]

Reads `TIAOJIE_DATABASE_URL`, or the embedded PostgreSQL in `TIAOJIE_DATA_DIR`. Measures
(median of --repeat runs after one warm-up): the busiest county's last full month, the
province's last full month, the province's 12-month trend, the province's hotspots and
one drill-down page (50 received disputes of the province's month). The hand-written
statements compute the totals only (no children or breakdowns), straight from the three
index-friendly sets (received, concluded, open at the end) and the month's events.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from mediation import clock, db, stats  # noqa: E402
from mediation.access import SYSTEM  # noqa: E402

HAND_COUNTS = """
WITH scoped AS (
    SELECT d.* FROM disputes d WHERE d.region_code LIKE $1 AND d.registered_at >= $2 AND d.registered_at < $3
    UNION
    SELECT d.* FROM disputes d WHERE d.region_code LIKE $1 AND d.concluded_at >= $2 AND d.concluded_at < $3
    UNION
    SELECT d.* FROM disputes d WHERE d.region_code LIKE $1 AND d.registered_at < $3
        AND (d.concluded_at IS NULL OR d.concluded_at >= $3) AND {open_hint}
)
SELECT
    count(*) FILTER (WHERE registered_at >= $2 AND registered_at < $3) AS received,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3) AS concluded,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status IN ('resolved', 'failed', 'referred', 'returned')) AS mediated,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status = 'resolved') AS resolved,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status = 'failed') AS failed,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status = 'referred') AS referred,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status = 'returned') AS returned,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status = 'withdrawn') AS withdrawn,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status = 'rejected') AS rejected,
    count(*) FILTER (WHERE registered_at < $3 AND (concluded_at IS NULL OR concluded_at >= $3)) AS open_at_end,
    count(*) FILTER (WHERE registered_at < $3 AND (concluded_at IS NULL OR concluded_at >= $3) AND deadline < $3) AS overdue_at_end,
    count(*) FILTER (WHERE registered_at >= $2 AND registered_at < $3 AND source = 'court_entrusted') AS entrusted_received,
    count(*) FILTER (WHERE registered_at >= $2 AND registered_at < $3 AND persons_involved >= 5) AS group_received,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status = 'resolved' AND agreement_form = 'written') AS written,
    coalesce(sum(agreement_amount) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status = 'resolved'), 0) AS amount,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status IN ('resolved', 'failed', 'referred', 'returned') AND source <> 'court_entrusted' AND entry_tier = 'village') AS village_d,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status = 'resolved' AND source <> 'court_entrusted' AND entry_tier = 'village' AND highest_tier = 'village') AS village_n,
    count(*) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status <> 'rejected' AND concluded_at <= deadline) AS on_time_n,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY concluded_at - registered_at) FILTER (WHERE concluded_at >= $2 AND concluded_at < $3 AND status = 'resolved') AS median
FROM scoped
"""
HAND_EVENTS = """
SELECT count(*) FILTER (WHERE e.kind = 'escalated') AS escalations,
       count(*) FILTER (WHERE e.kind = 'confirmation_applied') AS applied,
       count(*) FILTER (WHERE e.kind = 'referral_decided' AND e.detail->>'decision' = 'confirmed') AS granted,
       count(*) FILTER (WHERE e.kind = 'visit') AS visits
FROM dispute_events e JOIN disputes d ON d.id = e.dispute_id
WHERE e.kind IN ('escalated', 'confirmation_applied', 'referral_decided', 'visit') AND e.at >= $2 AND e.at < $3
  AND d.region_code LIKE $1
"""


async def timed(fn, repeat: int) -> float:
    await fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs) * 1000


def connect_url() -> tuple[str, object | None]:
    url = os.environ.get("TIAOJIE_DATABASE_URL")
    if url:
        return url, None
    from mediation.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(Path(os.environ.get("TIAOJIE_DATA_DIR") or "./.tiaojie").expanduser().resolve())
    return server.start(create=False), server


async def run(args) -> None:
    url, server = connect_url()
    try:
        await db.migrate(url)   # as `tiaojie serve` does: the indexes of the current schema
        await db.connect(url, min_size=1, max_size=2)
        async with db.connection() as conn:
            await conn.execute("ANALYZE disputes")
            n = await conn.fetchval("SELECT count(*) FROM disputes")
            last = await conn.fetchval("SELECT max(registered_at) FROM disputes")
            county = await conn.fetchval("SELECT county_code FROM disputes GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        local = clock.local(last)
        month = f"{local.year:04d}-{local.month:02d}"
        p = stats.period(month)
        first = stats.month_index(p.start.year, p.start.month) - 11
        results = []

        async def hand(prefix: str, hint: str = "TRUE"):
            async with db.connection() as conn:
                await conn.fetchrow(HAND_COUNTS.replace("{open_hint}", hint), prefix + "%", p.start, p.end)
                await conn.fetchrow(HAND_EVENTS, prefix + "%", p.start, p.end)

        async def hand_trend():
            for i in range(first, first + 12):
                q = stats.period_of_index(i)
                async with db.connection() as conn:
                    await conn.fetchrow(HAND_COUNTS.replace("{open_hint}", "TRUE"), "51%", q.start, q.end)
                    await conn.fetchrow(HAND_EVENTS, "51%", q.start, q.end)

        cases = [
            (f"county-month ({county}, {month})", lambda: stats.monthly(SYSTEM, county, month), lambda: hand(county)),
            (f"province-month (51, {month})", lambda: stats.monthly(SYSTEM, "51", month), lambda: hand("51")),
            ("province trend, 12 months", lambda: stats.trend(SYSTEM, "51", stats.period_of_index(first).month, month),
             hand_trend),
            (f"province hotspots ({month})", lambda: stats.hotspots(SYSTEM, "51", month), None),
            ("drill-down page (province received, 50)", lambda: stats.cases(
                SYSTEM, stats.CaseQuery(region="51", month=month, metric="received"), limit=50), None),
        ]
        for name, ours, theirs in cases:
            mine = await timed(ours, args.repeat)
            other = await timed(theirs, args.repeat) if theirs else None
            results.append((name, mine, other))
        print(f"machine: {machine()}")
        print(f"disputes: {n:,}; month {month}; repeat {args.repeat} (median)")
        print("| query | tiaojie ms | hand-written ms | ratio |")
        print("|---|---|---|---|")
        for name, mine, other in results:
            ratio = f"{mine / other:.2f}×" if other else "–"
            print(f"| {name} | {mine:,.1f} | {'–' if other is None else f'{other:,.1f}'} | {ratio} |")
    finally:
        await db.disconnect()
        if server is not None:
            server.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query after one warm-up (default 5)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    cli()
