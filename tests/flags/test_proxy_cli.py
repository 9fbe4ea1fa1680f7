"""``awaitkit serve faults`` as a process: URL on stdout, curl through it, clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from awaitkit.flags import FlagsServer, build_dataset
from tests.conftest import find_binary
from tests.flags.upstreams import closed_port

pytestmark = pytest.mark.anyio

GIF = "/flags/br/br.gif"


@contextlib.asynccontextmanager
async def running(*args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """Start the proxy, read the URL it prints, and always reap it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "awaitkit",
        "serve",
        "faults",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line.startswith("proxying "), line
        yield proc, line.split()[1]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def curl(*args: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        find_binary("curl"), "-s", *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_proxies_with_faults_and_stops_cleanly(signum: signal.Signals) -> None:
    """The CLI prints its URL, forwards curl's requests with faults, logs, exits 0."""
    async with (
        FlagsServer() as upstream,
        running(
            "--upstream", upstream.base_url, "--error-rate", "0.5", "--seed", "3"
        ) as (proc, base_url),
    ):
        codes = [
            await curl("-o", "/dev/null", "-w", "%{http_code}", base_url + GIF)
            for _ in range(10)
        ]
        assert set(codes) == {b"200", b"418"}
        assert await curl(base_url + GIF) in (
            build_dataset()["flags/br/br.gif"].body,
            b"418 I'm a Teapot\n",
        )
        proc.send_signal(signum)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert b"stopped" in out
    assert err.count(b'"GET /flags/br/br.gif"') == 11
    assert b"fault=error" in err
    assert b"Traceback" not in err


async def test_unreachable_upstream_gives_502_and_one_log_line() -> None:
    async with running("--upstream", f"http://127.0.0.1:{closed_port()}") as (
        proc,
        base_url,
    ):
        code = await curl("-o", "/dev/null", "-w", "%{http_code}", base_url + "/x")
        assert code == b"502"
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert err.count(b"upstream refused") == 1
    assert proc.returncode == 0


async def test_rules_file(tmp_path: Path) -> None:
    """--rules FILE: the schedule applies per path; the start line counts the rules."""
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\npath = "/flags/*"\nschedule = ["503", "200"]\n')
    async with (
        FlagsServer() as upstream,
        running("--upstream", upstream.base_url, "--rules", str(rules)) as (
            proc,
            base_url,
        ),
    ):
        codes = [
            await curl("-o", "/dev/null", "-w", "%{http_code}", base_url + GIF)
            for _ in range(3)
        ]
        assert codes == [b"503", b"200", b"200"]
        assert upstream.stats.requests == 2
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()


def test_a_bad_rules_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\npath = "/x"\n\n[[rule]]\nstatus = "teapot"\n')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "awaitkit",
            "serve",
            "faults",
            "--upstream",
            "http://127.0.0.1:1",
            "--rules",
            str(rules),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "line 4 (rule 2): status" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--upstream", "https://example.com"],
        ["--upstream", "http://host/path"],
        ["--upstream", "not a url"],
        ["--upstream", "http://127.0.0.1:1", "--error-rate", "2"],
        ["--upstream", "http://127.0.0.1:1", "--upstream-connections", "0"],
        ["--upstream", "http://127.0.0.1:1", "--upstream-timeout", "-1"],
        ["--upstream", "http://127.0.0.1:1", "--cut-after", "x"],
        ["--upstream", "http://127.0.0.1:1", "--keepalive-timeout", "nan"],
        ["--upstream", "http://127.0.0.1:1", "--preset", "FAST"],
    ],
)
def test_bad_options_exit_2(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "awaitkit", "serve", "faults", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "error" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_names_the_options() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "awaitkit", "serve", "faults", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    for option in ("--upstream", "--reset-rate", "--cut-after", "--upstream-timeout"):
        assert option in proc.stdout
