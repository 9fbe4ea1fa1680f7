"""``LoopBatchHandler``: one log line per query, written once per loop iteration."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from awaitkit.core import bind_tcp
from awaitkit.find import CharIndex
from awaitkit.servers import TcpServer
from awaitkit.servers._logging import LoopBatchHandler, _SecondsCachedFormatter
from awaitkit.servers._protocol import PROMPT
from tests.servers.test_cli import running, stop, tcp_query

pytestmark = pytest.mark.anyio

QUERIES = ("cat face", "cat", "face", "grinning cat")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class CountingStream(io.StringIO):
    """A StringIO that counts ``write`` calls."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@contextlib.contextmanager
def batched(name: str) -> Iterator[tuple[LoopBatchHandler, CountingStream]]:
    """Route logger ``name`` at INFO through a LoopBatchHandler into a string."""
    stream = CountingStream()
    target = logging.StreamHandler(stream)
    target.setFormatter(logging.Formatter(FORMAT))
    handler = LoopBatchHandler(target)
    logger = logging.getLogger(name)
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False  # pytest's capture handler raises on a bad record
    logger.addHandler(handler)
    try:
        yield handler, stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        handler.close()


async def test_one_write_per_loop_iteration() -> None:
    log = logging.getLogger("test.logbatch.iteration")
    with batched(log.name) as (handler, stream):
        for n in range(3):
            log.info("record %d of %r", n, "three")
        assert stream.getvalue() == ""  # nothing formatted or written yet
        assert "pending=3" in repr(handler)
        await asyncio.sleep(0)
        lines = stream.getvalue().splitlines()
        assert stream.writes == 1
        assert [line.split(": ", 1)[1] for line in lines] == [
            f"record {n} of 'three'" for n in range(3)
        ]
        assert all(" INFO test.logbatch.iteration: " in line for line in lines)


def test_record_without_a_loop_is_written_at_once() -> None:
    log = logging.getLogger("test.logbatch.thread")
    with batched(log.name) as (_, stream):
        log.info("from the main thread")
        worker = threading.Thread(target=log.info, args=("from a worker",))
        worker.start()
        worker.join(10)
        assert stream.getvalue().count("\n") == 2
        assert stream.writes == 2


async def test_threads_and_the_loop_logging_at_once_lose_nothing() -> None:
    log = logging.getLogger("test.logbatch.threads")
    per_thread, threads = 400, 4
    with batched(log.name) as (_, stream):

        def worker(n: int) -> None:
            for i in range(per_thread):
                log.info("thread %d line %d", n, i)

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for thread in workers:
            thread.start()
        for i in range(per_thread):
            log.info("loop line %d", i)
            if i % 50 == 0:
                await asyncio.sleep(0)
        for thread in workers:
            thread.join(30)
        await asyncio.sleep(0)
    lines = [line.split(": ", 1)[1] for line in stream.getvalue().splitlines()]
    assert len(lines) == (threads + 1) * per_thread
    assert len(set(lines)) == len(lines)
    for n in range(threads):  # each thread's lines in its own order
        mine = [line for line in lines if line.startswith(f"thread {n} ")]
        assert mine == [f"thread {n} line {i}" for i in range(per_thread)]
    loop_lines = [line for line in lines if line.startswith("loop ")]
    assert loop_lines == [f"loop line {i}" for i in range(per_thread)]


def test_a_new_loop_on_the_same_thread_gets_its_own_flush() -> None:
    """A flush left pending on a stopped loop must not hold the next loop's lines."""
    log = logging.getLogger("test.logbatch.loops")
    with batched(log.name) as (_, stream):
        first = asyncio.new_event_loop()
        first.call_soon(log.info, "from the first loop")
        first.call_soon(first.stop)  # before the flush that info() scheduled
        first.run_forever()
        assert stream.getvalue() == ""

        async def second() -> str:
            log.info("from the second loop")
            await asyncio.sleep(0)
            return stream.getvalue()

        written = asyncio.run(second())
        first.close()
    assert [line.split(": ", 1)[1] for line in written.splitlines()] == [
        "from the first loop",
        "from the second loop",
    ]


async def test_bad_record_does_not_lose_the_others() -> None:
    log = logging.getLogger("test.logbatch.bad")
    with (
        batched(log.name) as (_, stream),
        contextlib.redirect_stderr(io.StringIO()) as errors,
    ):
        log.info("fine %d", 1)
        log.info("broken %d", "not a number")
        log.info("fine %d", 2)
        await asyncio.sleep(0)
    assert [line.split(": ", 1)[1] for line in stream.getvalue().splitlines()] == [
        "fine 1",
        "fine 2",
    ]
    assert "--- Logging error ---" in errors.getvalue()


def test_cached_asctime_matches_the_stock_formatter() -> None:
    for datefmt in (None, "%H:%M:%S"):
        stock = logging.Formatter(FORMAT, datefmt)
        cached = _SecondsCachedFormatter(logging.Formatter(FORMAT, datefmt))
        for created in (1.25, 1.5, 1.999, 2.0, 2.001, 3600.75, 1.5):
            record = logging.makeLogRecord({"msg": "m", "levelno": 20})
            record.created = created
            record.msecs = (created - int(created)) * 1000
            assert cached.format(record) == stock.format(record)


async def test_every_query_yields_one_info_line(index: CharIndex) -> None:
    clients, queries = 5, 7
    with batched("awaitkit.servers.tcp") as (_, stream):
        async with TcpServer(index, bind_tcp("127.0.0.1", 0)) as server:

            async def client(n: int) -> None:
                reader, writer = await asyncio.open_connection(server.host, server.port)
                async with asyncio.timeout(10):
                    await reader.readuntil(PROMPT)
                    for _ in range(queries):
                        writer.write(f"cat face {n}\r\n".encode())
                        await reader.readuntil(PROMPT)
                writer.close()
                await writer.wait_closed()

            async with asyncio.TaskGroup() as tg:
                for n in range(clients):
                    tg.create_task(client(n))
        await asyncio.sleep(0)  # the iteration's flush
    lines = stream.getvalue().splitlines()
    for n in range(clients):
        mine = [line for line in lines if f" query 'cat face {n}': " in line]
        assert len(mine) == queries
        assert all(" INFO awaitkit.servers.tcp: 127.0.0.1:" in line for line in mine)
    assert sum(" query " in line for line in lines) == clients * queries
    assert sum(" close " in line for line in lines) == clients


def test_lines_pending_when_the_loop_stops_are_written_at_exit(
    tmp_path: Path,
) -> None:
    """The flush scheduled on a loop that never runs again is not needed."""
    script = textwrap.dedent(
        """
        import asyncio, logging, sys
        from awaitkit.servers._serve import LoopBatchHandler, lean_logging
        logging.basicConfig(level="INFO", stream=sys.stderr, format="%(message)s")
        lean_logging()
        assert isinstance(logging.getLogger().handlers[0], LoopBatchHandler)
        loop = asyncio.new_event_loop()
        def burst():
            for n in range(500):
                logging.getLogger("burst").info("line %d", n)
            loop.stop()  # the flush callback is left in the queue
        loop.call_soon(burst)
        loop.run_forever()
        loop.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"line {n}" for n in range(500)]


def test_cli_logs_every_query_before_exit(find_cache: Path, index: CharIndex) -> None:
    with running(["serve", "tcp", "--port", "0"], find_cache) as (proc, [port]):
        for query in QUERIES:
            assert b"CAT FACE" in tcp_query(port, query.encode())
        status, _, err = stop(proc, signal.SIGTERM)
    assert status == 0, err
    for query in QUERIES:
        assert err.count(f" query {query!r}: ") == 1
    assert "shutting down" in err
