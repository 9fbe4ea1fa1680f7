"""Run a coroutine on the fastest event loop available (uvloop where installed)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from awaitkit.core._signals import SignalStop, stop_on_signals
from awaitkit.core.errors import Terminated

__all__ = ["loop_factory", "run"]

T = TypeVar("T")


def loop_factory(
    use_uvloop: bool = True,
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """Return uvloop's loop factory when wanted and installed, else ``None`` (stdlib)."""
    if not use_uvloop:
        return None
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on CPython/POSIX
        return None
    return uvloop.new_event_loop


def run(
    coro: Coroutine[Any, Any, T],
    *,
    use_uvloop: bool = True,
    debug: bool | None = None,
    stop_on_sigterm: bool = False,
) -> T:
    """Like :func:`asyncio.run`, on uvloop when available.

    With ``stop_on_sigterm``, the first SIGTERM cancels ``coro`` as Ctrl-C
    does (later ones are ignored) and :class:`Terminated` is raised once it
    has unwound.  Only in the main thread, and only when SIGTERM has its
    default action: a program started with it ignored keeps ignoring it.
    """
    with asyncio.Runner(loop_factory=loop_factory(use_uvloop), debug=debug) as runner:
        if not stop_on_sigterm:
            return runner.run(coro)
        stopped = SignalStop()

        async def stoppable() -> T:
            nonlocal stopped
            task = asyncio.current_task()
            assert task is not None
            with stop_on_signals(
                task.cancel, (signal.SIGTERM,), only_default=True
            ) as stopped:
                return await coro

        try:
            return runner.run(stoppable())
        except asyncio.CancelledError:
            if stopped.received is not None:
                raise Terminated from None
            raise
