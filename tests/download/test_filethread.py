"""``FileThread``: blocking file work in one thread, in order, results handed back in batches."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from awaitkit.download._files import write_whole
from awaitkit.download._filethread import FileThread

pytestmark = pytest.mark.anyio


async def test_runs_in_order_in_one_other_thread() -> None:
    seen: list[tuple[int, int]] = []

    def record(i: int) -> int:
        seen.append((i, threading.get_ident()))
        return i * i

    # 64, not more: in debug mode each future records its stack as it is
    # made, and making hundreds in one step holds the loop past the bar.
    async with FileThread() as files:
        results = await asyncio.gather(*(files.run(record, i) for i in range(64)))
    assert results == [i * i for i in range(64)]
    assert [i for i, _ in seen] == list(range(64))
    idents = {ident for _, ident in seen}
    assert len(idents) == 1
    assert idents != {threading.get_ident()}


async def test_an_exception_reaches_its_caller_only() -> None:
    def fail() -> None:
        raise PermissionError("no")

    async with FileThread() as files:
        bad = files.run(fail)
        good = files.run(lambda: "fine")
        with pytest.raises(PermissionError, match="no"):
            await bad
        assert await good == "fine"
        assert files.pending == 0


async def test_the_loop_keeps_running_while_the_thread_blocks() -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async with FileThread() as files:
        ticker = asyncio.create_task(tick())
        await files.run(time.sleep, 0.3)
        ticker.cancel()
    assert ticks >= 10


async def test_a_cancelled_caller_does_not_stop_a_started_write(tmp_path: Path) -> None:
    started = threading.Event()

    def slow_write() -> None:
        started.set()
        time.sleep(0.1)
        write_whole(tmp_path / ".f.part", b"x" * 1000)
        os.rename(tmp_path / ".f.part", tmp_path / "f")

    async with FileThread() as files:
        waiter = asyncio.ensure_future(files.run(slow_write))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    # aclose() waited: the write is whole, under its final name, no .part left.
    assert os.listdir(tmp_path) == ["f"]
    assert (tmp_path / "f").read_bytes() == b"x" * 1000


def _write_named(folder: Path, name: str, body: bytes) -> None:
    write_whole(folder / f".{name}.part", body)
    os.rename(folder / f".{name}.part", folder / name)


async def test_aclose_finishes_queued_work_even_when_cancelled(tmp_path: Path) -> None:
    files = FileThread()
    files.start()
    for i in range(50):
        files.run(_write_named, tmp_path, str(i), b"y" * 100)
    closing = asyncio.ensure_future(files.aclose())
    await asyncio.sleep(0)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    # The shielded join still completes; wait for the thread to end.
    deadline = time.monotonic() + 5
    while any(t.name == files.name for t in threading.enumerate()):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert sorted(os.listdir(tmp_path), key=int) == [str(i) for i in range(50)]


async def test_results_come_back_while_the_thread_stays_busy() -> None:
    """A long queue does not hold back the results of operations already done."""
    async with FileThread() as files:
        first = files.run(lambda: "first")
        rest = [files.run(time.sleep, 0.002) for _ in range(200)]  # >= 0.4 s of work
        async with asyncio.timeout(5):
            assert await first == "first"
        assert not rest[-1].done()
        await asyncio.gather(*rest)


async def test_run_needs_a_started_thread() -> None:
    files = FileThread()
    with pytest.raises(RuntimeError, match="not running"):
        files.run(print)
    await files.aclose()  # closing a thread never started is fine
    assert "stopped" in repr(files)


async def test_a_result_nobody_awaits_any_more_is_disposed_of() -> None:
    gate = threading.Event()
    disposed: list[str] = []
    async with FileThread() as files:
        files.run(gate.wait, 10)
        opened = files.run(lambda: "handle", dispose=disposed.append)
        kept = files.run(lambda: "kept", dispose=disposed.append)
        opened.cancel()  # as when the awaiting task is cancelled
        gate.set()
        assert await kept == "kept"
        await files.run(lambda: None)  # the disposal queued behind has run
    assert disposed == ["handle"]
