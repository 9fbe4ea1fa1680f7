"""The UDP side of DirectResolver: one socket, a table of queries awaiting replies.

``QueryProtocol.ask`` sends one datagram and waits for the reply that matches
it on all three counts: message id, the nameserver's address, and the echoed
question.  Everything else is counted in :class:`Stats` and dropped, so a
spoofed, stale or hostile packet can cost a little CPU but never end a query
or raise.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
from dataclasses import dataclass
from typing import cast

from awaitkit.core import UsageError
from awaitkit.probe._wire import MalformedPacket, Reply, pack_query, parse_reply

__all__ = ["RECEIVE_BUFFER", "QueryProtocol", "RateLimiter", "Stats", "open_udp"]

log = logging.getLogger(__name__)

# The default ~208 KiB receive buffer overflows from ~1,000 replies in
# flight and the kernel drops the rest silently (they turn into timeouts).
RECEIVE_BUFFER = 4 * 1024 * 1024


@dataclass
class Stats:
    """Counters a resolver keeps; ``ignored`` + ``malformed`` are packets dropped."""

    sent: int = 0
    answered: int = 0
    timeouts: int = 0
    retries: int = 0
    truncated: int = 0
    tcp: int = 0
    ignored: int = 0  # unknown id, wrong source, other question, late duplicate
    malformed: int = 0

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in vars(self).items())


class _Query:
    __slots__ = ("deadline", "future", "name", "server", "wire")

    def __init__(
        self,
        future: asyncio.Future[Reply | None],
        server: tuple[str, int],
        wire: bytes,
        name: str,
        deadline: float,
    ) -> None:
        self.future = future
        self.server = server
        self.wire = wire
        self.name = name
        self.deadline = deadline


def _expire(future: asyncio.Future[Reply | None]) -> None:
    if not future.done():
        future.set_result(None)


class QueryProtocol(asyncio.DatagramProtocol):
    """Datagram protocol multiplexing many queries over one socket."""

    def __init__(self, stats: Stats, limit: int) -> None:
        self.stats = stats
        self.pending: dict[int, _Query] = {}
        self.transport: asyncio.DatagramTransport | None = None
        # One sweeping timer instead of a timer per query (a timer costs
        # about as much as parsing the reply): while queries are pending it
        # wakes every ``_sweep_every`` s and expires the overdue ones, so a
        # timeout fires up to that much late.
        self._sweeper: asyncio.TimerHandle | None = None
        self._sweep_every = 0.05
        # At most ``limit`` queries wait for replies at once (FIFO past that):
        # a semaphore of our own, whose free path is one test inline in ask().
        self._free = limit
        self._queued: collections.deque[asyncio.Future[None]] = collections.deque()
        self._ids = bytearray()
        # Kept, not asked for per query: on Python 3.11 every
        # get_running_loop() is a getpid() system call.
        self._loop: asyncio.AbstractEventLoop | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)
        self._loop = asyncio.get_running_loop()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for query in self.pending.values():
            _expire(query.future)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error (port unreachable...) names no query; the affected
        # queries time out and are retried on the next nameserver.
        log.debug("UDP error: %r", exc)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        stats = self.stats
        if len(data) < 12:
            stats.malformed += 1
            return
        query = self.pending.get((data[0] << 8) | data[1])
        if (
            query is None
            or query.future.done()
            or addr[0] != query.server[0]
            or addr[1] != query.server[1]
        ):
            stats.ignored += 1
            return
        try:
            reply = parse_reply(data, query.wire, query.name)
        except MalformedPacket as exc:
            stats.malformed += 1
            log.debug("malformed reply for %s: %s", query.name, exc)
            return
        if reply is None:
            stats.ignored += 1
            return
        stats.answered += 1
        query.future.set_result(reply)

    def new_id(self) -> int:
        """A random message id not in use on this socket."""
        # Ids come from os.urandom in blocks: unpredictable to an off-path
        # spoofer, at the cost of one system call per 2,048 queries.
        ids = self._ids
        while True:
            if len(ids) < 2:
                ids = self._ids = bytearray(os.urandom(4096))
            query_id = (ids.pop() << 8) | ids.pop()
            if query_id not in self.pending:
                return query_id

    async def ask(
        self,
        server: tuple[str, int],
        wire: bytes,
        name: str,
        seconds: float,
    ) -> Reply | None:
        """Ask ``server`` the question ``wire`` (for ``name``); ``None`` after ``seconds``.

        Past the protocol's ``limit`` of queries waiting for replies, a
        caller waits (FIFO) for a slot before sending.  Once the socket is
        closed, every caller gets ``None``.
        """
        if self._free and not self._queued:
            self._free -= 1
        else:
            await self._wait_for_slot()
        try:
            transport = self.transport
            loop = self._loop
            if transport is None or loop is None:
                return None
            query_id = self.new_id()
            message = pack_query(query_id, wire)
            future: asyncio.Future[Reply | None] = loop.create_future()
            query = _Query(future, server, wire, name, loop.time() + seconds)
            self.pending[query_id] = query
            if self._sweeper is None:
                self._sweep_every = min(0.05, max(0.005, seconds / 4))
                self._sweeper = loop.call_later(self._sweep_every, self._sweep, loop)
            try:
                transport.sendto(message, server)
                self.stats.sent += 1
                reply = await future
            finally:
                if self.pending.get(query_id) is query:
                    del self.pending[query_id]
        finally:
            self._release_slot()
        if reply is None:
            self.stats.timeouts += 1
        return reply

    async def _wait_for_slot(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release_slot()  # handed a slot, then cancelled: pass it on
            raise

    def _release_slot(self) -> None:
        queued = self._queued
        while queued:
            waiter = queued.popleft()
            if not waiter.done():  # a cancelled waiter is skipped
                waiter.set_result(None)  # the slot goes straight to it
                return
        self._free += 1

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        # set_result() only schedules the waiters, so ``pending`` does not
        # change while we iterate.
        for query in self.pending.values():
            if query.deadline <= now:
                _expire(query.future)
        if self.pending and self.transport is not None:
            self._sweeper = loop.call_later(self._sweep_every, self._sweep, loop)
        else:
            self._sweeper = None

    def close(self) -> None:
        """Close the socket; waiting queries end with no reply."""
        if self.transport is not None:
            self.transport.close()


async def open_udp(family: int, stats: Stats, limit: int) -> QueryProtocol:
    """A :class:`QueryProtocol` on a fresh unconnected UDP socket of ``family``.

    At most ``limit`` of its queries wait for replies at once.
    """
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER)
            except OSError:  # pragma: no cover - capped lower; the kernel clamps
                log.debug("could not raise socket buffer %s", option)
        sock.bind(("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: QueryProtocol(stats, limit), sock=sock
        )
    except BaseException:
        sock.close()
        raise
    return protocol


class RateLimiter:
    """Paces callers to at most ``rate`` per second, evenly spaced (no bursts)."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise UsageError("rate must be positive")
        self.interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        """Return when the caller may send its next query."""
        now = asyncio.get_running_loop().time()
        slot = max(self._next, now)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
