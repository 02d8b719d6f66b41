"""The Litestar application: one factory wires routes, auth, errors, docs and the
database lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar_offline_docs.core import generate_static_files_config

from api.auth import BearerTokenMiddleware
from api.middleware import request_context_middleware, stamp_response
from api.pages import csrf_config, page_handlers, security_headers, template_config, use_shared_secret
from api.options import rebind_options
from api.problems import EXCEPTION_HANDLERS, document_errors, problem_page
import referrals
from api.routes.court_api import CourtEntrustmentController, CourtReferralController
from api.routes.courts import CourtAdminController, CourtController
from api.routes.deliveries import DeliveryController
from api.routes.calendar import CalendarController
from api.routes.disputes import DisputeController
from api.routes.metrics import metrics, metrics_middleware, readyz
from api.routes.ops import AuditController, favicon, healthz
from api.routes.public import public_lookup
from api.routes.risk import RiskController, WarningController
from api.routes.registry import OrgController, RegionController
from api.routes.stats import ReportController, StatsController
from api.validation import check_request
from mediation import early_warning, lookup, workdays
from mediation.db import Database
from mediation.settings import Settings, load
from referrals.worker import start_in_process

log = structlog.get_logger("tiaojie")

DOCS_STATIC = "/static/docs"


def api_handlers() -> list[Any]:
    return [RegionController, OrgController, DisputeController, AuditController, CourtController,
            CourtAdminController, CourtReferralController, CourtEntrustmentController, DeliveryController,
            StatsController, ReportController, CalendarController, RiskController, WarningController]


def create_app(*, settings: Settings | None = None, manage_database: bool = True, run_worker: bool = True,
               debug: bool = False) -> Litestar:
    settings = settings or load()
    referrals.install()  # the court side: its dispute actions and its subscriber to dispute events
    early_warning.install()  # POST /disputes/{id}/risk

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        database = Database(settings) if manage_database else None
        if database is not None:
            await database.start()
            await use_shared_secret(app)
        app.state.database = database
        worker = None
        background: list[asyncio.Task] = []
        if run_worker:
            worker = await start_in_process()
            background.append(asyncio.create_task(workdays.watch_missing_years(), name="calendar-watch"))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if worker is not None:
                await worker.stop()
            if database is not None:
                await database.stop()

    api = Router(path="/api/v1", route_handlers=api_handlers(), security=[{"bearer": []}])
    docs_static = generate_static_files_config(static_files_handler_path=DOCS_STATIC)
    static_router = create_static_files_router(path=DOCS_STATIC, directories=docs_static.directories,
                                               name="docs-static", include_in_schema=False)
    openapi = OpenAPIConfig(
        title="tiaojie 调解 API",
        version="1",
        description=(
            "People's-mediation case tracking and the 诉调对接 court handoff. "
            "Every /api/v1 call needs `Authorization: Bearer <token>`. Errors are RFC 9457 problem+json."
        ),
        path="/schema",
        render_plugins=[SwaggerRenderPlugin(
            js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            css_url=f"{DOCS_STATIC}/swagger-ui.css",
            standalone_preset_js_url=f"{DOCS_STATIC}/swagger-ui-standalone-preset.js",
            favicon="<link rel='icon' type='image/svg+xml' href='/favicon.svg'>",
            path="/",
        )],
        components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
    )
    auth = DefineMiddleware(BearerTokenMiddleware, exclude=["^/healthz", "^/readyz", "^/metrics", "^/schema",
                                                            "^/static", "^/ui", "^/$",
                                                            "^/favicon", "^/problems/"])
    app = Litestar(
        route_handlers=[api, healthz, readyz, metrics, favicon, public_lookup, problem_page, static_router,
                        *page_handlers()],
        middleware=[request_context_middleware, metrics_middleware, auth],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=openapi,
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        before_send=[stamp_response, security_headers],
        before_request=check_request,
        csrf_config=csrf_config(settings),
        template_config=template_config(),
        state=State({"settings": settings}),
        debug=debug,
        logging_config=None,
    )
    app.state.trusted_proxies = lookup.Proxies.parse(settings.trusted_proxies)
    # outermost, so the router's own answers (404 for an unknown route, 405) carry a request id too
    app.asgi_handler = request_context_middleware(app.asgi_handler)
    document_errors(app)
    rebind_options(app)
    return app
