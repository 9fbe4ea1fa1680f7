"""The batch: a fixed pool of workers fed from the input, results as they finish.

Memory stays flat however long the input is: a worker takes the next input
item only when it is free, workers block when nobody reads results, and
nothing is created per item up front (the book's ``as_completed`` over every
coroutine is what this replaces).  Every input item yields exactly one
:class:`DownloadResult`.

Example use::

    async for result in iter_downloads(urls, Path("out"), options=DownloadOptions(concurrency=50)):
        print(result.url, result.status.name)

    counter = await download_many(urls, Path("out"))   # Counter of DownloadStatus
"""

from __future__ import annotations

import asyncio
import collections
from collections import Counter
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Sequence,
)
from pathlib import Path

from awaitkit.core import first_error
from awaitkit.download._fetch import Fetcher, open_fetcher
from awaitkit.download._job import Batched, Item, Source, url_of
from awaitkit.download._options import DownloadOptions
from awaitkit.download._polite import Politeness, host_of
from awaitkit.download._result import DownloadResult, DownloadStatus
from awaitkit.http import HttpClient

# Batched, Item and Source are defined in _job; re-exported here, where
# callers of the batch functions have always found them.
__all__ = ["Batched", "Item", "Source", "download_many", "iter_downloads"]


_PARKED_PER_WORKER = 4


class _Source:
    """The input, shared by the workers: each takes the next item when it is free.

    Nothing is read ahead beyond one block, so a generator over millions of
    lines is consumed as fast as the downloads go.  A plain iterable needs
    no lock (the loop never switches inside ``next()``); an async iterable
    is read under one (an async generator cannot be entered twice at once);
    :class:`Batched` blocks are refilled by one worker while the others wait.
    """

    def __init__(self, items: Source, polite: Politeness | None = None) -> None:
        self._polite = polite
        # Items of hosts paused or full (see _polite), set aside so that
        # the workers go on with other hosts; at most _PARKED_PER_WORKER
        # per worker, beyond that a worker waits at its host's gate.
        self._parked: dict[str, collections.deque[Item]] = {}
        self._parked_count = 0
        self._sync: Iterator[Item] | None = None
        self._async: AsyncIterator[Item] | None = None
        self._batches: AsyncIterator[Sequence[Item]] | None = None
        if isinstance(items, Batched):
            self._batches = aiter(items.batches)
        elif isinstance(items, AsyncIterable):
            self._async = aiter(items)
        else:
            self._sync = iter(items)
        self._lock = asyncio.Lock()
        self._buffer: collections.deque[Item] = collections.deque()
        self._exhausted = False

    @property
    def polite(self) -> bool:
        """Whether :meth:`next_polite` must be asked rather than :meth:`next_job`."""
        polite = self._polite
        return polite is not None and bool(polite.gates or self._parked)

    async def next_polite(self, workers: int) -> Item | None:
        """:meth:`next_job` while some host has a gate (it asked to slow down).

        An item of a host with no room now is set aside and the next one
        taken; set aside items come back first, as soon as their host has room.
        """
        polite = self._polite
        assert polite is not None
        item = self._unparked(polite)
        if item is not None:
            return item
        while self._parked_count < _PARKED_PER_WORKER * workers:
            item = await self.next_job()
            if item is None:
                break
            host = host_of(url_of(item))
            gate = polite.gate_of(host) if polite.gates else None
            if gate is None or gate.has_room:
                return item
            self._parked.setdefault(host, collections.deque()).append(item)
            self._parked_count += 1
        # Nothing else to do (or enough set aside): the oldest waits its turn.
        return self._unparked(polite, force=True)

    def _unparked(self, polite: Politeness, force: bool = False) -> Item | None:
        for host, parked in self._parked.items():
            gate = polite.gates.get(host)
            if force or gate is None or gate.has_room:
                item = parked.popleft()
                self._parked_count -= 1
                if not parked:
                    del self._parked[host]
                return item
        return None

    async def next_job(self) -> Item | None:
        """The next input item (a URL or a :class:`Job`); ``None`` once the input is exhausted."""
        if self._sync is not None:
            item = next(self._sync, None)
        elif self._batches is not None:
            if not self._buffer and not await self._refilled():
                return None
            item = self._buffer.popleft()
        else:
            assert self._async is not None
            async with self._lock:
                item = await anext(self._async, None)
        return item

    async def _refilled(self) -> bool:
        """Wait until the buffer holds an item; False when the input is exhausted.

        One worker reads the next block under the lock; the others queue on
        it and find the buffer full (or the input at its end) when their
        turn comes.
        """
        assert self._batches is not None
        while not self._buffer:
            if self._exhausted:
                return False
            async with self._lock:
                if self._buffer or self._exhausted:
                    continue  # refilled (or ended) while we waited
                block = await anext(self._batches, None)
                if block is None:
                    self._exhausted = True
                else:
                    self._buffer.extend(block)
        return True


async def iter_downloads(
    items: Source,
    dest: Path | str,
    *,
    options: DownloadOptions | None = None,
    client: HttpClient | None = None,
) -> AsyncGenerator[DownloadResult, None]:
    """Download ``items`` into ``dest``; yield one result per item in completion order.

    ``items`` may be any iterable or async iterable (a generator over stdin,
    millions of lines): it is consumed lazily.  ``client`` lets a caller
    bring its own :class:`HttpClient` (its pool then sets the connection
    limits); by default one is opened from ``options``.  Close the generator
    (``contextlib.aclosing``) if you stop early: that cancels the workers.
    An exception raised by the input stops the batch and comes out as
    itself (see :func:`awaitkit.core.first_error`).
    """
    opts = options or DownloadOptions()
    async with open_fetcher(dest, opts, client) as fetcher:
        # A finished result waits here until the consumer takes it; with no
        # room left, workers wait too, so nothing piles up.
        results: asyncio.Queue[DownloadResult | None] = asyncio.Queue(opts.concurrency)

        async def run() -> None:
            await _run_workers(
                _Source(items, fetcher.polite), fetcher, results.put, opts.concurrency
            )
            await results.put(None)  # the end

        try:
            async with asyncio.TaskGroup() as tg:
                pool = tg.create_task(run())
                try:
                    while (result := await results.get()) is not None:
                        yield result
                except GeneratorExit:
                    # The consumer stopped early (aclose): cancel the workers
                    # and leave the TaskGroup normally, which would otherwise
                    # wrap GeneratorExit in a BaseExceptionGroup.
                    pool.cancel()
        except BaseExceptionGroup as group:
            error = first_error(group)
        else:
            return
        raise error


async def _run_workers(
    source: _Source,
    fetcher: Fetcher,
    deliver: Callable[[DownloadResult], Awaitable[None]],
    workers: int,
) -> None:
    async def work() -> None:
        while True:
            # Straight from the input, unless a host asked to slow down.
            if source.polite:
                job = await source.next_polite(workers)
            else:
                job = await source.next_job()
            if job is None:
                return
            await deliver(await fetcher.fetch(job))

    try:
        async with asyncio.TaskGroup() as tg:
            for _ in range(workers):
                tg.create_task(work())
    except BaseExceptionGroup as group:
        error = first_error(group)
    else:
        return
    # Raised outside the handler, so the group is not its __context__.
    raise error


async def download_many(
    items: Source,
    dest: Path | str,
    *,
    options: DownloadOptions | None = None,
    client: HttpClient | None = None,
    on_result: Callable[[DownloadResult], object] | None = None,
) -> Counter[DownloadStatus]:
    """Download ``items`` into ``dest`` and return how many ended in each status.

    ``on_result`` sees every result as it arrives (progress bars, reports),
    called by the worker that got it: no hand-over to a consumer task, which
    is what makes this cheaper per item than iterating :func:`iter_downloads`.
    An exception it raises cancels the batch and propagates as itself (see
    :func:`awaitkit.core.first_error`), as does one raised by the input.

    >>> import asyncio
    >>> asyncio.run(download_many([], "/tmp/empty-batch"))
    Counter()
    """
    opts = options or DownloadOptions()
    counter: Counter[DownloadStatus] = Counter()

    async def record(result: DownloadResult) -> None:
        counter[result.status] += 1
        if on_result is not None:
            on_result(result)

    async with open_fetcher(dest, opts, client) as fetcher:
        await _run_workers(
            _Source(items, fetcher.polite), fetcher, record, opts.concurrency
        )
    return counter
