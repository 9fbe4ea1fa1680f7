"""Proxy mode: requests/s of wrk through ``awaitkit serve faults`` in front of nginx.

Row:
* ``proxy GIF req/s``: ``wrk -c 50`` on one flag GIF (the median size) through
  ``awaitkit serve faults --upstream <nginx>`` (one process, uvloop, no faults),
  against the same nginx (1 worker, the bench-recipes configuration) asked
  directly; interleaved rounds, goal >= 0.4x nginx direct.  The proxy and
  nginx share the machine's cores with wrk, so the proxy's figure also pays
  for nginx's work behind it.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, interleave, main_for, per_round_ratios
from _peers import serving_nginx, wrk
from bench_flags_server import median_flag

DEFAULT_ROUNDS = 3
ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def serving_proxy(upstream: str, *args: str) -> Iterator[str]:
    """``awaitkit serve faults`` in its own process (as users run it); yield its URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "awaitkit",
            "--log-level",
            "ERROR",
            "serve",
            "faults",
            "--upstream",
            upstream,
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
        if not line.startswith("proxying "):
            raise RuntimeError(f"proxy did not start: {line!r}")
        yield line.split()[1]
    finally:
        proc.terminate()
        proc.wait(10)


def run(rounds: int, quick: bool) -> list[Row]:
    from awaitkit.flags import export_dataset

    duration = 3 if quick else 10
    cc, size = median_flag()
    path = f"/flags/{cc}/{cc}.gif"
    with tempfile.TemporaryDirectory(prefix="awaitkit-proxy-") as tmp:
        root = export_dataset(Path(tmp) / "www")
        with serving_nginx(root) as nginx_url, serving_proxy(nginx_url) as proxy_url:
            for url in (proxy_url, nginx_url):  # warm both up
                wrk(url + path, duration=1)

            def case(url: str) -> float:
                result = wrk(url + path, connections=50, duration=duration)
                if result.errors:
                    raise RuntimeError(f"wrk saw {result.errors} errors on {url}")
                return result.requests_per_s

            got = interleave(
                {
                    "proxy": lambda: case(proxy_url),
                    "nginx": lambda: case(nginx_url),
                },
                rounds,
            )
    return [
        Row(
            "faults_proxy",
            f"proxy GIF req/s ({size // 1000} KB, -c 50)",
            statistics.median(got["proxy"]),
            "nginx direct, 1 worker",
            statistics.median(got["nginx"]),
            "req/s",
            higher_is_better=True,
            goal=0.4,
            round_ratios=per_round_ratios(
                got["proxy"], got["nginx"], higher_is_better=True
            ),
        )
    ]


if __name__ == "__main__":
    main_for(run, DEFAULT_ROUNDS)
