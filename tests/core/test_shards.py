"""The worker runner and its framing: frames fed as bytes, workers really forked.

Forking pytest (which runs threads) is refused, so the runs with real
workers happen in a fresh interpreter, as the CLI runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
import subprocess
import sys
import threading

import pytest

from awaitkit.core import (
    WorkerDied,
    describe_status,
    encode_frame,
    fork_workers,
    read_frames,
)
from awaitkit.core._frames import MAX_FRAME

pytestmark = pytest.mark.anyio


# -- frames ----------------------------------------------------------------------


async def frames_of(data: bytes) -> list[object]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return [frame async for frame in read_frames(reader)]


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


async def test_frames_round_trip() -> None:
    blocks = [["a", 1, None], [], [{"url": "http://h/\u00e9"}]]
    data = b"".join(encode_frame(block) for block in blocks)
    assert await frames_of(data) == blocks


async def test_a_cut_frame_is_the_end_not_an_error() -> None:
    assert await frames_of(frame(b'["a"]') + frame(b'["b"]')[:-1]) == [["a"]]
    assert await frames_of(b"\x00\x00") == []  # cut inside the length
    assert await frames_of(b"") == []


async def test_frames_refuse_oversized_malformed_and_non_list_payloads() -> None:
    """A frame that is not a list of JSON, or is too large, is an error."""
    with pytest.raises(ValueError, match="frame of"):
        await frames_of(struct.pack(">I", MAX_FRAME + 1))
    with pytest.raises(ValueError, match="not a list"):
        await frames_of(frame(b'{"a": 1}'))
    with pytest.raises(json.JSONDecodeError):
        await frames_of(frame(b"[not json"))
    with pytest.raises(UnicodeDecodeError):
        await frames_of(frame(b'["\xff"]'))


# -- refusing to fork ------------------------------------------------------------


async def _never(sock: object) -> None:  # pragma: no cover - never forked
    raise AssertionError("forked")


def test_fork_refused_with_other_threads_running_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with caplog.at_level(logging.WARNING, logger="awaitkit.core._shards"):
            assert fork_workers([_never, _never]) == []
    finally:
        stop.set()
        thread.join()
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.name == "awaitkit.core._shards"
    assert "forking refused" in record.getMessage()
    assert "one process" in record.getMessage()


def test_a_failed_fork_says_so_and_forks_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_fork() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(os, "fork", no_fork)
    with caplog.at_level(logging.WARNING, logger="awaitkit.core._shards"):
        assert fork_workers([_never]) == []
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "fork failed ([Errno 11] Resource temporarily unavailable)" in (
        record.getMessage()
    )


def test_no_workers_asked_for_is_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert fork_workers([]) == []
    assert not caplog.records


def test_worker_died_names_the_process_and_how_it_ended() -> None:
    assert describe_status(3 << 8) == "exit status 3"
    assert describe_status(9) == "killed by SIGKILL"
    died = WorkerDied("download", 1234, 9)
    assert str(died) == "download process 1234 ended (killed by SIGKILL)"
    assert (died.pid, died.status) == (1234, 9)


# -- real workers, in a fresh interpreter ------------------------------------------

PRELUDE = """
import asyncio, os, signal, sys
from awaitkit.core import (
    drive_worker, encode_frame, fork_workers, read_frames, reap_workers, run,
)

async def echo(sock):
    reader, writer = await asyncio.open_connection(sock=sock)
    async for frame in read_frames(reader):
        if "die" in frame:
            os._exit(3)
        writer.write(encode_frame([f"done:{x}" for x in frame]))
        await writer.drain()
    writer.close()

def answered(reply):
    return reply.split(":", 1)[1]
"""


def run_script(body: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + body],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout.splitlines()


ECHO_AND_DEATH = """
workers = fork_workers([echo, echo], name="echo")
assert len(workers) == 2, workers
blocks = [[["a", "b"], ["c", "a"]], [["x"], ["y", "die", "y"]]]
replies, orphans = [], []

async def one(worker, queue):
    async def take():
        await asyncio.sleep(0)
        return queue.pop(0) if queue else None
    def on_reply(reply):
        replies.append(reply)
        return answered(reply)
    await drive_worker(worker, take, on_reply,
                       lambda items, died: orphans.append((sorted(items), str(died))))

async def main():
    async with asyncio.TaskGroup() as tg:
        for worker, queue in zip(workers, blocks):
            tg.create_task(one(worker, queue))

run(main())
print(sorted(replies))
print(orphans == [(["die", "y", "y"], f"echo process {workers[1].pid} ended (exit status 3)")])
print([os.waitstatus_to_exitcode(w.status) for w in workers])
reap_workers(workers)
"""


def test_replies_pass_through_and_a_dead_workers_items_come_back_once() -> None:
    """Every reply reaches the caller; what a dead worker held is reported once."""
    out = run_script(ECHO_AND_DEATH)
    assert out == [
        "['done:a', 'done:a', 'done:b', 'done:c', 'done:x']",
        "True",
        "[0, 3]",
    ]


STOP = """
async def slow(sock):
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        async for frame in read_frames(reader):
            for item in frame:
                writer.write(encode_frame([f"started:{item}"]))
                await asyncio.sleep(3600)
    except asyncio.CancelledError:  # the stop request: say so, then stop
        writer.write(encode_frame(["stopped:b"]))
        await writer.drain()
        raise

(worker,) = fork_workers([slow])
replies, orphans = [], []

async def main():
    blocks = [["a", "b"]]
    async def take():
        return blocks.pop() if blocks else None
    def on_reply(reply):
        replies.append(reply)
        return answered(reply)
    task = asyncio.create_task(
        drive_worker(worker, take, on_reply, lambda *a: orphans.append(a))
    )
    while not replies:
        await asyncio.sleep(0.01)
    task.cancel()
    worker.request_stop()  # a second request, as from a second Ctrl-C: no effect
    try:
        await task
    except asyncio.CancelledError:
        print("cancelled")

run(main())
print(replies, orphans, worker.stop_requested)
print(os.waitstatus_to_exitcode(worker.status))
"""


def test_cancelled_the_worker_is_asked_to_stop_once_and_its_last_replies_count() -> (
    None
):
    """Cancelling the driver stops the worker cleanly; the cancellation goes on."""
    out = run_script(STOP)
    assert out == [
        "cancelled",
        "['started:a', 'stopped:b'] [] True",
        "0",  # stopped by its one request (Terminated), not killed
    ]


CANCEL_IN_CLEAN_UP = """
async def quits(sock):
    return  # ends at once: the driver goes straight to its clean-up

(worker,) = fork_workers([quits])

async def main():
    release, cleaning = asyncio.Event(), asyncio.Event()
    async def take():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cleaning.set()  # the driver is cancelling its feeder
            await release.wait()
            raise
    orphans = []
    task = asyncio.create_task(
        drive_worker(worker, take, lambda r: r, lambda *a: orphans.append(a))
    )
    await cleaning.wait()
    task.cancel()  # aimed at the driver's caller, while it waits for the feeder
    await asyncio.sleep(0.01)
    release.set()
    try:
        await task
        print("returned")
    except asyncio.CancelledError:
        print("cancelled")
    print(orphans, worker.status is not None)

run(main())
"""


def test_a_cancel_during_the_clean_up_is_not_swallowed() -> None:
    """The caller's cancellation, arriving while the feeder is being cancelled,
    still reaches it (once the worker is reaped)."""
    out = run_script(CANCEL_IN_CLEAN_UP)
    assert out == ["cancelled", "[] True"]
