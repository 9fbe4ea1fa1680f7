"""Event-loop lag monitor: how late does the loop wake a sleeping task?

A loop that is blocked (by CPU work or a synchronous call) wakes its timers
late; that lateness is exactly what every other task on the loop suffers.
:class:`LagMonitor` samples it with a background task so benchmarks and
servers can report it.

Example use::

    async with LagMonitor() as lag:
        await do_work()
    print(lag.report())     # LagReport(samples=..., p50_ms=..., p99_ms=..., max_ms=...)
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from types import TracebackType

__all__ = ["LagMonitor", "LagReport", "percentile"]


def percentile(values: list[float], pct: float) -> float:
    """Return the nearest-rank percentile ``pct`` (0-100) of ``values`` (0.0 if empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class LagReport:
    """Summary of sampled loop lag, in milliseconds."""

    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    def __str__(self) -> str:
        return (
            f"loop lag p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, "
            f"max {self.max_ms:.2f} ms ({self.samples} samples)"
        )


class LagMonitor:
    """Async context manager sampling how late the running loop wakes.

    Every ``interval`` seconds a background task sleeps and records
    ``actual - expected`` wake-up time.  The cost is one timer per interval.
    """

    def __init__(self, interval: float = 0.005) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self._lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        state = (
            "running" if self._task is not None and not self._task.done() else "idle"
        )
        return f"<LagMonitor {state} samples={len(self._lags)}>"

    async def __aenter__(self) -> LagMonitor:
        self._lags.clear()
        self._task = asyncio.create_task(self._sample(), name="awaitkit-lag-monitor")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                # Re-raise only if *we* are being cancelled, not just our sampler.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
            self._task = None

    async def _sample(self) -> None:
        clock = time.perf_counter
        while True:
            expected = clock() + self.interval
            await asyncio.sleep(self.interval)
            self._lags.append(max(0.0, clock() - expected))

    @property
    def lags_ms(self) -> list[float]:
        """Every sample so far, in milliseconds."""
        return [lag * 1000 for lag in self._lags]

    def report(self) -> LagReport:
        """Summarise the samples taken so far."""
        ms = self.lags_ms
        return LagReport(
            samples=len(ms),
            p50_ms=percentile(ms, 50),
            p99_ms=percentile(ms, 99),
            max_ms=max(ms, default=0.0),
        )
