"""Answering a request: choosing the response, then sending it whole or broken.

:class:`Responder` is the half of a connection that writes.  It picks the
response (the file, 304, 206/416, 404, or a status a rule or the fault
policy asks for), then sends it as the request's :class:`Action` says:
whole, reset or closed after N body bytes (half by default), stalled, or
paced at a rule's bytes/s.  Files held in memory go out in one write (paced
ones in a task that writes about ten times a second); files streamed from
disk go out chunk by chunk, pausing while the client's socket is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import sys
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
from awaitkit.flags._policy import Action, Fault

if TYPE_CHECKING:
    from awaitkit.flags._dataset import Resource
    from awaitkit.flags._site import Site

__all__ = ["Request", "Responder"]

log = logging.getLogger("awaitkit.flags")

if sys.platform == "linux":
    import fcntl
    import termios

    _OUTQ: int | None = termios.TIOCOUTQ
else:
    _OUTQ = None

_CHUNK = 256 * 1024  # bytes read from disk per step when streaming a file
_ALLOWED = {b"GET", b"HEAD"}


class Request:
    """One parsed request, queued until its turn (and its delay) comes."""

    __slots__ = (
        "conn_line",
        "decision",
        "head_only",
        "headers",
        "http10",
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
        decision: Action,
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
        self.http10 = http10
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

    def _answer(self, request: Request) -> None:
        fault = request.decision.fault
        if fault.replaces_response:
            self._send_fault_status(request)
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

    def _send_fault_status(self, request: Request) -> None:
        """A status instead of the file: a rule's, or the policy's 418/429/503."""
        policy = self.site.policy
        action = request.decision
        status = action.status
        if status is None:
            fault = action.fault
            if fault is Fault.ERROR:
                status = policy.error_status
            else:
                status = 429 if fault is Fault.RATE_LIMIT else 503
        extra = []
        if status in (429, 503) and not any(
            name.lower() == "retry-after" for name, _ in action.headers
        ):
            retry = action.retry_after
            retry = policy.retry_after if retry is None else retry
            extra.append(("Retry-After", str(retry)))
        self._send_status(request, status, extra, action.body)

    def _send_status(
        self,
        request: Request,
        status: int,
        extra: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> None:
        if status in (204, 304):  # no body, and no Content-Length for one
            head = self._head(request, status, extra or [])
            self._write(request, status, head, b"")
            return
        if body is None:
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
        if request.keep_alive and request.http10:
            headers = [*headers, ("Connection", "keep-alive")]
        extra = request.decision.headers
        if extra:  # a rule's headers replace ours of the same name
            names = {name.lower() for name, _ in extra}
            headers = [h for h in headers if h[0].lower() not in names]
            headers += extra
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
                self._write(request, 206, head, b"" if request.head_only else body)
                return
        if request.decision.headers:  # a rule's, merged into the prebuilt lines
            static = self._decorated(static, request.decision.headers)
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

    def _decorated(self, static: bytes, extra: tuple[tuple[str, str], ...]) -> bytes:
        """A file's 200 header lines with a rule's merged in (same names replaced).

        Kept per (file, headers), so a rule with headers costs a dict lookup,
        not a head built per request.
        """
        cache = self.site.decorated
        key = (static, extra)
        lines = cache.get(key)
        if lines is None:
            names = {name.lower().encode("latin-1") for name, _ in extra}
            kept = [
                line
                for line in static.split(b"\r\n")
                if line and line.split(b":", 1)[0].lower() not in names
            ]
            kept += [f"{name}: {value}".encode("latin-1") for name, value in extra]
            lines = b"\r\n".join(kept) + b"\r\n"
            if len(cache) >= 4096:
                cache.clear()
            cache[key] = lines
        return lines

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
        action = request.decision
        fault = action.fault
        stop = end
        if fault is not Fault.NONE:  # body faults or a bytes/s limit
            self.site.stats.by_fault[fault.value] += 1
            if fault.breaks_body:
                size = end - start
                stop = start + (
                    size // 2 if action.at is None else min(action.at, size)
                )
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
        rate = request.decision.rate
        step = _CHUNK if rate is None else _paced_step(rate)
        due = self.loop.time()
        try:
            fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
        except OSError:
            fd = -1  # gone since the stat: end the response short, below
        try:
            while fd >= 0 and pos < stop:
                size = min(step, stop - pos)
                chunk = await asyncio.to_thread(os.pread, fd, size, pos)
                if not chunk:
                    break  # the file shrank under us
                transport.write(chunk)
                pos += len(chunk)
                sent += len(chunk)
                if rate is not None and pos < stop:
                    due += len(chunk) / rate
                    await asyncio.sleep(max(0.0, due - self.loop.time()))
                if not self.can_write:  # the client reads slower than the disk
                    self._drained = self.loop.create_future()
                    await self._drained
        finally:
            if fd >= 0:
                os.close(fd)
        self.task = None
        if self.closing:
            return
        self._after_body(request, status, sent, whole=pos == end)
        self._process()

    async def _drip(
        self,
        request: Request,
        status: int,
        head: bytes,
        body: bytes | memoryview,
        stop: int,
    ) -> None:
        """Send ``head`` then ``body[:stop]`` at the action's bytes/s, then end it."""
        transport = self.transport
        assert transport is not None
        rate = request.decision.rate
        assert rate is not None
        step = _paced_step(rate)
        view = memoryview(body)
        transport.write(head)
        sent = len(head)
        pos = 0
        due = self.loop.time()
        while pos < stop:
            n = min(step, stop - pos)
            transport.write(bytes(view[pos : pos + n]))
            pos += n
            sent += n
            if pos < stop:  # the next piece when the bytes so far are due
                due += n / rate
                await asyncio.sleep(max(0.0, due - self.loop.time()))
            if not self.can_write:
                self._drained = self.loop.create_future()
                await self._drained
        self.task = None
        if self.closing:
            return
        self._after_body(request, status, sent, whole=pos == len(view))
        self._process()

    def _after_body(
        self, request: Request, status: int, sent: int, *, whole: bool
    ) -> None:
        """End a response whose body (or part of it) has gone out."""
        if whole and not request.decision.fault.breaks_body:
            self._finish(request, status, sent, close=not request.keep_alive)
            return
        self.pending_error = None  # the connection ends broken
        self._break(request, status, sent)

    def _break(self, request: Request, status: int, sent: int) -> None:
        """Stall, reset or close after a cut body, as the request's fault says."""
        action = request.decision
        fault = action.fault
        if fault is Fault.STALL:
            # Hold the connection, silent, until the stall timeout.
            self._log(request, status, sent)
            timeout = action.stall_timeout
            if timeout is None:
                timeout = self.site.policy.stall_timeout
            self.timer = self.loop.call_later(timeout, self._end_stall, request, status)
            return
        if fault is Fault.RESET:
            transport = self.transport
            if transport is not None and (
                transport.get_write_buffer_size() or _unacked(transport)
            ):
                # The RST drops whatever is still queued, here or in the
                # kernel: wait until the client has it all, so it gets its N
                # bytes.
                self.task = self.loop.create_task(
                    self._reset_when_flushed(request, status, sent)
                )
                return
            self._reset()
        self._finish(request, status, sent, close=True)

    async def _reset_when_flushed(
        self, request: Request, status: int, sent: int
    ) -> None:
        transport = self.transport
        assert transport is not None
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
        if self.closing:
            return
        self._reset()
        self._finish(request, status, sent, close=True)

    def _write(
        self, request: Request, status: int, head: bytes, body: bytes | memoryview
    ) -> None:
        """Send a response, broken as the request's fault says, and account for it."""
        transport = self.transport
        assert transport is not None
        if request.decision.fault is Fault.NONE:
            if body:
                transport.writelines((head, body))
            else:
                transport.write(head)
            sent = len(head) + len(body)
            self._finish(request, status, sent, close=not request.keep_alive)
            return
        self._write_faulty(request, status, head, body)

    def _write_faulty(
        self, request: Request, status: int, head: bytes, body: bytes | memoryview
    ) -> None:
        transport = self.transport
        assert transport is not None
        action = request.decision
        fault = action.fault
        self.site.stats.by_fault[fault.value] += 1
        if not fault.breaks_body:  # a status of its own, or a bytes/s limit
            if action.rate is not None and body:
                self.task = self.loop.create_task(
                    self._drip(request, status, head, body, len(body))
                )
                return
            if body:
                transport.writelines((head, body))
            else:
                transport.write(head)
            sent = len(head) + len(body)
            self._finish(request, status, sent, close=not request.keep_alive)
            return
        # Body faults cut the response after N bytes of the body (half by
        # default; of the head when there is no body, as for HEAD), so
        # Content-Length is never met.
        if body:
            size = len(body)
            stop = size // 2 if action.at is None else min(action.at, size)
            if action.rate is not None:
                self.task = self.loop.create_task(
                    self._drip(request, status, head, body, stop)
                )
                return
            data = bytes(head) + bytes(body[:stop])
        else:
            data = head[: len(head) // 2]
        self.pending_error = None  # the connection ends broken, as asked
        transport.write(data)
        self._break(request, status, len(data))

    def _end_stall(self, request: Request, status: int) -> None:
        self.timer = None
        self.site.stats.by_status[status] += 1
        self.site.stats.in_flight -= 1
        self.current = None
        self._close()

    def _finish(self, request: Request, status: int, sent: int, *, close: bool) -> None:
        stats = self.site.stats
        stats.in_flight -= 1
        stats.by_status[status] += 1
        self.current = None
        self._log(request, status, sent)
        if close or (self.no_more_requests and not self.queue):
            self._close()

    def _log(self, request: Request, status: int, sent: int) -> None:
        """One access-log line (INFO), with the fault and the rule that chose it."""
        if log.isEnabledFor(logging.INFO):
            d = request.decision
            log.info(
                '%s "%s %s" %d %d fault=%s delay=%.3f%s',
                self.peer,
                request.method.decode("latin-1"),
                request.target.decode("latin-1"),
                status,
                sent,
                d.fault.value,
                d.delay,
                f" rule={d.rule}" if d.rule else "",
            )


def _unacked(transport: asyncio.Transport) -> int:
    """Bytes the kernel holds for the peer, not yet acknowledged (0 if unknown).

    ``TIOCOUTQ`` (Linux's ``SIOCOUTQ``) on the socket; elsewhere 0, and a
    reset may then drop bytes a slow reader has not taken yet.
    """
    if _OUTQ is None:
        return 0
    sock = transport.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        raw = fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0")
    except (OSError, ValueError):
        return 0
    return int(struct.unpack("i", raw)[0])


def _paced_step(rate: int) -> int:
    """Bytes per write at ``rate`` bytes/s: about ten writes a second."""
    return max(1, min(_CHUNK, rate // 10))
