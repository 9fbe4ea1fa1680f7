"""Servers run on a loop of their own in a thread, for a CLI run that has its loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def served_in_thread(*servers: AbstractAsyncContextManager[T]) -> Iterator[list[T]]:
    """Enter each of ``servers`` on a loop in a daemon thread; yield what they give.

    On leaving, the loop exits them (last first) and the thread ends.
    """
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with contextlib.AsyncExitStack() as stack:
            box["servers"] = [
                await stack.enter_async_context(server) for server in servers
            ]
            box["loop"] = asyncio.get_running_loop()
            box["stop"] = stop = asyncio.Event()
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(60), "the servers did not start"
    try:
        yield box["servers"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)
        assert not thread.is_alive()
