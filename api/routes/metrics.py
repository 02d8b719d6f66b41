"""`/readyz` and `/metrics` (API.md "Operations").

`/metrics` is Prometheus text for an admin or a `metrics` token: requests by route template
and status with latency histograms (counted by `metrics_middleware`, in memory), and, read
when scraped (at most once every SCRAPE_CACHE_SECONDS, a handful of indexed counts),
deliveries pending and dead with the age of the oldest pending one, the connection pool,
and open and overdue disputes per county.
"""

from __future__ import annotations

import os
import time
from typing import Any

from litestar import Request, Response, get
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import multiprocess
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from api.answers import DATABASE_DOWN, Health
from api.routes.ops import UNHEALTHY
from mediation import accounts, db
from mediation.errors import Forbidden, Unauthorized

REQUESTS = CollectorRegistry(auto_describe=True)
REQUEST_COUNT = Counter("tiaojie_http_requests", "HTTP requests answered, by route template and status",
                        ["method", "route", "status"], registry=REQUESTS)
REQUEST_SECONDS = Histogram("tiaojie_http_request_duration_seconds", "Time to answer, by route template",
                            ["method", "route"], registry=REQUESTS,
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

SCRAPE_CACHE_SECONDS = 5.0
_cached: tuple[float, bytes] | None = None


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Counts each routed HTTP request under its route template (`/api/v1/disputes/{dispute_id}`),
    so the number of series stays bounded whatever the paths."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            route = scope.get("path_template") or "unmatched"
            method = scope.get("method", "GET")
            REQUEST_COUNT.labels(method, route, str(status)).inc()
            REQUEST_SECONDS.labels(method, route).observe(time.perf_counter() - started)

    return middleware


@get("/readyz", summary="200 once migrations are applied and the database answers, 503 otherwise",
     tags=["operations"], exclude_from_auth=True, responses=UNHEALTHY)
async def readyz() -> Response[Health]:
    if not await db.ping():
        return Response(DATABASE_DOWN, status_code=503)
    pending = await db.pending_migrations_cached()
    if pending:
        return Response(Health(status="migrating", detail=f"{len(pending)} migrations are not applied yet",
                               pending=[mid for mid, _ in pending]), status_code=503)
    return Response(Health(status="ready"), status_code=200)


@get("/metrics", summary="Prometheus metrics (an admin or a metrics token)", include_in_schema=False,
     exclude_from_auth=True)
async def metrics(request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("An `Authorization: Bearer <token>` header is required.")
    role = await accounts.token_role(token.strip())
    if role is None:
        raise Unauthorized("The token is unknown, expired or revoked.")
    if role not in ("admin", accounts.METRICS_ROLE):
        raise Forbidden("this needs an admin or a metrics token")
    return Response(_request_metrics() + await _database_metrics(), media_type=CONTENT_TYPE_LATEST)


def _request_metrics() -> bytes:
    """This process's request counts; under `serve --workers N` (PROMETHEUS_MULTIPROC_DIR set
    by the parent) the sum over every process, whichever of them answers the scrape."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(REQUESTS)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


async def _database_metrics() -> bytes:
    global _cached
    now = time.monotonic()
    if _cached is not None and now - _cached[0] < SCRAPE_CACHE_SECONDS:
        return _cached[1]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(await _read()))
    text = generate_latest(registry)
    _cached = (now, text)
    return text


async def _read() -> dict[str, Any]:
    pool = db.pool()
    async with db.connection() as conn:
        outbox = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM webhook_outbox WHERE status = 'pending') AS pending,
                      (SELECT count(*) FROM webhook_outbox WHERE status = 'dead') AS dead,
                      (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)
                         FROM webhook_outbox WHERE status = 'pending') AS oldest""")
        counties = await conn.fetch(
            """SELECT d.county_code, r.name, count(*) AS open, count(*) FILTER (WHERE d.deadline < now()) AS overdue
               FROM disputes d LEFT JOIN regions r ON r.code = d.county_code || '000000'
               WHERE d.status = 'open' GROUP BY d.county_code, r.name ORDER BY d.county_code""")
    return {"outbox": dict(outbox), "counties": [dict(c) for c in counties],
            "pool": (pool.get_size(), pool.get_idle_size(), pool.get_max_size())}


class _Snapshot:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def collect(self):
        outbox = self.values["outbox"]
        for name, doc, value in (
            ("tiaojie_deliveries_pending", "Court deliveries waiting to be sent", outbox["pending"]),
            ("tiaojie_deliveries_dead", "Court deliveries that gave up (need a retry by an admin)", outbox["dead"]),
            ("tiaojie_deliveries_oldest_pending_seconds", "Age of the oldest pending delivery", outbox["oldest"]),
        ):
            yield GaugeMetricFamily(name, doc, value=float(value))
        size, idle, most = self.values["pool"]
        pool = GaugeMetricFamily("tiaojie_db_pool_connections", "This process's database pool", labels=["state"])
        pool.add_metric(["busy"], size - idle)
        pool.add_metric(["idle"], idle)
        pool.add_metric(["max"], most)
        yield pool
        open_ = GaugeMetricFamily("tiaojie_disputes_open", "Open disputes per county", labels=["county", "name"])
        overdue = GaugeMetricFamily("tiaojie_disputes_overdue", "Open disputes past their deadline per county",
                                    labels=["county", "name"])
        for c in self.values["counties"]:
            open_.add_metric([c["county_code"], c["name"] or ""], c["open"])
            overdue.add_metric([c["county_code"], c["name"] or ""], c["overdue"])
        yield open_
        yield overdue
