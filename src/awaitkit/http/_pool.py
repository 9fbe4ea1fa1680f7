"""The keep-alive pool: idle connections per origin, limits, and a FIFO of waiters.

Limits count every open connection (idle, in use, connecting): at most
``limit`` in all and ``limit_per_host`` per origin.  At the limit, an idle
connection to another origin is closed to make room; otherwise the caller
waits.  Waiters are served in order, except that one blocked by its own
origin's limit does not hold up the others.  A waiter is handed either an
idle connection or a reserved slot, so nothing is lost if it is cancelled
after being served: it hands the thing back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from awaitkit.http._connection import IDLE, Connection
from awaitkit.http._errors import HttpClientError
from awaitkit.http._url import Origin

__all__ = ["Pool"]

_MIN_PRUNE_AT = 1024


class _Waiter:
    __slots__ = ("fresh", "future", "origin")

    def __init__(
        self, origin: Origin, fresh: bool, future: asyncio.Future[Connection | None]
    ):
        self.origin = origin
        self.fresh = fresh  # wants a new connection, not an idle one
        self.future = future


class Pool:
    """Connections of one client; ``connect`` opens one (its slot already reserved)."""

    def __init__(
        self,
        limit: int,
        limit_per_host: int | None,
        connect: Callable[[Origin], Awaitable[Connection]],
    ) -> None:
        self.limit = limit
        self.limit_per_host = limit_per_host
        self.total = 0  # open connections, in use or idle or connecting
        self.idle_total = 0
        self.closed = False
        # Origins with connections or waiters, and recently used ones: the
        # rest are dropped when the dict grows (a batch may visit millions).
        self.origins: dict[tuple[str, str, int], Origin] = {}
        self._prune_at = _MIN_PRUNE_AT
        self.connections: set[Connection] = set()  # until their connection_lost
        self._connect = connect
        self._waiters: list[_Waiter] = []
        self._dispatching = False
        self._again = False

    def add_origin(self, origin: Origin) -> None:
        """Register ``origin`` (its key not known yet), dropping unused ones when many."""
        if len(self.origins) >= self._prune_at:
            waited_for = {waiter.origin for waiter in self._waiters}
            self.origins = {
                key: known
                for key, known in self.origins.items()
                if known.count or known.idle or known in waited_for
            }
            self._prune_at = max(_MIN_PRUNE_AT, 2 * len(self.origins))
        self.origins[origin.key] = origin

    def take_idle(self, origin: Origin) -> Connection | None:
        """The most recently used idle connection to ``origin``, if any still works."""
        idle = origin.idle
        while idle:
            conn = idle.pop()
            self.idle_total -= 1
            conn.in_pool = False
            if conn.usable:
                return conn
            self.discard(conn)
        return None

    async def acquire(self, origin: Origin, *, fresh: bool = False) -> Connection:
        """A connection to ``origin``: idle (unless ``fresh``) or new; waits at the limits."""
        if self.closed:
            raise HttpClientError("the client is closed")
        if not fresh:
            conn = self.take_idle(origin)
            if conn is not None:
                return conn
        if not self._reserve(origin):
            handed = await self._wait(origin, fresh)
            if handed is not None:
                return handed
        try:
            conn = await self._connect(origin)
        except BaseException:
            self._unreserve(origin)
            raise
        if self.closed:
            conn.abort()
            self.discard(conn)
            raise HttpClientError("the client is closed")
        self.connections.add(conn)
        return conn

    def release(self, conn: Connection) -> None:
        """Take back a connection whose response was read to the end."""
        if self.closed or not conn.usable:
            self.discard(conn)
            return
        conn.state = IDLE
        conn.origin.idle.append(conn)
        conn.in_pool = True
        self.idle_total += 1
        if self._waiters:
            self._dispatch()

    def discard(self, conn: Connection, *, to_waiters: bool = True) -> None:
        """Close ``conn`` and free its slot (idempotent).

        The slot goes to the waiters, or with ``to_waiters=False`` to the
        caller, who is about to take it (eviction at the limit).
        """
        if conn.in_pool:
            conn.in_pool = False
            conn.origin.idle.remove(conn)
            self.idle_total -= 1
        conn.abort()
        if conn.slot:
            conn.slot = False
            if to_waiters:
                self._unreserve(conn.origin)
            else:
                conn.origin.count -= 1
                self.total -= 1

    def connection_closed(self, conn: Connection) -> None:
        """Called from connection_lost: forget it; an idle one frees its slot now."""
        self.connections.discard(conn)
        if conn.in_pool:
            self.discard(conn)
        # One in use stays counted until its request lets go of it.

    async def aclose(self) -> None:
        """Close every connection (idle first, then those in use) and fail the waiters."""
        self.closed = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_exception(HttpClientError("the client is closed"))
        for origin in self.origins.values():
            while origin.idle:
                self.discard(origin.idle[-1])
        pending = list(self.connections)
        for conn in pending:
            conn.fail(HttpClientError("the client is closed"))
        lost = [conn.lost for conn in pending if not conn.lost.done()]
        if lost:
            # Each transport calls connection_lost on a later loop turn.
            await asyncio.wait(lost, timeout=5.0)

    # -- slots and waiters ----------------------------------------------------

    def _reserve(self, origin: Origin) -> bool:
        """Count one more connection to ``origin`` if the limits allow, evicting idle ones."""
        per_host = self.limit_per_host
        while True:
            host_ok = per_host is None or origin.count < per_host
            if host_ok and self.total < self.limit:
                origin.count += 1
                self.total += 1
                return True
            if not host_ok:
                # Only closing one of this origin's own idle connections helps.
                victim = origin.idle[0] if origin.idle else None
            else:
                victim = self._oldest_idle(origin)
            if victim is None:
                return False
            self.discard(victim, to_waiters=False)

    def _oldest_idle(self, origin: Origin) -> Connection | None:
        if not self.idle_total:
            return None
        for other in self.origins.values():
            if other.idle and other is not origin:
                return other.idle[0]
        return origin.idle[0] if origin.idle else None

    def _unreserve(self, origin: Origin) -> None:
        origin.count -= 1
        self.total -= 1
        if self._waiters:
            self._dispatch()

    async def _wait(self, origin: Origin, fresh: bool) -> Connection | None:
        future: asyncio.Future[Connection | None] = (
            asyncio.get_running_loop().create_future()
        )
        waiter = _Waiter(origin, fresh, future)
        self._waiters.append(waiter)
        try:
            return await future
        except BaseException:
            if future.done() and not future.cancelled() and future.exception() is None:
                # Served, then cancelled before it could run: give it back.
                handed = future.result()
                if handed is None:
                    self._unreserve(origin)
                else:
                    self.release(handed)
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _dispatch(self) -> None:
        # Serving a waiter may free or take slots, which calls back here:
        # run once at a time and repeat while something changed.
        if self._dispatching:
            self._again = True
            return
        self._dispatching = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._serve_waiters()
        finally:
            self._dispatching = False

    def _serve_waiters(self) -> None:
        for waiter in list(self._waiters):
            if self.total >= self.limit and not self.idle_total:
                return  # nothing can be handed out until something closes
            future = waiter.future
            if future.done():
                self._waiters.remove(waiter)
                continue
            handed = None if waiter.fresh else self.take_idle(waiter.origin)
            if handed is not None:
                self._waiters.remove(waiter)
                future.set_result(handed)
            elif self._reserve(waiter.origin):
                self._waiters.remove(waiter)
                future.set_result(None)
