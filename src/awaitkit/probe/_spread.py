"""One probe run spread over several processes (``awaitkit probe --processes N``).

Probing with the direct resolver is CPU-bound in Python (packing, parsing
and the loop's bookkeeping cost more per name than the kernel does), so
one process uses one core.  Each extra process here is a forked child with
its own event loop and its own :class:`DirectResolver` (its own UDP
socket, its share of ``--concurrency`` and of the rates).

The glue follows ``fetch --processes`` (``awaitkit.download._spread``):

* :func:`fork_probers` forks the children through :mod:`awaitkit.core`'s
  worker runner, before any loop or thread exists;
* this process is the only reader of the input; a :class:`_Dispatch`
  hands blocks of names to whichever process (this one included) has
  room, room being freed as the consumer takes each result, so a slow
  process or a slow output simply gets fewer names and memory stays flat;
* results come back as compact frames (:func:`result_to_wire`), a block
  at a time; a child's per-resolver counters come with them, the whole
  counts so far at most once a second and at its end, and the last copy
  received is added to this process's once the child is done
  (:func:`merge_server_stats`);
* a child that dies: every name it was sent and never answered ends as
  TIMEOUT (a failure, so exit status 1 and ``--resume`` probes it again),
  exactly once, and a line on stderr says which process died; its
  counters are those of its last copy, at most a second old;
* Ctrl-C or SIGTERM: each child gets one stop request, stops as a single
  process does, and what it still sends before the stop is counted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import os
import socket
import sys
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Hashable,
    Iterable,
    Sequence,
)
from typing import Any

from awaitkit.core import (
    UsageError,
    Worker,
    WorkerDied,
    drive_worker,
    encode_frame,
    first_error,
    fork_workers,
    read_frames,
    reap_workers,
)
from awaitkit.probe._direct import DirectResolver
from awaitkit.probe._probe import Resolver, multi_probe
from awaitkit.probe._records import Record
from awaitkit.probe._resolvers import format_server
from awaitkit.probe._result import Result, Status

__all__ = [
    "BLOCK",
    "SPREAD_AT",
    "SPREAD_MAX",
    "Prober",
    "fork_probers",
    "merge_server_stats",
    "probe_results",
    "processes_for",
    "reap_probers",
    "result_from_wire",
    "result_to_wire",
    "shares",
]

BLOCK = 256  # names per frame to a child; results per frame back
SPREAD_AT = 128 * 1024
"""Input bytes from which ``auto`` spreads: about 10,000 names."""
SPREAD_MAX = 4
_MAX_PROCESSES = 64
_FLUSH_S = 0.005  # a child sends its results at least this often
_STOP_WAIT_S = 10.0  # a stopped child gets this long to send what it finished
# A child's counters go with its results this often (the whole counts, so
# a copy replaces the last one; what dies with a child is what it sent since).
_STATS_EVERY_S = 1.0

Prober = tuple[Worker, int]
"""A forked child and the names it probes at once (its share of -c)."""


def processes_for(text: str, *, direct: bool, size: int | None) -> int:
    """How many processes ``--processes`` asks for.

    ``size`` is the input's size in bytes when it is known up front (a
    regular file; for ``-w`` the word list's size times the patterns), or
    ``None`` (a TLD run's few names, a pipe).  ``auto``: one per CPU (at
    most :data:`SPREAD_MAX`) for :data:`SPREAD_AT` bytes or more with the
    direct resolver, else one, as ``fetch --processes auto`` decides.  The
    system resolver's lookups run in a thread pool that no fork may copy:
    ``auto`` means one process there, and a number above 1 is an error.

    >>> processes_for("3", direct=True, size=None)
    3
    """
    if text == "auto":
        if not direct or size is None or size < SPREAD_AT:
            return 1
        return max(1, min(len(os.sched_getaffinity(0)), SPREAD_MAX))
    count = int(text) if text.isascii() and text.isdigit() and len(text) < 4 else 0
    if not 1 <= count <= _MAX_PROCESSES:
        raise UsageError(
            f"--processes must be auto or 1 to {_MAX_PROCESSES}, not {text!r}"
        )
    if count > 1 and not direct:
        raise UsageError("--processes above 1 needs --resolver direct")
    return count


def shares(
    resolver: DirectResolver, concurrency: int, processes: int
) -> list[tuple[DirectResolver, int]]:
    """A resolver and a concurrency for each of ``processes``, adding up to the whole.

    ``concurrency`` is split (each share at least 1, so never more shares
    than it), and so are ``rate`` and ``rate_per_server``: the limits the
    user gave hold across the processes.  Each share is a new, unopened
    :class:`DirectResolver` with the same nameservers and settings.
    """
    count = max(1, min(processes, concurrency))
    result = []
    for i in range(count):
        part = concurrency // count + (i < concurrency % count)
        result.append(
            (
                DirectResolver(
                    [format_server(s) for s in resolver.nameservers],
                    types=resolver.types,
                    timeout=resolver.timeout,
                    retries=resolver.retries,
                    max_in_flight=max(1000, 2 * part),
                    rate=None if resolver.rate is None else resolver.rate / count,
                    rate_per_server=None
                    if resolver.rate_per_server is None
                    else resolver.rate_per_server / count,
                    rotate=resolver.rotate,
                    records=resolver.records,
                ),
                part,
            )
        )
    return result


def result_to_wire(result: Result) -> list[Any]:
    """``result`` as a frame's JSON value; :func:`result_from_wire` reads it back.

    The one place that says what crosses between processes: a field
    :class:`Result` grows is added here and in :func:`result_from_wire`.
    """
    base = [result.domain, result.status.value, list(result.addresses)]
    if not result.is_full:
        return base
    return [
        *base,
        [list(record) for record in result.records],
        list(result.chain),
        result.rcode,
        result.resolver,
        result.attempts,
        result.duration,
    ]


def result_from_wire(item: Any) -> Result:
    """The :class:`Result` :func:`result_to_wire` encoded (``ValueError`` if not one)."""
    if not (isinstance(item, list) and len(item) in (3, 9) and type(item[0]) is str):
        raise ValueError(f"not a probe result: {item!r:.80}")
    status = Status(item[1])
    if len(item) == 3:
        return Result(
            item[0],
            status is Status.FOUND,
            status=status,
            addresses=tuple(str(a) for a in item[2]),
        )
    records, chain, rcode, resolver, attempts, duration = item[3:]
    try:
        return Result(
            item[0],
            status is Status.FOUND,
            status=status,
            addresses=tuple(str(a) for a in item[2]),
            records=tuple(
                Record(str(n), str(t), int(ttl), str(d)) for n, t, ttl, d in records
            ),
            chain=tuple(str(name) for name in chain),
            rcode=None if rcode is None else int(rcode),
            resolver=None if resolver is None else str(resolver),
            attempts=int(attempts),
            duration=None if duration is None else float(duration),
        )
    except (TypeError, ValueError):
        raise ValueError(f"not a probe result: {item!r:.80}") from None


def _stats_to_wire(resolver: DirectResolver) -> dict[str, Any]:
    return {
        "stats": [
            [host, port, c.sent, c.answered, c.timeouts, c.servfail, c.refused]
            for (host, port), c in resolver.server_stats.items()
        ]
    }


def merge_server_stats(into: DirectResolver, wire: Any) -> None:
    """Add a child's per-resolver counters (the last copy it sent) to ``into``'s."""
    mine = into.server_stats
    for host, port, *counts in wire:
        stats = mine.get((host, port))
        if stats is None:  # pragma: no cover - every process has the same list
            continue
        stats.sent += counts[0]
        stats.answered += counts[1]
        stats.timeouts += counts[2]
        stats.servfail += counts[3]
        stats.refused += counts[4]


def fork_probers(resolvers: Sequence[tuple[DirectResolver, int]]) -> list[Prober]:
    """One probing child per ``(resolver, concurrency)`` share; or none.

    None when forking is refused or fails (the runner logs why): the caller
    then probes everything in this process with the whole settings.
    """
    mains = [
        functools.partial(_child, resolver=resolver, concurrency=concurrency)
        for resolver, concurrency in resolvers
    ]
    workers = fork_workers(mains, name="probe")
    return [(w, c) for w, (_, c) in zip(workers, resolvers, strict=False)]


def reap_probers(children: Sequence[Prober]) -> None:
    """Kill and reap any child still running (after the run, or when it failed)."""
    reap_workers([worker for worker, _ in children])


async def _child(
    sock: socket.socket, *, resolver: DirectResolver, concurrency: int
) -> None:
    """A child's run: names from its socket, results back in blocks, stats last."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(sock=sock)
    out: list[Any] = []
    timer: asyncio.TimerHandle | None = None
    stats_due = loop.time() + _STATS_EVERY_S

    def flush() -> None:
        nonlocal timer, stats_due
        timer = None
        if out and not writer.is_closing():
            if loop.time() >= stats_due:
                stats_due = loop.time() + _STATS_EVERY_S
                out.append(_stats_to_wire(resolver))
            writer.write(encode_frame(out))
        out.clear()

    async def names() -> AsyncIterator[str]:
        async for frame in read_frames(reader):
            for name in frame:
                yield name

    try:
        async with (
            resolver,
            contextlib.aclosing(
                multi_probe(names(), concurrency=concurrency, resolver=resolver)
            ) as results,
        ):
            async for result in results:
                out.append(result_to_wire(result))
                if len(out) >= BLOCK:
                    if timer is not None:
                        timer.cancel()
                    flush()
                elif timer is None:
                    timer = loop.call_later(_FLUSH_S, flush)
    finally:
        if timer is not None:
            timer.cancel()
        flush()
        if not writer.is_closing():
            writer.write(encode_frame([_stats_to_wire(resolver)]))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


class _Shard:
    """What the dispatcher knows of one probing process."""

    __slots__ = ("count", "open", "room", "wake")

    def __init__(self, room: int) -> None:
        self.room = room  # names it may hold (sent, or answered but not consumed)
        self.count = 0
        self.open = True
        self.wake: asyncio.Future[None] | None = None

    def notify(self) -> None:
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)


class _Dispatch:
    """Hands the input's names to shards, a block at a time, as they have room."""

    def __init__(self, names: Iterable[str] | AsyncIterable[str]) -> None:
        self._names = _aiter(names)
        self._reading = asyncio.Lock()
        self._exhausted = False
        self._buffer: collections.deque[str] = collections.deque()

    async def take(self, shard: _Shard) -> list[str] | None:
        """The next names for ``shard``; ``None`` once it will get no more."""
        while True:
            room = min(shard.room - shard.count, BLOCK)
            if room > 0 and shard.open:
                if not self._buffer and not self._exhausted:
                    async with self._reading:
                        while len(self._buffer) < BLOCK and not self._exhausted:
                            name = await anext(self._names, None)
                            if name is None:
                                self._exhausted = True
                            else:
                                self._buffer.append(name)
                if self._buffer:
                    buffer = self._buffer
                    taken = [buffer.popleft() for _ in range(min(room, len(buffer)))]
                    shard.count += len(taken)
                    return taken
            if not shard.open or (self._exhausted and not self._buffer):
                return None
            shard.wake = asyncio.get_running_loop().create_future()
            await shard.wake

    def done(self, shard: _Shard) -> None:
        """One of ``shard``'s results has been consumed: room for one more name."""
        shard.count -= 1
        shard.notify()


async def _aiter(names: Iterable[str] | AsyncIterable[str]) -> AsyncIterator[str]:
    if isinstance(names, AsyncIterable):
        async for name in names:
            yield name
    else:
        for name in names:
            yield name


def probe_results(
    names: Iterable[str] | AsyncIterable[str],
    *,
    concurrency: int,
    resolver: Resolver,
    children: Sequence[Prober] = (),
) -> AsyncGenerator[Result, None]:
    """The results for ``names``: :func:`multi_probe` itself without children."""
    if not children or not isinstance(resolver, DirectResolver):
        return multi_probe(names, concurrency=concurrency, resolver=resolver)
    return _spread(names, concurrency, resolver, children)


async def _spread(
    names: Iterable[str] | AsyncIterable[str],
    concurrency: int,
    resolver: DirectResolver,
    children: Sequence[Prober],
) -> AsyncGenerator[Result, None]:
    """Probe ``names`` here (with ``resolver``) and in ``children``, results as they come."""
    loop = asyncio.get_running_loop()
    dispatch = _Dispatch(names)
    ready: collections.deque[tuple[_Shard, Result]] = collections.deque()
    consumer: list[asyncio.Future[None]] = []

    def wake() -> None:
        while consumer:
            waiter = consumer.pop()
            if not waiter.done():
                waiter.set_result(None)

    def push(shard: _Shard, result: Result) -> None:
        ready.append((shard, result))
        if consumer:
            wake()

    local = _Shard(concurrency + BLOCK)

    async def local_names() -> AsyncIterator[str]:
        while (block := await dispatch.take(local)) is not None:
            for name in block:
                yield name

    async def run_local() -> None:
        async with contextlib.aclosing(
            multi_probe(local_names(), concurrency=concurrency, resolver=resolver)
        ) as results:
            async for result in results:
                push(local, result)

    async def run_child(worker: Worker, share: int) -> None:
        shard = _Shard(share + 2 * BLOCK)
        counters: list[Any] = []  # the child's last copy of its counters

        def on_reply(item: Any) -> Hashable:
            if isinstance(item, dict):
                counters[:] = item["stats"]
                return _STATS
            result = result_from_wire(item)
            push(shard, result)
            return result.domain

        def on_orphans(sent: list[Hashable], died: WorkerDied) -> None:
            if sent:
                sys.stderr.write(
                    f"awaitkit probe: {died}; its {len(sent)} unanswered "
                    f"name{'' if len(sent) == 1 else 's'} count as TIMEOUT\n"
                )
            for name in sent:
                push(shard, Result(str(name), False, status=Status.TIMEOUT))

        async def take() -> list[Any] | None:
            return await dispatch.take(shard)

        try:
            await drive_worker(
                worker, take, on_reply, on_orphans, stop_wait=_STOP_WAIT_S
            )
        finally:
            shard.open = False  # nothing more for it, whatever ended it
            shard.notify()
            merge_server_stats(resolver, counters)

    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(run_local())]
            tasks += [tg.create_task(run_child(w, share)) for w, share in children]
            for task in tasks:
                task.add_done_callback(lambda _: wake())
            while True:
                if not ready:
                    if all(task.done() for task in tasks):
                        break
                    waiter: asyncio.Future[None] = loop.create_future()
                    consumer.append(waiter)
                    await waiter
                    continue
                shard, result = ready.popleft()
                dispatch.done(shard)
                try:
                    yield result
                except GeneratorExit:
                    # Closed early: stop the processes (drive_worker asks the
                    # children to stop) and leave the group normally.
                    for task in tasks:
                        task.cancel()
                    break
    except BaseExceptionGroup as group:
        error = first_error(group)
        raise error from error.__cause__


_STATS = object()  # what a stats record answers for: no name
