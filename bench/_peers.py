"""Peers we race, started and driven from benchmarks: nginx and wrk.

Everything binds to 127.0.0.1.  nginx cannot be handed a socket, so it gets a
port the kernel just picked (bind, read, close); that tiny race is fine for a
benchmark and never used in tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "WrkResult",
    "free_port",
    "require",
    "serving_nginx",
    "serving_process",
    "spawn_reporting",
    "stop_for_report",
    "wait_port",
    "wrk",
]


def require(binary: str) -> str:
    """Path of ``binary`` or a clear error naming the Debian package list to install."""
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if path is None:
        raise SystemExit(
            f"{binary} not found: apt-get install -y nginx-light aria2 wget2 curl wrk nsd dnsperf"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), 0.2),
        ):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@contextlib.contextmanager
def serving_process(argv: list[str], port: int, **popen: Any) -> Iterator[str]:
    """Run a server process listening on 127.0.0.1:``port``; yield its base URL."""
    proc = subprocess.Popen(argv, **popen)
    try:
        wait_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def spawn_reporting(
    script: str, kind: str, port: int, env: dict[str, str]
) -> subprocess.Popen[str]:
    """Start ``script --serve KIND PORT``: a server child that prints a JSON
    report (its LagMonitor figures) when stopped with :func:`stop_for_report`."""
    proc = subprocess.Popen(
        [sys.executable, script, "--serve", kind, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    wait_port(port, timeout=60)
    return proc


def stop_for_report(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """SIGTERM a :func:`spawn_reporting` child; return the last JSON line it printed."""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


NGINX_CONF = """\
user root root;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    open_file_cache max=20000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ image/gif gif; application/json json; application/octet-stream bin; }}
{extra}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
    }}
}}
"""


@contextlib.contextmanager
def serving_nginx(root: Path, extra: str = "") -> Iterator[str]:
    """Serve ``root`` with nginx (the bench-recipes configuration); yield its base URL.

    ``extra``: more directives for the ``http`` block (``gzip on;``...).
    """
    binary = require("nginx")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="awaitkit-nginx-") as tmp:
        conf = Path(tmp, "nginx.conf")
        conf.write_text(
            NGINX_CONF.format(tmp=tmp, port=port, root=root.resolve(), extra=extra)
        )
        with serving_process(
            [binary, "-p", tmp, "-c", str(conf), "-g", "daemon off;"],
            port,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        ) as url:
            yield url


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m[1]) * _UNITS[m[2]]


def wrk(
    url: str, *, connections: int = 50, duration: float = 10, threads: int = 2
) -> WrkResult:
    """Run wrk against ``url`` and read requests/s and latency percentiles."""
    out = subprocess.run(
        [
            require("wrk"),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    # Anchored: a Stdev cell such as "68.50%" must not pass for the 50% row.
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M)[1])  # type: ignore[index]
    errors = 0
    for m in re.finditer(
        r"(?:Socket errors:.*?|Non-2xx or 3xx responses:\s*)(\d+)", out
    ):
        errors += int(m[1])
    return WrkResult(rps, p50, p99, errors)
