"""Stop on a signal: the one place that installs SIGINT/SIGTERM handlers.

Commands (through :func:`~awaitkit.core.run`) and servers stop the same way:
the first signal calls a stop function on the event loop's thread (cancel
the main task, set an event); any later one is ignored, so a second signal
(a process group's, an impatient ``kill``) cannot cut the clean-up short.
On exit the handlers the process had before are put back.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["SignalStop", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalStop:
    """What :func:`stop_on_signals` saw: ``received`` is the first signal, or ``None``."""

    __slots__ = ("received",)

    def __init__(self) -> None:
        self.received: signal.Signals | None = None

    def __repr__(self) -> str:
        return f"<SignalStop received={self.received!r}>"


def _is_default(signum: signal.Signals, handler: object) -> bool:
    if signum == signal.SIGINT:
        return handler is signal.default_int_handler or handler == signal.SIG_DFL
    return handler == signal.SIG_DFL


@contextlib.contextmanager
def stop_on_signals(
    stop: Callable[[], object],
    signals: Iterable[signal.Signals] = STOP_SIGNALS,
    *,
    only_default: bool = False,
) -> Iterator[SignalStop]:
    """Call ``stop()`` once, on the first of ``signals`` to arrive, within the block.

    Call it with the event loop running: the handlers run on its thread,
    between callbacks, as ``loop.add_signal_handler`` does.  With
    ``only_default``, a signal is taken over only while it has its default
    action: a program started with it ignored (a shell's background job
    and SIGINT) keeps ignoring it.  Outside the main thread, or on a loop
    without signal support, nothing is installed and the block just runs.
    """
    loop = asyncio.get_running_loop()
    seen = SignalStop()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def on_signal(signum: signal.Signals) -> None:
        if seen.received is None:
            seen.received = signum
            stop()

    installed: list[tuple[signal.Signals, Any]] = []
    try:
        for signum in signals:
            previous = signal.getsignal(signum)
            if only_default and not _is_default(signum, previous):
                continue
            try:
                loop.add_signal_handler(signum, on_signal, signum)
            except NotImplementedError:  # a loop without signal support
                continue
            installed.append((signum, previous))
        yield seen
    finally:
        for signum, previous in reversed(installed):
            loop.remove_signal_handler(signum)
            if previous is not None:
                signal.signal(signum, previous)
