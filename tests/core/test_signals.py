"""stop_on_signals(): one stop per run, handlers put back, nothing off the main thread.

Real signals are sent to this process: the handlers under test catch them,
and each test checks the handler it replaced is back afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from awaitkit.core import run, stop_on_signals


def test_the_first_signal_stops_and_later_ones_are_ignored() -> None:
    calls: list[str] = []
    before = signal.getsignal(signal.SIGTERM)

    async def main() -> object:
        stop = asyncio.Event()
        with stop_on_signals(lambda: calls.append("stop") or stop.set()) as seen:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(stop.wait(), 10)
            os.kill(os.getpid(), signal.SIGINT)  # a second one: ignored
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0.05)
        return seen.received

    assert run(main()) is signal.SIGTERM
    assert calls == ["stop"]
    assert signal.getsignal(signal.SIGTERM) == before


def test_the_previous_handlers_come_back() -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not while the block runs")

    previous = signal.signal(signal.SIGUSR1, mine)
    try:

        async def main() -> None:
            with stop_on_signals(lambda: None, (signal.SIGUSR1,)):
                assert signal.getsignal(signal.SIGUSR1) is not mine

        run(main())
        assert signal.getsignal(signal.SIGUSR1) is mine
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_only_default_leaves_an_ignored_signal_ignored() -> None:
    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:

        async def main() -> object:
            with stop_on_signals(
                lambda: None, (signal.SIGUSR1,), only_default=True
            ) as seen:
                assert signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN
                os.kill(os.getpid(), signal.SIGUSR1)
                await asyncio.sleep(0.05)
            return seen.received

        assert run(main()) is None
        assert signal.getsignal(signal.SIGUSR1) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_outside_the_main_thread_nothing_is_installed() -> None:
    before = signal.getsignal(signal.SIGTERM)
    box: list[object] = []

    async def main() -> None:
        with stop_on_signals(lambda: None) as seen:
            box.append(signal.getsignal(signal.SIGTERM))
        box.append(seen.received)

    thread = threading.Thread(target=lambda: run(main()))
    thread.start()
    thread.join(30)
    assert box == [before, None]


def test_it_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError), stop_on_signals(lambda: None):
        pass
