"""Download on a Ray cluster from Python: ``awaitkit fetch --cluster ray`` as a library.

Needs the ``ray`` extra (``pip install 'awaitkit[ray]'``) and a joined Ray
(``ray.init(...)`` in this process, or :func:`awaitkit.core.connect_cluster`)::

    import ray
    from awaitkit.download import DownloadOptions
    from awaitkit.download.ray import iter_downloads

    ray.init()  # or ray.init("ray://head:10001")
    async for result, node in iter_downloads(urls, "/mnt/nfs/out",
                                             options=DownloadOptions(concurrency=200, per_host=4)):
        print(result.status.name, result.url, node, result.fspath)

``items`` is any iterable or async iterable of URLs or :class:`Job` s, read
lazily by this process alone.  Every URL of one host goes to one actor, so
``per_host`` holds across the cluster; ``concurrency`` is the cluster's
total.  For URLs already in a Ray Dataset (say from Parquet),
:func:`download_dataset` maps our engine over its blocks instead.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
)
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from awaitkit.core import UsageError, import_ray
from awaitkit.download._cluster import download_cluster
from awaitkit.download._engine import download_many as download_here
from awaitkit.download._job import Item
from awaitkit.download._options import DownloadOptions
from awaitkit.download._result import DownloadResult, DownloadStatus

__all__ = ["Placed", "download_dataset", "download_many", "iter_downloads"]

_BLOCK = 256  # input items read per step
_COLUMNS = ("url", "status", "path", "bytes", "error", "node")


class Placed(NamedTuple):
    """A result and the node that downloaded it (its file is in ``dest`` there)."""

    result: DownloadResult
    node: str


def _joined() -> ModuleType:
    ray = import_ray()
    if not ray.is_initialized():
        raise UsageError(
            "join a Ray cluster first: ray.init(...) or awaitkit.core.connect_cluster"
        )
    return ray


async def _blocks(
    items: Iterable[Item] | AsyncIterable[Item],
) -> AsyncIterator[list[Item]]:
    block: list[Item] = []
    if isinstance(items, AsyncIterable):
        async for item in items:
            block.append(item)
            if len(block) >= _BLOCK:
                yield block
                block = []
    else:
        for item in items:
            block.append(item)
            if len(block) >= _BLOCK:
                yield block
                block = []
    if block:
        yield block


async def download_many(
    items: Iterable[Item] | AsyncIterable[Item],
    dest: Path | str,
    *,
    options: DownloadOptions | None = None,
    actors: int | None = None,
    on_result: Callable[[DownloadResult, str], object] | None = None,
) -> Counter[DownloadStatus]:
    """Download ``items`` on the cluster; how many ended in each status.

    ``on_result(result, node)`` sees each result as it arrives.  ``actors``:
    how many downloading actors (default: one per CPU of the cluster).
    """
    counter: Counter[DownloadStatus] = Counter()

    def record(result: DownloadResult, node: str) -> None:
        counter[result.status] += 1
        if on_result is not None:
            on_result(result, node)

    await download_cluster(
        _joined(),
        _blocks(items),
        dest,
        options or DownloadOptions(),
        record,
        actors=actors,
    )
    return counter


async def iter_downloads(
    items: Iterable[Item] | AsyncIterable[Item],
    dest: Path | str,
    *,
    options: DownloadOptions | None = None,
    actors: int | None = None,
) -> AsyncGenerator[Placed, None]:
    """Download ``items`` on the cluster; yield a :class:`Placed` per item as it ends.

    Close the generator (``contextlib.aclosing``) to stop early: the actors
    are told to stop and ``.part`` files are kept.
    """
    opts = options or DownloadOptions()
    # Bounded: a slow consumer stalls the driver, which stalls the actors.
    ready: asyncio.Queue[Placed | None] = asyncio.Queue(opts.concurrency)
    ray = _joined()
    pending: list[Placed] = []

    def record(result: DownloadResult, node: str) -> None:
        placed = Placed(result, node)
        try:
            ready.put_nowait(placed)
        except asyncio.QueueFull:
            pending.append(placed)

    async def run() -> None:
        async def blocks() -> AsyncIterator[list[Item]]:
            async for block in _blocks(items):
                while pending:  # hand over what did not fit before reading on
                    await ready.put(pending.pop(0))
                yield block

        await download_cluster(ray, blocks(), dest, opts, record, actors=actors)
        for placed in pending:
            await ready.put(placed)
        await ready.put(None)

    task = asyncio.ensure_future(run())
    try:
        while True:
            getter = asyncio.ensure_future(ready.get())
            await asyncio.wait([getter, task], return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                task.result()  # the run failed: its error, as itself
                continue  # it ended: what is left is in the queue
            placed = getter.result()
            if placed is None:
                break
            yield placed
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait([task])  # its cancellation is its own, not ours
    task.result()


class _BatchDownloader:
    """The ``map_batches`` callable: our engine over one batch of a Dataset's URLs."""

    def __init__(self, dest: str, options: DownloadOptions, column: str) -> None:
        from awaitkit.core._cluster import node_label

        self._dest = dest
        self._options = options
        self._column = column
        self._node = node_label()

    async def __call__(
        self, batch: dict[str, Any]
    ) -> AsyncIterator[dict[str, list[Any]]]:
        urls = [str(url) for url in batch[self._column]]
        results: list[DownloadResult] = []
        await download_here(
            urls, self._dest, options=self._options, on_result=results.append
        )
        yield {
            "url": [r.url for r in results],
            "status": [r.status.value for r in results],
            "path": [r.fspath for r in results],
            "bytes": [r.bytes for r in results],
            "error": [r.error for r in results],
            "node": [self._node] * len(results),
        }


def download_dataset(
    dataset: Any,
    dest: Path | str,
    *,
    column: str = "url",
    options: DownloadOptions | None = None,
    actors: int = 2,
    batch_size: int = 1024,
) -> Any:
    """The files of ``dataset``'s ``column`` of URLs, as a lazy Ray Dataset of results.

    Each of ``actors`` runs our engine with ``options`` (``concurrency`` and
    ``per_host`` apply per actor here: a Dataset's blocks go to any actor,
    so use :func:`download_many` when a host's limit must hold cluster-wide).
    The result has one row per URL: url, status, path, bytes, error, node.
    ``ray.data.read_parquet(...)`` gives such a dataset.
    """
    _joined()
    return dataset.map_batches(
        _BatchDownloader,
        fn_constructor_kwargs={
            "dest": str(dest),
            "options": options or DownloadOptions(),
            "column": column,
        },
        batch_size=batch_size,
        concurrency=actors,
        num_cpus=0.01,  # it waits on the network; a whole CPU each would starve the rest
        batch_format="default",
    )
