"""run(): uvloop when installed, and SIGTERM as a clean stop where asked.

The signal cases run in a fresh interpreter: a SIGTERM that the runner did
not catch must end that interpreter, not the test session.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading

import pytest

from awaitkit.core import Terminated, loop_factory, run

SCRIPT = """
import asyncio, os, signal, sys
from awaitkit.core import Terminated, run

mode = sys.argv[1]
if mode == "ignored":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

async def main() -> str:
    os.kill(os.getpid(), signal.SIGTERM)
    try:
        await asyncio.sleep(0.5)
        return "ran to the end"
    finally:
        if mode == "twice":
            os.kill(os.getpid(), signal.SIGTERM)  # ignored: clean-up goes on
            await asyncio.sleep(0.05)
        print("cleaned up", flush=True)

try:
    print(run(main(), stop_on_sigterm=mode != "off"))
except Terminated:
    print("Terminated")
print(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
"""


def _script(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("mode", ["once", "twice"])
def test_sigterm_cancels_the_coroutine_and_raises_terminated(mode: str) -> None:
    done = _script(mode)
    assert done.returncode == 0, done.stderr
    # The coroutine unwound (its finally ran), then the handler was removed.
    assert done.stdout.split("\n") == ["cleaned up", "Terminated", "True", ""]
    assert isinstance(Terminated(), KeyboardInterrupt)  # Ctrl-C paths apply


def test_sigterm_ignored_at_start_stays_ignored() -> None:
    done = _script("ignored")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n") == ["cleaned up", "ran to the end", "False", ""]


def test_without_stop_on_sigterm_the_default_action_stands() -> None:
    done = _script("off")
    assert done.returncode == -signal.SIGTERM
    assert done.stdout == ""


def test_a_cancellation_of_its_own_is_no_termination() -> None:
    async def cancels_itself() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)

    with pytest.raises(asyncio.CancelledError):
        run(cancels_itself(), stop_on_sigterm=True)


def test_outside_the_main_thread_it_runs_without_a_handler() -> None:
    box: list[object] = []
    before = signal.getsignal(signal.SIGTERM)

    async def value() -> int:
        await asyncio.sleep(0)
        return 42

    def target() -> None:
        box.append(run(value(), stop_on_sigterm=True))

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    assert box == [42]
    assert signal.getsignal(signal.SIGTERM) == before


def test_runs_on_uvloop_when_installed() -> None:
    factory = loop_factory()
    assert factory is not None

    async def loop_type() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(loop_type()).startswith("uvloop")
    assert not run(loop_type(), use_uvloop=False).startswith("uvloop")
