"""One batch spread over several processes (``awaitkit fetch --processes N``).

A bulk download of small files is CPU-bound in the client: parsing
responses and creating files cost more than the network.  One Python
process uses one core and one GIL, where curl does the same work in C; a
second process with its own loop, client and file thread uses a second core.

How it stays one batch:

* The children are forked by :func:`fork_children` before any event loop or
  thread exists, so each starts in a millisecond with everything imported
  and shares nothing with the parent but a socket pair.
* The parent is a downloader too (shard 0) and the only reader of the input.
  Each shard takes items when it has room (its share of ``-m`` plus one
  block), so a slower process simply gets fewer items.
* An item whose file name is in flight in some shard goes to that shard,
  whose name claims then serialize the two: no two processes ever write
  the same ``.part``.
* Children get blocks of URLs and send back results (length-prefixed JSON
  frames); the parent counts them, writes the report and moves the bar.
* A child that dies: every item it held ends as ERROR, exactly once.
* Stop (Ctrl-C or SIGTERM to the parent): the parent sends each child
  SIGTERM, which stops it the way Ctrl-C stops a single process (``.part``
  files kept for resume); the results it still sends are counted; then the
  parent stops too.  Children ignore SIGINT and act on one SIGTERM only, so
  a signal sent to the whole process group changes nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import os
import signal
import socket
import struct
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from awaitkit.download._engine import Batched, download_many
from awaitkit.download._names import child_path, filename_from_url
from awaitkit.download._options import DownloadOptions
from awaitkit.download._result import DownloadResult, DownloadStatus

__all__ = ["Child", "download_spread", "fork_children", "reap_children", "shares"]

_FRAME = struct.Struct(">I")
_MAX_FRAME = 256 * 1024 * 1024  # a block of 64 URLs, however long, fits easily
_BLOCK = 64  # URLs per frame to a child; results per frame back
_FLUSH_S = 0.005  # a child sends its results at least this often
_STOP_WAIT_S = 30.0  # a stopped child gets this long to finish its writes


def shares(options: DownloadOptions, processes: int) -> list[DownloadOptions]:
    """``options`` split over at most ``processes`` shards.

    The shares of ``concurrency`` (and of ``per_host``) add up to the whole,
    each at least 1, so the limits hold across the processes; there are
    never more shards than either allows.

    >>> [o.concurrency for o in shares(DownloadOptions(concurrency=5), 2)]
    [3, 2]
    """
    count = max(1, min(processes, options.concurrency))
    if options.per_host:
        count = min(count, options.per_host)

    def part(total: int, i: int) -> int:
        return total // count + (i < total % count)

    return [
        dataclasses.replace(
            options,
            concurrency=part(options.concurrency, i),
            per_host=part(options.per_host, i) if options.per_host else 0,
        )
        for i in range(count)
    ]


@dataclasses.dataclass
class Child:
    """The parent's handle on one forked downloader process."""

    pid: int
    sock: socket.socket
    options: DownloadOptions
    status: int | None = None  # the wait status once reaped


def fork_children(dest: Path, options: Sequence[DownloadOptions]) -> list[Child]:
    """Fork one downloading child per ``options``; call before any loop or thread exists.

    A child downloads what its socket sends into ``dest`` and never returns:
    it ends with ``os._exit``.  Forking with other threads running could
    copy a lock some thread holds, so that is refused.  If a fork fails
    (``OSError``: no memory, a process limit), the children already made
    are killed and the error raised.
    """
    if threading.active_count() != 1:
        raise RuntimeError("fork_children needs a process with a single thread")
    from awaitkit.core import loop_factory

    loop_factory()  # uvloop imported once, here, not again in every process
    children: list[Child] = []
    try:
        for opts in options:
            parent_end, child_end = socket.socketpair()
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                pid = os.fork()
            except OSError:
                parent_end.close()
                child_end.close()
                raise
            if pid == 0:  # pragma: no cover - runs in the child, seen by its parent
                parent_end.close()
                for sibling in children:
                    sibling.sock.close()
                _child_main(child_end, dest, opts)
            child_end.close()
            children.append(Child(pid, parent_end, opts))
    except BaseException:
        reap_children(children)  # all or none
        raise
    return children


def reap_children(children: Sequence[Child]) -> None:
    """Kill and reap any child still running (the last resort after a crash)."""
    for child in children:
        if child.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                child.status = os.waitpid(child.pid, 0)[1]
        child.sock.close()


def _child_main(sock: socket.socket, dest: Path, options: DownloadOptions) -> None:
    """The whole life of a child process."""
    code = 0
    try:
        # Ctrl-C reaches the whole process group; only the parent decides
        # when a child stops (SIGTERM), so it never gets two stop requests.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # SIGTERM is the parent's stop request, even if the parent ignores it;
        # run() acts on the first one only, so a process group's adds nothing.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from awaitkit.core import Terminated, run

        with contextlib.suppress(Terminated):  # stopped by the parent, cleanly
            run(_serve(sock, dest, options), stop_on_sigterm=True)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            sys.stderr.flush()
        os._exit(code)


async def _serve(sock: socket.socket, dest: Path, options: DownloadOptions) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(sock=sock)
    results: list[list[Any]] = []
    timer: asyncio.TimerHandle | None = None

    def flush() -> None:
        nonlocal timer
        timer = None
        if results and not writer.is_closing():
            _send(writer, results)
        results.clear()

    def on_result(result: DownloadResult) -> None:
        nonlocal timer
        results.append(_encode(result))
        if len(results) >= _BLOCK:
            if timer is not None:
                timer.cancel()
            flush()
        elif timer is None:
            timer = loop.call_later(_FLUSH_S, flush)

    try:
        await download_many(
            Batched(_frames(reader)), dest, options=options, on_result=on_result
        )
    finally:
        if timer is not None:
            timer.cancel()
        flush()
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


async def _frames(reader: asyncio.StreamReader) -> AsyncIterator[list[Any]]:
    """The frames sent by the other side, until it closes its end."""
    while True:
        try:
            (size,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
            if size > _MAX_FRAME:
                raise ValueError(f"frame of {size} bytes")
            payload = await reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        frame = json.loads(payload)
        if not isinstance(frame, list):
            raise ValueError("frame is not a list")
        yield frame


def _send(writer: asyncio.StreamWriter, items: list[Any]) -> None:
    payload = json.dumps(items, separators=(",", ":")).encode()
    writer.write(_FRAME.pack(len(payload)) + payload)


def _encode(r: DownloadResult) -> list[Any]:
    # Every path is a child of the batch's folder: its name says it all.
    path = None if r.path is None else r.path.name
    return [
        r.url,
        r.status.value,
        path,
        r.bytes,
        r.attempts,
        r.error,
        r.seconds,
        r.http_status,
    ]


def _decode(fields: list[Any], dest: Path) -> DownloadResult:
    url, status, name, size, attempts, error, seconds, http = fields
    return DownloadResult(
        url,
        DownloadStatus(status),
        None if name is None else child_path(dest, name),
        size,
        attempts,
        error,
        seconds,
        http,
    )


class _Shard:
    """What the dispatcher knows of one downloading process."""

    def __init__(self, room: int) -> None:
        self.room = room  # items it may hold at once
        self.held: dict[str, list[Any]] = {}  # url -> [file name, copies held]
        self.count = 0  # items held, pinned ones included
        self.names: dict[str, int] = {}  # file name -> items held with it
        self.pinned: collections.deque[str] = collections.deque()
        self.open = True  # False once its process is gone
        self.wake: asyncio.Future[None] | None = None

    def notify(self) -> None:
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)


class _Dispatch:
    """Hands input items to shards as they have room; one name, one shard at a time."""

    def __init__(self, blocks: AsyncIterator[Sequence[str]]) -> None:
        self._blocks = blocks
        self._buffer: collections.deque[str] = collections.deque()
        self._exhausted = False
        self._reading = asyncio.Lock()
        self._owner: dict[str, _Shard] = {}  # file name -> the shard writing it
        self._blocked: set[_Shard] = set()  # waiting for some shard to catch up

    async def take(self, shard: _Shard) -> list[str] | None:
        """The next items for ``shard``; ``None`` when it will get no more."""
        while True:
            taken: list[str] = []
            while shard.pinned and len(taken) < _BLOCK:
                taken.append(shard.pinned.popleft())  # counted when pinned
            room = min(shard.room - shard.count, _BLOCK - len(taken))
            while room > 0 and shard.open:
                if not self._buffer and not await self._refill():
                    break
                url = self._buffer.popleft()
                name = _key(url)
                owner = self._owner.get(name, shard)
                if owner is shard:
                    self._hold(shard, url, name)
                    taken.append(url)
                    room -= 1
                elif owner.count >= 2 * owner.room:
                    # Its writer is far behind (a long run of one name):
                    # wait for it rather than queue without bound.
                    self._buffer.appendleft(url)
                    self._blocked.add(shard)
                    break
                else:
                    self._hold(owner, url, name)
                    owner.pinned.append(url)
                    owner.notify()
            if taken:
                return taken
            if not shard.open or (
                self._exhausted and not self._buffer and not shard.count
            ):
                return None
            shard.wake = asyncio.get_running_loop().create_future()
            await shard.wake

    async def _refill(self) -> bool:
        async with self._reading:
            while not self._buffer and not self._exhausted:
                block = await anext(self._blocks, None)
                if block is None:
                    self._exhausted = True
                else:
                    self._buffer.extend(block)
        return bool(self._buffer)

    def _hold(self, shard: _Shard, url: str, name: str) -> None:
        entry = shard.held.get(url)
        if entry is None:
            shard.held[url] = [name, 1]
        else:
            entry[1] += 1
        shard.count += 1
        shard.names[name] = shard.names.get(name, 0) + 1
        self._owner[name] = shard

    def done(self, shard: _Shard, url: str) -> None:
        """``shard`` has delivered the result for ``url``."""
        entry = shard.held[url]
        name = entry[0]
        entry[1] -= 1
        if not entry[1]:
            del shard.held[url]
        shard.count -= 1
        left = shard.names[name] - 1
        if left:
            shard.names[name] = left
        else:
            # Nobody writes the name now: the next item with it may go anywhere.
            del shard.names[name]
            if self._owner.get(name) is shard:
                del self._owner[name]
        shard.notify()
        if self._blocked:
            for waiting in self._blocked:
                waiting.notify()
            self._blocked.clear()

    def orphans(self, shard: _Shard) -> list[str]:
        """Close ``shard`` and take back every item it held without a result."""
        shard.open = False
        shard.pinned.clear()
        urls = [url for url, (_, copies) in shard.held.items() for _ in range(copies)]
        for url in urls:
            self.done(shard, url)
        return urls


def _key(url: str) -> str:
    """The file name ``url`` saves to, which decides the shard it may go to."""
    try:
        return filename_from_url(url)
    except ValueError:  # a lone surrogate from a non-UTF-8 argv: it fails alone
        return url


async def download_spread(
    blocks: AsyncIterator[Sequence[str]],
    dest: Path,
    options: DownloadOptions,
    children: Sequence[Child],
    on_result: Callable[[DownloadResult], object],
) -> None:
    """Download the URLs of ``blocks`` in this process (shard 0) and in ``children``."""
    dispatch = _Dispatch(blocks)
    local = _Shard(options.concurrency + _BLOCK)

    def local_result(result: DownloadResult) -> None:
        dispatch.done(local, result.url)
        on_result(result)

    async def local_blocks() -> AsyncIterator[list[str]]:
        while (block := await dispatch.take(local)) is not None:
            yield block

    async with asyncio.TaskGroup() as tg:
        for child in children:
            shard = _Shard(child.options.concurrency + _BLOCK)
            tg.create_task(_run_child(child, shard, dispatch, dest, on_result))
        await download_many(
            Batched(local_blocks()), dest, options=options, on_result=local_result
        )


async def _run_child(
    child: Child,
    shard: _Shard,
    dispatch: _Dispatch,
    dest: Path,
    on_result: Callable[[DownloadResult], object],
) -> None:
    """Feed ``child`` and collect its results until it ends; account for the rest."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(sock=child.sock)

    async def feed() -> None:
        try:
            while (block := await dispatch.take(shard)) is not None:
                _send(writer, block)
                await writer.drain()
        except ConnectionError:
            return  # the child is gone: the collector sees it too
        finally:
            # No more input (or the input failed, re-raised once the child
            # has finished what it holds): the child finishes and ends.
            with contextlib.suppress(OSError, RuntimeError):
                writer.write_eof()

    async def collect() -> None:
        async for frame in _frames(reader):
            for fields in frame:
                result = _decode(fields, dest)
                dispatch.done(shard, result.url)
                on_result(result)

    stopped = False
    feeder = asyncio.create_task(feed())
    # The collector is never cancelled: a frame read half-way would be lost.
    collector = asyncio.create_task(collect())
    try:
        try:
            await asyncio.shield(collector)
        except asyncio.CancelledError:
            # The batch is stopping: so does the child, keeping its .part
            # files; what it finishes meanwhile still counts.  It gets no
            # more input (and the end of it, should it miss the signal).
            stopped = True
            feeder.cancel()
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(_STOP_WAIT_S):
                    await asyncio.shield(collector)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGKILL)
                await asyncio.shield(collector)
            raise
    finally:
        orphans = dispatch.orphans(shard)
        feeder.cancel()
        failure: BaseException | None = None
        try:
            await feeder
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # the input failed: raised once the child is done
            failure = exc
        writer.close()
        child.status = await asyncio.shield(
            loop.run_in_executor(None, _wait_status, child.pid)
        )
        if not stopped and orphans:
            why = f"download process {child.pid} ended ({_describe(child.status)})"
            for url in orphans:
                on_result(DownloadResult(url, DownloadStatus.ERROR, error=why))
        if failure is not None:
            raise failure


def _wait_status(pid: int) -> int:
    return os.waitpid(pid, 0)[1]


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
