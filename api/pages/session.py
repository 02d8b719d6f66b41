"""The signed-in session of the pages: cookie → `WebUser`, its `Principal` on
`request.user` exactly where a bearer token's goes, so the pages use the same guards
(`api.guards`: `signed_in`, `ADMIN`, `principal_of`) as the API."""

from __future__ import annotations

import urllib.parse

from litestar.middleware import AbstractMiddleware
from litestar.types import Receive, Scope, Send

from mediation import web_sessions

COOKIE = "tj_session"
SIGN_IN_PATH = "/ui/signin"


class PageSessionMiddleware(AbstractMiddleware):
    """Puts the session's Principal on `scope["user"]` (None when signed out) and the
    `WebUser` on `scope["auth"]`; which pages need one is said by `api.guards.signed_in`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _cookie(scope, COOKIE)
        user = await web_sessions.user_of(token)
        scope["user"] = user.principal if user else None
        scope["auth"] = user
        await self.app(scope, receive, send)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v or None
    return None


def sign_in_url(next_path: str | None) -> str:
    if not next_path or not next_path.startswith("/ui/") or next_path.startswith("//"):
        return SIGN_IN_PATH
    return f"{SIGN_IN_PATH}?{urllib.parse.urlencode({'next': next_path})}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: only a page of this service."""
    if value and value.startswith("/ui/") and "\\" not in value and not value.startswith("//"):
        return value
    return "/ui/"
