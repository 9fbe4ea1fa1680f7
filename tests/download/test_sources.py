"""Every kind of input the batch functions take: lists, generators, async and Batched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from awaitkit.download import (
    Batched,
    DownloadOptions,
    DownloadStatus,
    download_many,
    iter_downloads,
)
from awaitkit.flags import country_codes, serving_flags

pytestmark = pytest.mark.anyio

CODES = [cc.lower() for cc in country_codes()[:40]]
OPTIONS = DownloadOptions(concurrency=7)


def urls(base: str) -> list[str]:
    return [f"{base}/flags/{cc}/{cc}.gif" for cc in CODES]


async def test_batched_blocks_of_any_size_give_every_item_once(tmp_path: Path) -> None:
    pulled: list[int] = []

    async def blocks(base: str) -> AsyncIterator[list[str]]:
        todo = urls(base)
        for size in (1, 0, 5, 13, 0, 21):  # empty blocks are skipped, not the end
            pulled.append(size)
            await asyncio.sleep(0)  # a real reader suspends (a thread, a pipe)
            yield todo[:size]
            todo = todo[size:]

    async with serving_flags() as base:
        seen = [
            r
            async for r in iter_downloads(
                Batched(blocks(base)), tmp_path, options=OPTIONS
            )
        ]
    assert sorted(r.url for r in seen) == sorted(urls(base))
    assert {r.status for r in seen} == {DownloadStatus.OK}
    assert pulled == [1, 0, 5, 13, 0, 21]
    assert len(await asyncio.to_thread(lambda: list(tmp_path.iterdir()))) == len(CODES)


async def test_a_generator_is_read_lazily(tmp_path: Path) -> None:
    """Workers take items as they free up: the input is never read far ahead."""
    handed = 0
    counter = 0

    def lazy(base: str) -> Iterator[str]:
        nonlocal handed
        for url in urls(base):
            handed += 1
            yield url

    def check(_: object) -> None:
        nonlocal counter
        counter += 1
        # At most one item per worker is taken but not yet reported.
        assert handed - counter <= OPTIONS.concurrency

    async with serving_flags() as base:
        result = await download_many(
            lazy(base), tmp_path, options=OPTIONS, on_result=check
        )
    assert result[DownloadStatus.OK] == len(CODES)


async def test_an_async_iterable_of_single_items(tmp_path: Path) -> None:
    async def one_by_one(base: str) -> AsyncIterator[str]:
        for url in urls(base):
            await asyncio.sleep(0)
            yield url

    async with serving_flags() as base:
        counts = await download_many(one_by_one(base), tmp_path, options=OPTIONS)
    assert counts == {DownloadStatus.OK: len(CODES)}


async def test_a_failing_source_fails_the_batch_with_its_own_error(
    tmp_path: Path,
) -> None:
    async def broken(base: str) -> AsyncIterator[list[str]]:
        yield urls(base)[:3]
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    async with serving_flags() as base:
        with pytest.raises(UnicodeDecodeError):
            await download_many(Batched(broken(base)), tmp_path, options=OPTIONS)


async def test_a_callback_error_is_raised_as_itself(tmp_path: Path) -> None:
    def explode(_: object) -> None:
        raise RuntimeError("report disk full")

    async with serving_flags() as base:
        with pytest.raises(RuntimeError, match="report disk full"):
            await download_many(
                urls(base), tmp_path, options=OPTIONS, on_result=explode
            )


async def test_a_cancelled_waiter_leaves_the_refill_alone() -> None:
    """A worker cancelled while another reads the next block: the block still arrives."""
    from awaitkit.download._engine import _Source

    gate = asyncio.Event()

    async def blocks() -> AsyncIterator[list[str]]:
        await gate.wait()
        yield ["a", "b"]

    source = _Source(Batched(blocks()))
    reader = asyncio.create_task(source.next_job())
    waiter = asyncio.create_task(source.next_job())
    for _ in range(5):
        await asyncio.sleep(0)  # the reader holds the lock, the waiter queues
    waiter.cancel()
    gate.set()
    assert await reader == "a"
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await source.next_job() == "b"
    assert await source.next_job() is None
