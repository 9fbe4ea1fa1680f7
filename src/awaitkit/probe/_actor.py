"""The probing Ray actor: :func:`multi_probe` on the actor's own event loop.

As the downloading actor (``awaitkit.download._actor``): one long-lived
probe per actor, with its own :class:`DirectResolver` (its own UDP socket,
its share of ``-c`` and of the rates), fed from an inbox;
:meth:`ProbeActor.run` puts one block of names in and streams that block's
results back, a few at a time, as :func:`result_to_wire` records.

This module never imports Ray: the driver wraps the class with
``ray.remote``, and Ray imports this module by name on each node.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from awaitkit.core._cluster import node_label
from awaitkit.probe._direct import DirectResolver
from awaitkit.probe._probe import multi_probe
from awaitkit.probe._resolvers import format_server
from awaitkit.probe._result import Result
from awaitkit.probe._spread import result_to_wire

__all__ = ["ProbeActor", "resolver_settings"]

_FLUSH_S = 0.005  # results of one block are sent at least this often
_BATCH = 256  # results per message back, at most


def resolver_settings(resolver: DirectResolver) -> dict[str, Any]:
    """What rebuilds ``resolver`` on another node (an unopened copy)."""
    return {
        "nameservers": [format_server(s) for s in resolver.nameservers],
        "types": resolver.types,
        "timeout": resolver.timeout,
        "retries": resolver.retries,
        "max_in_flight": resolver.max_in_flight,
        "rate": resolver.rate,
        "rate_per_server": resolver.rate_per_server,
        "rotate": resolver.rotate,
        "records": resolver.records,
    }


class ProbeActor:
    """One node's prober: blocks of names in, their results streamed out."""

    def __init__(self, settings: dict[str, Any], concurrency: int) -> None:
        self._settings = settings
        self._concurrency = concurrency
        self._resolver: DirectResolver | None = None
        self._node = node_label()
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._waiting: dict[str, collections.deque[asyncio.Queue[Any]]] = {}
        self._engine: asyncio.Task[None] | None = None
        self._stopped = False

    def node(self) -> str:
        return self._node

    def stats(self) -> list[list[Any]]:
        """This actor's per-resolver counters, as ``merge_server_stats`` takes them."""
        if self._resolver is None:
            return []
        return [
            [host, port, c.sent, c.answered, c.timeouts, c.servfail, c.refused]
            for (host, port), c in self._resolver.server_stats.items()
        ]

    async def _names(self) -> AsyncIterator[str]:
        while (name := await self._inbox.get()) is not None:
            yield name

    def _start(self) -> None:
        resolver = self._resolver = DirectResolver(**self._settings)

        async def engine() -> None:
            failure: Exception | None = None
            try:
                async with (
                    resolver,
                    contextlib.aclosing(
                        multi_probe(
                            self._names(),
                            concurrency=self._concurrency,
                            resolver=resolver,
                        )
                    ) as results,
                ):
                    async for result in results:
                        self._deliver(result)
            except Exception as exc:  # raised by the blocks waiting for it
                failure = exc
            finally:
                for queues in self._waiting.values():
                    for queue in queues:
                        queue.put_nowait(failure)
                self._waiting.clear()

        self._engine = asyncio.get_running_loop().create_task(engine())

    def _deliver(self, result: Result) -> None:
        queues = self._waiting.get(result.domain)
        if not queues:  # pragma: no cover - every name is registered first
            return
        queue = queues.popleft()
        if not queues:
            del self._waiting[result.domain]
        queue.put_nowait(result)

    async def run(self, block: list[str]) -> AsyncIterator[tuple[str, list[Any]]]:
        """Probe ``block``; yield ``(node, records)`` as its results finish."""
        if self._stopped:
            return
        if self._engine is None:
            self._start()
        out: asyncio.Queue[Any] = asyncio.Queue()
        for name in block:
            self._waiting.setdefault(name, collections.deque()).append(out)
            self._inbox.put_nowait(name)
        left = len(block)
        while left:
            first = await out.get()
            if isinstance(first, Exception):
                raise first
            if first is None:
                return  # stopped
            records = [result_to_wire(first)]
            if left > 1:
                await asyncio.sleep(_FLUSH_S)  # let a few more finish: fewer messages
            while len(records) < min(left, _BATCH) and not out.empty():
                more = out.get_nowait()
                if not isinstance(more, Result):
                    left = len(records)
                    break
                records.append(result_to_wire(more))
            left -= len(records)
            yield self._node, records

    async def stop(self) -> None:
        """Stop as Ctrl-C stops one process: lookups cancelled."""
        self._stopped = True
        engine = self._engine
        if engine is not None and not engine.done():
            engine.cancel()
            await asyncio.wait([engine])  # its cancellation is its own, not ours
