"""One thread that runs a batch's blocking file operations, in order, off the event loop.

``loop.run_in_executor`` costs two thread hand-offs and a loop wake-up per
call, and a pool of threads creating files in one directory contend on the
directory's lock.  For 10,000 small files that overhead was larger than the
writes themselves: measured on tmpfs, the default executor took twice as
long as this thread, which takes every queued operation in one go and hands
the finished ones back to the loop in batches (one wake-up per batch, not per
file).  curl and wget2 create files from one thread as well.

Operations run in submission order.  A cancelled caller does not stop its
operation (as with ``run_in_executor``): a write that started completes, so
what reaches the disk is always whole.  What an operation returns to a
caller who is gone (an open file, say) goes to its ``dispose`` function, in
the thread, so nothing leaks.

Example use::

    async with FileThread() as files:
        await files.run(write_whole, part, final, body)
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["FileThread"]

T = TypeVar("T")

_Dispose = Callable[[Any], object] | None
_Done = list[tuple["asyncio.Future[Any] | None", Any, BaseException | None, _Dispose]]
# (future or None for work nobody awaits, function, arguments, dispose)
_Job = tuple[
    "asyncio.Future[Any] | None", Callable[..., Any], tuple[Any, ...], _Dispose
]

# While the queue stays full, finished operations are handed back at least
# this often (checked between operations), so a long batch never holds back
# results already done.
_HAND_BACK_S = 0.002


class FileThread:
    """A dedicated daemon thread for blocking file work, used from one event loop."""

    def __init__(self, name: str = "awaitkit-files") -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.pending = 0  # submitted, not yet handed back

    def __repr__(self) -> str:
        state = "running" if self._thread is not None else "stopped"
        return f"<FileThread {self.name!r} {state} pending={self.pending}>"

    async def __aenter__(self) -> FileThread:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start(self) -> None:
        """Start the thread, bound to the running loop."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
        self._thread.start()

    def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        dispose: Callable[[T], object] | None = None,
    ) -> asyncio.Future[T]:
        """Queue ``fn(*args)``; the future gets its result or its exception.

        If the future is cancelled (its awaiting task was) and ``fn``
        succeeds anyway, ``dispose(result)`` runs in the thread afterwards.
        """
        if self._thread is None or self._loop is None:
            raise RuntimeError("FileThread is not running")
        future: asyncio.Future[T] = self._loop.create_future()
        self.pending += 1
        self._jobs.put((future, fn, args, dispose))
        return future

    async def aclose(self) -> None:
        """Finish every queued operation, then stop the thread.

        Waiting is shielded from cancellation: on Ctrl-C the writes already
        queued still complete (or fail and clean up) before the batch ends,
        so no half-written ``.part`` is left behind by a write in progress.
        """
        thread = self._thread
        if thread is None:
            return
        self._jobs.put(None)
        loop = asyncio.get_running_loop()
        await asyncio.shield(loop.run_in_executor(None, thread.join))
        self._thread = None

    def _work(self) -> None:
        jobs = self._jobs
        stop = False
        while not stop:
            done: _Done = []
            job = jobs.get()
            started = time.monotonic()
            while True:
                if job is None:
                    stop = True
                    break
                future, fn, args, dispose = job
                try:
                    result = fn(*args)
                except BaseException as exc:  # handed to the awaiting task
                    if future is not None:
                        done.append((future, None, exc, None))
                else:
                    if future is not None:
                        done.append((future, result, None, dispose))
                if time.monotonic() - started > _HAND_BACK_S:
                    self._hand_back(done)
                    done = []
                    started = time.monotonic()
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    break
            if done:
                self._hand_back(done)

    def _hand_back(self, done: _Done) -> None:
        assert self._loop is not None
        # A closed loop raises RuntimeError: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._settle, done)

    def _settle(self, done: _Done) -> None:
        self.pending -= len(done)
        for future, result, exc, dispose in done:
            assert future is not None
            if future.cancelled():
                if exc is None and dispose is not None:
                    # Nobody will see the result: let the thread clean it up.
                    self._jobs.put((None, dispose, (result,), None))
                continue
            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)
