"""The worker's HTTP/1.1 client (referrals/webhook_http.py) against small raw servers on
127.0.0.1: keep-alive reuse, a kept-alive connection the server closed, answers delimited
by length, by chunks and by the end of the connection, the 64 KiB cap, interim answers,
garbage, and header injection refused."""

from __future__ import annotations

import asyncio

import pytest

from referrals.webhook_http import Client, ConnectFailed, ExchangeFailed


class RawServer:
    """Answers each request with the next of `answers` (bytes, or None to hang up)."""

    def __init__(self, answers: list[bytes | None], *, close_after_answer: bool = False) -> None:
        self.answers = list(answers)
        self.close_after = close_after_answer
        self.requests: list[bytes] = []
        self.connections = 0

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook?a=1"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answers.pop(0)
                if answer is None:
                    break
                for i in range(0, len(answer), 7):   # in pieces, as a slow network delivers them
                    writer.write(answer[i:i + 7])
                    await writer.drain()
                    if i < 64:
                        await asyncio.sleep(0.001)
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


OK = b"HTTP/1.1 204 No Content\r\n\r\n"


async def test_a_post_carries_its_headers_and_reuses_the_connection():
    async with RawServer([OK, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]) as s:
        c = Client(user_agent="t/1")
        a = await c.post(s.url, b'{"x":1}', {"webhook-id": "msg_1"}, max_body=100)
        b = await c.post(s.url, b'{"x":2}', {"webhook-id": "msg_2"}, max_body=100)
        await c.aclose()
    assert (a.status, b.status, b.body) == (204, 200, b"ok")
    assert s.connections == 1
    first = s.requests[0]
    assert first.startswith(b"POST /hook?a=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nwebhook-id: msg_1\r\n" in first and b"\r\nContent-Length: 7\r\n" in first
    assert first.endswith(b'\r\n\r\n{"x":1}')


async def test_a_kept_alive_connection_the_server_closed_is_replaced():
    async with RawServer([OK, OK], close_after_answer=True) as s:
        c = Client(user_agent="t/1")
        assert (await c.post(s.url, b"1", {}, max_body=10)).status == 204
        await asyncio.sleep(0.05)   # the server has closed it by now
        assert (await c.post(s.url, b"2", {}, max_body=10)).status == 204
        await c.aclose()
    assert s.connections == 2


@pytest.mark.parametrize(("answer", "body", "status"), [
    (b"HTTP/1.1 503 Busy\r\nRetry-After: 7\r\ncontent-length: 4\r\n\r\nbusy", b"busy", 503),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", b"abcde", 200),
    (b"HTTP/1.0 200 OK\r\n\r\nuntil the end", b"until the end", 200),
    (b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n", b"", 202),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n" + b"x" * 100000, b"x" * 10, 200),
])
async def test_answers_are_read_however_they_are_delimited_and_at_most_max_body(answer, body, status):
    async with RawServer([answer]) as s:
        c = Client(user_agent="t/1")
        got = await c.post(s.url, b"{}", {}, max_body=10 if len(body) == 10 else 1000)
        await c.aclose()
    assert (got.status, got.body) == (status, body)
    if status == 503:
        assert got.headers["retry-after"] == "7"


@pytest.mark.parametrize("answer", [None, b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 2x4 No\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"])
async def test_a_hang_up_or_garbage_is_an_exchange_failure(answer):
    async with RawServer([answer]) as s:
        with pytest.raises(ExchangeFailed):
            await Client(user_agent="t/1").post(s.url, b"{}", {}, max_body=10)


async def test_nobody_listening_is_a_connect_failure_and_bad_input_is_refused():
    with pytest.raises(ConnectFailed):
        await Client(user_agent="t/1").post("http://127.0.0.1:9/x", b"{}", {}, max_body=10)
    for url in ("ftp://127.0.0.1/x", "http:///x", "http://127.0.0.1:99999/x"):
        with pytest.raises(ValueError):
            await Client(user_agent="t/1").post(url, b"{}", {}, max_body=10)
    with pytest.raises(ValueError):
        await Client(user_agent="t/1").post("http://127.0.0.1:9/x", b"{}", {"a": "b\r\nInjected: 1"}, max_body=10)
