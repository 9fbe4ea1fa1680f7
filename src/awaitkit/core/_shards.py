"""A team of forked worker processes, fed blocks of items over socket pairs.

The runner knows nothing of what the items are.  It forks the workers
(:func:`fork_workers`), feeds each one the blocks a ``take()`` callable
hands out and passes every reply frame back (:func:`drive_worker`), and accounts
for a worker that dies: every item it was sent and never answered goes back
to the caller once, with a :class:`WorkerDied` saying why.  The caller
decides which worker gets what (a pure policy of its own).

Why fork, and not spawn or ``multiprocessing``: a forked child starts in
about a millisecond with everything already imported (the event loop
library, the client, the parser), where a spawned interpreter pays its
whole start-up again before its first item; for batches that last a few
seconds that start-up is most of what a second process would save.  Fork is
only safe before any other thread exists (a lock held by one would stay
locked forever in the child), so with other threads running, or when
``fork()`` itself fails, :func:`fork_workers` forks nothing, logs a warning
saying so and the caller runs in one process.

The shape follows a worker with a handshake (anyio's ``to_process``): the
socket pair exists before the fork, so what the parent writes waits in the
kernel until the child reads it and no READY round trip is needed; a child
that dies before reading shows as the end of its stream, which is the
handshake's failure, mapped to :class:`WorkerDied`.

Stopping: a worker ignores SIGINT (Ctrl-C reaches the whole process group;
only the parent decides) and takes SIGTERM as its stop request, which
:func:`awaitkit.core.run` acts on once.  The parent sends it at most once
per worker (:meth:`Worker.request_stop`), waits for the replies still on
their way, then kills what is left.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from typing import Any

from awaitkit.core._frames import encode_frame, read_frames
from awaitkit.core.errors import AwaitkitError

__all__ = [
    "Worker",
    "WorkerDied",
    "describe_status",
    "drive_worker",
    "fork_workers",
    "reap_workers",
]

logger = logging.getLogger(__name__)

WorkerMain = Callable[[socket.socket], Coroutine[Any, Any, None]]
"""What a worker runs: its end of the socket pair in, nothing out."""


class WorkerDied(AwaitkitError):
    """A worker process ended before it answered for everything it was sent."""

    def __init__(self, name: str, pid: int, status: int) -> None:
        super().__init__(f"{name} process {pid} ended ({describe_status(status)})")
        self.pid = pid
        self.status = status


@dataclasses.dataclass(eq=False)
class Worker:
    """The parent's handle on one forked worker process."""

    pid: int
    sock: socket.socket
    name: str = "worker"
    status: int | None = None  # the wait status once reaped
    stop_requested: bool = False

    def __repr__(self) -> str:
        state = "running" if self.status is None else describe_status(self.status)
        return f"<Worker {self.name} pid={self.pid} {state}>"

    def request_stop(self) -> None:
        """Ask the worker to stop (SIGTERM), once: a second request changes nothing."""
        if not self.stop_requested and self.status is None:
            self.stop_requested = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """End the worker now (SIGKILL), whatever it is doing."""
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def describe_status(status: int) -> str:
    """A wait status in words: ``killed by SIGKILL``, ``exit status 1``."""
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def fork_workers(mains: Sequence[WorkerMain], *, name: str = "worker") -> list[Worker]:
    """Fork one worker per entry of ``mains``; call before any loop or thread exists.

    Each child runs its coroutine function on its end of a socket pair
    (with :func:`awaitkit.core.run`, stopping on SIGTERM) and ends with
    ``os._exit``: status 0, or 1 after printing the traceback of an error.
    All or none: when forking is refused (other threads running) or a fork
    fails, the workers already made are killed and reaped, a WARNING says
    why, and the result is an empty list.
    """
    if not mains:
        return []
    if not hasattr(os, "fork"):  # pragma: no cover - POSIX only
        logger.warning("no fork() here: %d %s processes not started", len(mains), name)
        return []
    if threading.active_count() != 1:
        logger.warning(
            "forking refused: %d other threads are running (a forked child could "
            "inherit a lock one of them holds); running in one process",
            threading.active_count() - 1,
        )
        return []
    from awaitkit.core._runner import loop_factory

    loop_factory()  # the loop library imported once, here, not in every child
    workers: list[Worker] = []
    try:
        for main in mains:
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
                for sibling in workers:
                    sibling.sock.close()
                _child(main, child_end)
            child_end.close()
            workers.append(Worker(pid, parent_end, name))
    except OSError as exc:
        reap_workers(workers)
        logger.warning("fork failed (%s): running in one process", exc)
        return []
    except BaseException:
        reap_workers(workers)
        raise
    return workers


def reap_workers(workers: Sequence[Worker]) -> None:
    """Kill and reap any worker still running (the last resort after a crash)."""
    for worker in workers:
        if worker.status is None:
            worker.kill()
            with contextlib.suppress(ChildProcessError):
                worker.status = os.waitpid(worker.pid, 0)[1]
        worker.sock.close()


def _child(main: WorkerMain, sock: socket.socket) -> None:  # pragma: no cover
    """The whole life of a worker process."""
    code = 0
    try:
        # Ctrl-C reaches the whole process group; only the parent decides
        # when a worker stops (SIGTERM), so it never gets two stop requests.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # SIGTERM is the parent's stop request, even if the parent ignores it;
        # run() acts on the first one only, so a process group's adds nothing.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from awaitkit.core._runner import run
        from awaitkit.core.errors import Terminated

        with contextlib.suppress(Terminated):  # stopped by the parent, cleanly
            run(main(sock), stop_on_sigterm=True)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            sys.stderr.flush()
        os._exit(code)


async def drive_worker(
    worker: Worker,
    take: Callable[[], Awaitable[Sequence[Any] | None]],
    on_reply: Callable[[Any], Hashable],
    on_orphans: Callable[[list[Hashable], WorkerDied], object],
    *,
    stop_wait: float = 30.0,
    ident: Callable[[Any], Hashable] | None = None,
) -> None:
    """Feed ``worker`` the blocks of ``take()`` and pass on its replies until it ends.

    ``take()`` returns the next block of items (JSON values) or ``None``
    when there are no more; the worker is then told so (end of its input)
    and finishes.  An item is known by ``ident(item)`` (by default the item
    itself, which must then be hashable); ``on_reply`` gets each reply and
    returns that of the item it answers.  If the worker ends on its own before its
    input did, or leaving items unanswered, ``on_orphans`` is called once
    with those items' idents (possibly none) and the :class:`WorkerDied` error.

    Cancelled, the worker gets its stop request and ``stop_wait`` seconds to
    finish what it holds (its replies still count), then is killed; the
    cancellation then goes on.  Its unanswered items are not reported: a
    stopped batch only counts what it finished.  An error from ``take()``
    is raised once the worker has finished and been reaped.
    """
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(sock=worker.sock)
    sent: collections.Counter[Hashable] = collections.Counter()
    input_done = False

    async def feed() -> None:
        nonlocal input_done
        try:
            while (block := await take()) is not None:
                sent.update(block if ident is None else map(ident, block))
                writer.write(encode_frame(list(block)))
                await writer.drain()
            input_done = True
        except ConnectionError:
            return  # the worker is gone: the collector sees it too
        finally:
            # No more input (or it failed, raised once the worker has
            # finished what it holds): the worker finishes and ends.
            with contextlib.suppress(OSError, RuntimeError):
                writer.write_eof()

    async def collect() -> None:
        async for frame in read_frames(reader):
            for reply in frame:
                item = on_reply(reply)
                left = sent[item] - 1
                if left > 0:
                    sent[item] = left
                else:
                    sent.pop(item, None)
            # A frame a turn: reading a buffered frame does not suspend, so
            # a backlog of them (128 KiB, thousands of replies) would
            # otherwise be handled in one long step of the loop.
            await asyncio.sleep(0)

    feeder = asyncio.create_task(feed())
    # The collector is never cancelled: a frame read half-way would be lost.
    collector = asyncio.create_task(collect())
    try:
        try:
            await asyncio.shield(collector)
        except asyncio.CancelledError:
            # Our batch is stopping: so does the worker; what it finishes
            # meanwhile still counts.  It gets no more input (and the end of
            # it, should it miss the signal).
            feeder.cancel()
            worker.request_stop()
            try:
                async with asyncio.timeout(stop_wait):
                    await asyncio.shield(collector)
            except TimeoutError:
                worker.kill()
                await asyncio.shield(collector)
            raise
    finally:
        feeder.cancel()
        # wait(), not ``await feeder``: the feeder's own cancellation is not
        # raised here, so a CancelledError caught here is always this task's
        # (its caller's), and it is raised again once the worker is reaped.
        cancelled = False
        while not feeder.done():
            try:
                await asyncio.wait([feeder])
            except asyncio.CancelledError:
                cancelled = True
        writer.close()
        worker.status = await asyncio.shield(
            loop.run_in_executor(None, _wait_status, worker.pid)
        )
        if cancelled:
            raise asyncio.CancelledError
    failure = None if feeder.cancelled() else feeder.exception()
    cut_short = not input_done and failure is None
    if not (worker.stop_requested or _cancelling()) and (sent or cut_short):
        died = WorkerDied(worker.name, worker.pid, worker.status)
        on_orphans(list(sent.elements()), died)
    if failure is not None:
        raise failure


def _cancelling() -> int:
    task = asyncio.current_task()
    return 0 if task is None else task.cancelling()


def _wait_status(pid: int) -> int:
    return os.waitpid(pid, 0)[1]
