"""``awaitkit serve flags`` as a process: URL on stdout, curl as client, clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.flags import build_dataset
from tests.conftest import find_binary

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def running(*args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """Start the CLI server, read the URL it prints, and always reap it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "awaitkit",
        "serve",
        "flags",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line.startswith("serving "), line
        yield proc, line.split(" on ")[1].split()[0]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def curl(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        find_binary("curl"), "-s", *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode("latin-1")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_serves_and_stops_cleanly(signum: signal.Signals) -> None:
    """The CLI prints its URL, serves curl, logs access lines, exits 0 on a signal."""
    async with running("--preset", "ERROR", "--delay", "0", "--seed", "1") as (
        proc,
        base_url,
    ):
        codes = [
            await curl(
                "-o", "/dev/null", "-w", "%{http_code}", f"{base_url}/flags/br/br.gif"
            )
            for _ in range(12)
        ]
        assert set(codes) == {"200", "418"}
        proc.send_signal(signum)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert b"stopped" in out
    assert err.count(b'"GET /flags/br/br.gif"') == 12
    assert b"fault=error" in err
    assert b"Traceback" not in err


async def test_directory_option(tmp_path: Path) -> None:
    """--directory serves that directory."""
    (tmp_path / "a.txt").write_text("from disk\n")
    async with running("--directory", str(tmp_path)) as (proc, base_url):
        assert await curl(f"{base_url}/a.txt") == "from disk\n"
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0


def test_export_writes_the_data_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--export DIR writes every file and exits."""
    assert main(["serve", "flags", "--export", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "flags/br/br.gif").read_bytes() == build_dataset()[
        "flags/br/br.gif"
    ].body


@pytest.mark.parametrize(
    "args",
    [
        ["--error-rate", "2"],
        ["--delay", "5-1"],
        ["--preset", "FAST"],
        ["--error-rate", "0.7", "--reset-rate", "0.7"],
    ],
)
def test_bad_options_exit_2(args: list[str]) -> None:
    """Bad rates, delays and presets are usage errors (exit status 2)."""
    proc = subprocess.run(
        [sys.executable, "-m", "awaitkit", "serve", "flags", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "error" in proc.stderr


def test_busy_port_is_an_error() -> None:
    """A port already taken is reported as an error, not a traceback."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "awaitkit", "serve", "flags", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


RULES = """\
[[rule]]
path = "/flags/br/*"
schedule = ["503", "200"]

[[rule]]
path = "/teapot"
status = 418
body = "short and stout\\n"
"""


async def test_rules_file_is_served(tmp_path: Path) -> None:
    """--rules FILE: the schedule per path, a rule's status and body."""
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    async with running("--rules", str(rules), "--seed", "1") as (proc, base_url):
        url = f"{base_url}/flags/br/br.gif"
        codes = [
            await curl("-o", "/dev/null", "-w", "%{http_code}", url) for _ in range(3)
        ]
        assert codes == ["503", "200", "200"]
        assert await curl(f"{base_url}/teapot") == "short and stout\n"
        proc.terminate()
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert b"rule=r1" in err


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "r.toml",
            '[[rule]]\npath = "/a"\n\n[[rule]]\nstatus = "x"\n',
            "r.toml line 4",
        ),
        ("r.toml", "[[rule]\n", "line 1"),
        ("r.json", '[{"path": "/a", "reset": -1}]', "r.json line 1 (rule 1): reset"),
        ("r.json", "[{]", "r.json line 1 column 3"),
        ("r.yaml", "- path: /a\n", "YAML is not supported"),
        ("r.toml", b"\xff\xfe", "not UTF-8"),
        ("missing.toml", None, "cannot read rule file"),
    ],
)
def test_bad_rules_file_exits_2_naming_the_line(
    tmp_path: Path, name: str, text: str | bytes | None, message: str
) -> None:
    """A malformed, wrong-type, non-UTF-8 or missing rule file: exit 2, a clear message."""
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text)
    elif text is not None:
        path.write_bytes(text)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "awaitkit",
            "serve",
            "flags",
            "--port",
            "0",
            "--rules",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
