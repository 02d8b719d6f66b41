"""Logs (DESIGN.md / API.md "Personal data"): the service's real log output — JSON lines
with a request id when not on a terminal — never holds an ID number or a phone number:
not in the request line's query string, not in a message, not in a traceback."""

from __future__ import annotations

import io
import json
import logging
import urllib.parse

import pytest
import structlog

from api import logs
from tests.conftest import VALID_ID, dispute_body, register

API = "/api/v1"
PHONE = "13812345678"
CREDIT_CODE = "91350100M000100Y43"
SECRETS = [VALID_ID, VALID_ID.lower(), PHONE, CREDIT_CODE, "0817-3312345", "1949123100", "12345678"]


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into the log:\n{text}"


@pytest.fixture
def captured():
    """Configure api.logs exactly as the service does, writing to a StringIO; restore after."""
    old_config = structlog.get_config()
    root = logging.getLogger()
    old_handlers, old_level = root.handlers[:], root.level
    access_disabled = logging.getLogger("uvicorn.access").disabled
    stream = io.StringIO()
    logs.configure("INFO", stream=stream)
    yield stream
    structlog.configure(**old_config)
    root.handlers[:] = old_handlers
    root.setLevel(old_level)
    logging.getLogger("uvicorn.access").disabled = access_disabled
    structlog.contextvars.clear_contextvars()


def lines(stream: io.StringIO) -> list[dict]:
    out = []
    for line in stream.getvalue().splitlines():
        assert line.strip(), "no blank lines"
        out.append(json.loads(line))  # every line is one JSON object
    return out


def request_lines(stream) -> list[dict]:
    return [entry for entry in lines(stream) if entry.get("event") == "request"]


async def test_request_line_is_json_with_the_request_id_of_the_answer(client, world, captured):
    r = await client.get(f"{API}/orgs", headers=world.h("admin"))
    assert r.status_code == 200
    (line,) = request_lines(captured)
    assert line["request_id"] == r.headers["x-request-id"]
    assert len(line["request_id"]) == 32
    assert (line["method"], line["path"], line["status"], line["level"]) == ("GET", f"{API}/orgs", 200, "info")
    assert line["query"] is None
    assert isinstance(line["ms"], float)
    assert line["timestamp"].endswith("Z")


async def test_an_incoming_request_id_is_kept(client, world, captured):
    r = await client.get(f"{API}/orgs", headers={**world.h("admin"), "X-Request-Id": "court-abc-123"})
    assert r.headers["x-request-id"] == "court-abc-123"
    assert request_lines(captured)[-1]["request_id"] == "court-abc-123"
    r = await client.get(f"{API}/orgs", headers={**world.h("admin"), "X-Request-Id": "x" * 65})
    assert r.headers["x-request-id"] != "x" * 65 and len(r.headers["x-request-id"]) == 32
    assert request_lines(captured)[-1]["request_id"] == r.headers["x-request-id"]


@pytest.mark.parametrize("path,status", [
    (f"{API}/nothing-here", 404), ("/nope", 404), (f"{API}/disputes", 401),
])
async def test_every_answer_gets_a_request_line_and_id(client, world, captured, path, status):
    r = await client.get(path)
    assert r.status_code == status
    (line,) = request_lines(captured)
    assert line["status"] == status
    assert line["request_id"] == r.headers["x-request-id"]


@pytest.mark.parametrize("query", [
    {"q": VALID_ID},
    {"q": VALID_ID.lower()},
    {"q": PHONE},
    {"q": "张三" + VALID_ID},          # percent-encoded right after a Chinese character
    {"q": "张三" + PHONE},
    {"q": f"+86 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}"},
    {"q": CREDIT_CODE},
    {"q": "0817-3312345"},
    {"q": "x", "phone": PHONE, "id": VALID_ID},
])
async def test_query_strings_are_redacted_in_the_request_line(client, world, captured, query):
    await register(client, world)
    r = await client.get(f"{API}/disputes", params=query, headers=world.h("admin"))
    # undeclared parameters (phone, id) are refused, and their values are kept out of the log all the same
    assert r.status_code == (422 if set(query) - {"q"} else 200)
    (line,) = [entry for entry in request_lines(captured) if entry["method"] == "GET"]
    assert line["request_id"] == r.headers["x-request-id"]
    assert "[redacted]" in line["query"]
    assert_clean(captured.getvalue())
    assert_clean(urllib.parse.unquote_plus(captured.getvalue()))


async def test_personal_data_in_the_path_is_redacted(client, world, captured):
    r = await client.get(f"{API}/regions/{VALID_ID}", headers=world.h("admin"))
    assert r.status_code == 422
    assert_clean(captured.getvalue())
    assert request_lines(captured)[0]["path"] == f"{API}/regions/[redacted]"


async def test_registering_and_revealing_logs_no_personal_data(client, world, captured):
    body = dispute_body(world)
    body["parties"].append({"role": "third_party", "kind": "organization", "name": "某公司", "id_number": CREDIT_CODE,
                            "phone": "0817-3312345"})
    r = await client.post(f"{API}/disputes", json=body, headers=world.h("village_a1"))
    assert r.status_code == 201
    r = await client.get(f"{API}/disputes/{r.json()['id']}?reveal=true", headers=world.h("village_a1"))
    assert r.status_code == 200 and VALID_ID in r.text
    bad = dispute_body(world)
    bad["parties"][0]["id_number"] = "110105194912310021"
    r = await client.post(f"{API}/disputes", json=bad, headers=world.h("village_a1"))
    assert r.status_code == 422
    assert_clean(captured.getvalue())
    assert "110105194912310021" not in captured.getvalue()
    assert len(request_lines(captured)) == 3


async def test_an_unexpected_error_logs_a_redacted_traceback(client, world, captured, monkeypatch):
    """A bug that raises with personal data in its message and locals: the 500 answer has no
    trace, the logged traceback has no ID or phone number."""
    from mediation import disputes

    d = await register(client, world)

    async def broken_get(principal, dispute_id, *, reveal=False):
        party_id_number = VALID_ID  # a local holding personal data
        party_phone = PHONE
        raise RuntimeError(f"cannot format party {party_id_number} / {party_phone}")

    monkeypatch.setattr(disputes, "get", broken_get)
    r = await client.get(f"{API}/disputes/{d['id']}", headers=world.h("village_a1"))
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in r.text and VALID_ID not in r.text and "RuntimeError" not in r.text
    entries = lines(captured)
    (error,) = [e for e in entries if e.get("event") == "unhandled_error"]
    assert error["request_id"] == r.headers["x-request-id"]
    assert error["level"] == "error"
    rendered = json.dumps(error, ensure_ascii=False)
    assert "RuntimeError" in rendered and "broken_get" in rendered  # the traceback is there…
    assert "[redacted]" in rendered                                 # …with the data taken out
    assert_clean(captured.getvalue())
    (line,) = [e for e in entries if e.get("event") == "request" and e["method"] == "GET"]
    assert line["status"] == 500
    assert line["request_id"] == r.headers["x-request-id"]


def test_redaction_processor_on_a_real_exception_with_exc_info(captured):
    log = structlog.get_logger("tiaojie.test")

    def parse(id_number: str, phone: str):
        detail = {"id_number": id_number, "phone": phone}
        raise ValueError(f"bad party {detail}")

    try:
        parse(VALID_ID, PHONE)
    except ValueError:
        log.exception("party_failed", party=VALID_ID, numbers=[PHONE, CREDIT_CODE], nested={"id": VALID_ID.lower()})
    (entry,) = lines(captured)
    assert entry["event"] == "party_failed"
    assert entry["party"] == "[redacted]"
    assert entry["numbers"] == ["[redacted]", "[redacted]"]
    assert entry["nested"] == {"id": "[redacted]"}
    assert "ValueError" in json.dumps(entry)
    assert_clean(captured.getvalue())


def test_the_processor_itself_redacts_exc_info_rendered_later():
    """Called directly on an event dict whose traceback has been rendered to text."""
    try:
        raise KeyError(f"{VALID_ID} {PHONE}")
    except KeyError as e:
        exc = e
    event = {"event": "boom", "exc_info": exc}
    rendered = structlog.processors.format_exc_info(None, "error", event)
    assert VALID_ID in rendered["exception"]
    out = logs.redact_personal_data(None, "error", rendered)
    assert VALID_ID not in out["exception"] and PHONE not in out["exception"]
    assert "KeyError" in out["exception"]


def test_stdlib_loggers_go_through_the_same_redaction(captured):
    logging.getLogger("asyncpg").warning("query failed for %s, phone %s", VALID_ID, PHONE)
    try:
        raise OSError(f"cannot reach {PHONE}")
    except OSError:
        logging.getLogger("uvicorn.error").exception("failure with %s", CREDIT_CODE)
    entries = lines(captured)
    assert [e["event"] for e in entries] == ["query failed for [redacted], phone [redacted]",
                                             "failure with [redacted]"]
    assert [e["logger"] for e in entries] == ["asyncpg", "uvicorn.error"]
    assert_clean(captured.getvalue())


def test_terminal_output_is_not_json_but_still_redacted():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    old_config = structlog.get_config()
    root = logging.getLogger()
    old_handlers, old_level = root.handlers[:], root.level
    stream = Tty()
    try:
        logs.configure("INFO", stream=stream)
        structlog.get_logger("t").info("hello", id_number=VALID_ID)
        text = stream.getvalue()
    finally:
        structlog.configure(**old_config)
        root.handlers[:] = old_handlers
        root.setLevel(old_level)
    assert "hello" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])
    assert VALID_ID not in text and "[redacted]" in text


@pytest.mark.parametrize("text,expected", [
    (VALID_ID, "[redacted]"),
    (VALID_ID.lower(), "[redacted]"),
    ("身份证" + VALID_ID + "。", "身份证[redacted]。"),
    ("ID" + VALID_ID, "ID[redacted]"),
    ("110105491231002", "[redacted]"),            # the old 15-digit form
    (CREDIT_CODE, "[redacted]"),
    (PHONE, "[redacted]"),
    ("+86 138 1234 5678", "[redacted]"),
    ("138-1234-5678", "[redacted]"),
    ("电话0817-3312345", "电话[redacted]"),
    ("case 511325-2026-000123", "case 511325-2026-000123"),   # case numbers stay
    ("request 3f2b9c0e8a4d4e1f9b7a6c5d4e3f2a1b", "request 3f2b9c0e8a4d4e1f9b7a6c5d4e3f2a1b"),
    ("dispute 0b5c3d8e-1f2a-4b6c-9d0e-7f8a9b0c1d2e", "dispute 0b5c3d8e-1f2a-4b6c-9d0e-7f8a9b0c1d2e"),
    ("took 12.5 ms, 200 rows", "took 12.5 ms, 200 rows"),
])
def test_redact_text(text, expected):
    assert logs.redact_text(text) == expected


# ---------------------------------------------------------------- the real command

async def test_tiaojie_serve_writes_redacted_json_lines(database_url, pool, tmp_path):
    """`tiaojie serve` as a process, stderr to a file (not a terminal): JSON lines, a
    request id on every request line equal to the answer's header, no personal data."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from mediation import accounts

    token = (await accounts.create_token(role="admin", name="log-admin")).token
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TIAOJIE_DATABASE_URL": database_url, "TIAOJIE_DATA_DIR": str(tmp_path / "data"),
           "TIAOJIE_LOG_LEVEL": "INFO"}
    err_path = tmp_path / "stderr.log"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        ids = []
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, err_path.read_text(errors="replace")
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, err_path.read_text(errors="replace")
                time.sleep(0.1)
            async with httpx.AsyncClient(base_url=base, timeout=10) as c:
                auth = {"Authorization": f"Bearer {token}"}
                for params, headers in (({"q": "张三" + VALID_ID}, auth), ({"q": PHONE}, {}),
                                        ({"q": VALID_ID.lower(), "tel": "0817-3312345"}, auth)):
                    r = await c.get("/api/v1/disputes", params=params, headers=headers)
                    assert r.status_code == (401 if not headers else 422 if "tel" in params else 200)
                    ids.append(r.headers["x-request-id"])
                r = await c.get(f"/api/v1/regions/{VALID_ID}", headers=auth)
                ids.append(r.headers["x-request-id"])
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = err_path.read_text()
    assert_clean(text)
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("tiaojie serving at "):  # the human start banner
            continue
        entries.append(json.loads(line))
    assert all("event" in e and "level" in e and "timestamp" in e for e in entries)
    requests = [e for e in entries if e["event"] == "request" and e["path"] != "/healthz"]
    assert [e["request_id"] for e in requests] == ids
    assert [e["status"] for e in requests] == [200, 401, 422, 422]
    assert all("[redacted]" in (e["query"] or e["path"]) for e in requests)


def test_request_ids_are_never_mangled_by_redaction(captured):
    """Random hex ids may hold digit runs shaped like phone numbers; they stay intact."""
    log = structlog.get_logger("tiaojie.test")
    for rid in ("df1eb327557f43e599f4d00074927169", "a13812345678b0000000000000000000", "110105194912310021abcdefabcdefab"):
        structlog.contextvars.bind_contextvars(request_id=rid)
        log.info("request", path="/x")
    structlog.contextvars.clear_contextvars()
    assert [e["request_id"] for e in lines(captured)] == [
        "df1eb327557f43e599f4d00074927169", "a13812345678b0000000000000000000", "110105194912310021abcdefabcdefab"]


@pytest.mark.parametrize("incoming", [PHONE, "tel-" + PHONE, VALID_ID, "x" * 65, "中文", "a b", "a\tb"])
async def test_an_incoming_request_id_holding_personal_data_or_junk_is_replaced(client, world, captured, incoming):
    r = await client.get(f"{API}/orgs", headers={**world.h("admin"), "X-Request-Id": incoming.encode()})
    assert r.status_code == 200
    rid = r.headers["x-request-id"]
    assert rid != incoming and len(rid) == 32
    assert request_lines(captured)[-1]["request_id"] == rid
    assert_clean(captured.getvalue())


async def test_many_generated_request_ids_match_their_log_lines(client, world, captured):
    ids = []
    for _ in range(150):
        r = await client.get("/healthz")
        ids.append(r.headers["x-request-id"])
    assert [e["request_id"] for e in request_lines(captured)] == ids
