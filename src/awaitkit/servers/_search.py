"""Queries for the servers: an LRU cache in front of the index, misses in a thread.

The index is immutable, so a page of results is a pure function of
``(query, limit, offset, types, lang)``.  A broad query is costly to rank (``sign``:
~4 ms, ``cjk``: ~90 ms for a page of 100), and on the event loop that time
would be lag for every other client; so a cache miss runs in a worker thread
and the answer is kept for next time.  The cache is bounded both in entries
and in the matches it holds, so hostile queries cannot grow it without limit.
Cache reads and writes happen on the loop thread only.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from awaitkit.find import CharIndex, QueryResult

__all__ = ["CachedSearch"]

_Key = tuple[str, int | None, int, tuple[str, ...] | None, str | None]


class CachedSearch:
    """Run queries against ``index``, remembering recent pages.

    Example use::

        search = CachedSearch(load_index())
        result = await search.query("cat face", limit=100)   # QueryResult
    """

    def __init__(
        self,
        index: CharIndex,
        *,
        max_entries: int = 4096,
        max_matches: int = 200_000,
        threaded: bool = True,
    ) -> None:
        self.index = index
        self.max_entries = max_entries
        self.max_matches = max_matches
        self.threaded = threaded
        self._pages: OrderedDict[_Key, QueryResult] = OrderedDict()
        # Look-ups running now: 50 clients asking the same new query at once
        # share one thread's work instead of ranking it 50 times.
        self._running: dict[_Key, asyncio.Future[QueryResult]] = {}
        self._held = 0  # matches held by the cache
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return (
            f"<CachedSearch entries={len(self._pages)} matches={self._held} "
            f"hits={self.hits} misses={self.misses}>"
        )

    def cached(
        self,
        text: str,
        limit: int | None,
        offset: int,
        types: tuple[str, ...] | None = None,
        lang: str | None = None,
    ) -> QueryResult | None:
        """The remembered page, or ``None``."""
        key = (text, limit, offset, types, lang)
        result = self._pages.get(key)
        if result is not None:
            self._pages.move_to_end(key)
            self.hits += 1
        return result

    def query_now(self, text: str, limit: int | None, offset: int = 0) -> QueryResult:
        """Synchronous look-up (cache, else the index); raises ``QueryError``."""
        result = self.cached(text, limit, offset)
        if result is None:
            result = self.index.query(text, limit=limit, offset=offset)
            self._remember((text, limit, offset, None, None), result)
        return result

    async def query(
        self,
        text: str,
        *,
        limit: int | None,
        offset: int = 0,
        types: tuple[str, ...] | None = None,
        lang: str | None = None,
    ) -> QueryResult:
        """Look-up whose misses run in a thread; raises ``QueryError``.

        ``types`` and ``lang`` reach ``index.query`` only when given, so an
        index without those keyword arguments serves every other query.
        """
        key = (text, limit, offset, types, lang)
        result = self.cached(*key)
        if result is not None:
            return result
        options: dict[str, Any] = {"limit": limit, "offset": offset}
        if types is not None:
            options["types"] = types
        if lang is not None:
            options["lang"] = lang
        if not self.threaded:
            result = self.index.query(text, **options)
            self._remember(key, result)
            return result
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future = asyncio.ensure_future(
            asyncio.to_thread(self.index.query, text, **options)
        )
        self._running[key] = future

        def forget(done: asyncio.Future[QueryResult]) -> None:
            self._running.pop(key, None)
            if not done.cancelled():
                done.exception()  # retrieved even if every waiter went away

        future.add_done_callback(forget)
        # shield: one client going away must not cancel the others' look-up.
        result = await asyncio.shield(future)
        self._remember(key, result)
        return result

    def _remember(self, key: _Key, result: QueryResult) -> None:
        self.misses += 1
        size = len(result.matches) + 1
        if size > self.max_matches // 4 or key in self._pages:
            return  # huge pages are not worth evicting everything else for
        self._pages[key] = result
        self._held += size
        while len(self._pages) > self.max_entries or self._held > self.max_matches:
            _, old = self._pages.popitem(last=False)
            self._held -= len(old.matches) + 1
