"""Who may call what, checked before a body is read (so 401 → 404/403 → 413 → 400 →
422 → 409 holds): the role guard, the scope guards, and the one way to get the caller.

The caller is a `Principal`, whichever way they proved who they are: the bearer-token
middleware (api.auth) puts it on the connection as `user`; a signed-in web session can do
the same (see `principal_of`). OPTIONS is never guarded: Litestar answers it itself
(204 with `Allow`) and the auth middleware lets it through without a user."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, SerializationException
from litestar.handlers.base import BaseRouteHandler

from api.params import path_id
from mediation import disputes, orgs
from mediation.access import Principal
from mediation.errors import Forbidden, NotFound
from referrals import courts, service

Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]


def principal_of(connection: ASGIConnection) -> Principal:
    """The caller. 401 when nobody signed in (never a KeyError from an unset scope key)."""
    user = connection.scope.get("user")
    if isinstance(user, Principal):
        return user
    raise NotAuthorizedException("An `Authorization: Bearer <token>` header is required.")


def _guard(check: Callable[[ASGIConnection, Principal], Awaitable[None]]) -> Guard:
    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if connection.scope.get("method") == "OPTIONS":
            return
        await check(connection, principal_of(connection))

    guard.__name__ = guard.__qualname__ = check.__name__
    guard.__doc__ = check.__doc__
    return guard


def roles(*allowed: str) -> Guard:
    """Only these roles pass; the others get 403."""

    async def role_guard(_: ASGIConnection, principal: Principal) -> None:
        if principal.role not in allowed:
            raise Forbidden("this needs the role {roles}", roles=" or ".join(allowed))

    return _guard(role_guard)


ADMIN = roles("admin")
COURT = roles("court")
READERS = roles("admin", "bureau", "mediator")
COURT_SIDE = roles("court", "admin")


@_guard
async def signed_in(_: ASGIConnection, __: Principal) -> None:
    """Anyone with a Principal: from a bearer token, or on the pages from a signed-in
    session (api.pages.session puts the session's Principal where the token's would be)."""


@_guard
async def dispute_readable(connection: ASGIConnection, principal: Principal) -> None:
    """404 unless the caller may read the dispute."""
    await disputes.check_access(principal, path_id(connection, "dispute_id"))


@_guard
async def dispute_actionable(connection: ASGIConnection, principal: Principal) -> None:
    """404 unless the caller may read the dispute, 403 unless it may act on it."""
    await disputes.check_access(principal, path_id(connection, "dispute_id"), act=True)


@_guard
async def org_admin(connection: ASGIConnection, principal: Principal) -> None:
    """404 when the caller may not read the org, then 403 unless admin."""
    await orgs.get_org(principal, path_id(connection, "org_id"))
    principal.require_admin()


@_guard
async def court_exists(connection: ASGIConnection, _: Principal) -> None:
    """404 for a court that is not registered (every role reads the court list)."""
    court_id = path_id(connection, "court_id")
    if not await courts.exists(court_id):
        raise NotFound("court {court_id} not found", court_id=court_id)


@_guard
async def referral_visible(connection: ASGIConnection, principal: Principal) -> None:
    """404 unless the referral is addressed to the calling court (or the caller is admin)."""
    await service.check_referral_access(principal, path_id(connection, "referral_id"))


@_guard
async def registers_at_own_org(connection: ASGIConnection, principal: Principal) -> None:
    """403 before 422 (API.md's order): a mediator registering at another organisation is
    refused whatever else the body holds. A body that cannot be read is left to the 400."""
    try:
        body = await connection.json()  # type: ignore[attr-defined]  (a POST's guards get the Request)
        org_id = uuid.UUID(body["org_id"])
    except (SerializationException, RecursionError, LookupError, TypeError, ValueError, AttributeError):
        return  # unreadable, or no usable org_id: the body check answers (a 413 still propagates)
    if not principal.may_act_on_dispute(org_id=org_id):
        raise Forbidden("a mediator registers disputes only at their own organisation")
