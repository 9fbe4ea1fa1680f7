"""Keep-alive connections to the upstream of proxy mode, and their bounded pool.

An :class:`UpstreamConnection` carries one request at a time and hands each
piece of the response, as it is parsed, to a :class:`Sink` (the relay to the
client): no body is ever gathered whole.  The sink pauses the connection's
reading while the client's socket is full (:meth:`UpstreamConnection.pause`),
so a slow client holds the upstream back instead of filling our memory, and
the read timeout does not run while paused (the wait is ours, not theirs).

The pool caps the open connections (idle, busy and connecting) and queues
callers past the cap in FIFO order; a slot or an idle connection is handed
to the first waiter at release time, so nothing is lost to a waiter that is
cancelled after being served: it gives the thing back.

Why not ``awaitkit.http``'s client: it reads whole bodies or iterates over
them with an ``await`` per piece and decodes what it reads; a proxy wants the
raw pieces pushed, as they come, straight into the client's transport.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Protocol, cast

import httptools

from awaitkit.flags._forward import Fields, Upstream

__all__ = ["Sink", "UpstreamConnection", "UpstreamError", "UpstreamPool"]

_MAX_HEAD = 64 * 1024  # bytes of a response head before we call it garbage


class UpstreamError(Exception):
    """The upstream failed: ``kind`` is ``"timeout"`` (the client gets 504) or
    another short name (``"refused"``, ``"reset"``, ``"garbage"``...; 502)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class Sink(Protocol):
    """Where an upstream connection sends the response it parses."""

    def on_head(
        self, status: int, reason: bytes, fields: Fields, length: int | None
    ) -> None:
        """The head is in (``length``: its Content-Length, None if chunked or to EOF)."""
        ...

    def on_body(self, piece: bytes) -> None: ...

    def on_end(self) -> None:
        """The response is complete."""
        ...

    def on_error(self, error: UpstreamError) -> None:
        """The response failed; the connection is closed."""
        ...

    def on_stale(self) -> None:
        """A reused connection closed before one byte of the response: retry elsewhere."""
        ...

    def flush(self) -> None:
        """Called after each read's events: write out what they produced."""
        ...


class _Stop(Exception):
    """Raised in a parser callback to stop parsing (the exchange is over)."""


class UpstreamConnection(asyncio.Protocol):
    """One connection to the upstream; ``sink`` is set while a request is out."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        read_timeout: float,
        on_lost: Callable[[UpstreamConnection], None],
    ) -> None:
        self.loop = loop
        self.read_timeout = read_timeout
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.sink: Sink | None = None
        self.closed = False
        self.reusable = False  # after a complete response that allows keep-alive
        self.requests = 0
        self.paused = False
        self.last = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.idle_since = 0.0
        self._head_only = False
        self._received = 0
        self._fields: Fields = []
        self._length: int | None = None  # the head's Content-Length
        self._chunked = False  # the head has a Transfer-Encoding
        self._ended: Sink | None = None  # whose response this read completed
        self._reason = b""
        self._in_body = False
        self._to_eof = False

    # -- used by the relay -----------------------------------------------------

    def send(self, data: bytes, sink: Sink, *, head_only: bool) -> None:
        """Write one request; its response goes to ``sink``."""
        assert self.transport is not None
        assert self.sink is None
        self.sink = sink
        self.reusable = False
        self.requests += 1
        self._head_only = head_only
        self._received = 0
        self._fields = []
        self._length = None
        self._chunked = False
        self._reason = b""
        self._in_body = False
        self._to_eof = False
        self._ended = None
        self.last = self.loop.time()
        if self.paused:  # left paused by the last response's relay (a paced body)
            self.resume()
        self.transport.write(data)
        if self.timer is None:
            self.timer = self.loop.call_later(self.read_timeout, self._check_timeout)

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None:
            self.paused = False
            self.last = self.loop.time()
            if not self.closed:
                self.transport.resume_reading()

    def close(self) -> None:
        """Drop the connection (mid-response: it can never line up again)."""
        self.sink = None
        self.reusable = False
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        sink = self.sink
        if sink is None:
            # Bytes while no request is out: the stream no longer lines up.
            self.close()
            return
        self.last = self.loop.time()
        self._received += len(data)
        try:
            self.parser.feed_data(data)
        except _Stop:
            pass
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, _Stop):
                self._fail(UpstreamError("garbage", f"bad response: {exc}"))
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamError("garbage", "upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError("garbage", f"bad response: {exc}"))
        else:
            # httptools gathers each field whole: stop a head that never
            # ends here, at most one read past the limit.
            if (
                not self._in_body
                and self.sink is not None
                and self._received > _MAX_HEAD
            ):
                self._fail(UpstreamError("garbage", "response head too large"))
        ended = self._ended
        if ended is not None:
            self._ended = None
            if not self.reusable:
                self.close()
            ended.on_end()  # flushes what this read produced
            return
        sink.flush()  # one write to the client per read

    def eof_received(self) -> bool | None:
        self._lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(exc)
        self.closed = True
        self.reusable = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.on_lost(self)

    def _lost(self, exc: Exception | None) -> None:
        sink = self.sink
        if sink is None:
            return
        if self._in_body and self._to_eof and exc is None:
            self.sink = None
            sink.on_end()  # a body without length ends when the upstream closes
        elif self._received == 0 and self.requests > 1:
            self.sink = None
            sink.on_stale()
        elif self._in_body:
            how = "reset" if exc is not None else "closed"
            self._fail(UpstreamError(how, f"upstream {how} the connection mid-body"))
        else:
            how = "reset" if exc is not None else "closed"
            self._fail(
                UpstreamError(how, f"upstream {how} the connection before the head")
            )
        self.close()

    def _fail(self, error: UpstreamError) -> None:
        sink = self.sink
        self.close()
        if sink is not None:
            sink.on_error(error)

    def _check_timeout(self) -> None:
        self.timer = None
        if self.closed or self.sink is None:
            return
        idle = self.loop.time() - self.last
        if not self.paused and idle >= self.read_timeout:
            what = "body" if self._in_body else "response head"
            self._fail(
                UpstreamError(
                    "timeout", f"no {what} byte from upstream in {self.read_timeout} s"
                )
            )
            return
        wait = self.read_timeout - idle if not self.paused else self.read_timeout
        self.timer = self.loop.call_later(max(wait, 0.01), self._check_timeout)

    # -- httptools callbacks -------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields.append((name, value))
        n = len(name)
        if n == 14 or n == 17:  # the framing fields, found without a loop later
            lowered = name.lower()
            if lowered == b"content-length":
                try:
                    self._length = int(value)
                except ValueError:
                    self._length = None  # llhttp refuses it anyway
            elif lowered == b"transfer-encoding":
                self._chunked = True

    def on_headers_complete(self) -> None:
        sink = self.sink
        if sink is None:
            raise _Stop
        fields = self._fields
        # Counted only when it may be over: a field takes at least its
        # name, value and 3 bytes of what was received ("a:b\r\n").
        if self._received + len(fields) > _MAX_HEAD and (
            sum(len(name) + len(value) + 4 for name, value in fields) > _MAX_HEAD
        ):
            self._fail(UpstreamError("garbage", "response head too large"))
            raise _Stop
        status = self.parser.get_status_code()
        if status < 200:
            if status == 101:
                self._fail(UpstreamError("garbage", "upstream switched protocols"))
                raise _Stop
            self._fields = []  # an interim 1xx head: the real one follows
            self._length = None
            self._chunked = False
            self._reason = b""
            return
        chunked = self._chunked
        length = None if chunked else self._length
        self._in_body = True
        no_body = self._head_only or status in (204, 304)
        self._to_eof = length is None and not chunked and not no_body
        sink.on_head(status, self._reason or b"OK", fields, None if no_body else length)
        if self._head_only:
            # httptools cannot be told a HEAD's response has no body: end it
            # here and drop the connection (its parser would wait for one).
            if self.sink is sink:
                self.sink = None
                sink.on_end()
            self.close()
            raise _Stop
        if self.sink is None:
            raise _Stop

    def on_body(self, piece: bytes) -> None:
        sink = self.sink
        if sink is None:
            raise _Stop
        sink.on_body(piece)

    def on_message_complete(self) -> None:
        sink = self.sink
        if sink is None:
            raise _Stop
        if self.parser.get_status_code() < 200:
            return
        self.sink = None
        self._in_body = False
        self.reusable = self.parser.should_keep_alive() and not self.closed
        # Told once this read is parsed (data_received): bytes after the
        # response in the same read mean the connection cannot be reused.
        self._ended = sink

    def on_message_begin(self) -> None:
        if self._ended is not None:
            self.reusable = False  # a second response nobody asked for
            raise _Stop


class UpstreamPool:
    """At most ``limit`` connections to one upstream, kept alive between requests."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        upstream: Upstream,
        *,
        limit: int,
        connect_timeout: float,
        read_timeout: float,
        idle_timeout: float,
    ) -> None:
        self.loop = loop
        self.upstream = upstream
        self.limit = limit
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self.count = 0  # open connections: idle + busy + connecting
        self.idle: list[UpstreamConnection] = []
        self._open: set[UpstreamConnection] = set()  # to close them all at the end
        self._waiters: deque[asyncio.Future[UpstreamConnection | None]] = deque()
        self._closed = False

    @property
    def waiting(self) -> int:
        """Callers queued for a connection."""
        return sum(1 for w in self._waiters if not w.done())

    def take_idle(self) -> UpstreamConnection | None:
        """The warmest idle connection, or None (the fast path: no waiting)."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def acquire(self, *, fresh: bool = False) -> UpstreamConnection:
        """An idle connection (unless ``fresh``) or a new one; waits at the limit."""
        if self._closed:
            raise UpstreamError("closed", "the proxy is stopping")
        while self.idle and not fresh:
            conn = self.idle.pop()  # the warmest
            if not conn.closed:
                return conn
        if self.count < self.limit:
            self.count += 1
            return await self._connect()
        waiter: asyncio.Future[UpstreamConnection | None] = self.loop.create_future()
        self._waiters.append(waiter)
        try:
            got = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                handed = waiter.result()  # served as we were cancelled: give back
                if handed is None:
                    self.count -= 1
                    self._wake()
                else:
                    self.release(handed)
            raise
        if got is None:  # a slot was reserved for us
            return await self._connect()
        return got

    async def _connect(self) -> UpstreamConnection:
        """Open a connection in a slot already counted; the slot is freed on failure."""
        up = self.upstream
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, proto = await self.loop.create_connection(
                    lambda: UpstreamConnection(
                        self.loop, self.read_timeout, self._lost
                    ),
                    up.host,
                    up.port,
                )
        except BaseException as exc:
            self.count -= 1
            self._wake()
            if isinstance(exc, TimeoutError):
                raise UpstreamError(
                    "timeout", f"connect to {up.url} timed out"
                ) from None
            if isinstance(exc, ConnectionRefusedError):
                raise UpstreamError(
                    "refused", f"{up.url} refused the connection"
                ) from None
            if isinstance(exc, OSError):
                reason = exc.strerror or str(exc)
                raise UpstreamError("unreachable", f"{up.url}: {reason}") from None
            raise
        self._open.add(proto)
        return proto

    def release(self, conn: UpstreamConnection) -> None:
        """Give a connection back: kept if reusable, else closed (its slot frees on loss)."""
        if not conn.reusable or conn.closed or self._closed:
            conn.close()
            return
        conn.idle_since = self.loop.time()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self.idle.append(conn)

    def _lost(self, conn: UpstreamConnection) -> None:
        self._open.discard(conn)
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)
        self.count -= 1
        self._wake()

    def _wake(self) -> None:
        """A slot freed: reserve it for the first waiter, who connects."""
        while self._waiters and self.count < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.count += 1
                waiter.set_result(None)

    def close_idle(self, now: float) -> None:
        """Close connections idle longer than ``idle_timeout`` (upstreams drop them too)."""
        for conn in [c for c in self.idle if now - c.idle_since > self.idle_timeout]:
            conn.close()

    def close(self) -> None:
        """Close every connection, idle or busy, and refuse new requests."""
        self._closed = True
        for conn in list(self._open):
            conn.close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(UpstreamError("closed", "the proxy is stopping"))
        self._waiters.clear()
