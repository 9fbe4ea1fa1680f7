"""The keep-alive pool: idle connections per origin, limits, and a FIFO of waiters.

Limits count every open connection (idle, in use, connecting): at most
``limit`` in all and ``limit_per_host`` per origin.  At the limit, an idle
connection to another origin is closed to make room; otherwise the caller
waits.  Waiters are served in order, except that one blocked by its own
origin's limit does not hold up the others.  A waiter is handed either an
idle connection or a reserved slot, so nothing is lost if it is cancelled
after being served: it hands the thing back.

The pool only asks its connections questions (:meth:`Connection.is_available`)
and calls their methods; what it knows about them (which are idle, which hold
a slot, how many each origin has) it keeps in its own books.

Why the waiters are a list of futures and not an ``asyncio.Condition`` (or a
``Queue``, a ``Semaphore``): those wake a waiter and let it compete for the
resource when it runs.  Here the resource is *handed over* at release time:
a given idle connection or one reserved slot goes to a given waiter, chosen
by its origin.  With a condition, (1) a fast caller that never waited can
take the connection between the notify and the woken waiter's turn, and the
waiter goes back to the end of the line (no FIFO); (2) ``notify(1)`` may wake
a waiter still blocked by its own origin's limit, which swallows the wake-up
for the others, so it would take ``notify_all`` and a herd of re-checks on
every release; (3) a waiter cancelled after being notified would have to pass
the wake-up on, and nothing it reserved could be given back since nothing was
handed to it.  One future per waiter, resolved with the thing handed over, is
what those primitives are built from; it is used directly here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from awaitkit.http._connection import Connection
from awaitkit.http._errors import HttpClientError
from awaitkit.http._url import Origin

__all__ = ["VIA", "Pool"]

# An origin's route: its (scheme, host, port), or a proxy's (see Origin.route).
_Key = tuple[object, ...]
VIA = "via"  # the route of http:// through a proxy: one for many hosts


class _Host:
    """The pool's books for one origin: its idle connections and its open count."""

    __slots__ = ("count", "idle")

    def __init__(self) -> None:
        # Insertion-ordered: popitem() takes the warmest, next(iter()) the oldest.
        self.idle: dict[Connection, None] = {}
        self.count = 0  # open connections, idle + in use + connecting


class _Waiter:
    __slots__ = ("fresh", "future", "origin")

    def __init__(
        self, origin: Origin, fresh: bool, future: asyncio.Future[Connection | None]
    ):
        self.origin = origin
        self.fresh = fresh  # wants a new connection, not an idle one
        self.future = future


class Pool:
    """Connections of one client; ``connect`` opens one (its slot already reserved).

    ``connect`` must give each connection :meth:`connection_closed` as its
    loss callback.
    """

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
        # Origins with open connections; an entry goes when its count is 0.
        self._hosts: dict[_Key, _Host] = {}
        self._slotted: set[Connection] = set()  # counted in the limits until freed
        self._idle_of: dict[Connection, _Host] = {}  # idle ones, and whose list
        self.connections: set[Connection] = set()  # until their connection_lost
        self._connect = connect
        self._waiters: list[_Waiter] = []
        self._dispatching = False
        self._again = False

    def take_idle(self, origin: Origin) -> Connection | None:
        """The most recently used idle connection to ``origin``, if any still works."""
        host = self._hosts.get(origin.route)
        if host is None:
            return None
        idle = host.idle
        while idle:
            conn = idle.popitem()[0]
            del self._idle_of[conn]
            self.idle_total -= 1
            if not conn.has_expired():  # the server may have closed it meanwhile
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
        if not self._reserve(origin.route):
            handed = await self._wait(origin, fresh)
            if handed is not None:
                return handed
        try:
            conn = await self._connect(origin)
        except BaseException:
            self._unreserve(origin.route)
            raise
        self._slotted.add(conn)
        if self.closed:
            self.discard(conn)
            raise HttpClientError("the client is closed")
        self.connections.add(conn)
        return conn

    def release(self, conn: Connection) -> None:
        """Take back a connection whose response was read to the end."""
        if self.closed or not conn.is_available():
            self.discard(conn)
            return
        host = self._hosts[conn.origin.route]
        host.idle[conn] = None
        self._idle_of[conn] = host
        self.idle_total += 1
        if self._waiters:
            self._dispatch()

    def discard(self, conn: Connection, *, to_waiters: bool = True) -> None:
        """Close ``conn`` and free its slot (idempotent).

        The slot goes to the waiters, or with ``to_waiters=False`` to the
        caller, who is about to take it (eviction at the limit).
        """
        host = self._idle_of.pop(conn, None)
        if host is not None:
            del host.idle[conn]
            self.idle_total -= 1
        conn.abort()
        if conn in self._slotted:
            self._slotted.remove(conn)
            if to_waiters:
                self._unreserve(conn.origin.route)
            else:
                self._uncount(conn.origin.route)

    def connection_closed(self, conn: Connection) -> None:
        """A connection's loss callback: forget it; an idle one frees its slot now."""
        self.connections.discard(conn)
        if conn in self._idle_of:
            self.discard(conn)
        # One in use stays counted until its request lets go of it.

    async def aclose(self) -> None:
        """Close every connection (idle first, then those in use) and fail the waiters."""
        self.closed = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_exception(HttpClientError("the client is closed"))
        for conn in list(self._idle_of):
            self.discard(conn)
        pending = list(self.connections)
        for conn in pending:
            conn.fail(HttpClientError("the client is closed"))
        lost = [conn.lost for conn in pending if not conn.is_closed()]
        if lost:
            # Each transport calls connection_lost on a later loop turn.
            await asyncio.wait(lost, timeout=5.0)

    # -- slots and waiters ----------------------------------------------------

    def _reserve(self, key: _Key) -> bool:
        """Count one more connection to ``key`` if the limits allow, evicting idle ones."""
        # A proxy carrying http:// for many hosts is not held to one host's limit.
        per_host = self.limit_per_host if key[0] != VIA else None
        host = self._hosts.get(key)
        while True:
            count = 0 if host is None else host.count
            host_ok = per_host is None or count < per_host
            if host_ok and self.total < self.limit:
                if host is None:
                    host = self._hosts[key] = _Host()
                host.count += 1
                self.total += 1
                return True
            if not host_ok:
                # Only closing one of this origin's own idle connections helps.
                victim = next(iter(host.idle)) if host and host.idle else None
            else:
                victim = self._oldest_idle(host)
            if victim is None:
                return False
            self.discard(victim, to_waiters=False)
            host = self._hosts.get(key)

    def _oldest_idle(self, mine: _Host | None) -> Connection | None:
        if not self.idle_total:
            return None
        for conn, host in self._idle_of.items():  # longest idle first
            if host is not mine:
                return conn
        return next(iter(mine.idle)) if mine is not None and mine.idle else None

    def _uncount(self, key: _Key) -> None:
        host = self._hosts[key]
        host.count -= 1
        self.total -= 1
        if not host.count:
            del self._hosts[key]

    def _unreserve(self, key: _Key) -> None:
        self._uncount(key)
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
                    self._unreserve(origin.route)
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
            elif self._reserve(waiter.origin.route):
                self._waiters.remove(waiter)
                future.set_result(None)
