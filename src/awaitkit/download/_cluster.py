"""One batch spread over a Ray cluster (``awaitkit fetch --cluster ray``).

The shape is ``--processes``' (:mod:`._spread`), with Ray actors for the
forked children:

* the driver (this process) is the only reader of the input; it holds at
  most one round of blocks beyond what the actors hold, so its memory is
  flat however long the input is;
* every URL of one host goes to the same actor (:class:`HostRing`, a
  consistent hash of the URL's authority), so each actor keeps the whole
  ``--per-host`` and the adaptive per-host pause for its hosts and the
  limits hold across the cluster without a shared lock; ``-m`` (and
  ``--limit-rate``) are divided among the actors;
* a file name in flight on one actor is not handed to another until it is
  released (a URL waits for its turn), so no two actors write one ``.part``;
* each block is one call of :meth:`DownloadActor.run`, a Ray streaming
  generator: results come back in completion order, a few per message;
* an actor that dies (its process, or its node) is restarted by Ray
  (``max_restarts``); once it answers again, the items it held go to its
  restarted self, up to ``--retries`` times each, then end as ERROR naming
  the node (as do its items if it is not back within a minute); never lost,
  never reported twice.  A file the dead actor had finished but not yet
  reported is downloaded again, so it may exist twice (``NAME.1.EXT``);
* Ctrl-C or SIGTERM: every actor is told to stop as one process stops
  (downloads cancelled, ``.part`` files kept), then killed.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from awaitkit.core import HostRing, first_error
from awaitkit.download._actor import DownloadActor, portable_options
from awaitkit.download._dispatch import BLOCK, key
from awaitkit.download._job import Item, Job, url_of
from awaitkit.download._names import sanitize_filename
from awaitkit.download._options import DownloadOptions
from awaitkit.download._polite import host_of
from awaitkit.download._result import DownloadResult, DownloadStatus

__all__ = ["actor_count", "cluster_shares", "download_cluster"]

_log = logging.getLogger(__name__)
_STOP_WAIT_S = 10.0  # a stopped actor gets this long to cancel its downloads
_RECOVER_S = 60.0  # a dead actor gets this long to be restarted on a live node
_RECOVER_PAUSE_S = 0.5


def actor_count(ray: ModuleType, wanted: int | None, options: DownloadOptions) -> int:
    """``wanted``, else one actor per CPU of the cluster; never more than ``-m``."""
    if wanted is None:
        wanted = max(1, int(ray.cluster_resources().get("CPU", 1)))
    return max(1, min(wanted, options.concurrency))


def cluster_shares(options: DownloadOptions, actors: int) -> list[DownloadOptions]:
    """``options`` for each of ``actors``: ``-m`` and the rate divided, ``--per-host`` whole.

    A host's URLs all go to one actor, so that actor alone must keep the
    host's whole limit.

    >>> [o.concurrency for o in cluster_shares(DownloadOptions(concurrency=5), 2)]
    [3, 2]
    """
    count = max(1, min(actors, options.concurrency))
    shared = portable_options(options)
    return [
        dataclasses.replace(
            shared,
            concurrency=options.concurrency // count
            + (i < options.concurrency % count),
            rate_limit=None
            if options.rate_limit is None
            else options.rate_limit / count,
        )
        for i in range(count)
    ]


class _Slot:
    """What the driver knows of one actor: its queue, what it holds, its node."""

    def __init__(self, index: int, handle: Any, room: int) -> None:
        self.index = index
        self.handle = handle
        self.room = room  # items it may hold at once: its share of -m plus a block
        self.held = 0
        self.queue: collections.deque[Item] = collections.deque()
        self.node = f"actor {index}"
        self.wake = asyncio.Event()
        self.down = False  # its actor died: nothing is sent until it is back
        self.gone = False  # ... and it did not come back: its items end as ERROR


class _Driver:
    """Routes the input to the actors and their results to ``on_result``."""

    def __init__(
        self,
        ray: ModuleType,
        slots: list[_Slot],
        options: DownloadOptions,
        on_result: Callable[[DownloadResult, str], object],
    ) -> None:
        self._ray = ray
        self._slots = slots
        self._ring = HostRing(len(slots))
        self._retries = options.retries
        self._on_result = on_result
        self._url_key = functools.partial(key, naming=options.naming)
        # file name -> [slot index, items in flight or queued with it]
        self._names: dict[str, list[int]] = {}
        self._deferred: collections.deque[tuple[Item, str, int]] = collections.deque()
        self._queued = 0  # items read but not yet sent, deferred ones included
        self._limit = sum(slot.room for slot in slots)
        self._space = asyncio.Event()
        self._deaths: dict[str, int] = {}  # url -> deaths it has seen
        self._reading = True

    def _name(self, item: Item) -> str:
        if type(item) is not str:
            assert isinstance(item, Job)
            if item.name:
                return sanitize_filename(item.name)
            return self._url_key(item.url)
        return self._url_key(item)

    def _place(self, item: Item, name: str, slot: int) -> bool:
        """Queue ``item`` on ``slot`` unless its name is in flight on another."""
        owner = self._names.get(name)
        if owner is None:
            self._names[name] = [slot, 1]
        elif owner[0] == slot:
            owner[1] += 1
        else:
            return False
        target = self._slots[slot]
        target.queue.append(item)
        target.wake.set()
        return True

    def _release(self, name: str) -> None:
        owner = self._names[name]
        owner[1] -= 1
        if owner[1]:
            return
        del self._names[name]
        if self._deferred:
            waiting, self._deferred = self._deferred, collections.deque()
            for item, other, slot in waiting:
                if not self._place(item, other, slot):
                    self._deferred.append((item, other, slot))

    async def read(self, blocks: AsyncIterator[Sequence[Item]]) -> None:
        """Route the input's items to their actors' queues, one round ahead at most."""
        try:
            async for block in blocks:
                for item in block:
                    if type(item) is not str and item.refused is not None:  # type: ignore[union-attr]
                        job: Job = item  # type: ignore[assignment]
                        self._on_result(
                            DownloadResult(
                                job.url, DownloadStatus.ERROR, error=job.refused
                            ),
                            "driver",
                        )
                        continue
                    name = self._name(item)
                    target = self._ring.slot(host_of(url_of(item)))
                    self._queued += 1
                    if not self._place(item, name, target):
                        self._deferred.append((item, name, target))
                while self._queued >= self._limit:
                    self._space.clear()
                    await self._space.wait()
        finally:
            self._reading = False
            for slot in self._slots:
                slot.wake.set()

    async def feed(self, slot: _Slot) -> None:
        """Send ``slot``'s queue to its actor a block at a time, as it has room."""
        # A call costs the driver about half a millisecond: wait for room
        # for a good part of a block rather than send each freed place alone.
        worth = min(BLOCK // 2, max(1, (slot.room - BLOCK) // 2))
        async with asyncio.TaskGroup() as tg:
            while True:
                if slot.down and not slot.gone:
                    await self._recover(slot)
                if slot.gone:
                    self._fail_queue(slot)
                room = min(slot.room - slot.held, BLOCK)
                if slot.queue and (
                    room >= worth or (room > 0 and (not slot.held or not self._reading))
                ):
                    block = [
                        slot.queue.popleft() for _ in range(min(room, len(slot.queue)))
                    ]
                    slot.held += len(block)
                    self._queued -= len(block)
                    self._space.set()
                    tg.create_task(self._run_block(slot, block))
                    continue
                if not self._reading and not self._queued and not slot.held:
                    for other in self._slots:
                        other.wake.set()  # the others may be waiting for the end too
                    return
                slot.wake.clear()
                await slot.wake.wait()

    async def _recover(self, slot: _Slot) -> None:
        """Wait until Ray has restarted ``slot``'s actor (on a live node), or give up."""
        ray = self._ray
        deadline = asyncio.get_running_loop().time() + _RECOVER_S
        while asyncio.get_running_loop().time() < deadline:
            try:
                slot.node = await slot.handle.node.remote()
            except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError):
                await asyncio.sleep(_RECOVER_PAUSE_S)
                continue
            slot.down = False
            _log.warning("actor %d is back, on node %s", slot.index, slot.node)
            return
        slot.gone = True
        _log.warning(
            "actor %d (node %s) did not come back within %.0f s: its items end as ERROR",
            slot.index, slot.node, _RECOVER_S,
        )  # fmt: skip

    def _fail_queue(self, slot: _Slot) -> None:
        """``slot``'s actor is gone for good: every item routed to it ends as ERROR."""
        while slot.queue:
            item = slot.queue.popleft()
            self._queued -= 1
            self._space.set()
            url = url_of(item)
            self._deaths.pop(url, None)
            self._release(self._name(item))
            error = f"node {slot.node} died and its actor did not come back"
            self._on_result(
                DownloadResult(url, DownloadStatus.ERROR, error=error), slot.node
            )

    async def _run_block(self, slot: _Slot, block: list[Item]) -> None:
        """One call of the actor: send ``block``, hand on its results as they come."""
        ray = self._ray
        unanswered: dict[str, collections.deque[Item]] = {}
        for item in block:
            unanswered.setdefault(url_of(item), collections.deque()).append(item)
        wire = [item if type(item) is str else item.to_json() for item in block]  # type: ignore[union-attr]
        try:
            async for ref in slot.handle.run.remote(wire):
                node, records = await ref
                slot.node = node
                for record in records:
                    result = DownloadResult.from_json(record)
                    items = unanswered[result.url]
                    item = items.popleft()
                    if not items:
                        del unanswered[result.url]
                    self._deaths.pop(result.url, None)
                    self._done(slot, item)
                    self._on_result(result, node)
        except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as exc:
            self._orphaned(slot, unanswered, exc)
        else:
            if unanswered:  # the actor was stopped under us (stop on another path)
                self._orphaned(slot, unanswered, None)

    def _done(self, slot: _Slot, item: Item) -> None:
        slot.held -= 1
        self._release(self._name(item))
        slot.wake.set()

    def _orphaned(
        self,
        slot: _Slot,
        unanswered: dict[str, collections.deque[Item]],
        exc: BaseException | None,
    ) -> None:
        """The actor died holding ``unanswered``: retry each, or report it as ERROR."""
        why = "stopped" if exc is None else type(exc).__name__
        if exc is not None:
            slot.down = True  # feed() waits for the restart before sending more
        held = sum(map(len, unanswered.values()))
        _log.warning(
            "actor %d on node %s ended (%s) holding %d item%s: retried up to "
            "--retries times each",
            slot.index, slot.node, why, held, "" if held == 1 else "s",
        )  # fmt: skip
        for url, items in unanswered.items():
            for item in items:
                deaths = self._deaths.get(url, 0) + 1
                slot.held -= 1
                if deaths <= self._retries and exc is not None:
                    self._deaths[url] = deaths
                    slot.queue.appendleft(item)  # its name stays claimed by the slot
                    self._queued += 1
                else:
                    self._deaths.pop(url, None)
                    self._release(self._name(item))
                    self._on_result(
                        DownloadResult(
                            url,
                            DownloadStatus.ERROR,
                            error=f"node {slot.node} died ({why}) "
                            f"{deaths} time{'s' if deaths != 1 else ''}",
                        ),
                        slot.node,
                    )
        slot.wake.set()


async def download_cluster(
    ray: ModuleType,
    blocks: AsyncIterator[Sequence[Item]],
    dest: Path | str,
    options: DownloadOptions,
    on_result: Callable[[DownloadResult, str], object],
    *,
    actors: int | None = None,
) -> None:
    """Download the URLs of ``blocks`` on the actors of the joined Ray cluster.

    ``ray`` is the module, already joined (:func:`awaitkit.core.connect_cluster`).
    Every item gets exactly one ``on_result(result, node)`` call, in
    completion order; ``node`` names the node that downloaded it (its
    file is in ``dest`` there).  ``actors``: how many (default: one per
    CPU of the cluster).
    """

    def start() -> list[_Slot]:
        # In a thread: the first actor's creation ships the class to the
        # cluster and blocks for a while (half a second here).
        shares = cluster_shares(options, actor_count(ray, actors, options))
        remote = ray.remote(DownloadActor).options(
            num_cpus=0,  # it waits on the network: any node may hold several
            max_restarts=-1,
            max_task_retries=0,  # the driver retries, counting --retries
            scheduling_strategy="SPREAD",
        )
        return [
            _Slot(i, remote.remote(str(dest), share), share.concurrency + BLOCK)
            for i, share in enumerate(shares)
        ]

    slots = await asyncio.to_thread(start)
    driver = _Driver(ray, slots, options, on_result)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(driver.read(blocks))
            for slot in slots:
                tg.create_task(driver.feed(slot))
    except BaseExceptionGroup as group:
        error: BaseException | None = first_error(group)
    else:
        error = None
    finally:
        await asyncio.shield(_stop_actors(ray, [slot.handle for slot in slots]))
    if error is not None:
        raise error


async def _stop_actors(ray: ModuleType, handles: list[Any]) -> None:
    """Ask each actor to stop (``.part`` files kept), wait a little, then kill it."""
    stops = [handle.stop.remote() for handle in handles]
    futures = [asyncio.ensure_future(_awaited(ref)) for ref in stops]
    if futures:
        await asyncio.wait(futures, timeout=_STOP_WAIT_S)
    for future in futures:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()  # a dead actor's stop fails: nothing to stop

    def kill() -> None:
        for handle in handles:
            ray.kill(handle, no_restart=True)

    await asyncio.to_thread(kill)


async def _awaited(ref: Any) -> object:
    return await ref
