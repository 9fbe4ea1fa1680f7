"""The loop-lag monitor sees a blocked loop and stays quiet on an idle one."""

from __future__ import annotations

import asyncio
import time

import pytest

from awaitkit.core import LagMonitor, percentile

pytestmark = pytest.mark.anyio


@pytest.mark.blocks_loop  # blocks the loop on purpose, to be measured
async def test_blocking_call_shows_as_lag() -> None:
    async with LagMonitor(interval=0.002) as lag:
        await asyncio.sleep(0.02)
        time.sleep(0.1)  # noqa: ASYNC251 - blocks the loop on purpose
        await asyncio.sleep(0.02)
    report = lag.report()
    assert report.samples >= 3
    assert report.max_ms >= 80


async def test_idle_loop_has_little_lag() -> None:
    async with LagMonitor(interval=0.002) as lag:
        await asyncio.sleep(0.1)
    assert lag.report().samples >= 5
    assert lag.report().p50_ms < 50


async def test_exit_stops_sampler_and_repr() -> None:
    monitor = LagMonitor()
    assert "idle" in repr(monitor)
    async with monitor:
        assert "running" in repr(monitor)
    assert "idle" in repr(monitor)


def test_percentile_nearest_rank() -> None:
    assert percentile([], 99) == 0.0
    assert percentile([5.0], 50) == 5.0
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        LagMonitor(interval=0)
