"""The HTTP server: uvicorn with deadlines for receiving a request.

uvicorn times out only the idle gap between requests, and its keep-alive timer is reset
by every byte received, so a client sending half a header (or a body one byte a minute)
holds a connection for as long as it likes (slowloris). Middleware cannot help: the app
sees a request only once its headers are complete. So the deadlines live in the protocol
uvicorn runs per connection: the request line and headers must arrive within
`header_timeout` of the request's first byte (of the connection, for the first request),
the body within `body_timeout` of the headers; otherwise the connection is closed. The
time the app takes to answer is not limited here.

Behind a reverse proxy, set the proxy's equivalents too (README: nginx
`client_header_timeout`, `client_body_timeout`)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import h11
import structlog
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0

log = structlog.get_logger("tiaojie.http")


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each phase of receiving a request."""

    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: Literal["header", "body"] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("header")  # a connection that never sends a byte is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm("header")  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()  # a pipelined request may have started meanwhile

    def _follow(self) -> None:
        """Match the deadline to what the client is sending now."""
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if self._phase != "body":
                self._arm("body")
        elif state is h11.IDLE:
            if self._deadline is None and self.conn.trailing_data[0]:
                self._arm("header")
        else:  # the request is in (DONE), or the connection is ending
            self._disarm()

    def _arm(self, phase: Literal["header", "body"]) -> None:
        self._disarm()
        self._phase = phase
        timeout = self.header_timeout if phase == "header" else self.body_timeout
        self._deadline = self.loop.call_later(timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._phase = None, None

    def _expire(self) -> None:
        phase = self._phase
        self._deadline, self._phase = None, None
        if self.transport is not None and not self.transport.is_closing():
            log.warning("http.slow_client_closed", phase=phase,
                        timeout=self.header_timeout if phase == "header" else self.body_timeout)
            self.transport.close()


def protocol(*, header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT) -> type[H11Protocol]:
    return type("DeadlineH11Protocol", (DeadlineH11Protocol,),
                {"header_timeout": header_timeout, "body_timeout": body_timeout})


def config(app: Any, *, host: str, port: int, header_timeout: float = HEADER_TIMEOUT,
           body_timeout: float = BODY_TIMEOUT) -> uvicorn.Config:
    """How `tiaojie serve` runs the app: our logging (no uvicorn access log: it would log
    query strings unredacted), the request deadlines, a 5 s graceful shutdown."""
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=5,
                          http=protocol(header_timeout=header_timeout, body_timeout=body_timeout))


# ---------------------------------------------------------------- several processes on one port

def app_in_worker() -> Any:
    """The app as each `serve --workers N` process builds it (a uvicorn factory): settings
    from the environment the parent prepared, so the child joins the database the parent
    started and migrated instead of starting one of its own."""
    import os

    from api import logs
    from api.app import create_app

    _end_with_parent()
    logs.configure(os.environ.get("TIAOJIE_LOG_LEVEL", "INFO"))
    return create_app()


def _end_with_parent() -> None:
    """A server process gets SIGTERM when the parent dies, however it dies (SIGKILL, the OOM
    killer): orphans would keep the port, so the next `serve` could not bind it. Linux only
    (prctl PR_SET_PDEATHSIG); elsewhere nothing happens."""
    import contextlib
    import ctypes
    import os
    import signal

    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:   # the parent died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def serve_processes(*, database_url: str, host: str, port: int, workers: int) -> bool:
    """Run `workers` uvicorn processes on one listening socket (uvicorn's supervisor: it
    binds once, spawns the processes, replaces one that dies, ends them all on SIGINT or
    SIGTERM). Each process has its own pool, its own in-process delivery worker and its own
    scheduler; they share only the database. Request metrics are summed across the processes
    through prometheus-client's multiprocess mode. Answers whether every process started."""
    import os
    import shutil
    import tempfile

    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess

    metrics_dir = tempfile.mkdtemp(prefix="tiaojie-metrics-")
    # the children are spawned (not forked): they read these from the environment they inherit
    os.environ["TIAOJIE_DATABASE_URL"] = database_url
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    config = uvicorn.Config("api.server:app_in_worker", factory=True, host=host, port=port, workers=workers,
                            log_config=None, access_log=False, timeout_graceful_shutdown=5, http=DeadlineH11Protocol,
                            # a process busy answering must not be taken for hung and replaced
                            timeout_worker_healthcheck=60)
    sock = config.bind_socket()
    supervisor = Multiprocess(config, sockets=[sock])
    try:
        supervisor.run()
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return all(p.exitcode != STARTUP_FAILURE for p in supervisor.processes)
