"""The input of ``awaitkit fetch``: URLs from the arguments, a file or a pipe, in blocks.

A regular file never blocks: its first block is read before the loop
starts, the rest in the default executor.  A pipe (stdin, a FIFO, a
terminal) may stay quiet for any time, so a daemon thread of its own reads
it and hands lines over as they come: a download starts when its line
arrives, not when a whole block has, and a run that ends first
(``--deadline``, Ctrl-C) does not wait for a read that may never return.
The executor is no place for such a read: the loop's close joins its
threads, so ``asyncio.run`` would hang on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TextIO

from awaitkit.download._job import Item, Job
from awaitkit.download._plan import file_size
from awaitkit.download._result import DownloadResult, DownloadStatus

__all__ = [
    "READ_LINES",
    "Reader",
    "all_items",
    "first_lines",
    "items_of",
    "report_items",
    "until",
]

READ_LINES = 1024  # input lines read at a time
_PIPE_BACKLOG = 4 * READ_LINES  # lines the pipe thread reads ahead, at most


def items_of(lines: list[str], number: int = 1) -> list[Item]:
    """The items of ``lines`` (the first is input line ``number``).

    A line is a URL or, starting with ``{``, a JSON object (JSON Lines:
    :meth:`Job.from_json`).  A line that is neither is an item too, one the
    batch reports as ERROR (``Job.refused``): nothing in the input is lost
    unaccounted for.
    """
    items: list[Item] = []
    for offset, line in enumerate(lines):
        text = line.strip()
        if not text or text[0] == "#":
            continue
        if text[0] != "{":
            items.append(text)
            continue
        try:
            items.append(Job.from_json(json.loads(text)))
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            items.append(_refused(text, f"input line {number + offset}", exc))
    return items


def first_lines(stream: TextIO | None) -> list[str]:
    """The first block of a regular input file, read before the event loop starts.

    Once the loop runs, reads go to a thread (a pipe may block); a thread's
    start and the hand-offs cost milliseconds that every downloading
    process would wait for.  A file on disk does not block.
    """
    if stream is None or file_size(stream) is None:
        return []
    return list(itertools.islice(stream, READ_LINES))


def report_items(lines: list[str], number: int = 1) -> list[Item]:
    """The items of an earlier run's report lines that did not end OK (``--from-report``).

    Each comes back as it was given: a URL, or a :class:`Job` with its own
    name, headers and sha256 (the record's ``item``).  A line that is not
    a report record is refused as an item, like a bad input line.
    """
    items: list[Item] = []
    for offset, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        try:
            result = DownloadResult.from_json(json.loads(text))
        except (ValueError, RecursionError) as exc:
            items.append(_refused(text, f"report line {number + offset}", exc))
            continue
        if result.status in _FINISHED:
            continue
        items.append(result.url if result.item is None else Job.from_json(result.item))
    return items


def _refused(text: str, where: str, exc: Exception) -> Job:
    """A line that is not an item, as one the batch reports as ERROR (its first 200 characters)."""
    why = "nested too deep" if isinstance(exc, RecursionError) else exc
    return Job(text[:200], refused=f"{where}: {why}")


_FINISHED = (DownloadStatus.OK, DownloadStatus.SKIPPED)
Reader = Callable[[list[str], int], list[Item]]


async def all_items(
    urls: list[str],
    first: list[str],
    stream: TextIO | None,
    read: Reader = items_of,
) -> AsyncIterator[list[Item]]:
    """Blocks of items: the arguments' URLs, then ``first``'s, then the rest of ``stream``'s.

    Input lines are read by :func:`items_of`, which numbers them for its errors.
    """
    if urls:
        yield list(urls)
    number = 1
    if block := read(first, number):
        yield block
    number += len(first)
    if stream is None:
        return
    if file_size(stream) is None:
        lines = _PipeLines(stream, asyncio.get_running_loop())
        try:
            while block_lines := await lines.next_lines():
                if block := read(block_lines, number):
                    yield block
                number += len(block_lines)
        finally:
            lines.close()
        return
    loop = asyncio.get_running_loop()
    while block_lines := await loop.run_in_executor(
        None, lambda: list(itertools.islice(stream, READ_LINES))
    ):
        if block := read(block_lines, number):
            yield block
        number += len(block_lines)


async def until(
    deadline: float, blocks: AsyncIterator[list[Item]], cut: list[bool]
) -> AsyncIterator[list[Item]]:
    """``blocks`` until ``deadline`` (``time.monotonic()``); ``cut`` gets ``True`` if it came first.

    A read still waiting then (a quiet pipe) is given up: the run ends on time.
    """
    loop = asyncio.get_running_loop()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                cut.append(True)
                return
            try:
                async with asyncio.timeout_at(loop.time() + left):
                    block = await anext(blocks, None)
            except TimeoutError:
                cut.append(True)
                return
            if block is None:
                return
            yield block
    finally:
        await blocks.aclose()  # type: ignore[attr-defined]


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # its await may have been cancelled
        waiter.set_result(None)


class _PipeLines:
    """Lines of a stream that may block, read ahead by a daemon thread.

    The thread holds at most :data:`_PIPE_BACKLOG` lines unread (a fast
    producer cannot fill memory) and wakes the loop only when it waits.
    """

    def __init__(self, stream: TextIO, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._lines: list[str] = []
        self._ended = False
        self._error: Exception | None = None
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        threading.Thread(
            target=self._read, args=(stream,), name="awaitkit-input", daemon=True
        ).start()

    async def next_lines(self) -> list[str]:
        """The lines read since the last call, waiting for one; ``[]`` at the end."""
        while True:
            with self._lock:
                if self._lines:
                    lines, self._lines = self._lines, []
                    self._room.notify()
                    return lines
                if self._error is not None:
                    raise self._error
                if self._ended:
                    return []
                waiter = self._waiter = self._loop.create_future()
            await waiter

    def close(self) -> None:
        """No more lines are wanted: the thread stops at its next line."""
        with self._lock:
            self._closed = True
            self._room.notify()

    def _read(self, stream: TextIO) -> None:
        try:
            for line in stream:  # a line is returned as soon as it is whole
                with self._lock:
                    while len(self._lines) >= _PIPE_BACKLOG and not self._closed:
                        self._room.wait()
                    if self._closed:
                        return
                    self._lines.append(line)
                    self._wake_loop()
        except Exception as exc:  # a bad byte, a closed stream: raised on the loop
            with self._lock:
                self._error = exc
                self._wake_loop()
            return
        with self._lock:
            self._ended = True
            self._wake_loop()

    def _wake_loop(self) -> None:
        """With the lock held: wake a waiting reader."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            # A closed loop raises RuntimeError: nobody waits any more.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_wake, waiter)
