"""Slow clients cannot hold a connection (issue 11, item 8): a real uvicorn server, as
`tiaojie serve` configures it but with deadlines of a fraction of a second, closes a
connection that sends half a header, or headers and half a body, or half of the next
request on a kept-alive connection. The only time bound asserted is a generous one (the
connection must be closed at all), never how quickly."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import uvicorn

from api import server
from api.app import create_app

GENEROUS = 60.0  # far beyond the injected deadlines: only "closed at all" is asserted


@contextlib.asynccontextmanager
async def running(header_timeout: float = 0.3, body_timeout: float = 0.3):
    app = create_app(manage_database=False, run_worker=False)
    srv = uvicorn.Server(server.config(app, host="127.0.0.1", port=0, header_timeout=header_timeout,
                                       body_timeout=body_timeout))
    task = asyncio.create_task(srv.serve(sockets=None))
    while not srv.started:
        assert not task.done(), task.exception()
        await asyncio.sleep(0.01)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        srv.should_exit = True
        await asyncio.wait_for(task, GENEROUS)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), GENEROUS)


async def test_half_a_header_is_disconnected():
    async with running() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /favicon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        await writer.drain()
        assert await read_until_closed(reader) == b""
        writer.close()


async def test_a_connection_that_sends_nothing_is_disconnected():
    async with running() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await read_until_closed(reader) == b""
        writer.close()


async def test_a_body_that_never_completes_is_disconnected(world):
    """Signed in, so the app waits for the body (an unauthenticated request would be
    answered 401 without reading it, and uvicorn's keep-alive timer would end it)."""
    async with running(header_timeout=GENEROUS) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /api/v1/disputes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + world.tokens["village_a1"].encode() +
                     b"\r\nContent-Length: 1000\r\n\r\n{\"summary\": ")
        await writer.drain()
        assert await read_until_closed(reader) == b""
        writer.close()


async def test_a_kept_alive_connection_trickling_its_next_request_is_disconnected():
    async with running(header_timeout=0.5) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /favicon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), GENEROUS)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        await asyncio.wait_for(reader.readexactly(length), GENEROUS)
        for chunk in (b"GET /favicon.svg HT", b"TP/1.1\r\n", b"Host: 1"):  # a byte now and then
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.2)
        assert await read_until_closed(reader) == b""
        writer.close()


@pytest.mark.parametrize("timeout", [0.3])
async def test_a_prompt_client_is_answered_and_a_slow_app_is_not_cut(timeout):
    """The deadlines cover receiving the request only: a complete request is answered."""
    async with running(header_timeout=timeout, body_timeout=timeout) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /favicon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        await writer.drain()
        data = await read_until_closed(reader)
        assert data.startswith(b"HTTP/1.1 200") and b"<svg" in data
        writer.close()


async def test_tiaojie_serve_runs_with_the_deadlines_and_stops_cleanly_on_sigint(database_url, pool, tmp_path):
    """The real command serves through `api.server` and, like `uvicorn.run` did, ends on
    Ctrl-C with status 0 and no traceback."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TIAOJIE_DATABASE_URL": database_url, "TIAOJIE_DATA_DIR": str(tmp_path / "data")}
    err_path = tmp_path / "stderr.log"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + GENEROUS
            while True:
                assert proc.poll() is None, err_path.read_text(errors="replace")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, err_path.read_text(errors="replace")
                await asyncio.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=GENEROUS) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "Traceback" not in err_path.read_text(errors="replace")
