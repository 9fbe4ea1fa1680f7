"""The servers' query cache: hits, bounds, shared in-flight look-ups, errors."""

from __future__ import annotations

import asyncio

import pytest

from awaitkit.core import QueryError
from awaitkit.find import CharIndex
from awaitkit.servers import CachedSearch

pytestmark = pytest.mark.anyio


async def test_second_query_is_a_cache_hit(index: CharIndex) -> None:
    search = CachedSearch(index)
    first = await search.query("cat face", limit=5)
    assert await search.query("cat face", limit=5) is first
    assert (search.hits, search.misses) == (1, 1)
    assert first == index.query("cat face", limit=5)


async def test_concurrent_identical_queries_share_one_look_up(index: CharIndex) -> None:
    search = CachedSearch(index)
    results = await asyncio.gather(
        *(search.query("sign", limit=None) for _ in range(20))
    )
    assert search.misses == 1
    assert all(r is results[0] for r in results)


async def test_query_error_is_raised_and_not_cached(index: CharIndex) -> None:
    search = CachedSearch(index)
    for _ in range(2):
        with pytest.raises(QueryError):
            await search.query("   ", limit=5)
    assert search.misses == 0


async def test_cache_is_bounded_in_entries_and_matches(index: CharIndex) -> None:
    search = CachedSearch(index, max_entries=3, max_matches=400)
    for word in ("cat", "dog", "arrow", "star", "moon"):
        await search.query(word, limit=50)
    assert len(search._pages) <= 3
    assert search._held <= 400
    await search.query("sign", limit=None)  # bigger than a quarter of the bound
    assert ("sign", None, 0) not in search._pages


def test_sync_look_up_uses_the_same_cache(index: CharIndex) -> None:
    search = CachedSearch(index, threaded=False)
    first = search.query_now("cat face", 3)
    assert search.query_now("cat face", 3) is first
    assert repr(search) == "<CachedSearch entries=1 matches=4 hits=1 misses=1>"
