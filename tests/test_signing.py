"""Standard Webhooks v1 signing (`referrals.signing`), checked against the specification's
published example and the independent `standardwebhooks` library, and the reference
receiver `tiaojie court-sim` that verifies with it."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from referrals import signing

# the example of the Standard Webhooks specification (and of its libraries' tests)
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = json.dumps({"type": "referral.created", "timestamp": "2026-11-25T01:00:00Z",
                   "data": {"dispute_id": "d1", "case_no": "511325-2026-000001", "status": "pending"}},
                  ensure_ascii=False).encode()


def test_sign_matches_the_specification_example():
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY.encode()) == SPEC_SIGNATURE


def test_key_is_the_base64_after_whsec_and_padding_may_be_missing():
    key = bytes(range(24))
    secret = "whsec_" + base64.b64encode(key).decode()
    assert signing.secret_key(secret) == key
    assert signing.secret_key(secret.rstrip("=")) == key
    unpadded = "whsec_" + base64.b64encode(bytes(range(25))).decode().rstrip("=")
    assert signing.secret_key(unpadded) == bytes(range(25))


@pytest.mark.parametrize("bad", ["whsec_", "whsec_not base64!", "whsec_@@@@"])
def test_a_secret_that_is_not_base64_is_refused(bad):
    with pytest.raises(ValueError):
        signing.secret_key(bad)


def test_new_secrets_are_distinct_32_byte_keys():
    a, b = signing.new_secret(), signing.new_secret()
    assert a.startswith("whsec_") and a != b
    assert len(signing.secret_key(a)) == 32


def test_headers_verify_with_the_standardwebhooks_library():
    secret = signing.new_secret()
    now = int(time.time())
    headers = signing.headers("msg_abc", now, BODY, [secret])
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type"}
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == str(now)
    assert headers["webhook-signature"].startswith("v1,") and " " not in headers["webhook-signature"]
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    # Chinese text in the body: the signature is over the UTF-8 bytes
    body = json.dumps({"type": "referral.created", "data": {"note": "调解成功"}}, ensure_ascii=False).encode()
    assert Webhook(secret).verify(body, signing.headers("msg_zh", now, body, [secret]))["data"]["note"] == "调解成功"


def test_during_rotation_both_secrets_sign_and_either_verifies():
    old, new = signing.new_secret(), signing.new_secret()
    now = int(time.time())
    headers = signing.headers("msg_rot", now, BODY, [new, old])
    entries = headers["webhook-signature"].split(" ")
    assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)
    signing.verify(old, BODY, headers)
    signing.verify([new], BODY, headers)


def test_verify_refuses_a_changed_body_id_timestamp_or_secret():
    secret = signing.new_secret()
    now = int(time.time())
    headers = signing.headers("msg_1", now, BODY, [secret])
    signing.verify(secret, BODY, headers, now=now)
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, BODY + b" ", headers, now=now)
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, BODY, {**headers, "webhook-id": "msg_2"}, now=now)
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, BODY, {**headers, "webhook-timestamp": str(now + 1)}, now=now)
    with pytest.raises(signing.SignatureError):
        signing.verify(signing.new_secret(), BODY, headers, now=now)
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, BODY, {k: v for k, v in headers.items() if k != "webhook-signature"}, now=now)
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, BODY, {**headers, "webhook-signature": "v2," + headers["webhook-signature"][3:]},
                       now=now)


def test_verify_refuses_timestamps_outside_five_minutes():
    secret = signing.new_secret()
    now = int(time.time())
    old = signing.headers("msg_1", now - 301, BODY, [secret])
    future = signing.headers("msg_1", now + 301, BODY, [secret])
    edge = signing.headers("msg_1", now - 300, BODY, [secret])
    for h in (old, future):
        with pytest.raises(signing.SignatureError):
            signing.verify(secret, BODY, h, now=now)
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(BODY, h)
    signing.verify(secret, BODY, edge, now=now)


def test_headers_need_a_secret():
    with pytest.raises(ValueError):
        signing.headers("msg_1", 1, BODY, [])


# -- the reference receiver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiaojie() -> list[str]:
    return [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())"]


def test_court_sim_prints_verified_events_and_refuses_bad_signatures():
    secret = signing.new_secret()
    port = _free_port()
    proc = subprocess.Popen([*_tiaojie(), "court-sim", "--port", str(port), "--secret", secret],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert "listening" in proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/webhook"
        now = int(time.time())
        with httpx.Client(trust_env=False) as http:
            ok = http.post(url, content=BODY, headers=signing.headers("msg_good", now, BODY, [secret]))
            bad = http.post(url, content=BODY, headers=signing.headers("msg_bad", now, BODY, [signing.new_secret()]))
            unsigned = http.post(url, content=BODY)
        assert ok.status_code == 204
        assert bad.status_code == 401 and unsigned.status_code == 401
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        assert lines[0] == ('referral.created webhook-id=msg_good data={"case_no": "511325-2026-000001", '
                            '"dispute_id": "d1", "status": "pending"}')
        assert lines[1].startswith("REFUSED 401 webhook-id=msg_bad")
        assert lines[2].startswith("REFUSED 401 webhook-id=None")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_court_sim_refuses_a_malformed_secret():
    out = subprocess.run([*_tiaojie(), "court-sim", "--port", str(_free_port()), "--secret", "whsec_!!"],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 2
    assert "base64" in out.stderr
