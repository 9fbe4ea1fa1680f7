"""TCP Mojifinder: ours (``TcpServer``) against the book's ``tcp_mojifinder.py``.

Each server runs in a child process that samples its own event-loop lag
with ``awaitkit.core.LagMonitor`` and prints it on SIGTERM.  Ours runs as
shipped (uvloop, INFO log line per query, to /dev/null); the book's as
written (stdlib loop, ``print`` per query, to /dev/null).

* throughput: 100 concurrent clients x 100 ``cat face`` queries, waiting for
  each reply: goal >= 2x the book's queries/s;
* memory: 20 clients each pipeline ``cjk`` (103,204 results) queries and
  never read; the server's RSS growth over the following seconds, against
  its RSS after one warm-up ``cjk``: goal "flat" (<= 20 MB);
* the same with ``--log-level WARNING`` (no log line per query), to show
  what stdlib logging costs per query (about a quarter of our CPU per query);
* server CPU seconds per query during that load (from /proc: steadier than
  queries/s when other processes share the cores);
* loop lag p99 under the throughput load.

    uv run python bench/bench_tcp.py [--rounds 3] [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, main_for, median, per_round_ratios
from _peers import free_port, spawn_reporting, stop_for_report

DEFAULT_ROUNDS = 3
PROMPT = b"?> "
BASELINES = Path(__file__).parent / "baselines"
CACHE = Path(tempfile.gettempdir(), "awaitkit-bench-cache")


def _start(kind: str, port: int) -> subprocess.Popen[str]:
    return spawn_reporting(
        __file__, kind, port, {**os.environ, "AWAITKIT_CACHE_DIR": str(CACHE)}
    )


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _client(port: int, queries: int, query: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
    try:
        await reader.readuntil(PROMPT)
        for _ in range(queries):
            writer.write(query)
            await reader.readuntil(PROMPT)
    finally:
        writer.close()


class _LoadClient(asyncio.Protocol):
    """Sends a query after each prompt, ``queries`` times; a lean load generator.

    A Protocol rather than streams, so the client's own CPU cost (it shares
    the two cores with the server) stays well below the server's.
    """

    def __init__(self, queries: int, query: bytes, done: asyncio.Future[None]) -> None:
        self.left = queries
        self.query = query
        self.done = done
        self.tail = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        chunk = self.tail + data
        self.tail = chunk[-2:]  # a prompt split across reads is counted once
        assert self.transport is not None
        for _ in range(chunk.count(PROMPT)):
            if self.left == 0:
                self.transport.close()
                if not self.done.done():
                    self.done.set_result(None)
                return
            self.left -= 1
            self.transport.write(self.query)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed early"))


async def _throughput(port: int, clients: int, queries: int) -> float:
    loop = asyncio.get_running_loop()
    done = [loop.create_future() for _ in range(clients)]
    start = time.perf_counter()
    for future in done:
        await loop.create_connection(
            lambda f=future: _LoadClient(queries, b"cat face\r\n", f), "127.0.0.1", port
        )
    async with asyncio.timeout(300):
        await asyncio.gather(*done)
    return clients * queries / (time.perf_counter() - start)


def _rss_growth(pid: int, port: int, seconds: float) -> float:
    """Peak RSS growth (MB) while 20 clients ask for `cjk` and never read."""
    from awaitkit.core import run as run_loop

    run_loop(_client(port, 1, b"cjk\r\n"))  # warm-up: index pages, caches
    base = _rss_mb(pid)
    hostile = []
    for _ in range(20):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # a full buffer is the point
            sock.send(b"cjk\r\n" * 50)
        hostile.append(sock)
    peak = base
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, _rss_mb(pid))
        time.sleep(0.1)
    for sock in hostile:
        sock.close()
    return peak - base


def run(rounds: int, quick: bool) -> list[Row]:
    """Interleave ours and the book's, round by round; rows of medians."""
    from awaitkit.core import run as run_loop

    rounds = 1 if quick else rounds
    clients, queries = (100, 20) if quick else (100, 100)
    watch = 3.0 if quick else 6.0
    figures: dict[str, list[float]] = {}
    for _ in range(rounds):
        for kind in ("ours", "quiet", "book"):
            port = free_port()
            proc = _start(kind, port)
            try:
                run_loop(_throughput(port, 10, 10))  # warm-up
                cpu = _cpu_s(proc.pid)
                qps = run_loop(_throughput(port, clients, queries))
                cpu = _cpu_s(proc.pid) - cpu
            finally:
                report = stop_for_report(proc)
            figures.setdefault(f"{kind} qps", []).append(qps)
            figures.setdefault(f"{kind} cpu", []).append(
                cpu / (clients * queries) * 1e6
            )
            figures.setdefault(f"{kind} lag", []).append(
                report.get("p99_ms", float("nan"))
            )
            if kind == "quiet":
                continue
            port = free_port()
            proc = _start(kind, port)
            try:
                growth = _rss_growth(proc.pid, port, watch)
            finally:
                stop_for_report(proc)
            figures.setdefault(f"{kind} rss", []).append(growth)

    def m(key: str) -> float:
        return median(figures[key])

    return [
        Row("tcp", f"{clients} clients x {queries} queries", m("ours qps"), "book",
            m("book qps"), "queries/s", higher_is_better=True, goal=2.0,
            round_ratios=per_round_ratios(figures["ours qps"], figures["book qps"],
                                          higher_is_better=True)),
        Row("tcp", "same, --log-level WARNING", m("quiet qps"), "book", m("book qps"),
            "queries/s", higher_is_better=True, goal=2.0,
            round_ratios=per_round_ratios(figures["quiet qps"], figures["book qps"],
                                          higher_is_better=True),
            note=f"no per-query log line; {m('quiet cpu'):.0f} us CPU/query"),
        Row("tcp", "server CPU per query", m("ours cpu"), "book", m("book cpu"), "us",
            round_ratios=per_round_ratios(figures["ours cpu"], figures["book cpu"],
                                          higher_is_better=False),
            note="less contention-sensitive than q/s"),
        Row("tcp", "RSS growth, 20 non-readers", m("ours rss"), "book", m("book rss"),
            "MB", note=f"goal: ours <= 20 MB over {watch:g} s"),
        Row("tcp", "loop lag p99 under load", m("ours lag"), "book", m("book lag"), "ms",
            note="LagMonitor in the server process"),
    ]  # fmt: skip


# -- child process: one server with a lag monitor ---------------------------


def _serve(kind: str, port: int) -> None:
    import dataclasses
    import functools
    import importlib
    import logging

    from awaitkit.core import LagMonitor, bind_tcp, run as run_loop

    report_to = sys.stdout
    stop = asyncio.Event()

    async def serve_until_term(server: Any) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with LagMonitor() as lag, server:
            await stop.wait()
        print(json.dumps(dataclasses.asdict(lag.report())), file=report_to, flush=True)

    if kind in ("ours", "quiet"):
        from awaitkit.find import load_index
        from awaitkit.servers import TcpServer
        from awaitkit.servers._heap import settle_heap
        from awaitkit.servers._logging import lean_logging

        # As `awaitkit serve tcp` logs: INFO, the CLI's format, lean records.
        logging.basicConfig(
            level="INFO" if kind == "ours" else "WARNING",
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        lean_logging()
        index = load_index()
        settle_heap()
        run_loop(serve_until_term(TcpServer(index, bind_tcp("127.0.0.1", port))))
    else:
        sys.path.insert(0, str(BASELINES))
        book_tcp: Any = importlib.import_module("book_tcp")

        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  # the book prints per query
        book_index = book_tcp.InvertedIndex()

        async def book_main() -> None:
            server = await asyncio.start_server(
                functools.partial(book_tcp.finder, book_index), "127.0.0.1", port
            )
            await serve_until_term(server)

        asyncio.run(book_main())  # the book's loop: stdlib asyncio


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        _serve(sys.argv[2], int(sys.argv[3]))
    else:
        main_for(run, DEFAULT_ROUNDS)
