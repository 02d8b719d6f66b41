"""A reference webhook receiver: what a court's endpoint does, in a few lines.

`tiaojie court-sim --port 8900 --secret whsec_…` listens on 127.0.0.1, verifies every
POST with the court's secret(s) through `referrals.signing`, prints each event (type,
webhook-id, data) and answers 204 — or prints a refusal and answers 401 when the signature
does not hold.

`Receiver` is the same server as a class (a `ThreadingHTTPServer` on a thread of its
own) with hooks to misbehave — fail, hang, answer 429 with Retry-After or 410 — and a
record of every request, including which webhook-ids were in flight at once; the tests
and the delivery benchmark use it as the court.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from referrals import signing


@dataclasses.dataclass(frozen=True)
class Received:
    webhook_id: str | None
    timestamp: str | None
    signature: str | None
    headers: dict[str, str]
    body: bytes
    path: str
    at: float  # time.time() when the request arrived
    verified: bool | None  # None when the receiver checks no signatures
    attempt: int  # 1 for the first request carrying this webhook-id, 2 for the next…

    def json(self) -> Any:
        return json.loads(self.body)


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int = 204
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (past the sender's timeout = a hang)
    hold: threading.Event | None = None  # answer only once this is set (or the receiver stops)
    body: bytes = b""
    drop: bool = False  # close the connection without answering


Behaviour = Callable[[Received], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class Receiver:
    """A court endpoint on 127.0.0.1 that records what it is sent.

    `behaviour(received) -> Reply` decides each answer (default 204). With `secrets`,
    requests whose signature does not verify get 401 and never reach the behaviour."""

    def __init__(self, *, behaviour: Behaviour | None = None, secrets: Iterable[str] | None = None,
                 host: str = "127.0.0.1", port: int = 0, tolerance: float = signing.DEFAULT_TOLERANCE_SECONDS,
                 on_request: Callable[[Received, Reply], None] | None = None) -> None:
        self.behaviour = behaviour or (lambda _r: Reply())
        self.secrets = list(secrets) if secrets is not None else None
        self.tolerance = tolerance
        self.on_request = on_request
        self.received: list[Received] = []
        self.overlaps: list[str] = []  # a webhook-id that arrived while a request with it was still open
        self.max_in_flight = 0
        self._in_flight: dict[str, int] = {}
        self._answered: dict[str, tuple[int, float]] = {}  # first 2xx per webhook-id: (attempt, time)
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._server = _Server((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    # -- running

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/webhook"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="court-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what happened

    def delivered(self) -> dict[str, tuple[int, float]]:
        """webhook-id → (attempt, time) of its first 2xx answer."""
        with self._lock:
            return dict(self._answered)

    def attempts(self, webhook_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.webhook_id == webhook_id]

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return predicate(self)

    # -- the HTTP side

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the worker reuses connections

            def log_message(self, *args: Any) -> None:  # quiet; events are printed by main()
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver._handle(self, body)

            def do_GET(self) -> None:
                self._answer(Reply(status=405, headers={"allow": "POST"}))

            def _answer(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                if reply.body:
                    self.wfile.write(reply.body)

        return Handler

    def _handle(self, handler: Any, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        webhook_id = headers.get("webhook-id")
        verified: bool | None = None
        if self.secrets is not None:
            try:
                signing.verify(self.secrets, body, headers, tolerance=self.tolerance)
                verified = True
            except signing.SignatureError:
                verified = False
        with self._lock:
            key = webhook_id or ""
            self._counts[key] = self._counts.get(key, 0) + 1
            received = Received(webhook_id=webhook_id, timestamp=headers.get("webhook-timestamp"),
                                signature=headers.get("webhook-signature"), headers=headers, body=body,
                                path=handler.path, at=time.time(), verified=verified, attempt=self._counts[key])
            self.received.append(received)
            if self._in_flight.get(key):
                self.overlaps.append(key)
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            self.max_in_flight = max(self.max_in_flight, sum(self._in_flight.values()))
        reply = Reply(status=401, body=b'{"error":"bad signature"}',
                      headers={"content-type": "application/json"}) if verified is False else None
        try:
            if reply is None:
                reply = self.behaviour(received)
                if reply.delay:
                    self._stopped.wait(reply.delay)
                if reply.hold is not None:
                    while not reply.hold.wait(0.05) and not self._stopped.is_set():
                        pass
            if 200 <= reply.status < 300 and not reply.drop:
                with self._lock:
                    self._answered.setdefault(key, (received.attempt, time.time()))
            if self.on_request is not None:
                self.on_request(received, reply)
            if reply.drop:
                handler.close_connection = True
                with contextlib.suppress(OSError):
                    handler.connection.shutdown(2)  # socket.SHUT_RDWR
            else:
                with contextlib.suppress(OSError):
                    handler._answer(reply)
        finally:
            with self._lock:
                self._in_flight[key] -= 1


# -- the command


def main(port: int = 8900, secret: str = "", host: str = "127.0.0.1", *, out=None) -> int:
    """Serve until interrupted; the exit code is 0, or 2 for a secret that is not
    `whsec_` + base64, 1 when the port cannot be bound."""
    out = out or sys.stdout
    try:
        signing.secret_key(secret)
    except ValueError as e:
        print(f"court-sim: {e}", file=sys.stderr)
        return 2

    def show(received: Received, reply: Reply) -> None:
        if received.verified is False:
            print(f"REFUSED 401 webhook-id={received.webhook_id} (signature does not verify with the secret)",
                  file=out, flush=True)
            return
        try:
            event = received.json()
            line = (f"{event.get('type')} webhook-id={received.webhook_id} "
                    f"data={json.dumps(event.get('data'), ensure_ascii=False, sort_keys=True)}")
        except (ValueError, AttributeError):
            line = f"? webhook-id={received.webhook_id} (body is not a JSON event)"
        print(line, file=out, flush=True)

    try:
        receiver = Receiver(secrets=[secret], host=host, port=port, on_request=show)
    except OSError as e:
        print(f"court-sim: cannot listen on {host}:{port}: {e}", file=sys.stderr)
        return 1
    done = threading.Event()
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[sig] = signal.signal(sig, lambda *_: done.set())
    receiver.start()
    print(f"court-sim listening on {receiver.url} (any path); verifying with the given secret", file=out,
          flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        receiver.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900)
    p.add_argument("--secret", required=True)
    a = p.parse_args()
    sys.exit(main(port=a.port, secret=a.secret, host=a.host))
