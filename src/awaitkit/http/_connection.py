"""One keep-alive HTTP/1.1 connection: an asyncio.Protocol around a ResponseParser.

The protocol only wires the transport to the sans-I/O parser
(:mod:`awaitkit.http._parser`) and the parser's events to the one reader
waiting, so a request costs a few attribute stores, a list and a future: no
task, no stream objects.  The read timeout is one lazily re-armed timer per
connection, not one per request: it fires, checks how long ago the last byte
came, and re-arms.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import cast

from awaitkit.http._errors import ReadTimeout, ServerDisconnected, TLSError, translate
from awaitkit.http._parser import (
    BODY_EVENT,
    DONE,
    ERROR,
    EXTRA,
    HEAD,
    IDLE,
    ResponseParser,
)
from awaitkit.http._url import Origin

__all__ = ["HIGH_WATER", "LOW_WATER", "Connection"]

HIGH_WATER = 1024 * 1024  # buffered unread body bytes that pause the transport
LOW_WATER = 256 * 1024  # ... and below which it reads again


class Connection(asyncio.Protocol):
    """A connection to one origin, carrying one request at a time.

    The client, the response and the pool read ``exc`` (the first error,
    after which the connection is dead), ``parser`` (the response in
    progress), ``requests`` and the predicates, and change it only through
    its methods.  It does not know the pool: it reports its loss through
    ``on_lost``.
    """

    __slots__ = (
        "closed",
        "exc",
        "last",
        "loop",
        "lost",
        "on_lost",
        "origin",
        "parser",
        "paused",
        "read_timeout",
        "requests",
        "sink_all",
        "taken",
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
        self.transport: asyncio.Transport | None = None
        self.parser = ResponseParser(max_head)
        self.exc: BaseException | None = None
        self.closed = False  # connection_lost has run
        self.lost: asyncio.Future[None] = loop.create_future()
        self.requests = 0
        self.taken = 0  # body bytes the reader took (received - taken are buffered)
        self.sink_all = False  # read() collects everything: never pause
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.want_piece = False
        self.last = 0.0
        self.timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return (
            f"<Connection {self.origin!r} state={self.parser.state} "
            f"requests={self.requests}>"
        )

    # -- questions the pool asks ---------------------------------------------

    def is_available(self) -> bool:
        """True when the connection can carry a new request now."""
        parser = self.parser
        state = parser.state
        transport = self.transport
        # has_expired() inlined: this is asked twice per request.
        return (
            (state == IDLE or (state == DONE and parser.keep_alive))
            and not self.closed
            and self.exc is None
            and transport is not None
            and not transport.is_closing()
        )

    def is_idle(self) -> bool:
        """True when no exchange is in flight (never used, or the last one complete)."""
        state = self.parser.state
        return state in (IDLE, DONE)

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

    # -- used by the client and the response -----------------------------------

    def start(self, request: bytes) -> asyncio.Future[None]:
        """Send ``request``; the future resolves when the response head is in or on failure."""
        self.parser.expect()
        self.taken = 0
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
        transport = cast(asyncio.Transport, self.transport)
        if self.paused:
            # Paused by the last body, whose end came in the same read.
            self.paused = False
            transport.resume_reading()
        if self.read_timeout is not None:
            self.last = loop.time()
            if self.timer is None:
                self.timer = loop.call_at(self.last + self.read_timeout, self._on_timer)
        transport.write(request)
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
        self.parser.limit = limit
        self.sink_all = True

    def consumed(self, size: int) -> None:
        """``size`` buffered body bytes were taken: read again once below the low mark."""
        self.taken += size
        if (
            self.paused
            and self.parser.received - self.taken < LOW_WATER
            and not self.closed
        ):
            self.paused = False
            cast(asyncio.Transport, self.transport).resume_reading()

    def fail(self, exc: BaseException) -> None:
        """Record ``exc`` (the first error wins), wake the reader, drop the connection."""
        if self.exc is None:
            self.exc = exc
        self._wake()
        self.abort()

    def abort(self) -> None:
        """Close at once, without flushing: the connection will not be reused."""
        self.parser.keep_alive = False
        if self.transport is not None and not self.closed:
            self.transport.abort()

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
            what = "response head" if self.parser.state == HEAD else "response body"
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
        """Feed the parser and act on its events."""
        if self.read_timeout is not None:
            self.last = self.loop.time()
        parser = self.parser
        events = parser.feed(data)
        if events & ERROR:
            self.fail(self.exc or cast(BaseException, parser.error))
            return
        if events & EXTRA:
            self.abort()  # the stream no longer lines up with our requests
        if events & BODY_EVENT:
            if (
                not self.sink_all
                and not self.paused
                and parser.received - self.taken > HIGH_WATER
            ):
                self.paused = True
                cast(asyncio.Transport, self.transport).pause_reading()
            if self.want_piece:
                self._wake()
        if events & ~BODY_EVENT:  # the head, the end (or the EXTRA close)
            self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        """Finish a body that ends at EOF; anything else in progress failed."""
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        parser = self.parser
        if (
            self.exc is None
            and isinstance(exc, ssl.SSLError)
            and parser.head_bytes == 0
            and parser.state in (IDLE, HEAD)
        ):
            # In TLS 1.3 the server judges our certificate after our side of
            # the handshake is done: its refusal comes as the first read.
            tls = translate(exc, f"cannot connect to {self.origin.host_field}")
            if isinstance(tls, TLSError):  # not a mere EOF: that stays retryable
                self.exc = tls
        if self.exc is None and parser.feed_eof(exc is not None) & ERROR:
            self.exc = parser.error
        self._wake()
        self.on_lost(self)
        if not self.lost.done():
            self.lost.set_result(None)
