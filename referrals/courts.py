"""Courts (基层人民法院 / 人民法庭): the registry, their webhook endpoint and signing
secrets, and their roster of invited mediation organisations (特邀调解组织名册).

Only admins write here. The API token and the webhook secret are shown once, when made:
the token is stored as a hash by `mediation.accounts`; the secret is kept as is, since
the delivery worker needs it to sign (Standard Webhooks HMAC)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from mediation import accounts, audit, clock, db
from mediation.access import Principal
from mediation.errors import Collector, Conflict, Invalid, NotFound
from mediation.pagination import Keyset, keyset_page
from mediation.regions import canonical, filter_prefix
from referrals.outbox import NOTIFY_CHANNEL
from referrals.signing import new_secret

#: how long a replaced secret keeps signing, so a court can switch without losing a webhook
SECRET_OVERLAP = dt.timedelta(hours=24)
URL_MAX = 2000

#: 省级简称 that open a court code (and 兵 for the 新疆生产建设兵团 courts)
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼兵"
#: 川 (high court), 川13 (intermediate), 川1325 (basic), 川71 (railway), or 最高法
COURT_CODE_RE = re.compile(rf"^(?:最高法|[{_PROVINCES}](?:[0-9]{{2}}){{0,2}})$")

COURT_COLUMNS = "c.id, c.name, c.code, c.region_code, c.webhook_url, c.webhook_disabled_at, c.created_at"


def court_dict(r, *, full: bool) -> dict[str, Any]:
    """Every role sees who the court is; only admins see where its webhooks go."""
    out = {"id": r["id"], "name": r["name"], "code": r["code"], "region_code": r["region_code"]}
    if full:
        out.update(webhook_url=without_credentials(r["webhook_url"]),
                   webhook_disabled_at=clock.local(r["webhook_disabled_at"]),
                   created_at=clock.local(r["created_at"]))
    return out


def _sees_webhook(principal: Principal, court_id: uuid.UUID) -> bool:
    return principal.is_admin or (principal.role == "court" and principal.court_id == court_id)


# ---------------------------------------------------------------- validation

_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def without_credentials(url: str | None) -> str | None:
    """A URL as answers and the audit log may show it: a `user:password@` (accepted before
    such URLs were refused, and still used to deliver) shown as `[redacted]@`."""
    return None if url is None else _USERINFO.sub(r"\1[redacted]@", url)


def check_webhook_url(errors: Collector, value: Any, field: str = "webhook_url") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        errors.add(field, "must be an http or https URL")
        return None
    url = value.strip()
    if len(url) > URL_MAX:
        errors.add(field, "must be at most {max} characters", max=URL_MAX)
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        errors.add(field, "must be an http or https URL")
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        errors.add(field, "must be an http or https URL")
        return None
    if "@" in parts.netloc:
        # answers and the audit log would show the password; courts verify the signature instead
        errors.add(field, "must not carry a user name or password (user:password@); "
                   "the court checks the webhook signature instead")
        return None
    return url


def _check_fields(errors: Collector, *, name: Any, code: Any, region_code: Any) -> tuple[str | None, str | None, str | None]:
    clean_name = None
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        errors.add("name", "must be 1 to 200 characters")
    else:
        clean_name = name.strip()
    clean_code = None
    if not isinstance(code, str) or not COURT_CODE_RE.match(code.strip()):
        errors.add("code", "must be a court code such as 川1325 (province abbreviation and 0, 2 or 4 digits)")
    else:
        clean_code = code.strip()
    region12 = None
    try:
        region12 = canonical(region_code, "region_code")
    except Invalid as e:
        errors.errors.extend(e.errors)
    return clean_name, clean_code, region12


# ---------------------------------------------------------------- registry

async def create_court(principal: Principal, *, name: Any, code: Any, region_code: Any,
                       webhook_url: Any = None) -> dict[str, Any]:
    """Register a court; the answer carries its API token and webhook secret, shown once."""
    principal.require_admin()
    errors = Collector()
    clean_name, clean_code, region12 = _check_fields(errors, name=name, code=code, region_code=region_code)
    url = check_webhook_url(errors, webhook_url)
    errors.raise_if_any()
    court_id = uuid.uuid4()
    secret = new_secret()
    async with db.transaction() as conn:
        if not await conn.fetchval("SELECT 1 FROM regions WHERE code = $1", region12):
            raise Invalid.field("region_code", "region {code} is not registered", code=region12)
        row = await conn.fetchrow(
            f"""INSERT INTO courts AS c (id, name, code, region_code, webhook_url) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (code) DO NOTHING RETURNING {COURT_COLUMNS}""",
            court_id, clean_name, clean_code, region12, url)
        if row is None:
            raise Conflict("a court with code {code} is already registered", code=clean_code)
        await conn.execute("INSERT INTO court_secrets (id, court_id, secret, created_at) VALUES ($1, $2, $3, $4)",
                           uuid.uuid4(), court_id, secret, clock.now())
        await audit.record(conn, actor=principal.actor, action="court.create", entity="court", entity_id=court_id,
                           detail={"name": clean_name, "code": clean_code, "region_code": region12,
                                   "webhook_url": url})
        # the token commits with the court: nested, it joins this transaction
        token = await accounts.create_token(role="court", court_id=court_id, name=f"court-{clean_code}-{court_id.hex[:6]}",
                                            actor=principal.actor)
    return {**court_dict(row, full=True), "token_name": token.name, "api_token": token.token,
            "webhook_secret": secret}


async def _court_row(conn: asyncpg.Connection, court_id: uuid.UUID, *, lock: bool = False):
    row = await conn.fetchrow(f"SELECT {COURT_COLUMNS} FROM courts c WHERE c.id = $1{' FOR UPDATE' if lock else ''}",
                              court_id)
    if row is None:
        raise NotFound("court {court_id} not found", court_id=court_id)
    return row


async def exists(court_id: uuid.UUID) -> bool:
    async with db.connection() as conn:
        return bool(await conn.fetchval("SELECT 1 FROM courts WHERE id = $1", court_id))


async def get_court(principal: Principal, court_id: uuid.UUID) -> dict[str, Any]:
    async with db.connection() as conn:
        row = await _court_row(conn, court_id)
    return court_dict(row, full=_sees_webhook(principal, court_id))


BY_CODE = Keyset(columns=("c.code",), keys=("code",), parsers=(str,), descending=False)


async def list_courts(principal: Principal, *, region: str | None = None, limit: int = 50,
                      cursor: str | None = None) -> dict[str, Any]:
    """Every role reads the list (mediators pick the court they refer to), by code."""
    args: list[Any] = []
    conds = ["TRUE"]
    async with db.connection() as conn:
        if region:
            args.append(await filter_prefix(conn, canonical(region, "region")) + "%")
            conds.append(f"c.region_code LIKE ${len(args)}")
        page = await keyset_page(conn, select=COURT_COLUMNS, source="courts c", where=" AND ".join(conds),
                                 args=args, keyset=BY_CODE, limit=limit, cursor=cursor)
    return {"items": [court_dict(r, full=principal.is_admin) for r in page.rows], "total": page.total,
            "next_cursor": page.next_cursor}


async def set_webhook_url(principal: Principal, court_id: uuid.UUID, webhook_url: Any) -> dict[str, Any]:
    """Change (or clear) the URL and re-enable delivery: a 410 disabled it, and the events
    held since then become due at once."""
    principal.require_admin()
    errors = Collector()
    url = check_webhook_url(errors, webhook_url)
    errors.raise_if_any()
    now = clock.now()
    async with db.transaction() as conn:
        before = await _court_row(conn, court_id, lock=True)
        row = await conn.fetchrow(
            f"""UPDATE courts c SET webhook_url = $2, webhook_disabled_at = NULL WHERE c.id = $1
                RETURNING {COURT_COLUMNS}""", court_id, url)
        released = await conn.execute(
            "UPDATE webhook_outbox SET next_attempt_at = $2 WHERE court_id = $1 AND status = 'pending'",
            court_id, now)
        await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
        await audit.record(conn, actor=principal.actor, action="court.webhook", entity="court", entity_id=court_id,
                           detail={"webhook_url": url, "previous_url": without_credentials(before["webhook_url"]),
                                   "was_disabled_at": before["webhook_disabled_at"],
                                   "released": int(released.split()[-1])})
    return court_dict(row, full=True)


async def rotate_secret(principal: Principal, court_id: uuid.UUID) -> dict[str, Any]:
    """A new current secret; the ones it replaces keep signing for 24 hours."""
    principal.require_admin()
    secret = new_secret()
    now = clock.now()
    async with db.transaction() as conn:
        await _court_row(conn, court_id, lock=True)  # one rotation at a time per court
        await conn.execute(
            "UPDATE court_secrets SET expires_at = $2 WHERE court_id = $1 AND expires_at IS NULL",
            court_id, now + SECRET_OVERLAP)
        await conn.execute("INSERT INTO court_secrets (id, court_id, secret, created_at) VALUES ($1, $2, $3, $4)",
                           uuid.uuid4(), court_id, secret, now)
        await audit.record(conn, actor=principal.actor, action="court.secret_rotate", entity="court",
                           entity_id=court_id, detail={"previous_valid_until": (now + SECRET_OVERLAP).isoformat()})
    return {"court_id": court_id, "webhook_secret": secret,
            "previous_valid_until": clock.local(now + SECRET_OVERLAP)}


async def signing_secrets(conn: asyncpg.Connection, court_id: uuid.UUID,
                          at: dt.datetime | None = None) -> list[str]:
    """Every secret a webhook for `court_id` is signed with at `at`: the current one
    first, then those replaced less than 24 hours ago."""
    rows = await conn.fetch(
        """SELECT secret FROM court_secrets WHERE court_id = $1 AND (expires_at IS NULL OR expires_at > $2)
           ORDER BY expires_at DESC NULLS FIRST, created_at DESC""", court_id, at or clock.now())
    return [r["secret"] for r in rows]


# ---------------------------------------------------------------- roster

def _roster_item(r) -> dict[str, Any]:
    return {"court_id": r["court_id"], "org_id": r["org_id"], "name": r["name"], "tier": r["tier"],
            "kind": r["kind"], "region_code": r["region_code"], "added_at": clock.local(r["added_at"])}


_ROSTER_COLUMNS = "cr.court_id, cr.org_id, cr.added_at, o.name, o.tier, o.kind, o.region_code"
_ROSTER_SOURCE = "court_roster cr JOIN orgs o ON o.id = cr.org_id"
_ROSTER_SELECT = f"SELECT {_ROSTER_COLUMNS} FROM {_ROSTER_SOURCE}"
BY_NAME = Keyset(columns=("o.name", "cr.org_id"), keys=("name", "org_id"), parsers=(str, uuid.UUID),
                 descending=False)


async def add_to_roster(principal: Principal, court_id: uuid.UUID, org_id: Any) -> dict[str, Any]:
    principal.require_admin()
    if not isinstance(org_id, uuid.UUID):
        raise Invalid.field("org_id", "must be an id")
    async with db.transaction() as conn:
        await _court_row(conn, court_id)
        if not await conn.fetchval("SELECT 1 FROM orgs WHERE id = $1", org_id):
            raise Invalid.field("org_id", "org {org_id} does not exist", org_id=org_id)
        added = await conn.fetchval(
            "INSERT INTO court_roster (court_id, org_id, added_at) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING 1", court_id, org_id, clock.now())
        if not added:
            raise Conflict("org {org_id} is already on the court's roster", org_id=org_id)
        await audit.record(conn, actor=principal.actor, action="court.roster_add", entity="court",
                           entity_id=court_id, detail={"org_id": org_id})
        row = await conn.fetchrow(f"{_ROSTER_SELECT} WHERE cr.court_id = $1 AND cr.org_id = $2", court_id, org_id)
    return _roster_item(row)


def _may_read_roster(principal: Principal, court) -> bool:
    """Admins, the court itself, and a bureau whose region holds the court's (API.md)."""
    if principal.is_admin:
        return True
    if principal.role == "court":
        return principal.court_id == court["id"]
    if principal.role == "bureau":
        return court["region_code"].startswith(principal.region_prefix or "\0")
    return False


async def list_roster(principal: Principal, court_id: uuid.UUID, *, limit: int = 50,
                      cursor: str | None = None) -> dict[str, Any]:
    """The roster names organisations, some outside the caller's own scope: only those who
    work with the court read it; everyone else gets the 404 of a court that is not there."""
    async with db.connection() as conn:
        court = await _court_row(conn, court_id)
        if not _may_read_roster(principal, court):
            raise NotFound("court {court_id} not found", court_id=court_id)
        page = await keyset_page(conn, select=_ROSTER_COLUMNS, source=_ROSTER_SOURCE, where="cr.court_id = $1",
                                 args=[court_id], keyset=BY_NAME, limit=limit, cursor=cursor)
    return {"items": [_roster_item(r) for r in page.rows], "total": page.total, "next_cursor": page.next_cursor}


async def remove_from_roster(principal: Principal, court_id: uuid.UUID, org_id: uuid.UUID) -> None:
    """Taking an org off the roster stops new entrustments; cases already entrusted stay."""
    principal.require_admin()
    async with db.transaction() as conn:
        await _court_row(conn, court_id)
        removed = await conn.fetchval("DELETE FROM court_roster WHERE court_id = $1 AND org_id = $2 RETURNING 1",
                                      court_id, org_id)
        if not removed:
            raise NotFound("org {org_id} is not on the court's roster", org_id=org_id)
        await audit.record(conn, actor=principal.actor, action="court.roster_remove", entity="court",
                           entity_id=court_id, detail={"org_id": org_id})


async def on_roster(conn: asyncpg.Connection, court_id: uuid.UUID, org_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM court_roster WHERE court_id = $1 AND org_id = $2",
                                    court_id, org_id))
