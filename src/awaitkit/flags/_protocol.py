"""One HTTP/1.1 connection: httptools parses, ``Responder`` (``_respond``) answers.

This half owns the connection: parsing with limits, the request queue,
delays, flow control, timeouts and closing.  Why not a framework: the
server must both keep up with nginx on a flag GIF and break responses on
purpose (reset or truncate mid-body, stall), which needs the raw transport.  Requests on a connection are answered in order
(pipelining works); a delay is a ``loop.call_later`` timer, never a sleeping
task or thread, so a thousand delayed requests cost a thousand timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from typing import TYPE_CHECKING, cast

import httptools

from awaitkit.flags._decide import NO_FAULT
from awaitkit.flags._http import build_head, reason
from awaitkit.flags._respond import Request, Responder

if TYPE_CHECKING:
    from awaitkit.flags._site import Site

__all__ = ["HttpConnection"]

log = logging.getLogger("awaitkit.flags")

_MAX_PIPELINE = 16  # queued requests before we stop reading from the socket


class _LimitExceeded(Exception):
    """Raised inside a parser callback to stop parsing with an error status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class HttpConnection(Responder, asyncio.Protocol):
    """Parses requests off one connection and answers them in order."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.loop = site.loop
        self.transport: asyncio.Transport | None = None
        self.peer = "-"
        self.peer_ip = "-"  # the client (attempts, verdicts) without X-Client-Id
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[Request] = deque()
        self.current: Request | None = None  # being delayed, loaded or stalled
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None
        self.closing = False
        self.stalled = False  # the current response stalls (its observer was told)
        self.no_more_requests = False  # a "Connection: close" request was queued
        self.can_write = True
        self.reading_paused = False
        self._drained: asyncio.Future[None] | None = None  # set when writing resumes
        # An error answer that waits for the requests pipelined before it.
        self.pending_error: tuple[int, bytes] | None = None
        self.last_active = self.loop.time()
        self.in_message = False
        self.message_started = 0.0
        # Per-message parse state.
        self._url = b""
        self._headers: dict[str, str] = {}
        self._head_bytes = 0
        self._body_bytes = 0
        self.headers_done = False
        self._partial_head = 0
        self._boundary_seen = False

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport: trust the type.
        self.transport = tr = cast("asyncio.Transport", transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer = f"{peer[0]}:{peer[1]}"
            self.peer_ip = str(peer[0])
        site = self.site
        site.stats.connections += 1
        if len(site.connections) >= site.max_connections:
            # Over the limit: answer at once and hang up instead of queueing.
            site.stats.by_status[503] += 1
            tr.write(
                build_head(
                    503,
                    [("Content-Length", "0"), ("Retry-After", "1")],
                    keep_alive=False,
                    date=site.date,
                )
            )
            self.closing = True
            tr.close()
            return
        site.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.site.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.task is not None:
            self.task.cancel()
            self.task = None
        # Requests that will never be answered leave the in-flight count.
        dropped = len(self.queue) + (self.current is not None)
        if dropped and self.site.observer is not None:
            self._observe_dropped()
        self.queue.clear()
        self.current = None
        self.site.stats.in_flight -= dropped

    def data_received(self, data: bytes) -> None:
        if self.closing or self.no_more_requests:
            return
        self.last_active = self.loop.time()
        self._boundary_seen = False
        try:
            self.parser.feed_data(data)
        except _LimitExceeded as exc:
            self._fail(exc.status)
            return
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self._fail(cause.status if isinstance(cause, _LimitExceeded) else 400)
            return
        except httptools.HttpParserUpgrade:
            # Upgrade or CONNECT: the request itself was queued and gets its
            # answer; we speak nothing but HTTP/1.1, so stop reading there.
            self.no_more_requests = True
            self._close_when_done()
            return
        except httptools.HttpParserError:
            self._fail(400)
            return
        if self.in_message and not self.headers_done:
            # httptools buffers a header line until its CRLF: bound what a
            # client may make it buffer.  A chunk that also ended a message
            # is not counted (we cannot tell where), so the bound is loose
            # by at most one read.
            self._partial_head = (
                0 if self._boundary_seen else self._partial_head + len(data)
            )
            if self._partial_head > self.site.max_header_bytes:
                self._fail(431)

    def eof_received(self) -> bool | None:
        # Half-closed by the client: finish what was asked, then close.
        self.no_more_requests = True
        self._close_when_done()
        return True  # keep our side open to write pending responses

    def _close_when_done(self) -> None:
        if self.current is None and not self.queue:
            self._close()

    def _close(self) -> None:
        if self.closing or self.transport is None:
            return
        if self.pending_error is not None:
            status, data = self.pending_error
            self.site.stats.by_status[status] += 1
            self.transport.write(data)
        self.closing = True
        self.transport.close()

    def pause_writing(self) -> None:
        self.can_write = False

    def resume_writing(self) -> None:
        self.can_write = True
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._process()

    # -- httptools callbacks -------------------------------------------------

    def on_message_begin(self) -> None:
        self.in_message = True
        self.headers_done = False
        self.message_started = self.loop.time()
        self._url = b""
        self._headers = {}
        self._head_bytes = 0
        self._body_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if len(self._url) > self.site.max_url_bytes:
            raise _LimitExceeded(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self.site.max_header_bytes:
            raise _LimitExceeded(431)
        # Only a few headers matter; latin-1 never fails on odd bytes.
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self._boundary_seen = True
        self._partial_head = 0

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self.site.max_body_bytes:
            raise _LimitExceeded(413)

    def on_message_complete(self) -> None:
        self.in_message = False
        self._boundary_seen = True
        if self.no_more_requests:
            return
        site = self.site
        stats = site.stats
        stats.requests += 1
        stats.in_flight += 1
        if stats.in_flight > stats.max_in_flight:
            stats.max_in_flight = stats.in_flight
        parser = self.parser
        keep_alive = parser.should_keep_alive()
        method = parser.get_method()
        # No rules, no rates (the fast path): nothing to decide or count.
        decision = (
            NO_FAULT
            if site.fast
            else site.decide(method, self._url, self._headers, self.peer_ip)
        )
        request = Request(
            method,
            self._url,
            self._headers,
            keep_alive,
            decision,
            keep_alive and parser.get_http_version() == "1.0",
        )
        if site.observer is not None:
            self._observe_start(request)
        if not keep_alive:
            self.no_more_requests = True
        self.queue.append(request)
        if len(self.queue) > _MAX_PIPELINE and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._process()

    # -- answering -----------------------------------------------------------

    def _process(self) -> None:
        """Answer queued requests in order until one must wait."""
        while self.queue and self.current is None and self.can_write:
            if self.closing:
                return
            request = self.queue.popleft()
            self.current = request
            delay = request.decision.delay
            if delay > 0:
                self.timer = self.loop.call_later(delay, self._after_delay, request)
                return
            self._answer(request)
        if (
            self.reading_paused
            and self.transport is not None
            and not self.closing
            and len(self.queue) <= _MAX_PIPELINE // 2
        ):
            self.reading_paused = False
            self.transport.resume_reading()

    def _after_delay(self, request: Request) -> None:
        self.timer = None
        self._answer(request)
        self._process()

    # -- closing -------------------------------------------------------------

    def _fail(self, status: int) -> None:
        """Answer a request we could not parse (after those before it), then close."""
        self.no_more_requests = True
        self.in_message = False
        if self.transport is None or self.pending_error is not None:
            return
        body = f"{status} {reason(status)}\n".encode()
        head = build_head(
            status,
            [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
            keep_alive=False,
            date=self.site.date,
        )
        log.info("%s bad request: %d %s", self.peer, status, reason(status))
        self.pending_error = (status, head + body)
        self._close_when_done()

    def _reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0) rather than a FIN."""
        transport = self.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
        self.closing = True
        transport.abort()

    def close_idle(self, now: float) -> None:
        """Called every second: close connections idle or slow past their timeout."""
        site = self.site
        if self.closing or self.current is not None or self.queue:
            return
        if self.in_message:
            if now - self.message_started > site.request_timeout:
                self._fail(408)
        elif now - self.last_active > site.keepalive_timeout:
            self._close()

    def shutdown(self) -> None:
        """Close at once (server shutdown): stalled and delayed requests are dropped."""
        if self.transport is not None and not self.transport.is_closing():
            self.closing = True
            self.transport.abort()
