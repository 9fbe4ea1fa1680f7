"""Which downloading process gets the next items: a pure policy, no processes.

A :class:`Dispatch` hands the input's URLs to :class:`Shard` s (one per
process, this one included) as they have room, under three rules:

Items are URLs or :class:`~awaitkit.download.Job` s; a job is known by its
URL, and its ``name``, when it gives one, is its file name.

* room: a shard holds at most its share of ``-m`` plus one block, so a
  slower process simply gets fewer items;
* name pinning: a URL whose file name is in flight in some shard goes to
  that shard, whose name claims then serialize the two, so no two
  processes ever write the same ``.part``;
* the bound on one name's run: a shard already holding twice its room
  (a long run of one name) makes the others wait rather than queue
  without bound.

It only needs an event loop to wait (a shard with no room, the input
being read); tests drive it with plain coroutines.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any

from awaitkit.download._job import Item, Job, url_of
from awaitkit.download._names import filename_from_url, sanitize_filename
from awaitkit.download._naming import Naming, name_for

__all__ = ["BLOCK", "Dispatch", "Shard", "key"]

BLOCK = 64  # URLs per frame to a child; results per frame back


class Shard:
    """What the dispatcher knows of one downloading process."""

    def __init__(self, room: int) -> None:
        self.room = room  # items it may hold at once
        # url -> [file name, copies held, other names or None, copies of the name]
        self.held: dict[str, list[Any]] = {}
        self.count = 0  # items held, pinned ones included
        self.names: dict[str, int] = {}  # file name -> items held with it
        self.pinned: collections.deque[Item] = collections.deque()
        self.open = True  # False once its process is gone
        self.wake: asyncio.Future[None] | None = None

    def notify(self) -> None:
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)


class Dispatch:
    """Hands input items to shards as they have room; one name, one shard at a time."""

    def __init__(
        self, blocks: AsyncIterator[Sequence[Item]], naming: Naming = "basename"
    ) -> None:
        self._blocks = blocks
        self._url_key = (
            key if naming == "basename" else functools.partial(key, naming=naming)
        )
        self._buffer: collections.deque[Item] = collections.deque()
        self._exhausted = False
        self._reading = asyncio.Lock()
        self._owner: dict[str, Shard] = {}  # file name -> the shard writing it
        self._blocked: set[Shard] = set()  # waiting for some shard to catch up
        self._failure: Exception | None = None  # the input's, raised by the next take

    def _key(self, item: Item) -> str:
        if type(item) is str:
            return self._url_key(item)
        assert isinstance(item, Job)
        if item.name:
            return sanitize_filename(item.name)
        return self._url_key(item.url)

    async def take(self, shard: Shard) -> list[Item] | None:
        """The next items for ``shard``; ``None`` when it will get no more."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        while True:
            taken: list[Item] = []
            while shard.pinned and len(taken) < BLOCK:
                taken.append(shard.pinned.popleft())  # counted when pinned
            room = min(shard.room - shard.count, BLOCK - len(taken))
            while room > 0 and shard.open:
                if not self._buffer and not await self._refill_for(shard, taken):
                    break
                item = self._buffer.popleft()
                name = self._key(item)
                owner = self._owner.get(name, shard)
                if owner is shard:
                    self._hold(shard, item, name)
                    taken.append(item)
                    room -= 1
                elif owner.count >= 2 * owner.room:
                    # Its writer is far behind (a long run of one name):
                    # wait for it rather than queue without bound.
                    self._buffer.appendleft(item)
                    self._blocked.add(shard)
                    break
                else:
                    self._hold(owner, item, name)
                    owner.pinned.append(item)
                    owner.notify()
            if taken:
                return taken
            if not shard.open or (
                self._exhausted and not self._buffer and not shard.count
            ):
                return None
            shard.wake = asyncio.get_running_loop().create_future()
            await shard.wake

    async def _refill_for(self, shard: Shard, taken: list[Item]) -> bool:
        """:meth:`_refill`, never losing the items ``shard`` has in hand.

        Cancelled, they go back to its pinned items (still held: :meth:`close`
        returns them); the input failing, they are handed out first and the
        error is raised by the next :meth:`take`.
        """
        try:
            return await self._refill()
        except asyncio.CancelledError:
            shard.pinned.extendleft(reversed(taken))
            taken.clear()
            raise
        except Exception as exc:
            if not taken:
                raise
            self._failure = exc
            return False

    async def _refill(self) -> bool:
        async with self._reading:
            while not self._buffer and not self._exhausted:
                block = await anext(self._blocks, None)
                if block is None:
                    self._exhausted = True
                else:
                    self._buffer.extend(block)
        return bool(self._buffer)

    def _hold(self, shard: Shard, item: Item, name: str) -> None:
        url = url_of(item)
        entry = shard.held.get(url)
        if entry is None:
            shard.held[url] = [name, 1, None, 1]
        else:
            entry[1] += 1
            if name == entry[0]:
                entry[3] += 1
            else:  # one URL under two names (JSON Lines items)
                others = entry[2]
                if others is None:
                    others = entry[2] = {}
                others[name] = others.get(name, 0) + 1
        shard.count += 1
        shard.names[name] = shard.names.get(name, 0) + 1
        self._owner[name] = shard

    def done(self, shard: Shard, url: str) -> None:
        """``shard`` has delivered the result for ``url``."""
        entry = shard.held[url]
        entry[1] -= 1
        shard.count -= 1
        if entry[2] is None:
            entry[3] -= 1
            if not entry[1]:
                del shard.held[url]
            self._release(shard, entry[0], 1)
        elif not entry[1]:
            # Which copy ended is not known: its names are held until the
            # last one has (never released while one may still write).
            del shard.held[url]
            self._release(shard, entry[0], entry[3])
            for name, copies in entry[2].items():
                self._release(shard, name, copies)
        shard.notify()
        if self._blocked:
            for waiting in self._blocked:
                waiting.notify()
            self._blocked.clear()

    def _release(self, shard: Shard, name: str, copies: int) -> None:
        if not copies:
            return
        left = shard.names[name] - copies
        if left:
            shard.names[name] = left
        else:
            # Nobody writes the name now: the next item with it may go anywhere.
            del shard.names[name]
            if self._owner.get(name) is shard:
                del self._owner[name]

    def close(self, shard: Shard) -> list[Item]:
        """``shard``'s process is gone: release all it held; return what it never got.

        Those are the items pinned to it but not yet taken; the ones it was
        sent are the runner's to account for.
        """
        shard.open = False
        never_sent = list(shard.pinned)
        shard.pinned.clear()
        held = [url for url, entry in shard.held.items() for _ in range(entry[1])]
        for url in held:
            self.done(shard, url)
        return never_sent


def key(url: str, naming: Naming = "basename") -> str:
    """The file name ``url`` saves to, which decides the shard it may go to."""
    try:
        return filename_from_url(url) if naming == "basename" else name_for(url, naming)
    except ValueError:  # a lone surrogate from a non-UTF-8 argv: it fails alone
        return url
