"""API tokens (stored only as SHA-256 hashes) and the people who sign in to the pages."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

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


async def _check_scope(conn, role: str, region: str | None, org_id: uuid.UUID | None,
                       court_id: uuid.UUID | None) -> str | None:
    if role not in ROLES:
        raise Invalid.field("role", f"must be one of {', '.join(ROLES)}")
    region12 = None
    if role == "bureau":
        if not region:
            raise Invalid.field("region", "a bureau token needs --region")
        region12 = canonical(region, "region")
        if not await conn.fetchval("SELECT 1 FROM regions WHERE code = $1", region12):
            raise Invalid.field("region", f"region {region12} is not registered")
    if role == "mediator":
        if org_id is None:
            raise Invalid.field("org", "a mediator token needs --org")
        if not await conn.fetchval("SELECT 1 FROM orgs WHERE id = $1", org_id):
            raise Invalid.field("org", f"org {org_id} does not exist")
    if role == "court":
        if court_id is None:
            raise Invalid.field("court", "a court token needs --court")
        if not await conn.fetchval("SELECT 1 FROM courts WHERE id = $1", court_id):
            raise Invalid.field("court", f"court {court_id} does not exist")
    return region12


async def create_token(*, role: str, region: str | None = None, org_id: uuid.UUID | None = None,
                       court_id: uuid.UUID | None = None, name: str | None = None,
                       actor: str = "system", conn=None) -> CreatedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = uuid.uuid4()
    name = name or f"{role}-{token_id.hex[:8]}"
    async with db.transaction() as c:
        region12 = await _check_scope(c, role, region, org_id, court_id)
        row = await c.fetchrow(
            """INSERT INTO api_tokens (id, name, token_hash, prefix, role, region_code, org_id, court_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING RETURNING id""",
            token_id, name, hash_token(token), token[:10], role, region12,
            org_id if role == "mediator" else None, court_id if role == "court" else None)
        if row is None:
            raise Conflict(f"a token named {name!r} already exists")
        await audit.record(c, actor=actor, action="token.create", entity="token", entity_id=name,
                           detail={"role": role, "region": region12, "org_id": org_id, "court_id": court_id})
    return CreatedToken(id=token_id, name=name, token=token, role=role)


async def revoke_token(name_or_prefix: str, *, actor: str = "system") -> str:
    async with db.transaction() as c:
        rows = await c.fetch(
            "SELECT id, name FROM api_tokens WHERE revoked_at IS NULL AND (name = $1 OR (length($1) >= 6 AND prefix LIKE $1 || '%'))",
            name_or_prefix)
        if not rows:
            raise NotFound(f"no active token named or starting with {name_or_prefix!r}")
        if len(rows) > 1:
            raise Conflict(f"{len(rows)} tokens match {name_or_prefix!r}; give the name")
        await c.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = $1", rows[0]["id"])
        await audit.record(c, actor=actor, action="token.revoke", entity="token", entity_id=rows[0]["name"])
    global _revocations
    _revocations += 1
    return rows[0]["name"]


async def authenticate(token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    async with db.connection() as conn:
        r = await conn.fetchrow(
            """SELECT t.name, t.role, t.region_code, r.level, t.org_id, o.county_code, t.court_id,
                      c.region_code AS court_region
               FROM api_tokens t
               LEFT JOIN regions r ON r.code = t.region_code
               LEFT JOIN orgs o ON o.id = t.org_id
               LEFT JOIN courts c ON c.id = t.court_id
               WHERE t.token_hash = $1 AND t.revoked_at IS NULL""",
            hash_token(token))
    if r is None:
        return None
    if r["role"] == "court":
        return Principal(role="court", actor=f"court:{r['court_id']}", court_id=r["court_id"],
                         county_code=(r["court_region"] or "")[:6] or None)
    return Principal(
        role=r["role"], actor=f"token:{r['name']}", region_code=r["region_code"],
        region_prefix=scope_prefix(r["region_code"], r["level"]) if r["region_code"] else None,
        org_id=r["org_id"], county_code=r["county_code"])


# ---------------------------------------------------------------- users

async def create_user(*, username: str, role: str, region: str | None = None,
                      org_id: uuid.UUID | None = None, password: str | None = None,
                      actor: str = "system") -> uuid.UUID:
    from argon2 import PasswordHasher

    if role == "court":
        raise Invalid.field("role", "courts use API tokens, not sign-in accounts")
    user_id = uuid.uuid4()
    password_hash = PasswordHasher().hash(password) if password else None
    async with db.transaction() as c:
        region12 = await _check_scope(c, role, region, org_id, None)
        row = await c.fetchrow(
            """INSERT INTO users (id, username, password_hash, role, region_code, org_id)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING RETURNING id""",
            user_id, username, password_hash, role, region12, org_id if role == "mediator" else None)
        if row is None:
            raise Conflict(f"user {username!r} already exists")
        await audit.record(c, actor=actor, action="user.create", entity="user", entity_id=user_id,
                           detail={"username": username, "role": role})
    return user_id
