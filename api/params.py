"""The query, header and path parameters the controllers share, declared once with
their real types: codes as `Literal`s, patterns, lengths and ranges, so the OpenAPI
document states what the service accepts, Litestar refuses what breaks them (422
naming the parameter, `api.problems`), and a query the document calls valid gets past
them. What no schema can state (a cursor this service did not give out, `to` before
`from`) stays in the services."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar.connection import ASGIConnection
from litestar.params import Parameter

from api.schemas import (
    ANY_REGION_CODE_RE,
    CHILD_RE,
    CURSOR_RE,
    IDEMPOTENCY_KEY_RE,
    IF_MATCH_RE,
    INSTANT_RE,
    LINE_RE,
    STATS_MONTH_RE,
    codes_of,
)
from mediation import codes, stats
from mediation.pagination import MAX_LIMIT, check_limit
from referrals import service as referral_service
from referrals import worker

CURSOR_MAX = 2000
#: a date, or an RFC 3339 time (`mediation.fields.instant` reads both)
PERIOD_FORMATS = {"anyOf": [{"format": "date"}, {"format": "date-time"}]}
Q_MAX = 200

# ---------------------------------------------------------------- paging

Limit = Annotated[int | None, Parameter(ge=1, le=MAX_LIMIT, description=f"Page size, 1–{MAX_LIMIT} (default 50)")]
Cursor = Annotated[str | None, Parameter(pattern=CURSOR_RE, min_length=1, max_length=CURSOR_MAX,
                                         description="`next_cursor` of the previous page")]

# ---------------------------------------------------------------- headers

IfMatch = Annotated[str | None, Parameter(header="If-Match", description='The version, e.g. "3"', required=False,
                                          pattern=IF_MATCH_RE)]
IdempotencyKey = Annotated[str | None, Parameter(
    header="Idempotency-Key", required=False, min_length=1, max_length=referral_service.IDEMPOTENCY_KEY_MAX,
    pattern=IDEMPOTENCY_KEY_RE,
    description="Per court, 1 to 200 printable characters; repeating it with the same JSON body answers "
                "the first answer again, with a different body 409")]

# ---------------------------------------------------------------- places and times

Region = Annotated[str | None, Parameter(pattern=ANY_REGION_CODE_RE, description="Region code (2, 4, 6, 9 or 12 "
                                         "digits): this region and everything inside it")]
RequiredRegion = Annotated[str, Parameter(pattern=ANY_REGION_CODE_RE, description="Region code (2, 4, 6, 9 or 12 "
                                          "digits)", required=True)]
RegionPath = Annotated[str, Parameter(pattern=ANY_REGION_CODE_RE, description="Region code (2, 4, 6, 9 or 12 digits)")]
Month = Annotated[str, Parameter(pattern=STATS_MONTH_RE, description="Month YYYY-MM in Asia/Shanghai, from 2000-01",
                                 required=True)]
MonthPath = Annotated[str, Parameter(pattern=STATS_MONTH_RE, description="Month YYYY-MM, from 2000-01")]
PeriodFrom = Annotated[str | None, Parameter(
    description="From this time on (inclusive): a date (2026-10-01, from the start of that day in Beijing) "
                "or an RFC 3339 time", schema_extra=PERIOD_FORMATS, pattern=INSTANT_RE, max_length=64)]
PeriodTo = Annotated[str | None, Parameter(
    description="Before this time (exclusive): a date (2026-11-01, before that day begins in Beijing) "
                "or an RFC 3339 time", schema_extra=PERIOD_FORMATS, pattern=INSTANT_RE, max_length=64)]
Actor = Annotated[str | None, Parameter(pattern=LINE_RE, min_length=1, max_length=200,
                                        description="Who acted, as the audit log writes it (e.g. `user:…`)")]
Search = Annotated[str | None, Parameter(max_length=Q_MAX, description="Words to look for (at most 200 characters)")]

# ---------------------------------------------------------------- codes

DisputeStatus = Annotated[codes_of(codes.STATUSES) | None, Parameter(description="The dispute's status")]  # type: ignore[valid-type]
DisputeType = Annotated[codes_of(codes.DISPUTE_TYPES) | None, Parameter(description="The dispute type")]  # type: ignore[valid-type]
Source = Annotated[codes_of(codes.SOURCES) | None, Parameter(description="Where the dispute came from")]  # type: ignore[valid-type]
OrgKind = Annotated[codes_of(codes.ORG_KINDS) | None, Parameter(description="The organisation kind")]  # type: ignore[valid-type]
Tier = Annotated[codes_of(codes.TIERS) | None, Parameter(description="The organisation's tier")]  # type: ignore[valid-type]
RiskLevel = Annotated[Literal["red", "yellow"] | None, Parameter(
    description="red, or yellow (yellow and red): the effective risk level now")]
ReferralStatus = Annotated[codes_of(referral_service.REFERRAL_STATUSES) | None,  # type: ignore[valid-type]
                           Parameter(description="The referral's status")]
ReferralKind = Annotated[codes_of(referral_service.REFERRAL_KINDS) | None,  # type: ignore[valid-type]
                         Parameter(description="litigation (引导诉讼) or confirmation (司法确认)")]
DeliveryStatus = Annotated[Literal[worker.STATUSES] | None,  # type: ignore[valid-type]
                           Parameter(description="pending | delivered | dead")]
Metric = Annotated[Literal[tuple([*stats.COUNT_BY_KEY, *stats.RATE_BY_KEY])],  # type: ignore[misc]
                   Parameter(description="A count key or a rate key of the monthly statistics", required=True)]
Part = Annotated[Literal["numerator", "denominator"] | None, Parameter(
    description="numerator | denominator (rates only, and required for them)")]
Child = Annotated[str | None, Parameter(pattern=CHILD_RE, description="A child region code or `unassigned`")]


def page_size(limit: int | None) -> int:
    """The `limit` a list runs with: the default when absent, 422 outside 1–500."""
    return check_limit(limit)


def path_id(connection: ASGIConnection, name: str) -> uuid.UUID:
    """A `{name:uuid}` path parameter, for guards (which run before the handler's own
    parameters are parsed)."""
    value = connection.path_params[name]
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
