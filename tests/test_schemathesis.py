"""The OpenAPI document against the running service (DESIGN.md "Testing"): schemathesis
drives a real `tiaojie serve` seeded with real objects, with every check: no server
error, documented status codes, content types and headers, answers matching their
schemas, schema-violating requests refused and schema-valid ones accepted, except where
a rule no schema can state refuses them (404, 409, or a 422 naming such a rule).

Bounded for CI: few examples per operation, derandomized."""

from __future__ import annotations

import os
import re
import uuid

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from api.schemas import ANY_REGION_CODE_RE
from tests.served import Served

#: few for CI; TIAOJIE_SCHEMATHESIS_EXAMPLES=50 for a deeper run by hand
MAX_EXAMPLES = int(os.environ.get("TIAOJIE_SCHEMATHESIS_EXAMPLES", "6"))

#: the 422 messages of rules across fields or against stored state: a schema-valid request
#: may meet them (a time before registration, an ID's check character, an org not on the roster)
RULES = (
    "must not be before", "must not be after", "must not be in the future", "must not be more than",
    "is not an active mediator", "does not exist", "is not registered", "check character",
    "impossible birth date", "must be 17 digits", "must be 18 characters", "cannot be a", "its township",
    "its county", "must lie inside", "sits at tier", "sits in a", "is not on the court's roster",
    "applies only to in_litigation", "pre_filing", "referral is decided", "is required unless",
    "must be an organisation in the dispute's county", "at most two decimal places", "already at this organisation",
    "of strictly higher tier", "of the same or a lower tier", "not a cursor", "version",
    # across query parameters: a period's end after its start, a rate's part, a trend's length, a child region
    "must be after", "for a rate", "applies to rates only", "a trend covers at most", "must be a direct child region",
)


def a_rule_refused(response) -> bool:
    if response.status_code != 422:
        return False
    errors = response.json().get("errors") or []
    return bool(errors) and all(any(rule in e["message"] for rule in RULES) for e in errors)


def accepted_unless_a_rule_refused(ctx, response, case):
    """`positive_data_acceptance`, with the 422s of cross-field and state rules expected."""
    if a_rule_refused(response):
        return True
    return positive_data_acceptance(ctx, response, case)


#: the seeded ids the path-parameter hook hands out (filled when the service is up)
SEEDED: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def seeded(served: Served):
    SEEDED.update(served.ids)
    yield
    SEEDED.clear()


def _path_ids(path: str) -> dict[str, str]:
    ids = SEEDED
    dispute = ids["dispute_id"]
    if path.endswith(("/performance", "/visit", "/confirmation")):
        dispute = ids["resolved_id"]
    elif "/court/entrustments/" in path:
        dispute = ids["entrusted_id"]
    referral = ids["litigation_referral"] if path.endswith("/ack") else ids["confirmation_referral"]
    return {"dispute_id": dispute, "referral_id": referral, "org_id": ids["org_id"], "court_id": ids["court_id"],
            "mediator_id": ids["mediator_id"], "code": ids["code"]}


# The document is the one the code builds (the served one is compared below): schemathesis
# reads it at collection, before any service runs.
schema = schemathesis.openapi.from_dict(
    create_app(manage_database=False, run_worker=False).openapi_schema.to_schema(),
    config=SchemathesisConfig.from_dict({
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "mode": "all"},
    }))


@schema.hook
def map_path_parameters(ctx, path_parameters):
    """Seeded ids in place of random ones, so operations get past 404; a value that is not
    an id at all (a negative case) is left as generated."""
    real = _path_ids(ctx.operation.path) if SEEDED else {}
    return {name: real[name] if name in real and _looks_valid(name, value) else value
            for name, value in (path_parameters or {}).items()}


def _looks_valid(name: str, value) -> bool:
    if name == "code":   # as the document's pattern says: a schema-violating code stays for the negative case
        return isinstance(value, str) and re.fullmatch(ANY_REGION_CODE_RE, value) is not None
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def caller(case) -> str:
    if "/court/" in case.path:
        return "court"
    if case.path.startswith("/api/v1/disputes") and case.method != "GET":
        return "mediator"
    return "admin"


def test_the_served_document_is_the_one_tested(served: Served):
    assert httpx.get(f"{served.base_url}/schema/openapi.json").json() == schema.raw_schema


@schema.parametrize()
def test_the_document_tells_the_truth(case, served: Served):
    case.call_and_validate(base_url=served.base_url, headers=served.h(caller(case)),
                           excluded_checks=[positive_data_acceptance],
                           additional_checks=[accepted_unless_a_rule_refused])
