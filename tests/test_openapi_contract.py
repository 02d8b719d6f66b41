"""The OpenAPI document tells the truth about requests and errors (issue 6): codes as
enums, lengths, patterns and ranges declared; every operation's error answers documented
as problem+json; no trace of Litestar's default `400 {status_code, detail, extra}`; the
problem `type` URLs answer a page."""

from __future__ import annotations

import pytest

from api.problems import PROBLEM_TYPES

API = "/api/v1"


@pytest.fixture(scope="module")
def document(app) -> dict:
    return app.openapi_schema.to_schema()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path, operation


def test_every_api_operation_documents_its_errors_as_problems(document):
    seen = 0
    for method, path, operation in operations(document):
        if not path.startswith(API):
            continue
        seen += 1
        responses = operation["responses"]
        errors = {int(s) for s in responses if int(s) >= 400}
        assert 503 in errors, (method, path)
        signed = bool(operation.get("security"))
        assert (401 in errors) == signed, (method, path)
        if "{" in path:
            assert 404 in errors, (method, path)
        if "requestBody" in operation:
            assert {400, 413, 422} <= errors, (method, path)
        if method != "GET" and signed:
            assert 409 in errors, (method, path)
        for status in errors:
            content = responses[str(status)]["content"]
            assert list(content) == ["application/problem+json"], (method, path, status)
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert seen >= 40
    lookup = document["paths"][f"{API}/public/lookup"]["post"]["responses"]
    assert {"404", "429"} <= set(lookup)


def test_no_litestar_default_error_schema_is_left(document):
    text = str(document)
    assert "status_code" not in text
    assert "'extra'" not in text


def test_the_problem_schema_is_rfc_9457_with_errors(document):
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert document["components"]["schemas"]["FieldProblem"]["required"] == ["field", "message"]


def test_request_models_declare_codes_lengths_patterns_and_ranges(document):
    schemas = document["components"]["schemas"]
    dispute = schemas["DisputeIn"]["properties"]
    assert len(dispute["type"]["enum"]) == 15
    assert "court_entrusted" not in dispute["source"]["enum"]
    assert dispute["summary"]["maxLength"] == 2000
    assert dispute["parties"]["minItems"] == 1 and dispute["parties"]["maxItems"] == 200
    assert dispute["region_code"]["pattern"] == "^(?:[0-9]{6}|[0-9]{9}|[0-9]{12})$"
    assert dispute["persons_involved"]["minimum"] == 1
    assert [b.get("type") for b in dispute["amount"]["oneOf"]] == ["string", "number", "null"]
    assert dispute["amount"]["oneOf"][1]["minimum"] == 0
    party = schemas["PartyIn"]["properties"]
    assert party["name"]["maxLength"] == 200
    assert party["address"]["maxLength"] == 500
    assert schemas["ResolveIn"]["properties"]["agreement"] == {"$ref": "#/components/schemas/AgreementIn"}
    assert schemas["AgreementIn"]["properties"]["terms"]["maxLength"] == 10000
    assert schemas["SessionIn"]["properties"]["summary"]["maxLength"] == 10000
    assert set(schemas["DecisionIn"]["properties"]["decision"]["enum"]) == {"filed", "not_filed", "confirmed",
                                                                            "rejected"}


# ---------------------------------------------------------------- the pages behind `type`

@pytest.mark.parametrize("status", sorted(PROBLEM_TYPES))
async def test_every_problem_type_url_answers_a_page_without_a_token(client, status):
    r = await client.get(f"/problems/{PROBLEM_TYPES[status].slug}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert f"HTTP {status}" in r.text


async def test_the_type_named_by_a_422_explains_it_in_chinese(client, world):
    r = await client.post(f"{API}/disputes", json={}, headers=world.h("village_a1"))
    page = await client.get(r.json()["type"], headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "数据有误" in page.text


async def test_an_unknown_problem_type_is_a_404_problem(client):
    r = await client.get("/problems/no-such-problem")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


# ---------------------------------------------------------------- bodies no decoder can read

async def test_a_body_nested_a_thousand_levels_deep_is_400(client, world):
    for raw in (b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000):
        r = await client.post(f"{API}/disputes", content=raw,
                              headers={**world.h("village_a1"), "content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert r.json()["detail"] == "The JSON in the request body is nested too deeply."


def test_the_schema_treats_invisible_characters_as_the_service_does():
    """A name of only zero-width characters is refused by the document, as the service
    (which removes them) would refuse it: the two lists of invisible characters agree."""
    import re

    from api.schemas import INVISIBLE
    from mediation.fields import INVISIBLE as REMOVED

    declared = re.compile(f"[{INVISIBLE}]")
    assert [c for c in range(0x30000) if bool(declared.fullmatch(chr(c))) != bool(REMOVED.fullmatch(chr(c)))] == []
