"""The HTTP/1.1 client the delivery worker POSTs webhooks with.

Why not httpx: measured on the 2-core bench machine, one POST through httpx (a client per
send slot, keep-alive) costs the worker about 1.3–1.5 ms of CPU, through this client about
0.1 ms (bench/README.md, "Delivery"); at a thousand deliveries a second that is the
difference between the workers needing one core or more than the machine has. A delivery
needs very little of HTTP: one POST with a Content-Length body, the status, the headers
(`Retry-After`), at most `max_body` bytes of answer, no redirects, no cookies, no proxies.

- Connections are kept alive per origin (scheme, host, port) and reused while the server
  allows (HTTP/1.1 without `Connection: close`, the answer read to its end), for at most
  `keepalive_seconds` idle (shorter than common servers' idle timeouts, uvicorn's 5 s, nginx's
  75 s); one the server has closed meanwhile is dropped before use. A request is never sent
  twice by this client: a connection that ends without an answer is a failed attempt, which
  the worker's schedule retries (what httpx did too).
- https verifies the certificate and the host name against certifi's bundle (what httpx did).
- A connection that is cancelled (the caller's timeout), fails, or whose answer is cut short
  at `max_body` is closed, never reused.
- `ConnectFailed`: no connection (refused, unreachable, name not found, TLS refused).
  `ExchangeFailed`: connected, but no well-formed HTTP answer (hang-up, garbage, oversized
  head). Timeouts are the caller's (`asyncio.timeout` around `post`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

MAX_HEAD_BYTES = 64 * 1024


class ConnectFailed(Exception):
    """No connection to the endpoint."""


class ExchangeFailed(Exception):
    """Connected, but no well-formed HTTP answer."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]   # names in lower case; of a repeated header, the last
    body: bytes


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float, keepalive: float) -> bool:
        return (now - self.idle_since < keepalive and not self.reader.at_eof()
                and not self.writer.transport.is_closing())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.transport.abort()


_Origin = tuple[str, str, int]


class Client:
    def __init__(self, *, user_agent: str, max_idle_per_origin: int = 32, keepalive_seconds: float = 4.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.user_agent = user_agent
        self.max_idle = max_idle_per_origin
        self.keepalive = keepalive_seconds
        self._ssl = ssl_context
        self._idle: dict[_Origin, list[_Connection]] = {}

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            import certifi

            self._ssl = ssl.create_default_context(cafile=certifi.where())
        return self._ssl

    async def post(self, url: str, body: bytes, headers: dict[str, str], *, max_body: int) -> Answer:
        origin, host_header, target = _parse(url)
        fields = {"Host": host_header, "User-Agent": self.user_agent, "Content-Length": str(len(body)), **headers}
        if any(_control(x) for pair in fields.items() for x in pair):
            raise ValueError("a header holds a control character")
        head = (f"POST {target} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items())
                + "\r\n").encode("latin-1")
        conn = self._take(origin) or await self._connect(origin)
        try:
            conn.writer.write(head + body)
            await conn.writer.drain()
            answer, keep = await _read_answer(conn.reader, max_body)
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            conn.close()
            raise ExchangeFailed(type(e).__name__) from None
        except BaseException:   # cancelled (the caller's timeout): the exchange is in an unknown state
            conn.close()
            raise
        if keep:
            self._give_back(origin, conn)
        else:
            conn.close()
        return answer

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    # -- the pool of kept-alive connections

    def _take(self, origin: _Origin) -> _Connection | None:
        conns = self._idle.get(origin)
        now = time.monotonic()
        while conns:
            conn = conns.pop()
            if conn.usable(now, self.keepalive):
                return conn
            conn.close()
        return None

    def _give_back(self, origin: _Origin, conn: _Connection) -> None:
        conns = self._idle.setdefault(origin, [])
        if len(conns) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        conns.append(conn)

    async def _connect(self, origin: _Origin) -> _Connection:
        scheme, host, port = origin
        tls = self._tls() if scheme == "https" else None
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None,
                                                           limit=MAX_HEAD_BYTES)
        except (OSError, ssl.SSLError, UnicodeError) as e:
            raise ConnectFailed(type(e).__name__) from None
        return _Connection(reader, writer)


def _parse(url: str) -> tuple[_Origin, str, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    host = parts.hostname.encode("idna").decode("ascii")   # a UnicodeError is a ValueError
    default = 443 if scheme == "https" else 80
    port = parts.port or default   # a port out of range raises ValueError
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default else f"{shown}:{port}"
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        target += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    if _control(target):
        raise ValueError("the URL holds a control character")
    return (scheme, host, port), host_header, target


def _control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


async def _read_answer(reader: asyncio.StreamReader, max_body: int) -> tuple[Answer, bool]:
    """(the answer, whether the connection may carry another request)."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(rest) < 3 or not rest[:3].isdigit():
            raise ValueError("not an HTTP/1.x status line")
        status = int(rest[:3])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name.strip():
                raise ValueError("a malformed header line")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        if 100 <= status < 200 and status != 101:
            continue   # an interim answer (103 Early Hints…): the real one follows
        break
    keep = version == b"HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if status in (101, 204, 304):
        return Answer(status, headers, b""), keep and status != 101
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body, complete = await _read_chunked(reader, max_body)
        return Answer(status, headers, body), keep and complete
    if "content-length" in headers:
        length = int(headers["content-length"])
        if length < 0:
            raise ValueError("a negative Content-Length")
        body = await reader.readexactly(min(length, max_body))
        return Answer(status, headers, body), keep and length <= max_body
    parts: list[bytes] = []   # delimited by the end of the connection
    read = 0
    while read < max_body and (chunk := await reader.read(max_body - read)):
        parts.append(chunk)
        read += len(chunk)
    return Answer(status, headers, b"".join(parts)), False


async def _read_chunked(reader: asyncio.StreamReader, max_body: int) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    read = 0
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":   # trailers
                pass
            return b"".join(parts), True
        if read + size > max_body:
            parts.append(await reader.readexactly(max_body - read))
            return b"".join(parts), False
        parts.append(await reader.readexactly(size))
        read += size
        await reader.readexactly(2)
