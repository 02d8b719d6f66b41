"""Bearer tokens → `Principal` on the connection's `user` (read it with
`api.guards.principal_of`; the guards live there too)."""

from __future__ import annotations

import time

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from mediation import accounts
from mediation.access import Principal


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("An `Authorization: Bearer <token>` header is required.")
        principal = await authenticate_cached(token.strip())
        if principal is None:
            raise NotAuthorizedException("The token is unknown or revoked.")
        return AuthenticationResult(user=principal, auth=token)


#: a known token's Principal is reused for this long, saving one query (and one pool
#: round trip) per request. A token revoked by another process (`tiaojie token revoke`,
#: another worker) stops working within TOKEN_CACHE_SECONDS; one revoked in this process
#: stops at once. Unknown and revoked tokens are never cached.
TOKEN_CACHE_SECONDS = 3.0
TOKEN_CACHE_MAX = 10_000
_token_cache: dict[str, tuple[float, int, Principal]] = {}


async def authenticate_cached(token: str) -> Principal | None:
    key = accounts.hash_token(token)
    now = time.monotonic()
    generation = accounts.revocations()
    hit = _token_cache.get(key)
    if hit is not None and hit[0] > now and hit[1] == generation:
        return hit[2]
    principal = await accounts.authenticate(token)
    if principal is None:
        _token_cache.pop(key, None)
        return None
    if len(_token_cache) >= TOKEN_CACHE_MAX:
        _token_cache.clear()
    _token_cache[key] = (now + TOKEN_CACHE_SECONDS, generation, principal)
    return principal
