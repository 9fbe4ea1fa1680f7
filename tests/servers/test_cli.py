"""``awaitkit serve``: real processes, real signals, graceful shutdown."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from awaitkit.cli import build_parser
from awaitkit.find import CharIndex
from awaitkit.servers._protocol import PROMPT

LISTENING = re.compile(r"serving on (?:http://)?127\.0\.0\.1:(\d+)")


@contextmanager
def running(
    args: list[str], find_cache: Path, listeners: int = 1
) -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    """Start ``awaitkit ARGS``; yield it and its ports, read from its own log lines."""
    env = {**os.environ, "AWAITKIT_CACHE_DIR": str(find_cache), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "awaitkit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        ports: list[int] = []
        assert proc.stderr is not None
        while len(ports) < listeners:
            line = proc.stderr.readline()  # the server logs once it listens
            assert line, f"server exited early: {proc.wait(10)}"
            if m := LISTENING.search(line):
                ports.append(int(m[1]))
        yield proc, ports
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def stop(proc: subprocess.Popen[str], sig: int) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def tcp_query(port: int, query: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        data = b""
        sock.sendall(query + b"\r\n")
        while data.count(PROMPT) < 2:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
        return data


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_tcp_shuts_down_gracefully_on_signal(
    find_cache: Path, index: CharIndex, sig: int
) -> None:
    """A signal ends idle sessions politely, prints 'Server shut down.', exits 0."""
    with running(["serve", "tcp", "--port", "0"], find_cache) as (proc, [port]):
        assert b"CAT FACE" in tcp_query(port, b"cat face")
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert idle.recv(16) == PROMPT
        status, out, err = stop(proc, sig)
        goodbye = idle.recv(1024)
        idle.close()
    assert status == 0, err
    assert out == "Server shut down.\n"
    assert goodbye == b"\r\nserver shutting down, bye\r\n"
    assert "query 'cat face': 11 found" in err
    assert "Traceback" not in err


def test_web_shuts_down_gracefully_on_sigint(
    find_cache: Path, index: CharIndex
) -> None:
    with running(["serve", "web", "--port", "0"], find_cache) as (proc, [port]):
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/search?q=cat%20face&limit=1"
        ) as r:
            assert b"CAT FACE" in r.read()
        status, out, err = stop(proc, signal.SIGINT)
    assert (status, out) == (0, "Server shut down.\n"), err
    assert "Traceback" not in err


def test_bare_serve_runs_tcp_and_web_in_one_process(
    find_cache: Path, index: CharIndex
) -> None:
    args = ["serve", "--tcp-port", "0", "--web-port", "0"]
    with running(args, find_cache, listeners=2) as (proc, [tcp_port, web_port]):
        assert b"CAT FACE" in tcp_query(tcp_port, b"cat face")
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz") as r:
            assert r.read() == b'{"status":"ok"}'
        status, out, err = stop(proc, signal.SIGTERM)
    assert (status, out) == (0, "Server shut down.\n"), err


def test_port_in_use_is_a_clear_error(find_cache: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "awaitkit", "serve", "tcp", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "AWAITKIT_CACHE_DIR": str(find_cache)},
        )
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"awaitkit: error: cannot listen on 127.0.0.1:{port}: "
    )


def test_serve_arguments() -> None:
    parser = build_parser()
    tcp = parser.parse_args(
        ["serve", "tcp", "--port", "1", "--max-clients", "3", "--page-size", "7"]
    )
    assert (tcp.port, tcp.max_clients, tcp.page_size, tcp.default_log_level) == (
        1,
        3,
        7,
        "INFO",
    )
    web = parser.parse_args(["serve", "web", "--workers", "2"])
    assert (web.port, web.workers) == (8000, 2)
    both = parser.parse_args(["serve"])
    assert (both.tcp_port, both.web_port, both.handler.__name__) == (
        2323,
        8000,
        "_run_both",
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "web", "--workers", "0"])


def test_web_workers_serve_from_several_processes(
    find_cache: Path, index: CharIndex
) -> None:
    """--workers 2: uvicorn's supervisor imports the app factory in each worker."""
    with running(["serve", "web", "--port", "0", "--workers", "2"], find_cache) as (
        proc,
        [port],
    ):
        url = f"http://127.0.0.1:{port}/search?q=cat%20face&limit=1"
        # The parent listens before the workers start: the request waits in the backlog.
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read()
        assert b"CAT FACE" in body
        status, out, err = stop(proc, signal.SIGINT)
    assert (status, out) == (0, "Server shut down.\n"), err
