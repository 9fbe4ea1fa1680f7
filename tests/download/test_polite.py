"""A host that answers 429 or 503 is paused for its Retry-After and slowed (AIMD).

The gate's arithmetic is fed times; the waiting and the batch run against
flags servers on loopback: one that asks to slow down, one that does not.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from awaitkit.download import DownloadOptions, DownloadStatus, download_many
from awaitkit.download._polite import HostGate, Politeness, host_of
from awaitkit.flags import FlagsServer, country_codes

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the arithmetic, sans I/O ---------------------------------------------------


def test_a_first_refusal_halves_the_ceiling_and_pauses_the_host() -> None:
    clock = Clock()
    polite = Politeness(20, clock)
    polite.throttle("http://a.test:8000/x", 1.5, 0)
    gate = polite.gates["a.test:8000"]
    assert gate.limit == 10
    assert gate.paused_until == 101.5
    assert not gate.has_room
    clock.now = 101.6
    assert gate.has_room
    assert polite.gate_for("http://b.test/y") is None  # other hosts: no gate


def test_refusals_of_one_window_cut_once() -> None:
    clock = Clock()
    gate = HostGate(32, clock)  # limit 16, window 1
    for _ in range(10):  # ten requests of window 1 refused at once
        gate.throttle(None, 1)
    assert gate.limit == 8  # one cut, not ten
    gate.throttle(None, 1)
    assert gate.limit == 8
    gate.throttle(None, 2)  # a request sent after the cut: cut again
    assert gate.limit == 4
    for _ in range(5):
        gate.throttle(None, 3)
    assert gate.limit == 2
    gate.throttle(None, 4)
    gate.throttle(None, 5)
    assert gate.limit == 1  # never below one


def test_ok_answers_raise_the_limit_one_window_at_a_time_up_to_the_ceiling() -> None:
    clock = Clock()
    gate = HostGate(8, clock)  # limit 4
    limits = []
    for _ in range(40):
        gate.in_flight += 1
        gate.leave(ok=True)
        limits.append(gate.limit)
    # 4 OKs raise it to 5, 5 more to 6, 6 more to 7, 7 more to 8: additive.
    assert limits[3] == 5
    assert limits[8] == 6
    assert limits[14] == 7
    assert limits[21] == 8
    assert max(limits) == 8
    assert gate.settled


def test_a_failure_breaks_the_streak() -> None:
    gate = HostGate(8, Clock())
    for ok in (True, True, True, False, True, True, True):
        gate.in_flight += 1
        gate.leave(ok=ok)
    assert gate.limit == 4  # never four OKs in a row


def test_a_settled_gate_goes() -> None:
    clock = Clock()
    polite = Politeness(2, clock)
    polite.throttle("http://a/x", 1.0, 0)
    gate = polite.gates["a"]
    assert polite.gate_for("http://a/y") is gate
    gate.limit = 2
    clock.now += 2
    assert polite.gate_for("http://a/y") is None
    assert polite.gates == {}


@pytest.mark.parametrize(
    ("url", "host"),
    [("http://A.test:80/x", "a.test:80"), ("https://h/", "h"), ("weird", "weird")],
)
def test_the_host_is_the_authority(url: str, host: str) -> None:
    assert host_of(url) == host


# -- waiting at the gate --------------------------------------------------------


async def test_entering_waits_for_room_and_for_the_pause() -> None:
    gate = HostGate(2, time.monotonic)  # limit 1
    assert await gate.enter() == 1
    second = asyncio.create_task(gate.enter())
    await asyncio.sleep(0.05)
    assert not second.done()  # no room
    gate.throttle(0.3, 1)  # cut (already at 1) and pause
    started = time.monotonic()
    gate.leave(ok=False)
    await second
    assert time.monotonic() - started >= 0.28
    assert gate.in_flight == 1


async def test_a_cancelled_waiter_passes_its_room_on() -> None:
    gate = HostGate(2, time.monotonic)  # limit 1
    await gate.enter()
    first = asyncio.create_task(gate.enter())
    second = asyncio.create_task(gate.enter())
    await asyncio.sleep(0.01)
    gate.leave(ok=True)  # wakes ``first``...
    first.cancel()  # ...which is cancelled before it runs
    await asyncio.wait_for(second, 1)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert gate.in_flight == 1


# -- a batch over two hosts, one of which asks to slow down ------------------------


async def test_the_polite_host_slows_down_the_other_does_not(tmp_path: Path) -> None:
    """The limited host is slow enough to still be busy when it first refuses."""
    codes = country_codes()[:30]
    async with (
        FlagsServer(
            "DELAY", delay=0.2, rate_limit_rate=0.1, retry_after=2, seed=3
        ) as limited,
        FlagsServer("DELAY", delay=0.02) as free,
    ):
        urls = []
        for cc in codes:
            low = cc.lower()
            urls.append(f"{limited.base_url}/flags/{low}/{low}.gif")
            urls.append(f"{free.base_url}/flags/{low}/{low}.gif")
        samples: list[tuple[float, int, int, int]] = []

        async def sample() -> None:
            while True:
                samples.append(
                    (
                        time.monotonic(),
                        limited.stats.by_status[429],
                        limited.stats.requests,
                        free.stats.requests,
                    )
                )
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        try:
            counter = await download_many(
                urls,
                tmp_path,
                options=DownloadOptions(
                    concurrency=10, retries=20, backoff_base=0.0, naming="path"
                ),
            )
        finally:
            sampler.cancel()
        refused = limited.stats.by_status[429]
    assert counter == {DownloadStatus.OK: len(urls)}
    assert refused > 0
    # After the first 429, nothing goes to that host for its Retry-After
    # (2 s from when the client read it, which was after the last sample
    # that had not seen it; requests already sent may land just after)...
    first = next(i for i, s in enumerate(samples) if s[1] > 0)
    before, (t0, _, _, free_then) = samples[first - 1][0], samples[first]
    sent_then = next(s[2] for s in samples if s[0] >= t0 + 0.3)
    during = [s for s in samples if t0 + 0.3 <= s[0] <= before + 1.7]
    assert during
    assert all(s[2] == sent_then for s in during), [
        (round(s[0] - t0, 3), s[1:]) for s in samples[first - 2 :]
    ][:200:5]
    # ...while the other host goes on being asked.
    assert during[-1][3] > free_then
    # And the free host finished long before the limited one.
    free_done = next(s[0] for s in samples if s[3] >= len(codes))
    assert free_done < samples[-1][0] - 0.5
