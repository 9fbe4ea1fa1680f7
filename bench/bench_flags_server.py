"""Flags server: requests/s for one flag GIF against nginx, and the concurrent-delay figure.

Rows:
* ``GIF req/s``: ``wrk -c 50 -d 10s`` on one flag GIF (the median size),
  ours (one process, uvloop) against nginx (1 worker, the bench-recipes
  configuration) serving the same bytes exported with ``--export``;
  interleaved rounds, goal >= 0.3x nginx.
* ``GIF req/s, 100 rules``: the same with ``--rules`` holding 100 rules
  (globs, regexes, exact paths, header matches) for other paths and one
  that matches the GIF (it adds a header), so every request is counted,
  matched and decorated; goal >= 0.5x nginx.
* ``1000 x 0.5 s``: wall time for 1,000 concurrent aiohttp requests to a
  server that delays every response 0.5 s, ours against the book's design
  (``baselines/flags_book_server.py``: ``ThreadingHTTPServer`` + ``time.sleep``);
  the ideal is 0.5 s.
* ``loop lag p99``: the server run in-process (uvloop, in a thread) under the
  same wrk load, sampled with ``LagMonitor`` (informational: no peer).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, interleave, main_for, per_round_ratios
from _peers import free_port, serving_nginx, serving_process, wrk

DEFAULT_ROUNDS = 3
ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def serving_ours(*args: str) -> Iterator[str]:
    """``awaitkit serve flags`` in its own process (as users run it); yield its URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "awaitkit",
            "--log-level",
            "WARNING",
            "serve",
            "flags",
            "--port",
            "0",
            *args,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("serving "):
            raise RuntimeError(f"server did not start: {line!r}")
        yield line.split(" on ")[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def serving_book(root: Path, delay: float) -> Iterator[str]:
    """The book's design: a thread per request that sleeps, then serves the file."""
    port = free_port()
    script = Path(__file__).parent / "baselines" / "flags_book_server.py"
    with serving_process(
        [sys.executable, str(script), str(port), str(root), str(delay)],
        port,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as url:
        yield url


def lag_under_load(url_path: str, duration: float) -> float:
    """p99 loop lag (ms) of an in-process server, on uvloop in a thread, under wrk."""
    import threading

    from awaitkit.core import LagMonitor, run as run_async
    from awaitkit.flags import FlagsServer

    ready = threading.Event()
    box: dict[str, object] = {}

    async def serve() -> float:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        async with FlagsServer() as server, LagMonitor() as monitor:
            box["url"] = server.base_url
            box["stop"] = lambda: loop.call_soon_threadsafe(stop.set)
            ready.set()
            await stop.wait()
            return monitor.report().p99_ms

    def target() -> None:
        box["p99"] = run_async(serve())

    thread = threading.Thread(target=target)
    thread.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("in-process server did not start")
        wrk(f"{box['url']}{url_path}", connections=50, duration=duration)
    finally:
        if "stop" in box:
            box["stop"]()  # type: ignore[operator]
        thread.join(30)
    return float(box["p99"])  # type: ignore[arg-type]


def median_flag() -> tuple[str, int]:
    """The code and size of the median-size flag GIF."""
    from awaitkit.flags import build_dataset, country_codes

    files = build_dataset()
    sizes = sorted(
        (len(files[f"flags/{cc.lower()}/{cc.lower()}.gif"].body), cc.lower())
        for cc in country_codes()
    )
    size, cc = sizes[len(sizes) // 2]
    return cc, size


async def concurrent_gets(url: str, n: int) -> float:
    """Seconds for ``n`` concurrent GETs of ``url`` (one aiohttp session, n connections)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=n)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> None:
            async with session.get(url) as resp:
                await resp.read()
                resp.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - start


def write_rules(path: Path, hit: str) -> Path:
    """100 rules that miss ``hit`` (of every kind), then one that matches it."""
    lines = []
    for i in range(100):
        kind = i % 4
        if kind == 0:
            match = f'path = "/other/{i}/*.gif"'
        elif kind == 1:
            match = f'path = "re:^/api/v{i}/\\\\d+$"'
        elif kind == 2:
            match = f'path = "/exact/{i}"'
        else:
            match = f'path = "/flags/*"\nheaders = {{ "x-client-id" = "bench-{i}-*" }}'
        lines.append(f"[[rule]]\n{match}\nstatus = 503\n")
    lines.append(
        f'[[rule]]\npath = "{hit}"\nresponse_headers = {{ "X-Rule" = "hit" }}\n'
    )
    path.write_text("\n".join(lines))
    return path


def run(rounds: int, quick: bool) -> list[Row]:
    from awaitkit.core import run as run_async
    from awaitkit.flags import export_dataset

    duration = 3 if quick else 10
    n_delayed = 200 if quick else 1000
    cc, size = median_flag()
    path = f"/flags/{cc}/{cc}.gif"
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="awaitkit-flags-") as tmp:
        root = export_dataset(Path(tmp) / "www")
        with serving_ours() as ours_url, serving_nginx(root) as nginx_url:
            for url in (ours_url, nginx_url):  # warm both up
                wrk(url + path, duration=1)

            def case(url: str) -> float:
                result = wrk(url + path, connections=50, duration=duration)
                if result.errors:
                    raise RuntimeError(f"wrk saw {result.errors} errors on {url}")
                return result.requests_per_s

            got = interleave(
                {"ours": lambda: case(ours_url), "nginx": lambda: case(nginx_url)},
                rounds,
            )
        rules_file = write_rules(Path(tmp) / "rules.toml", path)
        with (
            serving_ours("--rules", str(rules_file)) as ours_url,
            serving_nginx(root) as nginx_url,
        ):
            for url in (ours_url, nginx_url):
                wrk(url + path, duration=1)
            got_rules = interleave(
                {"ours": lambda: case(ours_url), "nginx": lambda: case(nginx_url)},
                rounds,
            )
        rows.append(
            Row(
                "flags_server",
                f"GIF req/s ({size // 1000} KB, -c 50)",
                statistics.median(got["ours"]),
                "nginx 1 worker",
                statistics.median(got["nginx"]),
                "req/s",
                higher_is_better=True,
                goal=0.3,
                round_ratios=per_round_ratios(
                    got["ours"], got["nginx"], higher_is_better=True
                ),
            )
        )
        rows.append(
            Row(
                "flags_server",
                "GIF req/s, 100 rules loaded (-c 50)",
                statistics.median(got_rules["ours"]),
                "nginx 1 worker",
                statistics.median(got_rules["nginx"]),
                "req/s",
                higher_is_better=True,
                goal=0.5,
                round_ratios=per_round_ratios(
                    got_rules["ours"], got_rules["nginx"], higher_is_better=True
                ),
            )
        )
        with (
            serving_ours("--delay", "0.5") as ours_url,
            serving_book(root, 0.5) as book_url,
        ):
            delayed = interleave(
                {
                    "ours": lambda: run_async(
                        concurrent_gets(ours_url + path, n_delayed)
                    ),
                    "book": lambda: run_async(
                        concurrent_gets(book_url + path, n_delayed)
                    ),
                },
                rounds,
            )
    lags = [lag_under_load(path, duration) for _ in range(rounds)]
    rows.append(
        Row(
            "flags_server",
            "loop lag p99 under wrk -c 50",
            statistics.median(lags),
            "(none)",
            float("nan"),
            "ms",
            note="server saturated, 2 wrk threads on the same cores",
        )
    )
    rows.append(
        Row(
            "flags_server",
            f"{n_delayed} x 0.5 s delay, concurrent",
            statistics.median(delayed["ours"]),
            "book (threads+sleep)",
            statistics.median(delayed["book"]),
            "s",
            note=f"ideal 0.5 s; ours/ideal {statistics.median(delayed['ours']) / 0.5:.2f}",
            round_ratios=per_round_ratios(
                delayed["ours"], delayed["book"], higher_is_better=False
            ),
        )
    )
    return rows


if __name__ == "__main__":
    main_for(run, DEFAULT_ROUNDS)
