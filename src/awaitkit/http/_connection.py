"""One keep-alive HTTP/1.1 connection: an asyncio.Protocol that feeds httptools.

The protocol holds the state of the one exchange in progress, so a request
costs a few attribute stores, two lists and a future: no task, no stream
objects.  Readers wait on ``waiter``; the parser callbacks wake them.  The
read timeout is one lazily re-armed timer per connection, not one per
request: it fires, checks how long ago the last byte came, and re-arms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import httptools

from awaitkit.http._errors import (
    BodyTooLarge,
    ProtocolError,
    ReadTimeout,
    ServerDisconnected,
    TruncatedBody,
    translate,
)
from awaitkit.http._url import Origin

__all__ = ["BODY", "DONE", "HEAD", "HIGH_WATER", "IDLE", "LOW_WATER", "Connection"]

IDLE, HEAD, BODY, DONE = range(4)  # Connection.state
HIGH_WATER = 1024 * 1024  # buffered unread body bytes that pause the transport
LOW_WATER = 256 * 1024  # ... and below which it reads again


class _Abort(Exception):
    """Raised in a parser callback to stop parsing; the reason is in ``Connection.exc``."""


class _Discard(list[tuple[bytes, bytes]]):
    """Where trailer fields go: nobody reads them, so nothing is kept."""

    def append(self, item: tuple[bytes, bytes], /) -> None:
        pass


_TRAILERS = _Discard()


class Connection(asyncio.Protocol):
    """A connection to one origin, carrying one request at a time.

    The client, the response and the pool read the public attributes
    (``state``: IDLE, HEAD, BODY, DONE; ``exc``, the first error, after which
    the connection is dead; ``status``/``reason``/``head`` of the response;
    ``body``, the pieces not yet taken; ``received``; ``keep_alive``) and the
    predicates, and change it only through its methods.  It does not know the
    pool: it reports its loss through ``on_lost``.
    """

    __slots__ = (
        "body",
        "buffered",
        "closed",
        "exc",
        "fields",
        "head",
        "head_bytes",
        "keep_alive",
        "last",
        "limit",
        "loop",
        "lost",
        "max_head",
        "on_lost",
        "origin",
        "parser",
        "paused",
        "read_timeout",
        "reason",
        "received",
        "requests",
        "sink_all",
        "state",
        "status",
        "timer",
        "transport",
        "waiter",
        "want_piece",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        origin: Origin,
        *,
        read_timeout: float | None,
        max_head: int,
        on_lost: Callable[[Connection], None],
    ) -> None:
        self.loop = loop
        self.origin = origin
        self.on_lost = on_lost  # told once, from connection_lost
        self.read_timeout = read_timeout
        self.max_head = max_head
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.state = IDLE
        self.exc: BaseException | None = None
        self.closed = False  # connection_lost has run
        self.lost: asyncio.Future[None] = loop.create_future()
        self.requests = 0
        self.status = 0
        self.reason = b""
        self.fields: list[tuple[bytes, bytes]] = []
        self.head: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.buffered = 0  # body bytes received and not yet taken
        self.received = 0
        self.head_bytes = 0
        self.limit: int | None = None
        self.sink_all = False  # read() collects everything: never pause
        self.paused = False
        self.keep_alive = False
        self.waiter: asyncio.Future[None] | None = None
        self.want_piece = False
        self.last = 0.0
        self.timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return (
            f"<Connection {self.origin!r} state={self.state} requests={self.requests}>"
        )

    # -- used by the client ------------------------------------------------

    def is_available(self) -> bool:
        """True when the connection can carry a new request now."""
        state = self.state
        return (
            state == IDLE or (state == DONE and self.keep_alive)
        ) and not self.has_expired()

    def is_idle(self) -> bool:
        """True when no exchange is in flight (never used, or the last one complete)."""
        return self.state == IDLE or self.state == DONE

    def has_expired(self) -> bool:
        """True when the connection failed or the peer closed it: it is done for."""
        transport = self.transport
        return (
            self.closed
            or self.exc is not None
            or transport is None
            or transport.is_closing()
        )

    def is_closed(self) -> bool:
        """True once ``connection_lost`` has run."""
        return self.closed

    def start(self, request: bytes) -> asyncio.Future[None]:
        """Send ``request``; the future resolves when the response head is in or on failure."""
        self.state = HEAD
        self.fields = []
        self.body = []
        self.buffered = self.received = self.head_bytes = 0
        self.reason = b""
        self.limit = None
        self.sink_all = self.want_piece = False
        self.requests += 1
        loop = self.loop
        self.waiter = waiter = loop.create_future()
        if self.has_expired():
            # Lost while idle, just before this request: as if closed unanswered.
            self.exc = self.exc or ServerDisconnected(
                "the server closed the connection"
            )
            self._wake()
            return waiter
        if self.read_timeout is not None:
            self.last = loop.time()
            if self.timer is None:
                self.timer = loop.call_at(self.last + self.read_timeout, self._on_timer)
        cast(asyncio.Transport, self.transport).write(request)
        return waiter

    async def wait(self, piece: bool) -> None:
        """Wait for the next body piece (``piece``) or for the end of the body."""
        if self.paused and not self.closed:
            self.paused = False
            cast(asyncio.Transport, self.transport).resume_reading()
        loop = self.loop
        self.waiter = waiter = loop.create_future()
        self.want_piece = piece
        if self.read_timeout is not None:
            self.last = loop.time()
            if self.timer is None:
                self.timer = loop.call_at(self.last + self.read_timeout, self._on_timer)
        try:
            await waiter
        finally:
            self.waiter = None

    def collect(self, limit: int | None) -> None:
        """The reader takes the whole body: never pause; stop past ``limit`` bytes."""
        self.limit = limit
        self.sink_all = True

    def consumed(self, size: int) -> None:
        """``size`` buffered body bytes were taken: read again once below the low mark."""
        self.buffered -= size
        if self.paused and self.buffered < LOW_WATER and not self.closed:
            self.paused = False
            cast(asyncio.Transport, self.transport).resume_reading()

    def fail(self, exc: BaseException) -> None:
        """Record ``exc`` (the first error wins), wake the reader, drop the connection."""
        if self.exc is None:
            self.exc = exc
        self.keep_alive = False
        self._wake()
        self.abort()

    def abort(self) -> None:
        """Close at once, without flushing: the connection will not be reused."""
        self.keep_alive = False
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def ends_at_eof(self) -> bool:
        """True when the body has no length and no chunking, so EOF ends it."""
        for name, value in self.head:
            lowered = name.lower()
            if lowered == b"content-length":
                return False
            if lowered == b"transfer-encoding" and value.rstrip(
                b" \t"
            ).lower().endswith(b"chunked"):
                return False
        return True

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _on_timer(self) -> None:
        # One timer per connection, re-armed lazily: fires, checks when the
        # last byte came, and re-arms if that was recently.  Nobody waiting:
        # it lapses, and the next wait arms it again.
        self.timer = None
        timeout = self.read_timeout
        if self.waiter is None or self.closed or timeout is None:
            return
        deadline = self.last + timeout
        if self.loop.time() >= deadline:
            what = "response head" if self.state == HEAD else "response body"
            self.fail(
                ReadTimeout(f"no data for {timeout:g} s while reading the {what}")
            )
        else:
            self.timer = self.loop.call_at(deadline, self._on_timer)

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Feed the parser; turn its errors into ProtocolError."""
        state = self.state
        if state == HEAD:
            self.head_bytes += len(data)
        elif state != BODY:
            # Bytes nobody asked for (idle, or after a complete response): the
            # stream no longer lines up with our requests.
            self.abort()
            return
        if self.read_timeout is not None:
            self.last = self.loop.time()
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if self.state == DONE and self.exc is None:
                self.abort()  # extra bytes after a whole response: keep the response
            else:
                self.fail(self.exc or translate(exc, "malformed response"))
            return
        if self.state == HEAD and self.head_bytes > self.max_head:
            # llhttp buffers nothing, but httptools gathers each field value:
            # stop a never-ending head here, a read at most past the limit.
            self.fail(ProtocolError(f"response head larger than {self.max_head} bytes"))

    def connection_lost(self, exc: Exception | None) -> None:
        """Finish a body that ends at EOF; anything else in progress failed."""
        self.closed = True
        self.keep_alive = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        state = self.state
        if self.exc is None:
            if state == HEAD:
                self.exc = ServerDisconnected(
                    "the server closed the connection before the response head"
                    if self.head_bytes
                    else "the server closed the connection without responding"
                )
            elif state == BODY:
                if exc is None and self.ends_at_eof():
                    self.state = DONE
                else:
                    self.exc = TruncatedBody(
                        f"connection {'reset' if exc else 'closed'} after "
                        f"{self.received} body bytes"
                    )
        self._wake()
        self.on_lost(self)
        if not self.lost.done():
            self.lost.set_result(None)

    # -- httptools callbacks ------------------------------------------------

    def on_message_begin(self) -> None:
        """A response starts: only one is expected (interim 1xx aside)."""
        if self.state != HEAD:
            raise _Abort

    def on_status(self, reason: bytes) -> None:
        """The reason phrase (possibly in pieces)."""
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        """One field of the head (or a trailer, discarded)."""
        self.fields.append((name, value))

    def on_headers_complete(self) -> None:
        """The head is in: wake the requester (interim 1xx heads are skipped)."""
        parser = self.parser
        status = parser.get_status_code()
        if status < 200:
            self.fields = []
            self.reason = b""
            return
        self.status = status
        self.keep_alive = parser.should_keep_alive()
        self.head = self.fields
        self.fields = _TRAILERS
        self.state = BODY
        self._wake()

    def on_body(self, piece: bytes) -> None:
        """Buffer a body piece; pause the transport when too much is unread."""
        self.body.append(piece)
        size = len(piece)
        self.received += size
        buffered = self.buffered + size
        self.buffered = buffered
        if self.limit is not None and self.received > self.limit:
            self.exc = BodyTooLarge(f"body larger than {self.limit} bytes")
            raise _Abort
        if buffered > HIGH_WATER and not self.sink_all and not self.paused:
            self.paused = True
            cast(asyncio.Transport, self.transport).pause_reading()
        if self.want_piece:
            self._wake()

    def on_message_complete(self) -> None:
        """The body is complete (or an interim response ended)."""
        if self.state == BODY:
            self.state = DONE
            self._wake()
