"""Proxy mode: one client connection, its requests forwarded upstream with faults.

:class:`ProxyConnection` parses requests with httptools under the same
limits as the flags server (URL, head, body, pipeline depth, timeouts) and
answers them in order, one task per request: wait the drawn delay, answer a
status fault itself, or forward the request and relay the response.  The
:class:`Relay` receives the upstream response piece by piece and writes it
straight to the client, whole or broken as the fault says (reset, closed
short, stalled: half the upstream's Content-Length, or ``cut_after`` bytes
of a body without one).  While the client's socket is full the upstream
connection stops reading, so a body of any size passes in bounded memory.

Request bodies are bounded (``max_body_bytes``) and gathered before
forwarding, then sent with a Content-Length whether they came chunked or
not: the upstream then never sees a half request from a client that dies.
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
from awaitkit.flags._forward import (
    Fields,
    Framing,
    origin_form,
    request_head,
    response_head,
)
from awaitkit.flags._http import build_head, reason
from awaitkit.flags._policy import Action, Fault
from awaitkit.flags._respond import _unacked
from awaitkit.flags._upstream import UpstreamError

if TYPE_CHECKING:
    from awaitkit.flags._proxy_site import ProxySite
    from awaitkit.flags._upstream import UpstreamConnection

__all__ = ["ProxyConnection", "ProxyRequest", "Relay"]

log = logging.getLogger("awaitkit.flags.proxy")

_MAX_PIPELINE = 16  # queued requests before we stop reading from the socket
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_END_CHUNKS = b"0\r\n\r\n"
_IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"))


class _LimitExceeded(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class ProxyRequest:
    """One parsed request, queued until its turn."""

    __slots__ = (
        "body",
        "decision",
        "fields",
        "http10",
        "keep_alive",
        "method",
        "path",
        "retried",
        "target",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        fields: Fields,
        body: bytes | None,
        keep_alive: bool,
        http10: bool,
        decision: Action,
    ) -> None:
        self.method = method
        self.target = target
        self.fields = fields
        self.body = body
        self.keep_alive = keep_alive
        self.http10 = http10
        self.decision = decision
        self.retried = False  # sent again after a reused connection went stale
        self.path = origin_form(target)  # what goes upstream (None: not a path)

    @property
    def head_only(self) -> bool:
        return self.method == b"HEAD"


def _rule_fields(headers: tuple[tuple[str, str], ...]) -> Fields:
    return [
        (name.encode("latin-1", "replace"), value.encode("latin-1", "replace"))
        for name, value in headers
    ]


class Relay:
    """Writes one upstream response to the client (an upstream ``Sink``).

    When the exchange is over it calls the client's ``relay_done`` once, with
    ``"ok"``, ``"failed"`` (answered 502/504 ourselves), ``"broken"`` (the
    client connection ends) or ``"stale"`` (send again on a fresh connection).
    """

    __slots__ = (
        "body_sent",
        "client",
        "cut_at",
        "due",
        "finished",
        "framing",
        "head_sent",
        "out",
        "paced",
        "pending_end",
        "rate",
        "request",
        "sent",
        "status",
        "timer",
        "upstream",
    )

    def __init__(
        self,
        client: ProxyConnection,
        request: ProxyRequest,
        upstream: UpstreamConnection | None,
    ) -> None:
        self.client = client
        self.request = request
        self.upstream = upstream
        self.finished = False
        self.head_sent = False
        self.framing = Framing.NONE
        self.cut_at: int | None = None  # body bytes after which the fault cuts
        self.body_sent = 0
        self.sent = 0
        self.status = 0
        # What to write to the client, gathered over one upstream read and
        # written at once (flush): one syscall for a small response, not two.
        self.out: list[bytes | memoryview] = []
        # A bytes/s limit: pieces wait in ``paced`` (the upstream paused)
        # and go out about ten times a second; ``pending_end`` is what to do
        # once they are out ("end" or "break").
        self.rate = request.decision.rate
        self.paced: deque[memoryview] = deque()
        self.pending_end = ""
        self.due = 0.0
        self.timer: asyncio.TimerHandle | None = None

    def _write(self, data: bytes | memoryview) -> None:
        self.out.append(data)
        self.sent += len(data)

    def flush(self) -> None:
        """Write what the last upstream read produced (called after each)."""
        out = self.out
        if out:
            transport = self.client.transport
            if transport is not None and not transport.is_closing():
                if len(out) == 1:
                    transport.write(out[0])
                else:
                    transport.writelines(out)
            self.out = []

    def _finish(self, outcome: str) -> None:
        self.flush()
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if log.isEnabledFor(logging.INFO):
            self.client.log_access(self.request, self.status, self.sent, outcome)
        self.client.relay_done(self, outcome)

    def on_head(
        self, status: int, reason_phrase: bytes, fields: Fields, length: int | None
    ) -> None:
        request = self.request
        self.status = status
        if request.head_only or status in (204, 304):
            framing = Framing.NONE
        elif length is not None:
            framing = Framing.LENGTH
        elif request.http10:
            framing = Framing.CLOSE
        else:
            framing = Framing.CHUNKED
        self.framing = framing
        keep_alive = request.keep_alive and framing is not Framing.CLOSE
        action = request.decision
        head = response_head(
            status,
            reason_phrase,
            fields,
            framing=framing,
            keep_alive=keep_alive,
            http10_keep_alive=keep_alive and request.http10,
            extra=_rule_fields(action.headers) if action.headers else (),
        )
        if not keep_alive:
            self.client.no_more_requests = True
        if action.fault is Fault.THROTTLE:
            self.client.site.stats.by_fault[Fault.THROTTLE.value] += 1
        elif action.fault.breaks_body:
            if framing is Framing.NONE or length == 0:
                # No body to cut: cut the head, as the flags server does.
                self._write(head[: len(head) // 2])
                self._break()
                return
            if action.at is not None:
                self.cut_at = action.at if length is None else min(action.at, length)
            else:
                self.cut_at = (
                    length // 2 if length is not None else self.client.site.cut_after
                )
        self._write(head)
        self.head_sent = True
        self.due = self.client.loop.time()

    def on_body(self, piece: bytes) -> None:
        if not piece or self.finished or self.pending_end:
            return
        cut_at = self.cut_at
        cut = False
        if cut_at is not None:
            taken = self.body_sent + sum(map(len, self.paced))
            if taken + len(piece) >= cut_at:
                piece = piece[: cut_at - taken]
                cut = True
        if self.rate is not None:
            if piece:
                self.paced.append(memoryview(piece))  # sliced without copies
            if cut:
                self.pending_end = "break"
            if self.upstream is not None:
                self.upstream.pause()  # until the paced pieces are out
            if self.timer is None:
                self._drip()
            return
        self._send_piece(piece)
        if cut:
            self._break()

    def _drip(self) -> None:
        """Send the next paced slice; when all are out, read on (or end)."""
        self.timer = None
        if self.finished:
            return
        rate = self.rate
        assert rate is not None
        paced = self.paced
        if paced:
            step = max(1, min(256 * 1024, rate // 10))
            piece = paced.popleft()
            if len(piece) > step:
                paced.appendleft(piece[step:])
                piece = piece[:step]
            self._send_piece(piece)
            self.flush()
            loop = self.client.loop
            self.due += len(piece) / rate
            self.timer = loop.call_later(max(0.0, self.due - loop.time()), self._drip)
            return
        if self.pending_end == "break":
            self._break()
        elif self.pending_end == "end":
            self._complete()
        elif self.upstream is not None and self.client.can_write:
            self.upstream.resume()

    def writable(self, can_write: bool) -> None:
        """The client's socket filled up or drained: hold or release the upstream."""
        upstream = self.upstream
        if upstream is None:
            return
        if not can_write:
            upstream.pause()
        elif not self.paced and self.timer is None:
            upstream.resume()

    def _send_piece(self, piece: bytes | memoryview) -> None:
        if not piece:
            return
        self.body_sent += len(piece)
        if self.framing is Framing.CHUNKED:
            self._write(b"%x\r\n" % len(piece))
            self._write(piece)
            self._write(b"\r\n")
        else:
            self._write(piece)

    def on_end(self) -> None:
        if self.finished or self.pending_end:
            return
        if self.timer is not None or self.paced:
            self.pending_end = "break" if self.cut_at is not None else "end"
            return
        if self.cut_at is not None:
            self._break()  # the body ended before the cut: end it short all the same
            return
        self._complete()

    def _complete(self) -> None:
        if self.framing is Framing.CHUNKED:
            self._write(_END_CHUNKS)
        elif self.framing is Framing.CLOSE:
            self.client.no_more_requests = True
        self.client.site.stats.by_status[self.status] += 1
        self._finish("ok")

    def on_error(self, error: UpstreamError) -> None:
        if self.finished:
            return
        self.flush()
        client = self.client
        client.site.stats.upstream_errors[error.kind] += 1
        request = self.request
        log.warning(
            '%s "%s %s" upstream %s: %s',
            client.peer,
            request.method.decode("latin-1"),
            request.target.decode("latin-1"),
            error.kind,
            error.detail,
        )
        if not self.head_sent:
            status = 504 if error.kind == "timeout" else 502
            client.send_status(request, status, f"upstream {error.kind}")
            self.status = status
            self._finish("failed")
            return
        # Part of the response is out: the client can only see it end short.
        client.site.stats.by_status[self.status] += 1
        client.end_broken()
        self._finish("broken")

    def on_stale(self) -> None:
        if self.finished:
            return
        # Only a request that may be repeated is sent again: the upstream may
        # have acted on a POST before it dropped the connection.
        if self.request.retried or self.request.method not in _IDEMPOTENT:
            self.on_error(UpstreamError("closed", "upstream closed without answering"))
            return
        self._finish("stale")

    def client_gone(self) -> None:
        """The client connection is being dropped: so is the upstream one."""
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.upstream is not None:
            self.upstream.close()

    def _break(self) -> None:
        """Apply the request's body fault: the upstream connection is dropped."""
        self.flush()
        client = self.client
        fault = self.request.decision.fault
        client.site.stats.by_fault[fault.value] += 1
        client.site.stats.by_status[self.status] += 1
        if self.upstream is not None:
            self.upstream.close()
        if fault is Fault.STALL:
            timeout = self.request.decision.stall_timeout
            client.stall(
                client.site.policy.stall_timeout if timeout is None else timeout
            )
        elif fault is Fault.RESET:
            client.reset()
        else:
            client.end_broken()
        self._finish("broken")


class ProxyConnection(asyncio.Protocol):
    """Parses requests off one client connection and answers them in order."""

    def __init__(self, site: ProxySite) -> None:
        self.site = site
        self.loop = site.loop
        self.transport: asyncio.Transport | None = None
        self.peer = "-"
        self.client_ip = "-"
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[ProxyRequest] = deque()
        self.task: asyncio.Task[None] | None = None
        self.current: ProxyRequest | None = None  # being answered
        self.relay: Relay | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.closing = False
        self.broken = False  # a fault or an upstream failure ended a response short
        self.no_more_requests = False
        self.can_write = True
        self.reading_paused = False
        self.queued_bytes = 0  # bodies of queued requests: bounded, as their count
        self.blocked_since = 0.0  # when the client's socket last filled up
        self._drained: asyncio.Future[None] | None = None  # set when writing resumes
        self.pending_error: bytes | None = None
        self.last_active = self.loop.time()
        self.in_message = False
        self.message_started = 0.0
        self._url = b""
        self._fields: Fields = []
        self._body: list[bytes] = []
        self._head_bytes = 0
        self._body_bytes = 0
        self._has_body = False
        self.headers_done = False
        self._partial_head = 0
        self._boundary_seen = False

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = tr = cast("asyncio.Transport", transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.client_ip = str(peer[0])
            self.peer = f"{peer[0]}:{peer[1]}"
        site = self.site
        site.stats.connections += 1
        if len(site.connections) >= site.max_connections:
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
        relay, self.relay = self.relay, None
        if relay is not None:
            relay.client_gone()  # mid-response: it can never line up again
            if relay.upstream is not None:
                self.site.pool.release(relay.upstream)
        dropped = len(self.queue) + (self.current is not None)
        self.current = None
        self.queue.clear()
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
            self.no_more_requests = True  # Upgrade/CONNECT: that request is answered
            self._close_when_done()
            return
        except httptools.HttpParserError:
            self._fail(400)
            return
        if self.in_message and not self.headers_done:
            self._partial_head = (
                0 if self._boundary_seen else self._partial_head + len(data)
            )
            if self._partial_head > self.site.max_header_bytes:
                self._fail(431)

    def eof_received(self) -> bool | None:
        self.no_more_requests = True
        self._close_when_done()
        return True

    def pause_writing(self) -> None:
        self.can_write = False
        self.blocked_since = self.loop.time()
        if self.relay is not None:
            self.relay.writable(False)

    def resume_writing(self) -> None:
        self.can_write = True
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)
        if self.relay is not None:
            self.relay.writable(True)

    # -- httptools callbacks -------------------------------------------------

    def on_message_begin(self) -> None:
        self.in_message = True
        self.headers_done = False
        self.message_started = self.loop.time()
        self._url = b""
        self._fields = []
        self._body = []
        self._head_bytes = 0
        self._body_bytes = 0
        self._has_body = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if len(self._url) > self.site.max_url_bytes:
            raise _LimitExceeded(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self.site.max_header_bytes:
            raise _LimitExceeded(431)
        self._fields.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self._boundary_seen = True
        self._partial_head = 0
        expects = False
        for name, value in self._fields:
            n = len(name)
            if n != 14 and n != 17 and n != 6:  # most names: one len(), no lower()
                continue
            lowered = name.lower()
            if lowered in (b"content-length", b"transfer-encoding"):
                self._has_body = True
            elif lowered == b"expect" and value.strip().lower() == b"100-continue":
                expects = True
        if self.parser.get_method() == b"CONNECT":
            raise _LimitExceeded(405)  # a reverse proxy tunnels nothing
        if expects and self._has_body and self.current is None and not self.queue:
            assert self.transport is not None
            self.transport.write(_CONTINUE)  # nothing else is being written

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self.site.max_body_bytes:
            raise _LimitExceeded(413)
        self._body.append(body)

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
        if site.fast:  # no rules, no rates: nothing to decide or count
            decision = NO_FAULT
        else:
            headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in self._fields
            }
            decision = site.decide(method, self._url, headers, self.client_ip)
        body = b"".join(self._body) if self._has_body else None
        request = ProxyRequest(
            method,
            self._url,
            self._fields,
            body,
            keep_alive,
            parser.get_http_version() == "1.0",
            decision,
        )
        self._body = []
        if not keep_alive:
            self.no_more_requests = True
        self.queue.append(request)
        if body:
            self.queued_bytes += len(body)
        if (
            len(self.queue) > _MAX_PIPELINE
            or self.queued_bytes > self.site.max_body_bytes
        ) and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._process()

    # -- answering -----------------------------------------------------------
    #
    # The fast path runs in callbacks: a request with no delay, when an idle
    # upstream connection is at hand, goes out at once and its response is
    # relayed from the upstream's data_received.  Only a delay, a connect or
    # a wait for a free upstream connection takes a task.

    def _process(self) -> None:
        if self.current is not None or self.closing or self.broken:
            return
        if self.queue:
            request = self.queue.popleft()
            if request.body:
                self.queued_bytes -= len(request.body)
            self.current = request
            self._start(request)
        elif self.no_more_requests:
            self._close()
        if (
            self.reading_paused
            and self.transport is not None
            and not self.closing
            and len(self.queue) <= _MAX_PIPELINE // 2
            and self.queued_bytes <= self.site.max_body_bytes // 2
        ):
            self.reading_paused = False
            self.transport.resume_reading()

    def _start(self, request: ProxyRequest) -> None:
        decision = request.decision
        if request.path is None:
            self.send_status(request, 400, "request target is not a path")
            self._done()
            return
        if decision.delay == 0 and not request.retried:
            if decision.fault.replaces_response:
                self._answer_fault(request)
                self._done()
                return
            conn = self.site.pool.take_idle()
            if conn is not None:
                self._begin(request, conn)
                return
        self.task = self.loop.create_task(self._prepare(request))
        self.task.add_done_callback(self._prepared)

    async def _prepare(self, request: ProxyRequest) -> None:
        decision = request.decision
        if decision.delay > 0 and not request.retried:
            await asyncio.sleep(decision.delay)
            if decision.fault.replaces_response:
                self._answer_fault(request)
                self.task = None
                self._done()
                return
        pool = self.site.pool
        try:
            async with asyncio.timeout(pool.read_timeout):
                conn = await pool.acquire(fresh=request.retried)
        except UpstreamError as exc:
            self.task = None
            Relay(self, request, None).on_error(exc)
            return
        except TimeoutError:
            self.task = None
            error = UpstreamError("timeout", "no upstream connection became free")
            Relay(self, request, None).on_error(error)
            return
        self.task = None
        self._begin(request, conn)

    def _prepared(self, task: asyncio.Task[None]) -> None:
        if self.task is task:
            self.task = None
        if not task.cancelled() and task.exception() is not None:
            # A bug, not a network event: log it, drop this connection only.
            log.error("proxy request failed", exc_info=task.exception())
            self.end_broken()

    def _begin(self, request: ProxyRequest, conn: UpstreamConnection) -> None:
        """Send ``request`` on ``conn``; its relay calls :meth:`relay_done`."""
        target = request.path
        assert target is not None  # checked in _start
        body = request.body
        head = request_head(
            request.method,
            target,
            request.fields,
            upstream=self.site.pool.upstream,
            client_ip=self.client_ip,
            body_length=None if body is None else len(body),
        )
        self.relay = relay = Relay(self, request, conn)
        conn.send(head + body if body else head, relay, head_only=request.head_only)
        if not self.can_write:
            conn.pause()

    def relay_done(self, relay: Relay, outcome: str) -> None:
        """The exchange of ``relay`` is over: give its connection back, go on."""
        if self.relay is relay:
            self.relay = None
        if relay.upstream is not None:
            self.site.pool.release(relay.upstream)
        if self.current is not relay.request:
            return  # the client connection was lost meanwhile
        if outcome == "stale":
            relay.request.retried = True
            self._start(relay.request)
            return
        self._done()

    def _done(self) -> None:
        """The current request is answered: on to the next."""
        self.current = None
        self.site.stats.in_flight -= 1
        self._process()

    def log_access(
        self, request: ProxyRequest, status: int, sent: int, outcome: str
    ) -> None:
        """One access line per answered request (at INFO, as the flags server)."""
        d = request.decision
        log.info(
            '%s "%s %s" %d %d fault=%s delay=%.3f %s',
            self.peer,
            request.method.decode("latin-1"),
            request.target.decode("latin-1"),
            status,
            sent,
            d.fault.value,
            d.delay,
            outcome,
        )

    def _answer_fault(self, request: ProxyRequest) -> None:
        """A status instead of the upstream's answer: a rule's, or 418/429/503."""
        action = request.decision
        self.site.stats.by_fault[action.fault.value] += 1
        policy = self.site.policy
        status = action.status
        if status is None:
            if action.fault is Fault.ERROR:
                status = policy.error_status
            else:
                status = 429 if action.fault is Fault.RATE_LIMIT else 503
        extra = list(action.headers)
        if status in (429, 503) and not any(
            name.lower() == "retry-after" for name, _ in extra
        ):
            retry = (
                policy.retry_after if action.retry_after is None else action.retry_after
            )
            extra.append(("Retry-After", str(retry)))
        self.send_status(request, status, extra=extra, body=action.body)
        if log.isEnabledFor(logging.INFO):
            self.log_access(request, status, 0, "ok")

    def send_status(
        self,
        request: ProxyRequest,
        status: int,
        why: str = "",
        *,
        extra: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> None:
        """Answer ``request`` ourselves (a fault, or the upstream failed)."""
        if status in (204, 304):  # no body, and no Content-Length for one
            body = b""
            headers = list(extra or [])
        else:
            if body is None:
                text = f"{status} {reason(status)}" + (f": {why}" if why else "")
                body = (text + "\n").encode()
            headers = [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ]
            if extra:  # a rule's headers replace ours of the same name
                names = {name.lower() for name, _ in extra}
                headers = [h for h in headers if h[0].lower() not in names]
                headers += extra
        if request.keep_alive and request.http10:
            headers.append(("Connection", "keep-alive"))
        head = build_head(
            status, headers, keep_alive=request.keep_alive, date=self.site.date
        )
        self.site.stats.by_status[status] += 1
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(head if request.head_only else head + body)

    # -- closing -------------------------------------------------------------

    def _close_when_done(self) -> None:
        if self.current is None and not self.queue:
            self._close()

    def _close(self) -> None:
        if self.closing or self.transport is None:
            return
        if self.pending_error is not None:
            self.transport.write(self.pending_error)
        self.closing = True
        self.transport.close()

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
        self.site.stats.by_status[status] += 1
        self.pending_error = head + body
        self._close_when_done()

    def end_broken(self) -> None:
        """End the connection after a response cut short (a clean close)."""
        self.broken = True
        self.pending_error = None
        self._close()

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0) rather than a FIN, once the
        client has the bytes sent before it (a RST drops what is queued)."""
        self.broken = True
        transport = self.transport
        if transport is None or self.closing:
            return
        if transport.get_write_buffer_size() or _unacked(transport):
            self.task = self.loop.create_task(self._reset_when_flushed(transport))
            return
        self._reset_now(transport)

    async def _reset_when_flushed(self, transport: asyncio.Transport) -> None:
        # A high-water mark of 0 pauses writing now and resumes it once the
        # buffer is empty; a client that never reads waits a stall timeout.
        transport.set_write_buffer_limits(high=0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.site.policy.stall_timeout):
                if transport.get_write_buffer_size():
                    self._drained = self.loop.create_future()
                    await self._drained
                # No event says when the peer has acked: poll (a reset only).
                while _unacked(transport):  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
        self.task = None
        if not self.closing:
            self._reset_now(transport)

    def _reset_now(self, transport: asyncio.Transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
        self.closing = True
        transport.abort()

    def stall(self, timeout: float) -> None:
        """Hold the connection silent for ``timeout`` seconds, then close it."""
        self.broken = True
        self.pending_error = None
        if self.timer is None and not self.closing:
            self.timer = self.loop.call_later(timeout, self._close)

    def close_idle(self, now: float) -> None:
        """Called every second: close connections idle or slow past their timeout."""
        site = self.site
        if (
            not self.can_write
            and self.relay is not None
            and now - self.blocked_since > site.request_timeout
        ):
            # A client that stopped reading must not hold an upstream
            # connection (and a pool slot) for ever.
            log.warning(
                "%s not reading for %g s: closed", self.peer, site.request_timeout
            )
            self.relay.client_gone()
            self.broken = True
            self.shutdown()  # abort: close() would wait for the unread bytes
            return
        if self.closing or self.broken or self.current is not None or self.queue:
            return
        if self.in_message:
            if now - self.message_started > site.request_timeout:
                self._fail(408)
        elif now - self.last_active > site.keepalive_timeout:
            self._close()

    def shutdown(self) -> None:
        """Close at once (the proxy is stopping)."""
        if self.transport is not None and not self.transport.is_closing():
            self.closing = True
            self.transport.abort()
