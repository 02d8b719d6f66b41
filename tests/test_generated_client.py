"""A court's developer generates a client from the served OpenAPI document with
openapi-python-client (issue 6): it comes out without warnings, with typed models for
the requests, the dispute and referral answers and problems, and performs a court's flow against the running service:
list referrals, acknowledge, decide, entrust, and read a refusal as a typed problem."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.served import Served, ago

PACKAGE = "tiaojie_court_client"


@pytest.fixture(scope="module")
def generated(served: Served, tmp_path_factory):
    """The client package, generated into a temporary folder and imported from there."""
    folder = tmp_path_factory.mktemp("client")
    document = folder / "openapi.json"
    document.write_text(json.dumps(httpx.get(f"{served.base_url}/schema/openapi.json").json()))
    config = folder / "config.json"
    # the spreadsheet export is a file download; the generator reads such answers as bytes when told so
    config.write_text(json.dumps({"content_type_overrides": {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "application/octet-stream"}}))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("openapi-python-client")), "generate", "--path", str(document),
         "--output-path", str(folder / PACKAGE), "--meta", "none", "--config", str(config)],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    output = done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield done.returncode, output, importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(name: str):
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_client_generates_without_warnings(generated):
    returncode, output, _ = generated
    assert returncode == 0, output
    assert "Warning" not in output and "WARNING" not in output, output


def test_requests_answers_and_problems_are_typed_models(generated):
    models = module("models")
    for name in ("DisputeIn", "PartyIn", "EntrustmentIn", "DecisionIn", "AckIn", "Problem", "FieldProblem",
                 "Dispute", "DisputeItem", "DisputePage", "Party", "Event", "Risk", "Referral", "ReferralItem",
                 "ReferralPage", "EntrustmentResult", "EntrustmentPage"):
        assert isinstance(getattr(models, name), type), name
    assert {d.value for d in models.DecisionInDecision} == {"filed", "not_filed", "confirmed", "rejected"}
    assert {k.value for k in models.EntrustmentInKind} == {"pre_filing", "in_litigation"}


def _pending_referral(served: Served) -> str:
    """A mediator refers a fresh dispute to the court (set up through plain HTTP)."""
    with httpx.Client(base_url=f"{served.base_url}/api/v1", headers=served.h("mediator"), timeout=30) as c:
        r = c.post("/disputes", json={
            "org_id": served.ids["org_id"], "type": "contract", "source": "application",
            "summary": "郑十与王十一因货款发生纠纷", "registered_at": ago(hours=3),
            "parties": [{"role": "applicant", "kind": "person", "name": "郑十"},
                        {"role": "respondent", "kind": "organization", "name": "某商贸公司"}]})
        assert r.status_code == 201, r.text
        r = c.post(f"/disputes/{r.json()['id']}/refer",
                   json={"court_id": served.ids["court_id"], "reason": "当事人坚持起诉"})
        assert r.status_code == 200, r.text
        return r.json()["referrals"][0]["id"]


def _on_the_roster(served: Served) -> None:
    """The seeded organisation on the court's roster again: the service is shared with the
    schemathesis run, whose DELETE /courts/{id}/roster/{org_id} may have taken it off."""
    r = httpx.post(f"{served.base_url}/api/v1/courts/{served.ids['court_id']}/roster",
                   json={"org_id": served.ids["org_id"]}, headers=served.h("admin"), timeout=30)
    assert r.status_code in (200, 201, 409), r.text


def test_a_court_works_its_referrals_and_entrusts_a_case_through_the_generated_client(generated, served):
    referral_id = _pending_referral(served)
    _on_the_roster(served)
    client = module("client").AuthenticatedClient(base_url=served.base_url, token=served.court)
    models = module("models")
    court = "api.court."

    pending = models.ApiV1CourtReferralsListStatus.PENDING   # the query's codes are typed too
    listed = module(court + "api_v1_court_referrals_list").sync_detailed(client=client, status=pending)
    assert listed.status_code == 200
    assert isinstance(listed.parsed, models.ReferralPage)
    shown = {str(item.id): item for item in listed.parsed.items}
    assert isinstance(shown[referral_id], models.ReferralItem)
    item = shown[referral_id].dispute
    assert isinstance(item, models.DisputeItem) and item.party_count == 2
    assert [p.name for p in item.parties] == ["郑十", "某商贸公司"]  # unmasked, for the court
    assert isinstance(item.risk, models.Risk) and item.risk.level == "green"

    acked = module(court + "api_v1_court_referrals_referral_id_ack_ack").sync_detailed(
        uuid.UUID(referral_id), client=client, body=models.AckIn(court_case_no="(2026)川1325民初77号"))
    assert acked.status_code == 200, acked.content
    assert isinstance(acked.parsed, models.Referral) and acked.parsed.status == "acknowledged"
    assert isinstance(acked.parsed.dispute, models.Dispute)
    assert [e.kind for e in acked.parsed.dispute.events][-1] == "referral_acknowledged"

    decide = module(court + "api_v1_court_referrals_referral_id_decision_decision")
    decision = models.DecisionIn(decision=models.DecisionInDecision.FILED, court_case_no="(2026)川1325民初77号",
                                 decided_at=dt.datetime.now(dt.UTC))
    decided = decide.sync_detailed(uuid.UUID(referral_id), client=client, body=decision)
    assert decided.status_code == 200, decided.content
    assert isinstance(decided.parsed, models.Referral) and decided.parsed.decision == "filed"
    assert decided.parsed.dispute.court_case_no == "(2026)川1325民初77号"

    again = decide.sync_detailed(uuid.UUID(referral_id), client=client, body=decision)
    assert again.status_code == 409
    assert isinstance(again.parsed, models.Problem)
    assert again.parsed.type_ == "/problems/conflict"

    entrusted = module(court + "api_v1_court_entrustments_create").sync_detailed(client=client, body=models.EntrustmentIn(
        court_case_no="(2026)川1325民初78号", kind=models.EntrustmentInKind.IN_LITIGATION,
        org_id=uuid.UUID(served.ids["org_id"]), type_=models.EntrustmentInType.CONTRACT,
        summary="买卖合同纠纷,委托调解", parties=[models.PartyIn(
            role=models.PartyInRole.APPLICANT, kind=models.PartyInKind.PERSON, name="冯十二")]),
        idempotency_key=f"client-{uuid.uuid4()}")
    assert entrusted.status_code == 201, entrusted.content
    assert isinstance(entrusted.parsed, models.Dispute) and entrusted.parsed.source == "court_entrusted"
    assert entrusted.parsed.entrustment.kind == "in_litigation" and entrusted.parsed.parties[0].name == "冯十二"

    refused = module(court + "api_v1_court_entrustments_create").sync_detailed(client=client, body=models.EntrustmentIn(
        court_case_no="(2026)川1325民初79号", kind=models.EntrustmentInKind.IN_LITIGATION,
        org_id=uuid.UUID(served.ids["county_org"]), type_=models.EntrustmentInType.CONTRACT,
        summary="不在名册上的组织", parties=[models.PartyIn(
            role=models.PartyInRole.APPLICANT, kind=models.PartyInKind.PERSON, name="陈十三")]))
    assert refused.status_code == 422
    assert isinstance(refused.parsed, models.Problem)
    assert [(e.field, e.message) for e in refused.parsed.errors] == [
        ("org_id", "is not on the court's roster of invited mediation organisations (特邀调解组织名册)")]
