"""tests/loopdebug.py fails a test whose loop ran a slow callback, on every kind of loop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SUITE = """
import asyncio
import gc
import threading
import time

import pytest
import uvloop


async def blocking():
    time.sleep(0.15)  # one callback holding the loop for 150 ms


def test_asyncio_run():
    asyncio.run(blocking())


def test_uvloop():
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(blocking())


def test_loop_in_a_thread():
    thread = threading.Thread(target=asyncio.run, args=(blocking(),))
    thread.start()
    thread.join()


@pytest.mark.blocks_loop
def test_marked():
    asyncio.run(blocking())


def test_quick_callbacks_pass():
    async def main():
        for _ in range(5):
            time.sleep(0.02)
            await asyncio.sleep(0)

    asyncio.run(main())


def test_exception_never_retrieved():
    async def fail():
        raise ValueError("lost")

    async def main():
        asyncio.get_running_loop().create_task(fail())
        await asyncio.sleep(0.01)

    asyncio.run(main())
    gc.collect()


@pytest.mark.parametrize("factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_every_loop_is_in_debug_mode_at_100_ms(factory):
    loop = factory()
    try:
        assert loop.get_debug()
        assert loop.slow_callback_duration == pytest.approx(0.1)
    finally:
        loop.close()
"""


def test_slow_callbacks_and_lost_errors_fail_on_both_loops(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONASYNCIODEBUG", raising=False)  # the plugin sets it
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    pytester.makepyfile(test_blocking=SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "tests.loopdebug", "-p", "no:cacheprovider", "-rA", timeout=120
    )
    result.stdout.fnmatch_lines_random(
        [
            "ERROR test_blocking.py::test_asyncio_run - *",
            "ERROR test_blocking.py::test_uvloop - *",
            "ERROR test_blocking.py::test_loop_in_a_thread - *",
            "ERROR test_blocking.py::test_exception_never_retrieved - *",
            "PASSED test_blocking.py::test_marked",
            "PASSED test_blocking.py::test_quick_callbacks_pass",
            "PASSED test_blocking.py::test_every_loop_is_in_debug_mode_at_100_ms*",
            "*took 0.1* seconds*",
            "*Task exception was never retrieved*",
        ]
    )
    assert result.stdout.str().count("\nERROR test_blocking.py") == 4


def test_the_bar_can_be_raised_for_a_loaded_machine(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWAITKIT_SLOW_CALLBACK", "0.5")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    pytester.makepyfile(test_blocking=SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "tests.loopdebug", "-p", "no:cacheprovider", "-k", "asyncio_run or uvloop"
    )
    result.assert_outcomes(passed=2)
