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
import contextlib
from collections import Counter
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from pathlib import Path

from awaitkit.download._fetch import Fetcher, Job, open_client
from awaitkit.download._files import scan_parts
from awaitkit.download._filethread import FileThread
from awaitkit.download._options import DownloadOptions
from awaitkit.download._result import DownloadResult, DownloadStatus
from awaitkit.http import HttpClient

__all__ = ["Batched", "Item", "Source", "download_many", "iter_downloads"]

Item = str | Job
"""One input: a URL, or a :class:`Job` naming its file or its metadata."""


class Batched:
    """Input that arrives in lists: ``Batched(async_iterable_of_lists)``.

    For a source read in blocks anyway (lines from a file or a pipe, read a
    thousand at a time in a thread), handing the blocks over whole spares
    the per-item async-generator step and lock that an async iterable of
    single items costs each worker.
    """

    def __init__(self, batches: AsyncIterable[Sequence[Item]]) -> None:
        self.batches = batches

    def __repr__(self) -> str:
        return f"<Batched {self.batches!r}>"


Source = Iterable[Item] | AsyncIterable[Item] | Batched
"""What the batch functions accept as input."""


class _Source:
    """The input, shared by the workers: each takes the next item when it is free.

    Nothing is read ahead beyond one block, so a generator over millions of
    lines is consumed as fast as the downloads go.  A plain iterable needs
    no lock (the loop never switches inside ``next()``); an async iterable
    is read under one (an async generator cannot be entered twice at once);
    :class:`Batched` blocks are refilled by one worker while the others wait.
    """

    def __init__(self, items: Source) -> None:
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
        self._refill: asyncio.Future[None] | None = None
        self._exhausted = False

    async def next_job(self) -> Item | None:
        """The next item (a URL or a :class:`Job`); ``None`` once the input is exhausted."""
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
        """Wait until the buffer holds an item; False when the input is exhausted."""
        assert self._batches is not None
        while not self._buffer:
            if self._exhausted:
                return False
            if self._refill is not None:
                # Another worker is reading the next block; shield: a cancelled
                # waiter must not cancel the refill everybody waits for.
                await asyncio.shield(self._refill)
                continue
            self._refill = refill = asyncio.get_running_loop().create_future()
            try:
                block = await anext(self._batches, None)
                if block is None:
                    self._exhausted = True
                else:
                    self._buffer.extend(block)
            finally:
                self._refill = None
                refill.set_result(None)
        return True


class _Results:
    """Results on their way to the consumer, at most ``room`` of them at once.

    An ``asyncio.Queue`` with only what this needs (one reader, no
    ``task_done``): a bulk download passes every result through here, and
    the queue's own bookkeeping was a tenth of an item's CPU.
    """

    def __init__(self, room: int) -> None:
        self.room = room
        self.items: collections.deque[DownloadResult | None] = collections.deque()
        self._reader: asyncio.Future[None] | None = None
        self._writers: collections.deque[asyncio.Future[None]] = collections.deque()

    async def put(self, result: DownloadResult | None) -> None:
        """Hand over ``result`` (``None``: the end), waiting while there is no room."""
        while len(self.items) >= self.room and result is not None:
            waiter = asyncio.get_running_loop().create_future()
            self._writers.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._writers:
                    self._writers.remove(waiter)
                elif waiter.done() and not waiter.cancelled():
                    self._wake_writer()  # pass the room on
                raise
        self.items.append(result)
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)

    async def get(self) -> DownloadResult | None:
        """The next result; ``None`` when every worker is done."""
        while not self.items:
            self._reader = asyncio.get_running_loop().create_future()
            await self._reader
        self._reader = None
        result = self.items.popleft()
        if self._writers:
            self._wake_writer()
        return result

    def _wake_writer(self) -> None:
        while self._writers:
            waiter = self._writers.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


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
    """
    opts = options or DownloadOptions()
    async with _fetching(dest, opts, client) as fetcher:
        results = _Results(opts.concurrency)

        async def run() -> None:
            await _run_workers(_Source(items), fetcher, results.put, opts.concurrency)
            await results.put(None)

        async with asyncio.TaskGroup() as tg:
            pool = tg.create_task(run())
            try:
                while (result := await results.get()) is not None:
                    yield result
            except GeneratorExit:
                # The consumer stopped early (aclose): cancel the workers and
                # leave the TaskGroup normally, which would otherwise wrap
                # GeneratorExit in a BaseExceptionGroup.
                pool.cancel()


@contextlib.asynccontextmanager
async def _fetching(
    dest: Path | str, opts: DownloadOptions, client: HttpClient | None
) -> AsyncIterator[Fetcher]:
    """A batch's :class:`Fetcher`: folder made, leftovers scanned, client and file thread open."""
    folder = Path(dest)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: folder.mkdir(parents=True, exist_ok=True))
    parts = (
        await loop.run_in_executor(None, scan_parts, folder) if opts.resume else set()
    )
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(open_client(opts))
        # Entered after the client, so it closes first: queued writes finish
        # (even on Ctrl-C) before the batch ends.
        files = await stack.enter_async_context(FileThread())
        yield Fetcher(client, folder, opts, files=files, parts=parts)


async def _run_workers(
    source: _Source,
    fetcher: Fetcher,
    deliver: Callable[[DownloadResult], Awaitable[None]],
    workers: int,
) -> None:
    async def work() -> None:
        while (job := await source.next_job()) is not None:
            await deliver(await fetcher.fetch(job))

    try:
        async with asyncio.TaskGroup() as tg:
            for _ in range(workers):
                tg.create_task(work())
    except BaseExceptionGroup as group:
        # A failure of the input or of a callback cancels the workers; a
        # few may have hit the same one meanwhile: raise it as itself.
        first = group.exceptions[0]
        if all(type(exc) is type(first) for exc in group.exceptions):
            raise first from None
        raise


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
    An exception it raises cancels the batch and propagates.

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

    async with _fetching(dest, opts, client) as fetcher:
        await _run_workers(_Source(items), fetcher, record, opts.concurrency)
    return counter
