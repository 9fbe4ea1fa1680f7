"""pytest plugin: every event loop a test makes runs in asyncio debug mode, and a
callback that holds the loop for more than 100 ms fails the test.

The book's rule is "never block the loop"; this checks it on every run, not
only in benchmarks.  Tests make their loops in many ways (anyio's runner,
``asyncio.run``, ``awaitkit.core.run``, uvloop, servers on a thread's own
loop), so the switch is the one they all read: ``PYTHONASYNCIODEBUG``, set
before any loop exists.  Both the stdlib loop and uvloop read it when a loop
is created, log ``Executing <handle> took 0.150 seconds`` on the ``asyncio``
logger for a callback slower than ``loop.slow_callback_duration`` (0.1 s by
default on both), and report exceptions nobody retrieved on the same logger.
Subprocesses inherit the variable too.

A handler on that logger keeps what it hears during each test; at teardown a
slow callback fails the test, unless the test is marked ``blocks_loop``
(a test that sets out to block the loop or to measure lag), and so does an
error-level report (a task's exception never retrieved, a transport left
unclosed...).  ``tests/test_loopdebug.py`` runs this plugin on tests that
block deliberately, on both loops.

Before each test the garbage collector runs once and then freezes what
survives (``gc.freeze``): the test process's own heap (pytest, every test
module, hypothesis, a loaded find index) otherwise makes each full
collection walk some hundred thousand objects, a pause of tens of
milliseconds landing in whichever callback happens to allocate, and the
check would time the test runner rather than the code under test.  The
servers freeze their long-lived index the same way (``settle_heap``).

On a machine shared with other heavy jobs, wall-clock steps stretch:
``AWAITKIT_SLOW_CALLBACK=0.25 uv run pytest`` raises the bar there (it can
only be raised: the loops report nothing under 0.1 s).  CI keeps 0.1 s.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Iterator

import pytest


def _threshold() -> float:
    return float(os.environ.get("AWAITKIT_SLOW_CALLBACK", "0.1"))


def _took(record: logging.LogRecord) -> float:
    """The seconds in an ``Executing %s took %.3f seconds`` record (both loops)."""
    args = record.args
    if isinstance(args, tuple) and args and isinstance(args[-1], float):
        return args[-1]
    return float("inf")  # a form we do not know: count it as slow


class _Recorder(logging.Handler):
    """Keeps the asyncio logger's slow-callback and error reports, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._lock = threading.Lock()
        self.slow: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        with self._lock:
            if isinstance(record.msg, str) and record.msg.startswith("Executing "):
                if _took(record) > _threshold():
                    self.slow.append(text)
            elif record.levelno >= logging.ERROR:
                self.errors.append(text)

    def take(self) -> tuple[list[str], list[str]]:
        with self._lock:
            slow, errors = self.slow, self.errors
            self.slow, self.errors = [], []
        return slow, errors


_recorder = _Recorder()


def pytest_configure(config: pytest.Config) -> None:
    os.environ["PYTHONASYNCIODEBUG"] = "1"
    logging.getLogger("asyncio").addHandler(_recorder)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger("asyncio").removeHandler(_recorder)


@pytest.fixture(autouse=True)
def _loop_never_blocked(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test whose loops ran a slow callback or reported a lost error."""
    _recorder.take()  # what came before this test is not its doing
    gc.collect()
    gc.freeze()  # what earlier tests left is no longer walked by this one's collections
    yield
    slow, errors = _recorder.take()
    if request.node.get_closest_marker("blocks_loop") is not None:
        slow = []
    problems = [*slow, *errors]
    if problems:
        pytest.fail(
            "asyncio debug mode reported:\n" + "\n".join(problems), pytrace=False
        )
