"""Web Mojifinder: ours (``create_app``) against the book's FastAPI design.

Both run on the same uvicorn settings (uvloop, httptools, no access log),
one worker, in a child process that samples its own event-loop lag with
``awaitkit.core.LagMonitor`` and prints it on SIGTERM.  ``wrk -c 50`` drives:

* ``/search?q=cat%20face`` (10 results): goal >= 2x the book's req/s;
* ``/search?q=sign&limit=all`` (the whole list, ~4,500 results with CLDR
  emoji names; the book's ``sign`` returns 3,358): goal >= 10x;
* the same ``cat face`` on ``awaitkit serve web --workers 2`` against one
  worker, to show the multi-process scale-out (no goal: 2 shared cores).

    uv run python bench/bench_web.py [--rounds 3] [--quick]
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, main_for, median, per_round_ratios
from _peers import free_port, spawn_reporting, stop_for_report, wait_port, wrk

DEFAULT_ROUNDS = 3
CAT_FACE = "/search?q=cat%20face"
SIGN_ALL = {"ours": "/search?q=sign&limit=all", "book": "/search?q=sign"}
BASELINES = Path(__file__).parent / "baselines"
# A private index cache, so the benchmark never trips on a stale user cache.
CACHE = Path(tempfile.gettempdir(), "awaitkit-bench-cache")


def _wait_http(url: str, timeout: float = 60) -> None:
    """Until ``url`` answers 200: worker processes start after the port listens."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def _env() -> dict[str, str]:
    return {**os.environ, "AWAITKIT_CACHE_DIR": str(CACHE), "PYTHONUNBUFFERED": "1"}


def _start(kind: str, port: int) -> subprocess.Popen[str]:
    proc = spawn_reporting(__file__, kind, port, _env())
    _wait_http(f"http://127.0.0.1:{port}{CAT_FACE}")
    return proc


def _workers(port: int, n: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "awaitkit",
            "--log-level",
            "WARNING",
            "serve",
            "web",
            "--port",
            str(port),
            "--workers",
            str(n),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    wait_port(port, timeout=60)
    for _ in range(4 * n):  # reach every worker (the kernel spreads connections)
        _wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def run(rounds: int, quick: bool) -> list[Row]:
    """Interleave ours and the book's, round by round; rows of medians."""
    duration = 3 if quick else 10
    rounds = 1 if quick else rounds
    figures: dict[str, list[float]] = {}
    lag: dict[str, list[float]] = {"ours": [], "book": []}

    def note(key: str, value: float) -> None:
        figures.setdefault(key, []).append(value)

    for _ in range(rounds):
        for kind in ("ours", "book"):
            port = free_port()
            proc = _start(kind, port)
            try:
                base = f"http://127.0.0.1:{port}"
                wrk(base + CAT_FACE, duration=1)  # warm-up: caches, JIT-free paths
                cat = wrk(base + CAT_FACE, duration=duration)
                sign = wrk(base + SIGN_ALL[kind], duration=duration)
            finally:
                report = stop_for_report(proc)
            note(f"{kind} cat rps", cat.requests_per_s)
            note(f"{kind} cat p99", cat.p99_ms)
            note(f"{kind} sign rps", sign.requests_per_s)
            note(f"{kind} sign p99", sign.p99_ms)
            note(f"{kind} errors", cat.errors + sign.errors)
            lag[kind].append(report.get("p99_ms", float("nan")))
        port = free_port()
        proc = _workers(port, 2)
        try:
            base = f"http://127.0.0.1:{port}"
            wrk(base + CAT_FACE, duration=1)
            note(
                "workers2 cat rps",
                wrk(base + CAT_FACE, duration=duration).requests_per_s,
            )
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)

    def m(key: str) -> float:
        return median(figures[key])

    def ratios(key: str) -> list[float]:
        return per_round_ratios(
            figures[f"ours {key}"], figures[f"book {key}"], higher_is_better=True
        )

    errors = f"errors ours {m('ours errors'):.0f} / book {m('book errors'):.0f}"
    return [
        Row("web", "cat face req/s (1 worker)", m("ours cat rps"), "book", m("book cat rps"),
            "req/s", higher_is_better=True, goal=2.0, round_ratios=ratios("cat rps"),
            note=f"p99 {m('ours cat p99'):.1f} vs {m('book cat p99'):.1f} ms"),
        Row("web", "sign, full list req/s", m("ours sign rps"), "book", m("book sign rps"),
            "req/s", higher_is_better=True, goal=10.0, round_ratios=ratios("sign rps"),
            note=f"p99 {m('ours sign p99'):.1f} vs {m('book sign p99'):.1f} ms; {errors}"),
        Row("web", "cat face req/s, --workers 2", m("workers2 cat rps"), "ours 1 worker",
            m("ours cat rps"), "req/s", higher_is_better=True,
            round_ratios=per_round_ratios(figures["workers2 cat rps"], figures["ours cat rps"],
                                          higher_is_better=True)),
        Row("web", "loop lag p99 under wrk", median(lag["ours"]), "book", median(lag["book"]),
            "ms", note="LagMonitor in the server process"),
    ]  # fmt: skip


# -- child process: one server with a lag monitor ---------------------------


def _serve(kind: str, port: int) -> None:
    import asyncio
    import dataclasses
    import importlib

    from awaitkit.core import LagMonitor, bind_tcp, run as run_loop
    from awaitkit.servers import serving_web

    if kind == "ours":
        from awaitkit.find import load_index
        from awaitkit.servers import create_app
        from awaitkit.servers._heap import settle_heap

        app: Any = create_app(load_index())
        settle_heap()  # as `awaitkit serve web` does
    else:
        sys.path.insert(0, str(BASELINES))
        app = importlib.import_module("book_web").app

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with (
            LagMonitor() as lag,
            serving_web(app, bind_tcp("127.0.0.1", port), http="httptools"),
        ):
            await stop.wait()
        print(json.dumps(dataclasses.asdict(lag.report())))

    run_loop(main())


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        _serve(sys.argv[2], int(sys.argv[3]))
    else:
        main_for(run, DEFAULT_ROUNDS)
