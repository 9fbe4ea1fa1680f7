"""Run a coroutine on the fastest event loop available (uvloop where installed)."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

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
        if not stop_on_sigterm or not _sigterm_is_ours():
            return runner.run(coro)
        terminated = False

        async def stoppable() -> T:
            loop = asyncio.get_running_loop()
            task = asyncio.current_task()
            assert task is not None

            def on_sigterm() -> None:
                # One stop request: a second SIGTERM (a process group's, say)
                # must not cut the clean-up short.
                nonlocal terminated
                if not terminated:
                    terminated = True
                    task.cancel()

            loop.add_signal_handler(signal.SIGTERM, on_sigterm)
            try:
                return await coro
            finally:
                loop.remove_signal_handler(signal.SIGTERM)

        try:
            return runner.run(stoppable())
        except asyncio.CancelledError:
            if terminated:
                raise Terminated from None
            raise


def _sigterm_is_ours() -> bool:
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    )
