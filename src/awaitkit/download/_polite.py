"""Politeness that adapts: a host that answers 429 or 503 is paused and slowed down.

A 429 Too Many Requests or 503 Service Unavailable from a host gives that
host a :class:`HostGate`.  No request to it starts before the answer's
``Retry-After`` has passed (every item of that host waits, not only the
one refused), and its concurrency is halved (multiplicative decrease),
at most once per window: answers to requests that went out before the
last cut do not cut again, or a burst of refusals already in flight
would take it straight to one.  Each run of ``limit`` OK answers in a row
raises it by one (additive increase) until it is back at the ceiling, and
the gate goes.  A host that never refuses has no gate and costs nothing,
not even a look at its name: :meth:`Politeness.gate_for` is only called
while some host has one.

The decisions are plain arithmetic on a clock it is given (tested by
feeding it times); only :meth:`HostGate.enter` waits, on the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable

__all__ = ["THROTTLING", "HostGate", "Politeness", "host_of"]

THROTTLING = frozenset({429, 503})  # the statuses that mean "slow down"


def host_of(url: str) -> str:
    """The part of ``url`` a gate is kept for: its authority, lower-cased."""
    return url.split("/", 3)[2].lower() if url.count("/") >= 2 else url


class HostGate:
    """How many requests one host may have in flight now, and from when."""

    def __init__(self, ceiling: int, clock: Callable[[], float]) -> None:
        self.ceiling = ceiling
        self.limit = max(1, ceiling // 2)
        self.in_flight = 0
        self.paused_until = 0.0  # on the clock: nothing starts before it
        self.streak = 0  # OK answers in a row since the last change
        self.window = 1  # requests entering now belong to this window
        self._clock = clock
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def __repr__(self) -> str:
        return (
            f"<HostGate limit={self.limit}/{self.ceiling} in_flight={self.in_flight}>"
        )

    async def enter(self) -> int:
        """Wait for the pause to end and for room; return the window entered."""
        while True:
            wait = self.paused_until - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if self.in_flight < self.limit:
                self.in_flight += 1
                return self.window
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken, then cancelled: the room goes on
                else:
                    self._drop(waiter)
                raise

    def leave(self, ok: bool) -> None:
        """A request that entered has ended (``ok``: with a 2xx answer)."""
        self.in_flight -= 1
        if ok:
            self.streak += 1
            if self.streak >= self.limit and self.limit < self.ceiling:
                self.limit += 1
                self.streak = 0
        else:
            self.streak = 0  # any failure: the run of OK answers starts again
        self._wake()

    def throttle(self, pause: float | None, window: int) -> None:
        """A 429 or 503 to a request of ``window``: pause for ``pause`` s, cut once."""
        if pause is not None and pause > 0:
            self.paused_until = max(self.paused_until, self._clock() + pause)
        self.streak = 0
        if window == self.window:
            self.limit = max(1, self.limit // 2)
            self.window += 1

    @property
    def has_room(self) -> bool:
        """Whether a request could start now."""
        return self.in_flight < self.limit and self.paused_until <= self._clock()

    @property
    def settled(self) -> bool:
        """Back at the ceiling, not paused, nobody waiting: the gate may go."""
        return (
            self.limit >= self.ceiling
            and self.paused_until <= self._clock()
            and not self._waiters
        )

    def _wake(self) -> None:
        # As many waiters as there is room for; each then takes its place.
        room = self.limit - self.in_flight
        while room > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                room -= 1

    def _drop(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)


class Politeness:
    """The gates of the hosts that asked to slow down, for one downloading process."""

    def __init__(
        self, ceiling: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ceiling = ceiling
        self.gates: dict[str, HostGate] = {}
        self._clock = clock

    def __repr__(self) -> str:
        return f"<Politeness gates={self.gates!r}>"

    def gate_for(self, url: str) -> HostGate | None:
        """The gate of ``url``'s host, if it has one (call only while ``gates``)."""
        return self.gate_of(host_of(url))

    def gate_of(self, host: str) -> HostGate | None:
        """The gate of ``host`` (a :func:`host_of`), if it has one; a settled one goes."""
        gate = self.gates.get(host)
        if gate is not None and gate.settled:
            del self.gates[host]
            return None
        return gate

    def throttle(self, url: str, pause: float | None, window: int) -> None:
        """``url``'s host said 429 or 503 (``window``: of the request, 0 if it had no gate)."""
        host = host_of(url)
        gate = self.gates.get(host)
        if gate is None:
            gate = self.gates[host] = HostGate(self.ceiling, self._clock)
            gate.throttle(pause, 0)  # its first window is already cut
        else:
            gate.throttle(pause, window)
