"""One batch spread over several processes (``awaitkit fetch --processes N``).

A bulk download of small files is CPU-bound in the client: parsing
responses and creating files cost more than the network.  One Python
process uses one core and one GIL, where curl does the same work in C; a
second process with its own loop, client and file thread uses a second core.

This module only glues three pieces together:

* :mod:`awaitkit.core`'s worker runner forks the downloaders
  (:func:`fork_downloaders`, before any loop or thread exists), carries
  blocks of URLs to them and their results back as frames, stops and
  reaps them, and hands back what a dead one never answered;
* :mod:`._dispatch` decides which process gets which URLs (room, one file
  name in one process at a time);
* the engine (:func:`download_many`) does the downloading, in each child
  and in this process (shard 0), which is the only reader of the input.

Items cross as URLs or :meth:`Job.to_json` objects, results as
:meth:`DownloadResult.to_json` records, the ``--report`` form; an item
refused on input (``Job.refused``) is reported here and never sent.  A child that dies: every item it held ends as ERROR, exactly once.
Stop (Ctrl-C or SIGTERM to the parent): each child gets one stop request
and stops the way Ctrl-C stops a single process (``.part`` files kept for
resume); the results it still sends are counted; then the parent stops too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

from awaitkit.core import (
    Worker,
    WorkerDied,
    drive_worker,
    encode_frame,
    fork_workers,
    read_frames,
)
from awaitkit.download._dispatch import BLOCK, Dispatch, Shard
from awaitkit.download._engine import Batched, download_many
from awaitkit.download._job import Item, Job, url_of
from awaitkit.download._options import DownloadOptions
from awaitkit.download._result import DownloadResult, DownloadStatus

__all__ = ["download_spread", "fork_downloaders"]

_FLUSH_S = 0.005  # a child sends its results at least this often
_STOP_WAIT_S = 30.0  # a stopped child gets this long to finish its writes


def fork_downloaders(
    dest: Path, options: Sequence[DownloadOptions]
) -> list[tuple[Worker, DownloadOptions]]:
    """One downloading child per ``options``, each with its options; or none.

    None when forking is refused or fails (the runner logs why): the caller
    then downloads everything in this process with the whole options.
    """
    mains = [functools.partial(_child, dest=dest, options=o) for o in options]
    workers = fork_workers(mains, name="download")
    return list(zip(workers, options, strict=False))


async def _child(sock: socket.socket, *, dest: Path, options: DownloadOptions) -> None:
    """A child's download: URLs from its socket, results back, in blocks."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(sock=sock)
    results: list[dict[str, Any]] = []
    timer: asyncio.TimerHandle | None = None

    def flush() -> None:
        nonlocal timer
        timer = None
        if results and not writer.is_closing():
            writer.write(encode_frame(results))
        results.clear()

    def on_result(result: DownloadResult) -> None:
        nonlocal timer
        results.append(result.to_json())
        if len(results) >= BLOCK:
            if timer is not None:
                timer.cancel()
            flush()
        elif timer is None:
            timer = loop.call_later(_FLUSH_S, flush)

    try:
        await download_many(
            Batched(_items_of_frames(read_frames(reader))),
            dest,
            options=options,
            on_result=on_result,
        )
    finally:
        if timer is not None:
            timer.cancel()
        flush()
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


async def _items_of_frames(
    frames: AsyncIterator[list[Any]],
) -> AsyncIterator[list[Item]]:
    """The parent's blocks as items: URLs as they are, objects made jobs again."""
    async for frame in frames:
        if all(type(item) is str for item in frame):
            yield frame
        else:
            yield [item if type(item) is str else Job.from_json(item) for item in frame]


def _wire(block: Sequence[Item]) -> list[Any]:
    """``block`` as a frame's JSON values: URLs as they are, jobs as objects."""
    return [item if type(item) is str else item.to_json() for item in block]  # type: ignore[union-attr]


def _ident(item: Any) -> Hashable:
    """What a result names a sent item by: its URL."""
    return item if type(item) is str else item["url"]


async def _sendable(
    blocks: AsyncIterator[Sequence[Item]], on_result: Callable[[DownloadResult], object]
) -> AsyncIterator[Sequence[Item]]:
    """``blocks`` without the items refused on input, which are reported here."""
    async for block in blocks:
        if all(type(item) is str for item in block):
            yield block
            continue
        kept: list[Item] = []
        for item in block:
            if type(item) is not str and item.refused is not None:  # type: ignore[union-attr]
                job: Job = item  # type: ignore[assignment]
                on_result(
                    DownloadResult(job.url, DownloadStatus.ERROR, error=job.refused)
                )
            else:
                kept.append(item)
        if kept:
            yield kept


async def download_spread(
    blocks: AsyncIterator[Sequence[Item]],
    dest: Path,
    options: DownloadOptions,
    children: Sequence[tuple[Worker, DownloadOptions]],
    on_result: Callable[[DownloadResult], object],
) -> None:
    """Download the URLs of ``blocks`` in this process (shard 0) and in ``children``.

    With no children, this is :func:`download_many` over ``blocks``.
    """
    if not children:
        await download_many(Batched(blocks), dest, options=options, on_result=on_result)
        return
    dispatch = Dispatch(_sendable(blocks, on_result), options.naming)
    local = Shard(options.concurrency + BLOCK)

    def local_result(result: DownloadResult) -> None:
        dispatch.done(local, result.url)
        on_result(result)

    async def local_blocks() -> AsyncIterator[list[Item]]:
        while (block := await dispatch.take(local)) is not None:
            yield block

    async with asyncio.TaskGroup() as tg:
        for worker, child_options in children:
            shard = Shard(child_options.concurrency + BLOCK)
            tg.create_task(_run_child(worker, shard, dispatch, on_result))
        await download_many(
            Batched(local_blocks()), dest, options=options, on_result=local_result
        )


async def _run_child(
    worker: Worker,
    shard: Shard,
    dispatch: Dispatch,
    on_result: Callable[[DownloadResult], object],
) -> None:
    """Feed one child from ``dispatch`` and count its results until it ends."""

    def on_reply(record: object) -> Hashable:
        result = DownloadResult.from_json(record)
        dispatch.done(shard, result.url)
        on_result(result)
        return result.url

    def on_orphans(sent: list[Hashable], died: WorkerDied) -> None:
        # Sent and unanswered, or pinned to it and never sent: each once.
        for url in [*sent, *map(url_of, dispatch.close(shard))]:
            on_result(DownloadResult(str(url), DownloadStatus.ERROR, error=str(died)))

    try:

        async def take() -> list[Any] | None:
            block = await dispatch.take(shard)
            return None if block is None else _wire(block)

        await drive_worker(
            worker,
            take,
            on_reply,
            on_orphans,
            stop_wait=_STOP_WAIT_S,
            ident=_ident,
        )
    finally:
        dispatch.close(shard)  # nothing more for it, whatever ended it
