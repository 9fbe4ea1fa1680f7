"""Answering a request: choosing the response, then sending it whole or broken.

:class:`Responder` is the half of a connection that writes.  It picks the
response (the file, 304, 206/416, 404, or a status the fault policy asks
for), then sends it as the request's fault says: whole, reset or closed
halfway through the body, or stalled.  Files held in memory go out in one
write; files streamed from disk go out chunk by chunk, pausing while the
client's socket is full.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from typing import TYPE_CHECKING

from awaitkit.flags._files import DirectoryFiles
from awaitkit.flags._http import (
    BadTarget,
    build_head,
    is_not_modified,
    parse_range,
    reason,
    split_target,
)
from awaitkit.flags._policy import Decision, Fault

if TYPE_CHECKING:
    from awaitkit.flags._dataset import Resource
    from awaitkit.flags._site import Site

__all__ = ["Request", "Responder", "path_of"]

log = logging.getLogger("awaitkit.flags")

_CHUNK = 256 * 1024  # bytes read from disk per step when streaming a file
_ALLOWED = {b"GET", b"HEAD"}


def path_of(target: bytes) -> str:
    """The path of a request target, without its query (for observers)."""
    return target.partition(b"?")[0].decode("latin-1")


class Request:
    """One parsed request, queued until its turn (and its delay) comes."""

    __slots__ = (
        "conn_line",
        "decision",
        "head_only",
        "headers",
        "keep_alive",
        "method",
        "target",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        headers: dict[str, str],
        keep_alive: bool,
        decision: Decision,
        http10: bool = False,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.keep_alive = keep_alive
        # HTTP/1.0 clients keep the connection only when told so explicitly.
        if not keep_alive:
            self.conn_line = b"Connection: close\r\n"
        elif http10:
            self.conn_line = b"Connection: keep-alive\r\n"
        else:
            self.conn_line = b""
        self.decision = decision
        self.head_only = method == b"HEAD"


class Responder:
    """Writes responses for :class:`~awaitkit.flags._protocol.HttpConnection`.

    The connection owns the state declared here; the responder reads and
    updates it, and calls back ``_process`` (answer the next request),
    ``_close`` and ``_reset``.
    """

    site: Site
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport | None
    peer: str
    peer_ip: str
    stalled: bool
    queue: deque[Request]
    current: Request | None
    timer: asyncio.TimerHandle | None
    task: asyncio.Task[None] | None
    closing: bool
    can_write: bool
    no_more_requests: bool
    pending_error: tuple[int, bytes] | None
    _drained: asyncio.Future[None] | None

    def _process(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _reset(self) -> None:
        raise NotImplementedError

    # -- observation (only when ``site.observer`` is set) ----------------------

    def _observe_start(self, request: Request) -> None:
        observer = self.site.observer
        assert observer is not None
        observer.started(
            request.headers.get("x-client-id") or self.peer_ip,
            request.method.decode("latin-1"),
            path_of(request.target),
            request.headers,
            self.loop.time(),
        )

    def _observe_end(
        self,
        request: Request,
        status: int,
        sent: int,
        *,
        complete: bool = True,
        body_end: int = 0,
    ) -> None:
        observer = self.site.observer
        assert observer is not None
        fault = request.decision.fault
        retry_after = None
        if fault is Fault.RATE_LIMIT or fault is Fault.UNAVAILABLE:
            retry_after = float(self.site.policy.retry_after)
        observer.finished(
            request.headers.get("x-client-id") or self.peer_ip,
            path_of(request.target),
            status,
            fault.value,
            sent,
            complete,
            self.loop.time(),
            body_end=body_end,
            retry_after=retry_after,
        )

    def _observe_dropped(self) -> None:
        """The connection is gone: its unanswered requests end with status 0."""
        dropped = list(self.queue)
        if self.current is not None and not self.stalled:
            dropped.insert(0, self.current)
        for request in dropped:
            self._observe_end(request, 0, 0, complete=False)

    def _answer(self, request: Request) -> None:
        fault = request.decision.fault
        if fault.replaces_response:
            self._send_fault_status(request, fault)
            return
        if request.method not in _ALLOWED:
            self._send_status(request, 405, [("Allow", "GET, HEAD")])
            return
        site = self.site
        memory = site.memory_files
        if memory is not None:
            found = memory.by_target.get(request.target)
            if found is not None:
                self._send_file(request, found)
                return
        try:
            segments = split_target(request.target)
        except BadTarget as exc:
            self._send_status(request, exc.status)
            return
        if memory is not None:
            self._send_file(request, memory.get(segments))
            return
        self.task = self.loop.create_task(self._load_and_send(request, segments))

    async def _load_and_send(self, request: Request, segments: tuple[str, ...]) -> None:
        files = self.site.files
        assert isinstance(files, DirectoryFiles)
        found = await files.get(segments)
        self.task = None
        if self.closing:
            return
        self._send_file(request, found)
        self._process()

    def _send_fault_status(self, request: Request, fault: Fault) -> None:
        policy = self.site.policy
        if fault is Fault.ERROR:
            self._send_status(request, policy.error_status)
        else:
            status = 429 if fault is Fault.RATE_LIMIT else 503
            retry = [("Retry-After", str(policy.retry_after))]
            self._send_status(request, status, retry)

    def _send_status(
        self, request: Request, status: int, extra: list[tuple[str, str]] | None = None
    ) -> None:
        body = f"{status} {reason(status)}\n".encode()
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *(extra or []),
        ]
        head = self._head(request, status, headers)
        self._write(request, status, head, b"" if request.head_only else body)

    def _head(
        self, request: Request, status: int, headers: list[tuple[str, str]]
    ) -> bytes:
        if request.keep_alive and request.conn_line:
            headers = [*headers, ("Connection", "keep-alive")]  # HTTP/1.0
        return build_head(
            status, headers, keep_alive=request.keep_alive, date=self.site.date
        )

    def _send_file(
        self, request: Request, found: tuple[Resource, bytes] | None
    ) -> None:
        if found is None:
            self._send_status(request, 404)
            return
        resource, static = found
        headers = request.headers
        if headers:
            if is_not_modified(headers, resource):
                validators = [
                    ("ETag", resource.etag),
                    ("Last-Modified", resource.last_modified),
                ]
                head = self._head(request, 304, validators)
                self._write(request, 304, head, b"")
                return
            span = parse_range(headers, resource)
            if span is False:
                size = resource.size
                self._send_status(request, 416, [("Content-Range", f"bytes */{size}")])
                return
            if span is not None and span is not True:
                start, end = span
                part = [
                    ("Content-Type", resource.content_type),
                    ("Content-Length", str(end - start)),
                    ("Content-Range", f"bytes {start}-{end - 1}/{resource.size}"),
                    ("ETag", resource.etag),
                    ("Last-Modified", resource.last_modified),
                    ("Accept-Ranges", "bytes"),
                ]
                head = self._head(request, 206, part)
                if resource.path is not None and not request.head_only:
                    self._send_stream(request, 206, head, resource.path, start, end)
                    return
                body = memoryview(resource.body)[start:end]
                self._write(
                    request, 206, head, b"" if request.head_only else body, start
                )
                return
        # The hot path: prebuilt header lines, no parsing of anything.
        head = b"".join(
            (
                b"HTTP/1.1 200 OK\r\nServer: awaitkit\r\nDate: ",
                self.site.date_bytes,
                b"\r\n",
                static,
                request.conn_line,
                b"\r\n",
            )
        )
        if resource.path is not None and not request.head_only:
            self._send_stream(request, 200, head, resource.path, 0, resource.size)
            return
        self._write(request, 200, head, b"" if request.head_only else resource.body)

    def _send_stream(
        self,
        request: Request,
        status: int,
        head: bytes,
        path: str,
        start: int,
        end: int,
    ) -> None:
        """Send bytes ``start:end`` of a file on disk, read in a thread chunk by chunk."""
        fault = request.decision.fault
        stop = end
        if fault is not Fault.NONE:  # only body faults get here
            self.site.stats.by_fault[fault.value] += 1
            stop = start + (end - start) // 2
        self.task = self.loop.create_task(
            self._stream(request, status, head, path, start, stop, end)
        )

    async def _stream(
        self,
        request: Request,
        status: int,
        head: bytes,
        path: str,
        start: int,
        stop: int,
        end: int,
    ) -> None:
        transport = self.transport
        assert transport is not None
        transport.write(head)
        sent = len(head)
        pos = start
        try:
            fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
        except OSError:
            fd = -1  # gone since the stat: end the response short, below
        try:
            while fd >= 0 and pos < stop:
                size = min(_CHUNK, stop - pos)
                chunk = await asyncio.to_thread(os.pread, fd, size, pos)
                if not chunk:
                    break  # the file shrank under us
                transport.write(chunk)
                pos += len(chunk)
                sent += len(chunk)
                if not self.can_write:  # the client reads slower than the disk
                    self._drained = self.loop.create_future()
                    await self._drained
        finally:
            if fd >= 0:
                os.close(fd)
        self.task = None
        if self.closing:
            return
        fault = request.decision.fault
        if pos == end:
            self._finish(request, status, sent, close=not request.keep_alive)
        elif fault is Fault.STALL:
            self._log(request, status, sent)
            self.stalled = True
            if self.site.observer is not None:
                self._observe_end(request, status, sent, complete=False, body_end=pos)
            self.timer = self.loop.call_later(
                self.site.policy.stall_timeout, self._end_stall, request, status
            )
        else:
            self.pending_error = None  # the connection ends broken
            if fault is Fault.RESET:
                self._reset()
            self._finish(request, status, sent, close=True, body_end=pos)
        self._process()

    def _write(
        self,
        request: Request,
        status: int,
        head: bytes,
        body: bytes | memoryview,
        start: int = 0,
    ) -> None:
        """Send a response, broken as the request's fault says, and account for it.

        ``start``: the file offset of ``body`` (a range), for observers.
        """
        transport = self.transport
        assert transport is not None
        fault = request.decision.fault
        if fault is not Fault.NONE:
            self.site.stats.by_fault[fault.value] += 1
        sent = len(head) + len(body)
        if fault is Fault.NONE or fault.replaces_response:
            if body:
                transport.writelines((head, body))
            else:
                transport.write(head)
            self._finish(request, status, sent, close=not request.keep_alive)
            return
        # Body faults cut the response in the middle of the body (of the head
        # when there is no body, as for HEAD), so Content-Length is never met.
        cut = len(head) + len(body) // 2 if body else len(head) // 2
        self.pending_error = None  # the connection ends broken, as asked
        data = (bytes(head) + bytes(body))[:cut]
        transport.write(data)
        body_end = start + max(0, cut - len(head))
        if fault is Fault.STALL:
            # Hold the connection, silent, until the stall timeout.
            self._log(request, status, cut)
            self.stalled = True
            if self.site.observer is not None:
                self._observe_end(
                    request, status, cut, complete=False, body_end=body_end
                )
            self.timer = self.loop.call_later(
                self.site.policy.stall_timeout, self._end_stall, request, status
            )
            return
        if fault is Fault.RESET:
            self._reset()
        self._finish(request, status, cut, close=True, body_end=body_end)

    def _end_stall(self, request: Request, status: int) -> None:
        self.timer = None
        self.site.stats.by_status[status] += 1
        self.site.stats.in_flight -= 1
        self.current = None
        self._close()

    def _finish(
        self,
        request: Request,
        status: int,
        sent: int,
        *,
        close: bool,
        body_end: int | None = None,
    ) -> None:
        """Account for a response sent (``body_end`` set: cut short there)."""
        stats = self.site.stats
        stats.in_flight -= 1
        stats.by_status[status] += 1
        self.current = None
        if self.site.observer is not None:
            if body_end is None:
                self._observe_end(request, status, sent)
            else:
                self._observe_end(
                    request, status, sent, complete=False, body_end=body_end
                )
        self._log(request, status, sent)
        if close or (self.no_more_requests and not self.queue):
            self._close()

    def _log(self, request: Request, status: int, sent: int) -> None:
        if log.isEnabledFor(logging.INFO):
            d = request.decision
            log.info(
                '%s "%s %s" %d %d fault=%s delay=%.3f',
                self.peer,
                request.method.decode("latin-1"),
                request.target.decode("latin-1"),
                status,
                sent,
                d.fault.value,
                d.delay,
            )
