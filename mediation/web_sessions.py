"""Sign-in sessions for the pages: stored in PostgreSQL (several processes may serve),
keyed by the SHA-256 of a random cookie value, a fresh value at every sign-in, dropped
after an idle period; failed sign-ins counted per user and a lockout an admin lifts.

Every sign-in, failure, lockout, unlock and password change is audited."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mediation import audit, clock, db
from mediation.access import Principal
from mediation.errors import Collector, Invalid, NotFound, Unauthorized
from mediation.regions import scope_prefix

IDLE_TIMEOUT = dt.timedelta(minutes=30)
LOCK_AFTER_FAILURES = 5
PASSWORD_MIN = 8
PASSWORD_MAX = 200

_hasher = PasswordHasher()
# verified against when the username is unknown, so both paths cost one argon2 check
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class SignInRefused(Unauthorized):
    """Wrong username or password (which one is not said)."""


class AccountLocked(Unauthorized):
    """Too many failed sign-ins; an admin lifts the lock."""


@dataclass(frozen=True)
class WebUser:
    id: uuid.UUID
    username: str
    principal: Principal
    org_name: str | None = None
    region_name: str | None = None


@dataclass(frozen=True)
class SignedIn:
    token: str  # the cookie value; only its hash is stored
    user: WebUser


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


USER_COLUMNS = """u.id, u.username, u.role, u.region_code, r.level AS region_level, r.name AS region_name,
    u.org_id, o.county_code, o.name AS org_name"""
USER_JOINS = "LEFT JOIN regions r ON r.code = u.region_code LEFT JOIN orgs o ON o.id = u.org_id"


def _web_user(row) -> WebUser:
    region = row["region_code"]
    principal = Principal(
        role=row["role"], actor=f"user:{row['id']}", region_code=region,
        region_prefix=scope_prefix(region, row["region_level"]) if region else None,
        org_id=row["org_id"], county_code=row["county_code"])
    return WebUser(id=row["id"], username=row["username"], principal=principal, org_name=row["org_name"],
                   region_name=row["region_name"])


async def _verify(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


async def sign_in(username: str, password: str, *, replacing: str | None = None) -> SignedIn:
    """A new session for the user; the session named by `replacing` (the cookie the
    browser came with, if any) is deleted, so an id planted before sign-in is worthless."""
    now = clock.now()
    username = (username or "").strip()
    async with db.connection() as conn:
        row = await conn.fetchrow(
            "SELECT id, password_hash, disabled_at, locked_at FROM users WHERE username = $1", username[:64])
    ok = await _verify(row["password_hash"] if row else None, password or "")
    refusal: Unauthorized | None = None
    # the failure count and its audit entries commit; the refusal is raised after
    async with db.transaction() as conn:
        if replacing:
            await conn.execute("DELETE FROM web_sessions WHERE token_hash = $1", _hash(replacing))
        if row is None:
            refusal = SignInRefused("用户名或密码不正确")
        elif row["locked_at"] is not None:
            await audit.record(conn, actor=f"user:{row['id']}", action="user.signin_refused_locked",
                               entity="user", entity_id=row["id"])
            refusal = AccountLocked("账户因多次登录失败已锁定，请联系管理员解锁")
        elif not ok or row["disabled_at"] is not None:
            counted = await conn.fetchrow(
                """UPDATE users SET failed_signins = failed_signins + 1,
                       locked_at = CASE WHEN failed_signins + 1 >= $2 THEN $3 ELSE locked_at END
                   WHERE id = $1 RETURNING failed_signins, locked_at""",
                row["id"], LOCK_AFTER_FAILURES, now)
            await audit.record(conn, actor=f"user:{row['id']}", action="user.signin_failed", entity="user",
                               entity_id=row["id"], detail={"failures": counted["failed_signins"]})
            refusal = SignInRefused("用户名或密码不正确")
            if counted["locked_at"] is not None:
                await audit.record(conn, actor="system", action="user.lockout", entity="user", entity_id=row["id"],
                                   detail={"failures": counted["failed_signins"]})
                refusal = AccountLocked("账户因多次登录失败已锁定，请联系管理员解锁")
    if refusal is not None:
        raise refusal
    token = secrets.token_urlsafe(32)
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET failed_signins = 0 WHERE id = $1", row["id"])
        await conn.execute("DELETE FROM web_sessions WHERE last_seen_at < $1", now - IDLE_TIMEOUT)
        await conn.execute(
            "INSERT INTO web_sessions (token_hash, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
            _hash(token), row["id"], now)
        await audit.record(conn, actor=f"user:{row['id']}", action="user.signin", entity="user", entity_id=row["id"])
        user = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users u {USER_JOINS} WHERE u.id = $1", row["id"])
    return SignedIn(token=token, user=_web_user(user))


SESSION_USER = f"""
    WITH s AS (
        UPDATE web_sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at > $3 RETURNING user_id
    )
    SELECT {USER_COLUMNS} FROM s JOIN users u ON u.id = s.user_id {USER_JOINS}
    WHERE u.disabled_at IS NULL AND u.locked_at IS NULL"""


async def user_of(token: str | None) -> WebUser | None:
    """The signed-in user behind a cookie value, touching the session; None when the
    session is unknown, idle too long, or its user is disabled or locked."""
    if not token or len(token) > 100:
        return None
    now = clock.now()
    async with db.connection() as conn:
        row = await conn.fetchrow(SESSION_USER, _hash(token), now, now - IDLE_TIMEOUT)
    return None if row is None else _web_user(row)


async def sign_out(token: str | None) -> None:
    if not token:
        return
    async with db.transaction() as conn:
        user_id = await conn.fetchval("DELETE FROM web_sessions WHERE token_hash = $1 RETURNING user_id", _hash(token))
        if user_id is not None:
            await audit.record(conn, actor=f"user:{user_id}", action="user.signout", entity="user", entity_id=user_id)


def check_new_password(errors: Collector, field: str, password: str | None, repeat: str | None = None) -> None:
    if not password or len(password) < PASSWORD_MIN:
        errors.add(field, "密码至少 {min} 个字符", min=PASSWORD_MIN)
    elif len(password) > PASSWORD_MAX:
        errors.add(field, "密码至多 {max} 个字符", max=PASSWORD_MAX)
    elif repeat is not None and repeat != password:
        errors.add(f"{field}_repeat", "两次输入的新密码不一致")


async def change_password(user_id: uuid.UUID, *, current: str, new: str, repeat: str, keep_token: str) -> None:
    """The user's own change: the current password is required; every other session of
    the user ends."""
    errors = Collector()
    async with db.connection() as conn:
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", user_id)
    if not await _verify(stored, current or ""):
        errors.add("current", "当前密码不正确")
    check_new_password(errors, "new", new, repeat)
    errors.raise_if_any()
    new_hash = await asyncio.to_thread(_hasher.hash, new)
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1",
                           user_id, new_hash, clock.now())
        await conn.execute("DELETE FROM web_sessions WHERE user_id = $1 AND token_hash <> $2", user_id,
                           _hash(keep_token))
        await audit.record(conn, actor=f"user:{user_id}", action="user.password_change", entity="user",
                           entity_id=user_id)


# ---------------------------------------------------------------- what admins do to accounts

async def _admin_change(admin: Principal, user_id: uuid.UUID, action: str, sql: str, *args,
                        end_sessions: bool = False) -> None:
    admin.require_admin("manage accounts")
    async with db.transaction() as conn:
        found = await conn.fetchval(sql, user_id, *args)
        if found is None:
            raise NotFound("user {user_id} not found", user_id=user_id)
        if end_sessions:
            await conn.execute("DELETE FROM web_sessions WHERE user_id = $1", user_id)
        await audit.record(conn, actor=admin.actor, action=action, entity="user", entity_id=user_id)


async def unlock(admin: Principal, user_id: uuid.UUID) -> None:
    await _admin_change(admin, user_id, "user.unlock",
                        "UPDATE users SET failed_signins = 0, locked_at = NULL WHERE id = $1 RETURNING id")


async def set_disabled(admin: Principal, user_id: uuid.UUID, disabled: bool) -> None:
    await _admin_change(admin, user_id, "user.disable" if disabled else "user.enable",
                        "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, $3) END "
                        "WHERE id = $1 RETURNING id", disabled, clock.now(), end_sessions=disabled)


async def reset_password(admin: Principal, user_id: uuid.UUID, new: str) -> None:
    errors = Collector()
    check_new_password(errors, "password", new)
    errors.raise_if_any()
    new_hash = await asyncio.to_thread(_hasher.hash, new)
    await _admin_change(admin, user_id, "user.password_reset",
                        "UPDATE users SET password_hash = $2, password_changed_at = $3, failed_signins = 0 "
                        "WHERE id = $1 RETURNING id", new_hash, clock.now(), end_sessions=True)


async def list_users() -> list[dict]:
    async with db.connection() as conn:
        rows = await conn.fetch(
            f"""SELECT {USER_COLUMNS}, u.disabled_at, u.locked_at, u.failed_signins, u.created_at
                FROM users u {USER_JOINS} ORDER BY u.username""")
    return [dict(r) for r in rows]


async def shared_secret(name: str) -> str:
    """A secret every serving process shares (created by the first one to ask)."""
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO web_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                           name, secrets.token_hex(32))
        return await conn.fetchval("SELECT value FROM web_secrets WHERE name = $1", name)


__all__ = ["AccountLocked", "Invalid", "SignInRefused", "SignedIn", "WebUser", "sign_in", "sign_out", "user_of"]
