"""probe() and multi_probe(): the book's domainlib API over any resolver.

The book's ``multi_probe`` wraps every name in a coroutine up front and
feeds them all to ``as_completed``: memory grows with the input and nothing
bounds the lookups in flight.  Here a fixed pool of workers pulls names from
the input as it goes, inside a TaskGroup, and results come out in completion
order through a bounded queue, so a million names cost what ``concurrency``
names cost.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Iterable,
    Iterator,
)
from typing import Protocol, runtime_checkable

from awaitkit.core import first_error
from awaitkit.probe._names import to_ascii
from awaitkit.probe._result import Answer, Result, Status
from awaitkit.probe._system import SystemResolver

__all__ = ["Resolver", "multi_probe", "probe"]


@runtime_checkable
class Resolver(Protocol):
    """Anything that can look up one validated ASCII name.

    ``lookup`` returns an :class:`Answer` for every DNS outcome (a missing
    name is a value, not an exception); an exception means a bug or a
    resource failure, and ends a ``multi_probe`` batch.
    """

    async def lookup(self, name: str) -> Answer:
        """Resolve ``name`` (lower-case ASCII, IDNA-encoded, no final dot)."""
        ...


_default_resolver: SystemResolver | None = None


def _resolver_or_default(resolver: Resolver | None) -> Resolver:
    global _default_resolver
    if resolver is not None:
        return resolver
    if _default_resolver is None:
        _default_resolver = SystemResolver()
    return _default_resolver


async def probe(domain: str, *, resolver: Resolver | None = None) -> Result:
    """Probe one name; ``domain, found = await probe(name)`` as in the book.

    Example use::

        result = await probe("bücher.de")
        if result.found:
            print(result.domain, result.addresses)

    ``resolver`` defaults to a :class:`SystemResolver` (``getaddrinfo``).
    An invalid name gives ``status=INVALID``, never an exception.
    """
    name = to_ascii(domain)
    if name is None:
        return Result(domain, False, status=Status.INVALID)
    answer = await _resolver_or_default(resolver).lookup(name)
    return Result.from_answer(domain, answer)


async def multi_probe(
    domains: Iterable[str] | AsyncIterable[str],
    *,
    concurrency: int = 100,
    resolver: Resolver | None = None,
) -> AsyncGenerator[Result, None]:
    """Probe many names, at most ``concurrency`` at a time; yield in completion order.

    Example use::

        async with contextlib.aclosing(multi_probe(names, resolver=r)) as results:
            async for domain, found in results:
                print(domain, found)

    ``domains`` may be a sync or an async iterable and is read lazily, as
    workers free up.  Leaving the ``async for`` early and closing the
    generator (``aclosing`` does it at once; otherwise the garbage collector
    does) cancels the lookups still running.  An exception from the input or
    the resolver cancels the rest and is raised as itself (the first one,
    if several workers failed at once): never as an ``ExceptionGroup``.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    chosen = _resolver_or_default(resolver)
    loop = asyncio.get_running_loop()
    # Workers hand results to the consumer through ``done``; past
    # ``concurrency`` results waiting there, a worker waits in ``blocked``:
    # a slow consumer stalls the workers instead of piling up results.  A
    # deque and two lists of futures, not an asyncio.Queue, whose put and
    # get cost more than the rest of a name's way out.
    done: collections.deque[Result] = collections.deque()
    consumer: list[asyncio.Future[None]] = []  # the consumer, waiting
    blocked: list[asyncio.Future[None]] = []
    workers_left = concurrency

    def hand_over(result: Result) -> asyncio.Future[None] | None:
        """Pass ``result`` on; a future to await before the next if ``done`` is full."""
        done.append(result)
        if consumer:
            waiter = consumer.pop()
            if not waiter.done():
                waiter.set_result(None)
        if len(done) < concurrency:
            return None
        full: asyncio.Future[None] = loop.create_future()
        blocked.append(full)
        return full

    def worker_done() -> None:
        nonlocal workers_left
        workers_left -= 1
        if consumer:
            waiter = consumer.pop()
            if not waiter.done():
                waiter.set_result(None)

    lookup = chosen.lookup
    from_answer = Result.from_answer

    # An async source is read by one feeder into ``ready``; idle workers
    # wait in ``idle`` and get a name handed straight to them.  Cheaper per
    # name than an asyncio.Queue (a deque operation and a flag test), and
    # the source is never read more than ``concurrency`` names ahead.
    ready: collections.deque[str] = collections.deque()
    idle: collections.deque[asyncio.Future[str | None]] = collections.deque()
    room: list[asyncio.Future[None]] = []  # the feeder, waiting for room
    source_ended = False

    async def work_buffer() -> None:
        # Runs once per name: the hand-over is inlined, no helper coroutine.
        while True:
            if room and len(ready) <= concurrency // 2:
                waiter = room.pop()
                if not waiter.done():
                    waiter.set_result(None)
            if ready:
                domain = ready.popleft()
            elif source_ended:
                break
            else:
                handed: asyncio.Future[str | None] = loop.create_future()
                idle.append(handed)
                if (given := await handed) is None:
                    break
                domain = given
            name = to_ascii(domain)
            if name is None:
                full = hand_over(Result(domain, False, status=Status.INVALID))
            else:
                full = hand_over(from_answer(domain, await lookup(name)))
            if full is not None:
                await full
        worker_done()

    async def feed(source: AsyncIterable[str]) -> None:
        nonlocal source_ended
        try:
            async for domain in source:
                while idle:
                    waiter = idle.popleft()
                    if not waiter.done():  # not cancelled
                        waiter.set_result(domain)
                        break
                else:
                    ready.append(domain)
                    if len(ready) >= concurrency:
                        wanted: asyncio.Future[None] = loop.create_future()
                        room.append(wanted)
                        await wanted
        finally:
            source_ended = True
            while idle:
                waiter = idle.popleft()
                if not waiter.done():
                    waiter.set_result(None)

    async def work_iter(names: Iterator[str]) -> None:
        # Workers share one iterator: next() never awaits, so no two workers
        # can be inside it at once.  The body is inlined: this loop runs
        # once per name.
        for domain in names:
            name = to_ascii(domain)
            if name is None:
                full = hand_over(Result(domain, False, status=Status.INVALID))
            else:
                full = hand_over(from_answer(domain, await lookup(name)))
            if full is not None:
                await full
        worker_done()

    try:
        async with asyncio.TaskGroup() as tg:
            tasks: list[asyncio.Task[None]] = []
            if isinstance(domains, AsyncIterable):
                # An async iterator cannot be advanced by two tasks at once, so
                # one feeder reads it ahead for the workers.
                tasks.append(tg.create_task(feed(domains)))
                tasks += [tg.create_task(work_buffer()) for _ in range(concurrency)]
            else:
                iterator = iter(domains)
                tasks += [
                    tg.create_task(work_iter(iterator)) for _ in range(concurrency)
                ]
            while True:
                if not done:
                    if not workers_left:
                        break
                    waiter: asyncio.Future[None] = loop.create_future()
                    consumer.append(waiter)
                    await waiter
                    continue
                item = done.popleft()
                if blocked and len(done) <= concurrency // 2:
                    for full in blocked:
                        if not full.done():  # not cancelled
                            full.set_result(None)
                    blocked.clear()
                try:
                    yield item
                except GeneratorExit:
                    # The consumer left the loop and the generator is being
                    # closed.  Letting GeneratorExit cross the TaskGroup would
                    # turn it into a BaseExceptionGroup; cancel the workers
                    # instead and leave the group normally, which awaits them.
                    for task in tasks:
                        task.cancel()
                    break
    except BaseExceptionGroup as group:
        error = first_error(group)
        raise error from error.__cause__  # its own cause; not the group around it
