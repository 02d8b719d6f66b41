"""The parties' lookup without a token: `POST /api/v1/public/lookup` (rate-limited, audited)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from litestar import Request, post
from msgspec import Meta

from mediation import lookup

Status = Literal["open", "resolved", "failed", "referred", "returned", "withdrawn", "rejected"]


class LookupIn(msgspec.Struct, forbid_unknown_fields=True):
    case_no: Annotated[str, Meta(min_length=1, max_length=lookup.CASE_NO_MAX,
                                 description="The case number on the registration slip, e.g. 511325-2026-000123")]
    code: Annotated[str, Meta(min_length=4, max_length=4, pattern=lookup.CODE_RE.pattern,
                              description="The last 4 characters of a party's phone number or ID number")]


class LookupOut(msgspec.Struct):
    case_no: str
    status: Status
    status_label: str
    tier: Literal["village", "township", "county"]
    org_name: str
    deadline: dt.datetime | None
    next_step: str
    updated_at: dt.datetime


def client_of(request: Request) -> str:
    """The caller's address; `X-Forwarded-For` counts only from a configured proxy."""
    proxies = getattr(request.app.state, "trusted_proxies", None) or lookup.Proxies()
    peer = request.client.host if request.client else None
    return lookup.client_address(peer, request.headers.getall("x-forwarded-for", []), proxies)


async def answer(request: Request, case_no: object, code: object) -> lookup.LookupAnswer:
    """The API and the page ask the same way."""
    return await lookup.lookup(case_no, code, client=client_of(request))


@post("/api/v1/public/lookup", summary="The parties' lookup: where a case stands (no token)", tags=["public"],
      exclude_from_auth=True, status_code=200, security=[], opt={"problems": [404, 429]},
      description="Unknown case and wrong code both answer the same 404. More than 5 failures for one case "
                  "number, or 30 from one address, in an hour answer 429 with Retry-After. Every lookup is audited.")
async def public_lookup(request: Request, data: LookupIn) -> LookupOut:
    found = await answer(request, data.case_no, data.code)
    return LookupOut(case_no=found.case_no, status=found.status, status_label=found.status_label,  # type: ignore[arg-type]
                     tier=found.tier, org_name=found.org_name, deadline=found.deadline,  # type: ignore[arg-type]
                     next_step=found.next_step, updated_at=found.updated_at)
