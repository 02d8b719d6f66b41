"""API tokens (stored only as SHA-256 hashes) and the people who sign in to the pages."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from mediation import audit, db
from mediation.access import Principal
from mediation.codes import ROLES
from mediation.errors import Conflict, Invalid, NotFound
from mediation.regions import canonical, scope_prefix

TOKEN_PREFIX = "tj_"


_revocations = 0


def revocations() -> int:
    """How many tokens this process has revoked; caches of `authenticate` answers
    (api.auth) drop everything when it changes, so a revocation here acts at once."""
    return _revocations


def hash_token(token: str) -> str:
    # tokens are 256 random bits, so a fast hash is enough; passwords get argon2
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedToken:
    id: uuid.UUID
    name: str
    token: str
    role: str


#: a token that may read /metrics and nothing else (API.md "Operations")
METRICS_ROLE = "metrics"
TOKEN_ROLES: tuple[str, ...] = (*ROLES, METRICS_ROLE)
#: which scope option each role takes; any other is refused (an --org on an admin token)
SCOPE_OPTION = {"admin": None, "bureau": "region", "mediator": "org", "court": "court", METRICS_ROLE: None}
#: `last_used_at` is written at most this often per token and process (not on every request)
LAST_USED_EVERY_SECONDS = 300.0
_last_used_marked: dict[uuid.UUID, float] = {}


async def _check_scope(conn, role: str, region: str | None, org_id: uuid.UUID | None,
                       court_id: uuid.UUID | None, *, roles: tuple[str, ...] = TOKEN_ROLES,
                       what: str = "token") -> str | None:
    if role not in roles:
        raise Invalid.field("role", "must be one of {choices}", choices=", ".join(roles))
    wanted = SCOPE_OPTION[role]
    for option, value in (("region", region), ("org", org_id), ("court", court_id)):
        if value is not None and option != wanted:
            article = "an" if role[0] in "aeiou" else "a"
            if wanted:
                raise Invalid.field(option, "{article} {role} {what} takes no --{option} (it takes --{wanted})",
                                    article=article, role=role, what=what, option=option, wanted=wanted)
            raise Invalid.field(option, "{article} {role} {what} takes no --{option}", article=article, role=role,
                                what=what, option=option)
    region12 = None
    if role == "bureau":
        if not region:
            raise Invalid.field("region", "a bureau {what} needs --region", what=what)
        region12 = canonical(region, "region")
        if not await conn.fetchval("SELECT 1 FROM regions WHERE code = $1", region12):
            raise Invalid.field("region", "region {code} is not registered", code=region12)
    if role == "mediator":
        if org_id is None:
            raise Invalid.field("org", "a mediator {what} needs --org", what=what)
        if not await conn.fetchval("SELECT 1 FROM orgs WHERE id = $1", org_id):
            raise Invalid.field("org", "org {org_id} does not exist", org_id=org_id)
    if role == "court":
        if court_id is None:
            raise Invalid.field("court", "a court {what} needs --court", what=what)
        if not await conn.fetchval("SELECT 1 FROM courts WHERE id = $1", court_id):
            raise Invalid.field("court", "court {court_id} does not exist", court_id=court_id)
    return region12


async def create_token(*, role: str, region: str | None = None, org_id: uuid.UUID | None = None,
                       court_id: uuid.UUID | None = None, name: str | None = None,
                       expires_in_days: int | None = None, actor: str = "system", conn=None) -> CreatedToken:
    """`expires_in_days=None`: the token does not expire (tests, the demo); the command
    line always gives a number."""
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise Invalid.field("expires_in", "must be between 1 and 3650 days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = uuid.uuid4()
    name = name or f"{role}-{token_id.hex[:8]}"
    async with db.transaction() as c:
        region12 = await _check_scope(c, role, region, org_id, court_id)
        row = await c.fetchrow(
            """INSERT INTO api_tokens (id, name, token_hash, prefix, role, region_code, org_id, court_id, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(days => $9::int))
               ON CONFLICT (name) DO NOTHING RETURNING id""",
            token_id, name, hash_token(token), token[:10], role, region12,
            org_id if role == "mediator" else None, court_id if role == "court" else None, expires_in_days)
        if row is None:
            raise Conflict("a token named {name} already exists", name=repr(name))
        await audit.record(c, actor=actor, action="token.create", entity="token", entity_id=name,
                           detail={"role": role, "region": region12, "org_id": org_id, "court_id": court_id,
                                   "expires_in_days": expires_in_days})
    return CreatedToken(id=token_id, name=name, token=token, role=role)


async def revoke_token(name_or_prefix: str, *, actor: str = "system") -> str:
    async with db.transaction() as c:
        rows = await c.fetch(
            "SELECT id, name FROM api_tokens WHERE revoked_at IS NULL AND (name = $1 OR (length($1) >= 6 AND prefix LIKE $1 || '%'))",
            name_or_prefix)
        if not rows:
            raise NotFound("no active token named or starting with {name}", name=repr(name_or_prefix))
        if len(rows) > 1:
            raise Conflict("{count} tokens match {name}; give the name", count=len(rows), name=repr(name_or_prefix))
        await c.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = $1", rows[0]["id"])
        await audit.record(c, actor=actor, action="token.revoke", entity="token", entity_id=rows[0]["name"])
    global _revocations
    _revocations += 1
    return rows[0]["name"]


@dataclass(frozen=True)
class TokenListing:
    """What `tiaojie token list` shows: never the token, nor its hash."""

    name: str
    role: str
    scope: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    state: str   # active | expired | revoked


async def list_tokens() -> list[TokenListing]:
    async with db.connection() as conn:
        rows = await conn.fetch(
            """SELECT t.name, t.role, t.created_at, t.expires_at, t.last_used_at,
                      CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'
                           WHEN t.expires_at <= now() THEN 'expired' ELSE 'active' END AS state,
                      coalesce(r.name || ' ' || t.region_code, o.name, c.name, '') AS scope
               FROM api_tokens t
               LEFT JOIN regions r ON r.code = t.region_code
               LEFT JOIN orgs o ON o.id = t.org_id
               LEFT JOIN courts c ON c.id = t.court_id
               ORDER BY t.created_at, t.name""")
    return [TokenListing(**dict(r)) for r in rows]


async def _lookup(token: str):
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    async with db.connection() as conn:
        r = await conn.fetchrow(
            """SELECT t.id, t.name, t.role, t.region_code, r.level, t.org_id, o.county_code, t.court_id,
                      c.region_code AS court_region
               FROM api_tokens t
               LEFT JOIN regions r ON r.code = t.region_code
               LEFT JOIN orgs o ON o.id = t.org_id
               LEFT JOIN courts c ON c.id = t.court_id
               WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())""",
            hash_token(token))
        if r is not None:
            await _mark_used(conn, r["id"])
    return r


async def _mark_used(conn, token_id: uuid.UUID) -> None:
    """At most one write per token every LAST_USED_EVERY_SECONDS in this process, and the
    row is skipped when another process marked it within that time."""
    now = time.monotonic()
    last = _last_used_marked.get(token_id)
    if last is not None and now - last < LAST_USED_EVERY_SECONDS:
        return
    _last_used_marked[token_id] = now
    if len(_last_used_marked) > 10_000:
        _last_used_marked.clear()
    await conn.execute(
        """UPDATE api_tokens SET last_used_at = now() WHERE id = $1
           AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))""",
        token_id, LAST_USED_EVERY_SECONDS)


async def authenticate(token: str) -> Principal | None:
    """The principal of a live API token; a metrics token is not one (it reads /metrics only)."""
    r = await _lookup(token)
    if r is None or r["role"] == METRICS_ROLE:
        return None
    if r["role"] == "court":
        return Principal(role="court", actor=f"court:{r['court_id']}", court_id=r["court_id"],
                         county_code=(r["court_region"] or "")[:6] or None)
    return Principal(
        role=r["role"], actor=f"token:{r['name']}", region_code=r["region_code"],
        region_prefix=scope_prefix(r["region_code"], r["level"]) if r["region_code"] else None,
        org_id=r["org_id"], county_code=r["county_code"])


async def token_role(token: str) -> str | None:
    """The role of a live token (metrics included), None for an unknown, expired or revoked one."""
    r = await _lookup(token)
    return None if r is None else r["role"]


# ---------------------------------------------------------------- users

USER_ROLES: tuple[str, ...] = ("admin", "bureau", "mediator")


async def create_user(*, username: str, role: str, region: str | None = None,
                      org_id: uuid.UUID | None = None, password: str | None = None, disabled: bool = False,
                      actor: str = "system") -> uuid.UUID:
    """A person who signs in to the pages. Without a password the account must be asked
    for as disabled (`tiaojie user password` enables it when it sets the first one)."""
    from argon2 import PasswordHasher

    if role == "court":
        raise Invalid.field("role", "courts use API tokens, not sign-in accounts")
    if password is None and not disabled:
        raise Invalid.field("password", "give one (--password-stdin), or ask for an account that stays disabled "
                                        "until a password is set (--disabled)")
    if password is not None and disabled:
        raise Invalid.field("password", "a disabled account is created without a password")
    user_id = uuid.uuid4()
    password_hash = PasswordHasher().hash(password) if password is not None else None
    async with db.transaction() as c:
        region12 = await _check_scope(c, role, region, org_id, None, roles=USER_ROLES, what="user")
        row = await c.fetchrow(
            """INSERT INTO users (id, username, password_hash, role, region_code, org_id, disabled_at)
               VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN now() END)
               ON CONFLICT (username) DO NOTHING RETURNING id""",
            user_id, username, password_hash, role, region12, org_id if role == "mediator" else None, disabled)
        if row is None:
            raise Conflict("user {name} already exists", name=repr(username))
        await audit.record(c, actor=actor, action="user.create", entity="user", entity_id=user_id,
                           detail={"username": username, "role": role, "disabled": disabled})
    return user_id


async def user_by_name(username: str) -> tuple[uuid.UUID, bool]:
    """The account's id and whether it has a password yet."""
    async with db.connection() as conn:
        row = await conn.fetchrow("SELECT id, password_hash IS NOT NULL AS has_password FROM users "
                                  "WHERE username = $1", username)
    if row is None:
        raise NotFound("no user named {name}", name=repr(username))
    return row["id"], row["has_password"]
