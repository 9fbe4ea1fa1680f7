"""The batch: a fixed pool of workers fed through a bounded queue, results as they finish.

Memory stays flat however long the input is: the feeder blocks when the job
queue is full, workers block when nobody reads results, and nothing is created
per item up front (the book's ``as_completed`` over every coroutine is what
this replaces).  Every input item yields exactly one :class:`DownloadResult`.

Example use::

    async for result in iter_downloads(urls, Path("out"), options=DownloadOptions(concurrency=50)):
        print(result.url, result.status.name)

    counter = await download_many(urls, Path("out"))   # Counter of DownloadStatus
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
)
from pathlib import Path

from awaitkit.download._client import HttpClient
from awaitkit.download._fetch import Fetcher, Job, open_client
from awaitkit.download._files import scan_parts
from awaitkit.download._filethread import FileThread
from awaitkit.download._options import DownloadOptions
from awaitkit.download._result import DownloadResult, DownloadStatus

__all__ = ["Item", "download_many", "iter_downloads"]

Item = str | Job
"""One input: a URL, or a :class:`Job` naming its file or its metadata."""

_DONE = None


async def _items(items: Iterable[Item] | AsyncIterable[Item]) -> AsyncIterator[Item]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def iter_downloads(
    items: Iterable[Item] | AsyncIterable[Item],
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
        fetcher = Fetcher(client, folder, opts, files=files, parts=parts)
        results: asyncio.Queue[DownloadResult | None] = asyncio.Queue(opts.concurrency)
        async with asyncio.TaskGroup() as tg:
            pump = tg.create_task(_pump(items, fetcher, results, opts.concurrency))
            try:
                while (result := await results.get()) is not _DONE:
                    yield result
            except GeneratorExit:
                # The consumer stopped early (aclose): cancel the workers and
                # leave the TaskGroup normally, which would otherwise wrap
                # GeneratorExit in a BaseExceptionGroup.
                pump.cancel()


async def _pump(
    items: Iterable[Item] | AsyncIterable[Item],
    fetcher: Fetcher,
    results: asyncio.Queue[DownloadResult | None],
    workers: int,
) -> None:
    jobs: asyncio.Queue[Job | None] = asyncio.Queue(workers * 2)

    async def work() -> None:
        while (job := await jobs.get()) is not _DONE:
            await results.put(await fetcher.fetch(job))

    async with asyncio.TaskGroup() as tg:
        for _ in range(workers):
            tg.create_task(work())
        async for item in _items(items):
            await jobs.put(Job(item) if isinstance(item, str) else item)
        for _ in range(workers):
            await jobs.put(_DONE)
    await results.put(_DONE)


async def download_many(
    items: Iterable[Item] | AsyncIterable[Item],
    dest: Path | str,
    *,
    options: DownloadOptions | None = None,
    client: HttpClient | None = None,
    on_result: Callable[[DownloadResult], object] | None = None,
) -> Counter[DownloadStatus]:
    """Download ``items`` into ``dest`` and return how many ended in each status.

    ``on_result`` sees every result as it arrives (progress bars, reports).

    >>> import asyncio
    >>> asyncio.run(download_many([], "/tmp/empty-batch"))
    Counter()
    """
    counter: Counter[DownloadStatus] = Counter()
    async with contextlib.aclosing(
        iter_downloads(items, dest, options=options, client=client)
    ) as results:
        async for result in results:
            counter[result.status] += 1
            if on_result is not None:
                on_result(result)
    return counter
