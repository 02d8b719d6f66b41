"""The web pages (server-rendered Jinja, in Chinese, usable without JavaScript): one
router under /ui with the sign-in session, CSRF for every form, the security headers
and our own CSS under /static/ui."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from litestar import Litestar, Router, get
from litestar.config.csrf import CSRFConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import MutableScopeHeaders
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope

from api.pages.account import ACCOUNT_HANDLERS
from api.pages.admin import ADMIN_HANDLERS
from api.pages.bureau import BUREAU_HANDLERS
from api.pages.disputes import DISPUTE_HANDLERS
from api.pages.lookup import LOOKUP_HANDLERS
from api.pages.documents import DOCUMENT_HANDLERS
from api.pages.render import PAGE_EXCEPTION_HANDLERS
from api.pages.session import PageSessionMiddleware
from mediation import web_sessions
from mediation.settings import Settings

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
CSRF_COOKIE = "tj_csrf"

#: every answer but the API docs page (whose plugin emits an inline script) carries these
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
     b"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


async def security_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook for every response (error answers of middleware too)."""
    if message["type"] != "http.response.start" or scope.get("path", "").startswith("/schema"):
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS:
        headers[name.decode()] = value.decode()


def csrf_config(settings: Settings) -> CSRFConfig:
    """Double-submit cookie checked on every unsafe request outside the bearer API. The
    key is replaced at start-up by one all serving processes share (`use_shared_secret`)."""
    return CSRFConfig(secret=secrets.token_hex(32), cookie_name=CSRF_COOKIE, cookie_httponly=True,
                      cookie_samesite="strict", cookie_secure=settings.cookie_secure, exclude=["^/api/"])


async def use_shared_secret(app: Litestar) -> None:
    if app.csrf_config is not None:
        app.csrf_config.secret = await web_sessions.shared_secret("csrf")


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)


@get("/", name="root", include_in_schema=False)
async def root() -> Redirect:
    return Redirect(path="/ui/", status_code=303)


def page_handlers() -> list[Any]:
    pages = Router(path="/ui", route_handlers=[*ACCOUNT_HANDLERS, *DISPUTE_HANDLERS, *DOCUMENT_HANDLERS, *ADMIN_HANDLERS, *BUREAU_HANDLERS],
                   middleware=[PageSessionMiddleware], exception_handlers=PAGE_EXCEPTION_HANDLERS,
                   include_in_schema=False)
    static = create_static_files_router(path="/static/ui", directories=[STATIC], name="page-static",
                                        include_in_schema=False)
    return [root, pages, static, *LOOKUP_HANDLERS]  # /lookup: the parties', no sign-in
