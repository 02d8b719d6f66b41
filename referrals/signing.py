"""Standard Webhooks v1 signatures (https://www.standardwebhooks.com/).

A court verifies each webhook with the secret it was given (`whsec_` + base64 key):
`webhook-signature` holds `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. While a
secret is being rotated every current secret signs, space-separated, so a court that
still holds the old one keeps verifying for the 24 hours of overlap.

The worker signs, `referrals.court_sim` verifies; both use this one module, and the tests
check the result with the independent `standardwebhooks` library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
import time
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 5 * 60  # what the specification and its libraries allow


class SignatureError(Exception):
    """A webhook that must not be trusted: missing headers, a stale or future
    timestamp, or no signature made with any of the secrets given."""


def new_secret(n_bytes: int = 32) -> str:
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(n_bytes)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after `whsec_` (the prefix is optional,
    padding may be missing, as the specification's own libraries accept)."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is `whsec_` followed by base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def _as_text(body: bytes | str) -> bytes:
    return body if isinstance(body, bytes) else body.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """One `v1,<signature>` entry."""
    mac = hmac.new(secret_key(secret), f"{msg_id}.{int(timestamp)}.".encode() + _as_text(body), hashlib.sha256)
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac.digest()).decode()}"


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes | str) -> str:
    entries = [sign(s, msg_id, timestamp, body) for s in secrets]
    if not entries:
        raise ValueError("at least one secret is needed to sign a webhook")
    return " ".join(entries)


def headers(msg_id: str, timestamp: int, body: bytes | str, secrets: Iterable[str]) -> dict[str, str]:
    """The headers of one delivery attempt. `timestamp` is the attempt's (unix seconds),
    so each retry carries a fresh one; id and body never change."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(secrets: str | Iterable[str], body: bytes | str, headers: Mapping[str, str], *,
           tolerance: float = DEFAULT_TOLERANCE_SECONDS, now: float | None = None) -> None:
    """Accept the webhook when any `v1` entry matches any of `secrets` and its timestamp
    is within `tolerance` seconds of now; raise `SignatureError` otherwise."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, ts_text, signature = (lower.get("webhook-id"), lower.get("webhook-timestamp"),
                                  lower.get("webhook-signature"))
    if not (msg_id and ts_text and signature):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(ts_text)
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("webhook-timestamp is outside the tolerated window")
    wanted = [sign(s, msg_id, timestamp, body) for s in ([secrets] if isinstance(secrets, str) else secrets)]
    for entry in signature.split(" "):
        version, _, _value = entry.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        if any(hmac.compare_digest(entry.encode(), w.encode()) for w in wanted):
            return
    raise SignatureError("no signature matches")
