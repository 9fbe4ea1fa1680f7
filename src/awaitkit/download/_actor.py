"""The downloading Ray actor: our engine on the actor's own event loop.

An async actor runs its methods on one event loop, which is exactly the
engine's shape.  Each actor holds one long-lived :func:`download_many`
fed from an inbox, so its share of ``-m`` and its ``--per-host`` gates
hold across every block it is handed; :meth:`DownloadActor.run` puts one
block in and streams that block's results back, a few at a time, as they
finish.  The driver (:mod:`._cluster`) decides which actor gets which URLs.

This module never imports Ray: the driver wraps the class with
``ray.remote`` once it has joined a cluster, and Ray imports this module
by name on each node.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from awaitkit.core._cluster import node_label
from awaitkit.download._engine import download_many
from awaitkit.download._job import Item, Job, url_of
from awaitkit.download._options import DownloadOptions
from awaitkit.download._result import DownloadResult

__all__ = ["DownloadActor", "portable_options"]

_FLUSH_S = 0.005  # results of one block are sent at least this often
_BATCH = 64  # results per message back, at most


def portable_options(options: DownloadOptions) -> DownloadOptions:
    """``options`` as they may cross to another machine: the deadline made relative.

    ``deadline`` is on this process's monotonic clock, which another node
    does not share; it crosses as seconds left (``DownloadActor`` puts it
    back on its own clock).
    """
    if options.deadline is None:
        return options
    return dataclasses.replace(options, deadline=options.deadline - time.monotonic())


class DownloadActor:
    """One node's downloader: blocks of items in, their results streamed out."""

    def __init__(self, dest: str, options: DownloadOptions) -> None:
        if options.deadline is not None:  # seconds left when it crossed
            options = dataclasses.replace(
                options, deadline=time.monotonic() + options.deadline
            )
        self._dest = Path(dest)
        self._options = options
        self._node = node_label()
        self._inbox: asyncio.Queue[Item | None] = asyncio.Queue()
        # url -> the queues of the blocks waiting for a result of it, in order
        self._waiting: dict[str, collections.deque[asyncio.Queue[Any]]] = {}
        self._engine: asyncio.Task[object] | None = None
        self._stopped = False

    def node(self) -> str:
        """This actor's node, as report lines name it."""
        return self._node

    async def _items(self) -> AsyncIterator[Item]:
        while (item := await self._inbox.get()) is not None:
            yield item

    def _deliver(self, result: DownloadResult) -> None:
        queues = self._waiting.get(result.url)
        if not queues:  # pragma: no cover - every item is registered first
            return
        queue = queues.popleft()
        if not queues:
            del self._waiting[result.url]
        queue.put_nowait(result)

    def _start(self) -> None:
        async def engine() -> None:
            failure: Exception | None = None
            try:
                await download_many(
                    self._items(),
                    self._dest,
                    options=self._options,
                    on_result=self._deliver,
                )
            except Exception as exc:  # raised by the blocks waiting for it
                failure = exc
            finally:
                self._end_blocks(failure)

        self._engine = asyncio.get_running_loop().create_task(engine())

    def _end_blocks(self, error: BaseException | None) -> None:
        """Wake every block still waiting: the engine has ended."""
        for queues in self._waiting.values():
            for queue in queues:
                queue.put_nowait(error)
        self._waiting.clear()

    async def run(self, block: list[Any]) -> AsyncIterator[tuple[str, list[Any]]]:
        """Download ``block`` (URLs, or :meth:`Job.to_json` objects); yield its results.

        Each yield is ``(node, records)``: this node and a few results as
        :meth:`DownloadResult.to_json` records, in completion order.  After
        :meth:`stop`, the block ends with what it had.
        """
        if self._stopped:
            return
        if self._engine is None:
            self._start()
        out: asyncio.Queue[Any] = asyncio.Queue()
        for wire in block:
            item: Item = wire if type(wire) is str else Job.from_json(wire)
            self._waiting.setdefault(url_of(item), collections.deque()).append(out)
            self._inbox.put_nowait(item)
        left = len(block)
        while left:
            first = await out.get()
            if isinstance(first, Exception):
                raise first
            if first is None:
                return  # stopped
            records = [first.to_json()]
            if left > 1:
                await asyncio.sleep(_FLUSH_S)  # let a few more finish: fewer messages
            while len(records) < min(left, _BATCH) and not out.empty():
                more = out.get_nowait()
                if not isinstance(more, DownloadResult):
                    left = len(records)
                    break
                records.append(more.to_json())
            left -= len(records)
            yield self._node, records

    async def stop(self) -> None:
        """Stop as Ctrl-C stops one process: downloads cancelled, ``.part`` files kept."""
        self._stopped = True
        engine = self._engine
        if engine is not None and not engine.done():
            engine.cancel()
            await asyncio.wait([engine])  # its cancellation is its own, not ours
        self._end_blocks(None)
