"""``--limit-rate``: one byte budget per second shared by every worker of a process.

A token bucket in its "virtual scheduling" form (GCRA): the bucket is a
single time, the moment by which everything taken so far would have been
sent at ``rate``; taking ``n`` bytes moves it on by ``n / rate``, and the
taker waits for whatever lies beyond the allowed burst.  Workers share one
loop, so no lock is needed.  Reading slower than the network delivers lets
the kernel's buffers fill and TCP's flow control slow the sender, as
curl's ``--limit-rate`` does.  :meth:`Pacer.delay` is the sans-I/O core.
"""

from __future__ import annotations

import asyncio
import math

from awaitkit.core.errors import UsageError

__all__ = ["Pacer"]


class Pacer:
    """At most ``rate`` bytes per second on average, with bursts of ``burst`` bytes."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise UsageError(f"rate must be a positive number of bytes/s, not {rate}")
        self.rate = rate
        # A tenth of a second's worth, at least one read: smooth, yet no
        # sleep per chunk at high rates.
        self.burst = max(rate / 10, 16 * 1024) if burst is None else burst
        self._sent_by = -math.inf  # when what was taken so far is sent

    def __repr__(self) -> str:
        return f"<Pacer {self.rate:.0f} B/s burst={self.burst:.0f}>"

    def delay(self, size: int, now: float) -> float:
        """Seconds the taker of ``size`` bytes at ``now`` must wait (and the bytes are taken)."""
        self._sent_by = max(self._sent_by, now) + size / self.rate
        return max(0.0, self._sent_by - now - self.burst / self.rate)

    async def take(self, size: int) -> None:
        """Wait until ``size`` more bytes fit in the rate."""
        wait = self.delay(size, asyncio.get_running_loop().time())
        if wait > 0:
            await asyncio.sleep(wait)
