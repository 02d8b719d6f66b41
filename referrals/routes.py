"""HTTP for the court handoff: the court registry (admin writes, everyone reads) and the
court's own endpoints (role `court`). Controllers parse, authorise and call one service
function; the rules live in `referrals.courts` and `referrals.service`.

Guards run before the body is parsed, so a court asking about another court's referral
gets 404 and a non-admin writing the registry 403, whatever its body holds."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Parameter

from mediation.access import Principal
from mediation.errors import Forbidden, NotFound
from mediation.pagination import check_limit
from referrals import courts, service
from referrals.schemas import (
    AckIn,
    CourtIn,
    CourtPatch,
    DecisionIn,
    EntrustmentIn,
    RosterIn,
)

Limit = Annotated[int | None, Parameter(description="Page size, 1–500 (default 50)")]
Cursor = Annotated[str | None, Parameter(description="`next_cursor` of the previous page")]
IdempotencyKey = Annotated[str | None, Parameter(
    header="Idempotency-Key", required=False,
    description="Per court; repeating it with the same JSON body answers the first answer again, "
                "with a different body 409")]


def _principal(connection: ASGIConnection) -> Principal:
    return connection.user


def _roles(*allowed: str):
    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if _principal(connection).role not in allowed:
            raise Forbidden(f"this needs the role {' or '.join(allowed)}")

    return guard


ADMIN = _roles("admin")
COURT = _roles("court")


def _uuid_param(connection: ASGIConnection, name: str) -> uuid.UUID:
    value = connection.path_params[name]
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def _court_exists(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    court_id = _uuid_param(connection, "court_id")
    if not await courts.exists(court_id):
        raise NotFound(f"court {court_id} not found")


async def _referral_visible(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    await service.check_referral_access(_principal(connection), _uuid_param(connection, "referral_id"))


def _answer(answer: service.Answer) -> Response[Any]:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(answer.body, status_code=answer.status, headers=headers)


class CourtController(Controller):
    path = "/courts"
    tags = ["courts"]

    @post("/", summary="Register a court (admin); the answer shows its API token and webhook secret once",
          guards=[ADMIN])
    async def create(self, request: Request, data: CourtIn) -> dict[str, Any]:
        return await courts.create_court(_principal(request), name=data.name, code=data.code,
                                         region_code=data.region_code, webhook_url=data.webhook_url)

    @get("/", summary="Courts (every role): id, name, code, region")
    async def list(self, request: Request, region: str | None = None, limit: Limit = None,
                   cursor: Cursor = None) -> dict[str, Any]:
        return await courts.list_courts(_principal(request), region=region, limit=check_limit(limit), cursor=cursor)

    @get("/{court_id:uuid}", summary="One court")
    async def read(self, request: Request, court_id: uuid.UUID) -> dict[str, Any]:
        return await courts.get_court(_principal(request), court_id)

    @patch("/{court_id:uuid}", summary="Change (and re-enable) the webhook URL (admin)",
           guards=[_court_exists, ADMIN])
    async def update(self, request: Request, court_id: uuid.UUID, data: CourtPatch) -> dict[str, Any]:
        return await courts.set_webhook_url(_principal(request), court_id, data.webhook_url)

    @post("/{court_id:uuid}/secrets", summary="A new webhook secret; the previous one signs for 24 more hours (admin)",
          guards=[_court_exists, ADMIN])
    async def rotate_secret(self, request: Request, court_id: uuid.UUID) -> dict[str, Any]:
        return await courts.rotate_secret(_principal(request), court_id)

    @post("/{court_id:uuid}/roster", summary="Put an organisation on the court's roster (特邀调解组织名册, admin)",
          guards=[_court_exists, ADMIN])
    async def add_to_roster(self, request: Request, court_id: uuid.UUID, data: RosterIn) -> dict[str, Any]:
        return await courts.add_to_roster(_principal(request), court_id, data.org_id)

    @get("/{court_id:uuid}/roster", summary="The court's roster")
    async def roster(self, request: Request, court_id: uuid.UUID) -> dict[str, Any]:
        return await courts.list_roster(_principal(request), court_id)

    @delete("/{court_id:uuid}/roster/{org_id:uuid}", summary="Take an organisation off the roster (admin)",
            guards=[_court_exists, ADMIN], status_code=204)
    async def remove_from_roster(self, request: Request, court_id: uuid.UUID, org_id: uuid.UUID) -> None:
        await courts.remove_from_roster(_principal(request), court_id, org_id)


class CourtReferralController(Controller):
    path = "/court/referrals"
    tags = ["court"]
    guards = [_roles("court", "admin")]

    @get("/", summary="Referrals addressed to the calling court, newest first, disputes in full (audited)")
    async def list(self, request: Request, status: str | None = None, kind: str | None = None,
                   court_id: Annotated[uuid.UUID | None, Parameter(description="admin only: one court's")] = None,
                   limit: Limit = None, cursor: Cursor = None) -> dict[str, Any]:
        return await service.list_referrals(_principal(request), status=status, kind=kind, court_id=court_id,
                                            limit=check_limit(limit), cursor=cursor)

    @get("/{referral_id:uuid}", summary="One referral with its dispute in full (audited)", guards=[_referral_visible])
    async def read(self, request: Request, referral_id: uuid.UUID) -> dict[str, Any]:
        return await service.get_referral(_principal(request), referral_id)

    @post("/{referral_id:uuid}/ack", summary="Acknowledge a referral (optional before the decision)",
          guards=[_referral_visible, COURT], status_code=200)
    async def ack(self, request: Request, referral_id: uuid.UUID, data: AckIn | None = None,
                  idempotency_key: IdempotencyKey = None) -> Response[Any]:
        principal = _principal(request)
        fingerprint = service.request_fingerprint(f"POST /court/referrals/{referral_id}/ack", await request.body())
        return _answer(await service.idempotent(
            principal, idempotency_key, fingerprint, lambda: service.acknowledge(principal, referral_id, data),
            status=200))

    @post("/{referral_id:uuid}/decision", summary="Decide a referral: filed/not_filed, confirmed/rejected",
          guards=[_referral_visible, COURT], status_code=200)
    async def decision(self, request: Request, referral_id: uuid.UUID, data: DecisionIn,
                       idempotency_key: IdempotencyKey = None) -> Response[Any]:
        principal = _principal(request)
        fingerprint = service.request_fingerprint(f"POST /court/referrals/{referral_id}/decision",
                                                  await request.body())
        return _answer(await service.idempotent(
            principal, idempotency_key, fingerprint, lambda: service.decide(principal, referral_id, data),
            status=200))


class CourtEntrustmentController(Controller):
    path = "/court/entrustments"
    tags = ["court"]
    guards = [_roles("court", "admin")]

    @post("/", summary="Entrust a case to an organisation on the roster (委派/委托调解)", guards=[COURT],
          status_code=201)
    async def create(self, request: Request, data: EntrustmentIn,
                     idempotency_key: IdempotencyKey = None) -> Response[Any]:
        principal = _principal(request)
        fingerprint = service.request_fingerprint("POST /court/entrustments", await request.body())
        return _answer(await service.idempotent(
            principal, idempotency_key, fingerprint, lambda: service.entrust(principal, data), status=201))

    @get("/", summary="The calling court's entrustments, newest first")
    async def list(self, request: Request, status: str | None = None, limit: Limit = None,
                   cursor: Cursor = None) -> dict[str, Any]:
        return await service.list_entrustments(_principal(request), status=status, limit=check_limit(limit),
                                               cursor=cursor)

    @get("/{dispute_id:uuid}", summary="The result of an entrustment (结案报告)")
    async def read(self, request: Request, dispute_id: uuid.UUID) -> dict[str, Any]:
        return await service.get_entrustment(_principal(request), dispute_id)


ROUTE_HANDLERS = [CourtController, CourtReferralController, CourtEntrustmentController]
