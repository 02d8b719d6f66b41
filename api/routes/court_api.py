"""The court's own endpoints (role `court`; admins read too): referrals addressed to it
and the cases it entrusts. Controllers parse, authorise and call one service function;
the rules live in `referrals.service`.

Guards run before the body is parsed, so a court asking about another court's referral
gets 404 whatever its body holds."""

from __future__ import annotations

import uuid
from typing import Annotated, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from api.guards import COURT, COURT_SIDE, principal_of, referral_visible
from api.params import Cursor, DisputeStatus, IdempotencyKey, Limit, ReferralKind, ReferralStatus, page_size
from mediation.dispute_views import Dispute
from referrals import service
from referrals.service import EntrustmentPage, EntrustmentResult, Referral, ReferralPage
from api.schemas import AckIn, DecisionIn, EntrustmentIn


T = TypeVar("T")


def _answer(answer: service.Answer[T]) -> Response[T]:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(answer.body, status_code=answer.status, headers=headers)


class CourtReferralController(Controller):
    path = "/court/referrals"
    tags = ["court"]
    guards = [COURT_SIDE]

    @get("/", summary="Referrals addressed to the calling court, newest first, disputes in full (audited)")
    async def list(self, request: Request, status: ReferralStatus = None, kind: ReferralKind = None,
                   court_id: Annotated[uuid.UUID | None, Parameter(description="admin only: one court's")] = None,
                   limit: Limit = None, cursor: Cursor = None) -> ReferralPage:
        return await service.list_referrals(principal_of(request), status=status, kind=kind, court_id=court_id,
                                            limit=page_size(limit), cursor=cursor)

    @get("/{referral_id:uuid}", summary="One referral with its dispute in full (audited)", guards=[referral_visible])
    async def read(self, request: Request, referral_id: uuid.UUID) -> Referral:
        return await service.get_referral(principal_of(request), referral_id)

    @post("/{referral_id:uuid}/ack", summary="Acknowledge a referral (optional before the decision)",
          guards=[referral_visible, COURT], status_code=200)
    async def ack(self, request: Request, referral_id: uuid.UUID, data: AckIn | None = None,
                  idempotency_key: IdempotencyKey = None) -> Response[Referral]:
        principal = principal_of(request)
        fingerprint = service.request_fingerprint(f"POST /court/referrals/{referral_id}/ack", await request.body())
        return _answer(await service.idempotent(
            principal, idempotency_key, fingerprint, lambda: service.acknowledge(principal, referral_id, data),
            status=200, answer=Referral))

    @post("/{referral_id:uuid}/decision", summary="Decide a referral: filed/not_filed, confirmed/rejected",
          guards=[referral_visible, COURT], status_code=200)
    async def decision(self, request: Request, referral_id: uuid.UUID, data: DecisionIn,
                       idempotency_key: IdempotencyKey = None) -> Response[Referral]:
        principal = principal_of(request)
        fingerprint = service.request_fingerprint(f"POST /court/referrals/{referral_id}/decision",
                                                  await request.body())
        return _answer(await service.idempotent(
            principal, idempotency_key, fingerprint, lambda: service.decide(principal, referral_id, data),
            status=200, answer=Referral))


class CourtEntrustmentController(Controller):
    path = "/court/entrustments"
    tags = ["court"]
    guards = [COURT_SIDE]

    @post("/", summary="Entrust a case to an organisation on the roster (委派/委托调解)", guards=[COURT],
          status_code=201)
    async def create(self, request: Request, data: EntrustmentIn,
                     idempotency_key: IdempotencyKey = None) -> Response[Dispute]:
        principal = principal_of(request)
        fingerprint = service.request_fingerprint("POST /court/entrustments", await request.body())
        return _answer(await service.idempotent(
            principal, idempotency_key, fingerprint, lambda: service.entrust(principal, data), status=201,
            answer=Dispute))

    @get("/", summary="The calling court's entrustments, newest first")
    async def list(self, request: Request, status: DisputeStatus = None, limit: Limit = None,
                   cursor: Cursor = None) -> EntrustmentPage:
        return await service.list_entrustments(principal_of(request), status=status, limit=page_size(limit),
                                               cursor=cursor)

    @get("/{dispute_id:uuid}", summary="The result of an entrustment (结案报告)")
    async def read(self, request: Request, dispute_id: uuid.UUID) -> EntrustmentResult:
        return await service.get_entrustment(principal_of(request), dispute_id)
