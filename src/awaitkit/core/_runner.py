"""Run a coroutine on the fastest event loop available (uvloop where installed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

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
    coro: Coroutine[Any, Any, T], *, use_uvloop: bool = True, debug: bool | None = None
) -> T:
    """Like :func:`asyncio.run`, on uvloop when available."""
    with asyncio.Runner(loop_factory=loop_factory(use_uvloop), debug=debug) as runner:
        return runner.run(coro)
