"""The request log line carries only query parameters known to be harmless, with values
of a known bounded shape; every other value, and every key it does not know, is redacted
(issue 11, item 2). The log-capture test walks every query parameter of every GET
operation in the app's own OpenAPI document, so a list added later is covered too."""

from __future__ import annotations

import re
import uuid

import pytest

from api.logs import loggable_path, loggable_query
from tests.conftest import VALID_ID
from tests.test_logging import captured, request_lines  # noqa: F401  (fixture)

PHONE = "13812345678"
NAME = "王小明"
#: what a client might put in any parameter: a name, a phone number, an ID number
PERSONAL = f"{NAME} {PHONE} {VALID_ID}"
SECRET_TOKEN = "tj_9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def test_free_text_search_is_dropped_whole_from_the_logged_query():
    assert loggable_query("q=张三&status=open".encode()) == "q=[redacted]&status=open"
    assert loggable_query(b"q=%E5%BC%A0%E4%B8%89") == "q=[redacted]"
    assert loggable_query(b"") is None


def test_only_known_parameters_with_bounded_values_are_logged_as_sent():
    assert loggable_query(b"region=511325&limit=500&status=open&type=neighbor&overdue=true") == (
        "region=511325&limit=500&status=open&type=neighbor&overdue=true")
    org = uuid.uuid4()
    assert loggable_query(f"org_id={org}&month=2026-11&registered_from=2026-01-01".encode()) == (
        f"org_id={org}&month=2026-11&registered_from=2026-01-01")


@pytest.mark.parametrize("raw,expected", [
    (b"region=511325&phone=13812345678", "region=511325&phone=[redacted]"),
    (f"name={NAME}".encode(), "name=[redacted]"),
    (f"token={SECRET_TOKEN}".encode(), "token=[redacted]"),
    (f"access_token={SECRET_TOKEN}".encode(), "access_token=[redacted]"),
    (b"debug=1", "debug=[redacted]"),                              # an unknown key: value redacted
    (f"status={NAME}".encode(), "status=[redacted]"),               # a known key with a value of the wrong shape
    (b"region=13812345678", "region=[redacted]"),                   # 11 digits are never a region code
    (b"limit=13812345678", "limit=[redacted]"),
    (b"type=" + b"a" * 41, "type=[redacted]"),                      # codes are short
    (b"cursor=WyJ4Il0", "cursor=[redacted]"),                       # a forged cursor may hold anything
    ("王小明=1".encode(), "[redacted]=[redacted]"),                  # a key that is not an identifier
    (b"actor=token:zhangsan", "actor=[redacted]"),
    (b"%ff%fe=%ff", "[redacted]=[redacted]"),
])
def test_everything_else_is_redacted(raw, expected):
    assert loggable_query(raw) == expected


def test_a_query_with_many_parameters_logs_a_bounded_line():
    line = loggable_query(b"&".join(b"limit=1" for _ in range(5000)))
    assert len(line) < 1000 and line.endswith("&...")


@pytest.mark.parametrize("path,expected", [
    ("/api/v1/disputes", "/api/v1/disputes"),
    (f"/api/v1/regions/{VALID_ID}", "/api/v1/regions/[redacted]"),
    (f"/api/v1/orgs/{NAME}", "/api/v1/orgs/[redacted]"),
    ("/api/v1/reports/511325/2026-11", "/api/v1/reports/511325/2026-11"),
])
def test_path_segments_that_are_not_plain_identifiers_are_redacted(path, expected):
    assert loggable_path(path) == expected


def _query_operations(app) -> list[tuple[str, str]]:
    """(path with ids filled in, query parameter) for every GET operation of the API."""
    schema = app.openapi_schema.to_schema()
    out = []
    for path, item in schema["paths"].items():
        op = item.get("get")
        if not op or not path.startswith("/api/v1"):
            continue
        concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        out += [(concrete, p["name"]) for p in op.get("parameters", []) if p["in"] == "query"]
    return out


def test_the_openapi_walk_finds_the_lists():
    from api.app import create_app

    found = _query_operations(create_app(manage_database=False, run_worker=False))
    params = {name for _, name in found}
    assert {"limit", "cursor", "q", "status", "region"} <= params
    assert len({path for path, _ in found}) >= 8


async def test_no_query_parameter_of_any_operation_puts_personal_data_in_the_log(app, client, world, captured):  # noqa: F811
    """Every query parameter of every GET operation, sent with a name, a phone number and
    an ID number by an admin (who gets furthest): none of them reaches the log, and
    neither do `token` / `access_token` / `name` added to each request."""
    operations = _query_operations(app)
    for path, name in operations:
        params = {name: PERSONAL, "token": SECRET_TOKEN, "access_token": SECRET_TOKEN, "name": NAME}
        r = await client.get(path, params=params, headers=world.h("admin"))
        assert r.status_code < 500, (path, name, r.text)
    text = captured.getvalue()
    lines = [line for line in request_lines(captured) if line["method"] == "GET"]
    assert len(lines) == len(operations)
    for secret in (NAME, PHONE, VALID_ID, SECRET_TOKEN, "%E7%8E%8B"):
        assert secret not in text, f"{secret!r} reached the log"
    assert all("[redacted]" in line["query"] for line in lines)
