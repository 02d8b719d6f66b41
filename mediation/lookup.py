"""The parties' lookup (当事人查询): a case number and the last four characters of a
party's phone number or ID number tell where the case stands, and nothing else.

What a stranger must not learn: names, ID numbers, or which case numbers exist. So an
unknown case and a wrong code fail the same way (one query, one refusal text), failures
are counted per case number whether it exists or not, and both the case number and the
client address are limited per hour. The counts live in PostgreSQL (`lookup_attempts`)
under a transaction-scoped advisory lock per case number and per address, so several
server processes share them exactly. Every lookup, answered or refused, is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from mediation import clock, db
from mediation.codes import STATUSES
from mediation.errors import Collector, NotFound, RateLimited

WINDOW = dt.timedelta(hours=1)
FAILURES_PER_CASE = 5         # the sixth failure for one case number in an hour is refused
FAILURES_PER_ADDRESS = 30     # and the thirty-first from one address
KEEP_ATTEMPTS = dt.timedelta(days=2)
CASE_NO_MAX = 40
CODE_RE = re.compile(r"^[0-9]{3}[0-9Xx]$")

#: the one refusal for an unknown case and a wrong code, so the two cannot be told apart
NO_MATCH = "没有找到与该案件编号和验证码相符的案件。请核对后再试。"
LIMITED = "查询失败次数过多，请稍后再试。"

NEXT_STEPS: dict[str, str] = {
    "open": "调解正在进行中。调解员会与您联系，请保持电话畅通；如有新情况，请联系承办的调解组织。",
    "resolved": "双方已达成调解协议，请按协议约定履行。书面协议生效之日起三十日内，双方可以共同向人民法院申请司法确认。",
    "confirmation_pending": "已向人民法院申请司法确认，请等待法院的裁定。",
    "failed": "调解未能达成协议。您可以依法申请仲裁、请求行政机关处理，或者向人民法院起诉。",
    "referred": "调解未能达成协议，案件已引导至人民法院诉讼，请留意法院的通知。",
    "returned": "法院委托的调解未能达成协议，案件已退回人民法院继续审理，请留意法院的通知。",
    "withdrawn": "调解已终止(当事人撤回)。如需再次调解，可以重新申请。",
    "rejected": "调解组织不予受理。您可以通过其他合法途径解决纠纷。",
}


@dataclass(frozen=True)
class LookupAnswer:
    case_no: str
    status: str
    status_label: str
    tier: str
    org_name: str
    deadline: dt.datetime | None
    next_step: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class Proxies:
    """The reverse proxies whose `X-Forwarded-For` is believed (none by default)."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> Proxies:
        nets = [ipaddress.ip_network(part.strip(), strict=False) for part in (text or "").split(",") if part.strip()]
        return cls(tuple(nets))

    def trusts(self, address: str | None) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in net for net in self.networks)


def _ip(text: str | None):
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: Sequence[str], proxies: Proxies) -> str:
    """The peer, unless it is a configured proxy: then the last address in
    `X-Forwarded-For` that is not one of ours (anything before it a client could forge)."""
    address = peer or "unknown"
    if not proxies.trusts(peer):
        return address
    hops = [h.strip() for header in forwarded_for for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        if _ip(hop) is None:
            break
        address = hop
        if not proxies.trusts(hop):
            break
    return address


def _key(kind: str, value: str) -> int:
    """A stable 64-bit advisory-lock key (Python's hash() differs between processes)."""
    return int.from_bytes(hashlib.sha256(f"lookup:{kind}:{value}".encode()).digest()[:8], "big", signed=True)


def normalise_case_no(value: str) -> str:
    return value.strip().upper()


def validate(case_no: object, code: object) -> tuple[str, str]:
    errors = Collector()
    if not isinstance(case_no, str) or not case_no.strip():
        errors.add("case_no", "is required")
    elif len(case_no) > CASE_NO_MAX or "\x00" in case_no:
        errors.add("case_no", "must be a case number of at most {max} characters", max=CASE_NO_MAX)
    if not isinstance(code, str) or not CODE_RE.match(code.strip()):
        errors.add("code", "must be the last 4 characters of a party's phone number or ID number")
    errors.raise_if_any()
    return normalise_case_no(case_no), code.strip().upper()  # type: ignore[union-attr]


def _retry_after(times: list[dt.datetime], limit: int, now: dt.datetime) -> int:
    """Seconds until fewer than `limit` of `times` (ascending) are inside the window."""
    expiring = times[len(times) - limit]
    return max(1, math.ceil((expiring + WINDOW - now).total_seconds()))


FIND = """
    SELECT d.case_no, d.status, d.tier, d.deadline, o.name AS org_name,
        (SELECT max(e.at) FROM dispute_events e WHERE e.dispute_id = d.id) AS updated_at,
        EXISTS (SELECT 1 FROM referrals r WHERE r.dispute_id = d.id AND r.kind = 'confirmation'
                AND r.status <> 'decided') AS confirmation_pending,
        EXISTS (SELECT 1 FROM dispute_parties p WHERE p.dispute_id = d.id
                AND (right(p.phone, 4) = $2 OR upper(right(p.id_number, 4)) = $2)) AS code_matches
    FROM disputes d JOIN orgs o ON o.id = d.org_id
    WHERE d.case_no = $1"""


async def lookup(case_no: object, code: object, *, client: str) -> LookupAnswer:
    """`POST /public/lookup`: the answer, or NotFound (no match) or RateLimited."""
    case_key, code_text = validate(case_no, code)
    now = clock.now()
    async with db.transaction() as conn:
        # the same locks in the same order in every process: case number, then address
        await conn.execute("SELECT pg_advisory_xact_lock($1), pg_advisory_xact_lock($2)",
                           _key("case", case_key), _key("client", client))
        # refusals are raised after the commit, so the attempt and its audit entry stay
        failure: NotFound | RateLimited | None = None
        row = None
        wait = await _limited(conn, case_key, client, now)
        if wait is not None:
            await _record(conn, case_key, client, "limited", now)
            failure = RateLimited(LIMITED, retry_after=wait)
        else:
            row = await conn.fetchrow(FIND, case_key, code_text)
            if row is None or not row["code_matches"]:
                await _record(conn, case_key, client, "no_match", now)
                failure = NotFound(NO_MATCH)
            else:
                await _record(conn, case_key, client, "answered", now)
    if failure is not None:
        raise failure
    assert row is not None
    step = "confirmation_pending" if row["status"] == "resolved" and row["confirmation_pending"] else row["status"]
    return LookupAnswer(
        case_no=row["case_no"], status=row["status"], status_label=STATUSES[row["status"]], tier=row["tier"],
        org_name=row["org_name"], deadline=clock.local(row["deadline"]) if row["status"] == "open" else None,
        next_step=NEXT_STEPS[step], updated_at=clock.local(row["updated_at"]))


async def _limited(conn: asyncpg.Connection, case_key: str, client: str, now: dt.datetime) -> int | None:
    """Retry-After seconds when the case number or the address is over its limit."""
    since = now - WINDOW
    rows = await conn.fetch(
        """SELECT at, case_no = $1 AS same_case, client = $2 AS same_client FROM lookup_attempts
           WHERE outcome = 'no_match' AND at > $3 AND (case_no = $1 OR client = $2) ORDER BY at""",
        case_key, client, since)
    waits = []
    by_case = [r["at"] for r in rows if r["same_case"]]
    by_client = [r["at"] for r in rows if r["same_client"]]
    if len(by_case) >= FAILURES_PER_CASE:
        waits.append(_retry_after(by_case, FAILURES_PER_CASE, now))
    if len(by_client) >= FAILURES_PER_ADDRESS:
        waits.append(_retry_after(by_client, FAILURES_PER_ADDRESS, now))
    return max(waits) if waits else None


async def _record(conn: asyncpg.Connection, case_key: str, client: str, outcome: str, now: dt.datetime) -> None:
    """The attempt (for the limits) and its audit entry; no code, name or ID number in either."""
    await conn.execute(
        """WITH attempt AS (
               INSERT INTO lookup_attempts (at, case_no, client, outcome) VALUES ($1, $2, $3, $4)
           )
           INSERT INTO audit_log (actor, action, entity, entity_id, detail)
           VALUES ('public:' || $3, 'public.lookup', 'case_no', $2, jsonb_build_object('outcome', $4::text))""",
        now, case_key, client, outcome)


async def forget_old_attempts() -> int:
    """Attempts older than the limits look at (the audit log keeps the lookups)."""
    async with db.connection() as conn:
        done = await conn.execute("DELETE FROM lookup_attempts WHERE at < $1", clock.now() - KEEP_ATTEMPTS)
    return int(done.split()[-1])

