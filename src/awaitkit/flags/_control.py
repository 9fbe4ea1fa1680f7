"""The control API's HTTP/1.1 server: a separate port, a token, strict limits.

toxiproxy's model: the faults change at runtime through a small JSON API
that listens apart from the traffic it breaks (loopback by default).
Every request needs ``Authorization: Bearer TOKEN`` (401 without, 403
with another token; compared in constant time), except ``GET /metrics``
when ``metrics_public``.  It is a handful of requests a minute from tests
and curl, so it favours strictness over speed: asyncio streams, ASCII-only
heads, ``Content-Length`` bodies (no chunked: 411), bounded request line
(414), headers (431) and body (413), a timeout for each request (408) and
for idle keep-alive connections, and a cap on open connections (503).
Anything malformed gets a 4xx and the connection closes; nothing a client
sends can raise out of a connection's task.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import socket

from awaitkit.core import bind_tcp, format_hostport
from awaitkit.flags._control_api import ControlApi, Reply
from awaitkit.flags._http import reason
from awaitkit.flags._token import check_token, new_token

__all__ = ["ControlServer"]

log = logging.getLogger("awaitkit.flags.control")

_METHOD = re.compile(r"[A-Z]{1,16}")
_FIELD_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class _Refuse(Exception):
    """Answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message or reason(status)


class ControlServer:
    """Serves a :class:`ControlApi` on its own port.

    ``host``/``port`` (0: any) or a bound ``sock``; ``token`` (None: a new
    random one, see :attr:`token`).
    """

    def __init__(
        self,
        api: ControlApi,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        metrics_public: bool = False,
        sock: socket.socket | None = None,
        max_connections: int = 64,
        max_line_bytes: int = 8 * 1024,
        max_header_bytes: int = 16 * 1024,
        max_headers: int = 64,
        max_body_bytes: int = 1024 * 1024,
        request_timeout: float = 10.0,
        keepalive_timeout: float = 15.0,
    ) -> None:
        self.api = api
        self.host = host
        self.port = port
        self.token = check_token(token) if token is not None else new_token()
        self._token_bytes = self.token.encode("ascii")
        self.metrics_public = metrics_public
        self._sock = sock
        self.max_connections = max_connections
        self.max_line_bytes = max_line_bytes
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_body_bytes = max_body_bytes
        self.request_timeout = request_timeout
        self.keepalive_timeout = keepalive_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def start(self) -> None:
        """Bind (unless given a socket) and start accepting."""
        sock = self._sock or bind_tcp(self.host, self.port)
        self._server = await asyncio.start_server(
            self._accept, sock=sock, limit=self.max_line_bytes
        )
        host, port = sock.getsockname()[:2]
        self.url = f"http://{format_hostport(host, port)}"

    async def close(self) -> None:
        """Stop accepting, end every connection, and wait for them."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    # -- one connection ------------------------------------------------------

    def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # Our own task, not one the streams module makes from a coroutine
        # callback: that one's done-callback logs an error when it is
        # cancelled (Python 3.11), as close() does to every connection.
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            if len(self._tasks) > self.max_connections:
                await self._send(writer, Reply.error(503, "too many connections"), True)
                return
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, TimeoutError):
            pass  # the client went away, or stopped reading our answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Read and answer one request; whether the connection stays open."""
        try:
            async with asyncio.timeout(self.keepalive_timeout):
                line = await self._line(reader, 414)
        except TimeoutError:
            return False  # idle
        except _Refuse as exc:
            await self._send(writer, Reply.error(exc.status, exc.message), True)
            return False
        if line is None:
            return False  # closed between requests
        try:
            async with asyncio.timeout(self.request_timeout):
                reply, keep = await self._read_and_handle(line, reader, writer)
        except _Refuse as exc:
            reply, keep = Reply.error(exc.status, exc.message), False
        except TimeoutError:
            reply, keep = Reply.error(408, "request timed out"), False
        await self._send(writer, reply, not keep)
        return keep

    async def _line(self, reader: asyncio.StreamReader, too_long: int) -> bytes | None:
        """One CRLF-ended line without its CRLF; None at a clean EOF."""
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise _Refuse(too_long) from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return None
            raise _Refuse(400, "the request ended early") from None
        return line[:-2]

    async def _read_and_handle(
        self,
        first: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> tuple[Reply, bool]:
        method, path, version = _request_line(first)
        headers = await self._headers(reader)
        keep = version == "HTTP/1.1" and "close" not in _tokens(
            headers.get("connection", "")
        )
        if not (self.metrics_public and method == "GET" and path == "/metrics"):
            denied = self._deny(headers.get("authorization"))
            if denied is not None:
                return denied, False  # the body, if any, is never read
        body = await self._body(method, path, headers, reader, writer)
        log.info("%s %s", method, path)
        try:
            return self.api.handle(method, path, body), keep
        except Exception:  # a bug of ours: log it, answer 500, keep serving
            log.exception("control API: %s %s failed", method, path)
            return Reply.error(500, "internal error (see the server's log)"), False

    async def _headers(self, reader: asyncio.StreamReader) -> dict[str, str]:
        headers: dict[str, str] = {}
        total = 0
        while True:
            line = await self._line(reader, 431)
            if line is None:
                raise _Refuse(400, "the request ended early")
            if not line:
                return headers
            total += len(line) + 2
            if total > self.max_header_bytes or len(headers) >= self.max_headers:
                raise _Refuse(431)
            try:
                text = line.decode("ascii")
            except UnicodeDecodeError:
                raise _Refuse(400, "header bytes are not ASCII") from None
            name, sep, value = text.partition(":")
            if not sep or not _FIELD_NAME.fullmatch(name):
                raise _Refuse(400, "malformed header line")
            name = name.lower()
            value = value.strip(" \t")
            if name in headers and name in ("content-length", "authorization"):
                raise _Refuse(400, f"repeated {name}")
            headers[name] = value

    def _deny(self, authorization: str | None) -> Reply | None:
        """401 without a token, 403 with a wrong one, None when it matches."""
        if authorization is None:
            return Reply.error(
                401,
                "this API needs Authorization: Bearer TOKEN",
                headers=(("WWW-Authenticate", "Bearer"),),
            )
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("ascii"), self._token_bytes
        ):
            return Reply.error(403, "wrong token")
        return None

    async def _body(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bytes:
        if "transfer-encoding" in headers:
            raise _Refuse(411, "send a Content-Length (chunked bodies are refused)")
        length_text = headers.get("content-length")
        if length_text is None:
            if self.api.needs_body(method, path):
                raise _Refuse(411, "a body with a Content-Length is required")
            return b""
        if not length_text.isdigit() or len(length_text) > 12:
            raise _Refuse(400, "bad Content-Length")
        length = int(length_text)
        if length > self.max_body_bytes:
            raise _Refuse(413, f"bodies are limited to {self.max_body_bytes} bytes")
        if length and headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it
        try:
            return await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            raise _Refuse(400, "the body ended early") from None

    async def _send(
        self, writer: asyncio.StreamWriter, reply: Reply, close: bool
    ) -> None:
        head = [
            f"HTTP/1.1 {reply.status} {reason(reply.status)}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
            "Cache-Control: no-store",
            *(f"{name}: {value}" for name, value in reply.headers),
        ]
        if close:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + reply.body)
        async with asyncio.timeout(self.request_timeout):
            await writer.drain()


def _request_line(line: bytes) -> tuple[str, str, str]:
    """(method, path without query, version) of a request line, or a 4xx."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise _Refuse(400, "the request line is not ASCII") from None
    parts = text.split(" ")
    if len(parts) != 3:
        raise _Refuse(400, "malformed request line")
    method, target, version = parts
    if not _METHOD.fullmatch(method) or not target.startswith("/"):
        raise _Refuse(400, "malformed request line")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _Refuse(400, "only HTTP/1.0 and HTTP/1.1 are spoken here")
    return method, target.partition("?")[0], version


def _tokens(value: str) -> set[str]:
    return {t.strip().lower() for t in value.split(",")}
