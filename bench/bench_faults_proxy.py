"""Proxy mode: requests/s of wrk through ``awaitkit serve faults`` in front of nginx.

Row:
* ``proxy GIF req/s``: ``wrk -c 50`` on one flag GIF (the median size) through
  ``awaitkit serve faults --upstream <nginx>`` (one process, uvloop, no faults),
  against the same nginx (1 worker, the bench-recipes configuration) asked
  directly; interleaved rounds, goal >= 0.4x nginx direct.  The proxy and
  nginx share the machine's cores with wrk, so the proxy's figure also pays
  for nginx's work behind it.
* ``proxy CPU per request``: the proxy process's CPU time (user + system,
  from ``/proc``) over the requests wrk made in the proxy's rounds
  (informational, no peer: on a loaded machine req/s swing with the
  neighbours, the CPU a request costs much less).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, interleave, main_for, per_round_ratios
from _peers import serving_nginx, wrk
from _proxy_python import python_us_per_request
from bench_flags_server import median_flag

DEFAULT_ROUNDS = 3
ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serving_proxy(upstream: str, *args: str) -> Iterator[tuple[str, int]]:
    """``awaitkit serve faults`` in its own process (as users run it); yield its
    URL and process id."""
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
        yield line.split()[1], proc.pid
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
        with (
            serving_nginx(root) as nginx_url,
            serving_proxy(nginx_url) as (proxy_url, pid),
        ):
            for url in (proxy_url, nginx_url):  # warm both up
                wrk(url + path, duration=1)
            cpu: list[float] = []

            def case(url: str) -> float:
                before = cpu_seconds(pid)
                result = wrk(url + path, connections=50, duration=duration)
                if result.errors:
                    raise RuntimeError(f"wrk saw {result.errors} errors on {url}")
                if url == proxy_url:
                    requests = result.requests_per_s * duration
                    cpu.append((cpu_seconds(pid) - before) / requests * 1e6)
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
        ),
        Row(
            "faults_proxy",
            "proxy CPU per request (wrk -c 50)",
            statistics.median(cpu),
            "(none)",
            float("nan"),
            "us",
            note="the proxy process only; 1e6 / this = its req/s on a free core",
        ),
        Row(
            "faults_proxy",
            "proxy Python per request (no sockets)",
            python_us_per_request(20_000 if quick else 100_000),
            "(none)",
            float("nan"),
            "us",
            note="its code + httptools, fed to fake transports; best of 5",
        ),
    ]


if __name__ == "__main__":
    main_for(run, DEFAULT_ROUNDS)
