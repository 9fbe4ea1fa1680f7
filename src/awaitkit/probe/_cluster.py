"""One probe run spread over a Ray cluster (``awaitkit probe --cluster ray``).

The shape is ``--processes``' (:mod:`._spread`), with Ray actors
(:class:`ProbeActor`) for the forked children: the driver alone reads the
input and hands blocks of names to whichever actor has room (its share of
``-c`` plus a block), so its memory stays flat; each block is one call of
a Ray streaming generator whose results come back in completion order.
``-c``, ``--rate`` and ``--rate-per-resolver`` are divided among the
actors, so they stay totals.

An actor that dies (its process or its node): Ray restarts it, and once
it answers again each name it held goes out again, up to ``--retries``
times (an actor not back within a minute leaves its share to the others); past that it ends
as TIMEOUT (a failure: exit status 1, and ``--resume`` probes it again),
and a line on stderr names the node.  Never lost, never reported twice.
Ctrl-C or SIGTERM: every actor is told to stop, then killed.

The actors' per-resolver counters are added to the driver's at the end
(an actor that died takes its counts with it).
"""

from __future__ import annotations

import asyncio
import collections
import sys
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from types import ModuleType
from typing import Any

from awaitkit.core import first_error
from awaitkit.probe._actor import ProbeActor, resolver_settings
from awaitkit.probe._direct import DirectResolver
from awaitkit.probe._result import Result, Status
from awaitkit.probe._spread import (
    BLOCK,
    merge_server_stats,
    result_from_wire,
    shares,
)

__all__ = ["probe_cluster"]

_STOP_WAIT_S = 10.0
_RECOVER_S = 60.0  # a dead actor gets this long to be restarted on a live node
_RECOVER_PAUSE_S = 0.5


class _Slot:
    def __init__(self, index: int, handle: Any, room: int) -> None:
        self.index = index
        self.handle = handle
        self.room = room
        self.held = 0
        self.node = f"actor {index}"
        self.down = False  # its actor died: nothing is sent until it is back
        self.gone = False  # ... and it did not come back


async def probe_cluster(
    ray: ModuleType,
    names: Iterable[str] | AsyncIterable[str],
    *,
    concurrency: int,
    resolver: DirectResolver,
    actors: int | None = None,
) -> AsyncGenerator[Result, None]:
    """Probe ``names`` on the actors of the joined cluster; results as they come.

    ``resolver`` gives the settings (each actor opens its own share) and
    receives the actors' counters at the end.
    """

    def start() -> list[_Slot]:
        # In a thread: creating the first actor ships the class, and blocks.
        count = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(ProbeActor).options(
            num_cpus=0,
            max_restarts=-1,
            max_task_retries=0,  # the driver retries, counting --retries
            scheduling_strategy="SPREAD",
        )
        return [
            _Slot(i, remote.remote(resolver_settings(share), part), part + BLOCK)
            for i, (share, part) in enumerate(shares(resolver, concurrency, count))
        ]

    slots = await asyncio.to_thread(start)
    source = _aiter(names)
    retry: collections.deque[str] = collections.deque()
    deaths: dict[str, int] = {}
    # Bounded: a slow consumer stalls the streams, which stall the actors.
    ready: asyncio.Queue[Result | None] = asyncio.Queue(concurrency + BLOCK)
    wake = asyncio.Event()
    exhausted = False
    running = 0  # block calls in flight

    async def next_block(room: int) -> list[str]:
        nonlocal exhausted
        block: list[str] = []
        while retry and len(block) < room:
            block.append(retry.popleft())
        while not exhausted and len(block) < room:
            name = await anext(source, None)
            if name is None:
                exhausted = True
            else:
                block.append(name)
        return block

    async def run_block(slot: _Slot, block: list[str]) -> None:
        nonlocal running
        unanswered = collections.Counter(block)
        try:
            async for ref in slot.handle.run.remote(block):
                node, records = await ref
                slot.node = node
                for record in records:
                    result = result_from_wire(record)
                    unanswered[result.domain] -= 1
                    if not unanswered[result.domain]:
                        del unanswered[result.domain]
                    deaths.pop(result.domain, None)
                    slot.held -= 1
                    await ready.put(result)
                wake.set()  # room for more
        except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as exc:
            held = unanswered.total()
            sys.stderr.write(
                f"awaitkit probe: actor {slot.index} on node {slot.node} ended "
                f"({type(exc).__name__}) holding {held} name{'' if held == 1 else 's'}\n"
            )
            slot.down = True
            for name in unanswered.elements():
                slot.held -= 1
                died = deaths.get(name, 0) + 1
                if died <= resolver.retries:
                    deaths[name] = died
                    retry.append(name)
                else:
                    deaths.pop(name, None)
                    await ready.put(Result(name, False, status=Status.TIMEOUT))
        finally:
            running -= 1
            wake.set()

    async def recover(slot: _Slot) -> None:
        """Ask the dead actor until Ray has restarted it, for up to a minute."""
        deadline = asyncio.get_running_loop().time() + _RECOVER_S
        while asyncio.get_running_loop().time() < deadline:
            try:
                slot.node = await slot.handle.node.remote()
            except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError):
                await asyncio.sleep(_RECOVER_PAUSE_S)
                continue
            slot.down = False
            return
        slot.gone = True
        sys.stderr.write(
            f"awaitkit probe: actor {slot.index} (node {slot.node}) did not come "
            "back; the others take its share\n"
        )

    async def feed() -> None:
        nonlocal running, exhausted
        async with asyncio.TaskGroup() as tg:
            while True:
                for down in [s for s in slots if s.down and not s.gone]:
                    await recover(down)
                live = [s for s in slots if not s.gone]
                if not live:  # nobody left to ask: what is left is TIMEOUT
                    while retry:
                        lost = retry.popleft()
                        await ready.put(Result(lost, False, status=Status.TIMEOUT))
                    while (unread := await anext(source, None)) is not None:
                        await ready.put(Result(unread, False, status=Status.TIMEOUT))
                    exhausted = True
                    if not running:
                        break
                    wake.clear()
                    await wake.wait()
                    continue
                slot = max(live, key=lambda s: s.room - s.held)
                room = min(slot.room - slot.held, BLOCK)
                # A call costs the driver about half a millisecond: send a
                # good part of a block, not each freed place alone.
                worth = min(BLOCK // 2, max(1, (slot.room - BLOCK) // 2))
                if (room >= worth or (room > 0 and not slot.held)) and (
                    retry or not exhausted
                ):
                    block = await next_block(room)
                    if block:
                        slot.held += len(block)
                        running += 1
                        tg.create_task(run_block(slot, block))
                        continue
                if exhausted and not retry and not running:
                    break
                wake.clear()
                await wake.wait()
        await ready.put(None)

    finished = False
    try:
        async with asyncio.TaskGroup() as tg:
            feeder = tg.create_task(feed())
            try:
                while (result := await ready.get()) is not None:
                    yield result
                finished = True
            except GeneratorExit:
                # Closed early: stop feeding and leave the group normally.
                feeder.cancel()
        if finished:
            await _merge_stats(ray, slots, resolver)
    except BaseExceptionGroup as group:
        error = first_error(group)
        raise error from error.__cause__
    finally:
        await asyncio.shield(_stop_actors(ray, [slot.handle for slot in slots]))


async def _merge_stats(
    ray: ModuleType, slots: list[_Slot], into: DirectResolver
) -> None:
    for slot in slots:
        try:
            merge_server_stats(into, await slot.handle.stats.remote())
        except ray.exceptions.RayActorError:  # gone: its counts with it
            continue


async def _stop_actors(ray: ModuleType, handles: list[Any]) -> None:
    """Ask each actor to stop, wait a little, then kill it."""

    async def awaited(ref: Any) -> object:
        return await ref

    futures = [asyncio.ensure_future(awaited(h.stop.remote())) for h in handles]
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


async def _aiter(
    names: Iterable[str] | AsyncIterable[str],
) -> AsyncGenerator[str, None]:
    if isinstance(names, AsyncIterable):
        async for name in names:
            yield name
    else:
        for name in names:
            yield name
