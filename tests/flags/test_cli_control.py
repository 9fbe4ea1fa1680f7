"""``awaitkit serve flags --control-port``: the control API of a real process, driven by curl."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest

from awaitkit.flags import ControlClient
from tests.flags.test_cli import curl, running

pytestmark = pytest.mark.anyio

TOKEN = "cli-token-0123456789"


async def control_line(proc: asyncio.subprocess.Process) -> tuple[str, str]:
    """The (URL, token text) of the 'control API on URL (token T)' line."""
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("control API on "), line
    url = line.split(" on ")[1].split()[0]
    return url, line.rsplit("(token ", 1)[1].rstrip(")\n")


async def test_control_api_with_curl_and_a_given_token() -> None:
    async with running("--control-port", "0", "--control-token", TOKEN) as (
        proc,
        base_url,
    ):
        url, shown = await control_line(proc)
        assert shown == "given"  # a given token is never printed
        assert url.startswith("http://127.0.0.1:")
        auth = ("-H", f"Authorization: Bearer {TOKEN}")
        rule = json.dumps({"path": "/flags/br/*", "status": 503})
        added = json.loads(await curl(*auth, "-d", rule, f"{url}/rules"))
        assert added["rules"][0]["id"] == "r1"
        status = await curl(
            "-o", "/dev/null", "-w", "%{http_code}", f"{base_url}/flags/br/br.gif"
        )
        assert status == "503"
        stats = json.loads(await curl(*auth, f"{url}/stats"))
        assert stats["by_status"] == {"503": 1}
        assert (
            "127.0.0.1" in json.loads(await curl(*auth, f"{url}/verdicts"))["clients"]
        )
        assert "awaitkit_flags_responses_total" in await curl(*auth, f"{url}/metrics")
        denied = await curl("-o", "/dev/null", "-w", "%{http_code}", f"{url}/stats")
        assert denied == "401"
        assert await curl(*auth, "-X", "DELETE", f"{url}/rules/r1") != ""
        assert json.loads(await curl(*auth, f"{url}/rules")) == {"rules": []}
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0


async def test_ctrl_c_stops_a_server_with_a_client_on_the_control_port() -> None:
    """SIGINT with a keep-alive control connection open: exit 0, promptly."""
    async with running("--control-port", "0") as (proc, _):
        url, token = await control_line(proc)
        host, port = url.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"GET /stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        await asyncio.wait_for(reader.readuntil(b"}\n"), 30)  # answered, kept open
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert await asyncio.wait_for(reader.read(), 30) == b""  # closed by the server
        writer.close()
    assert proc.returncode == 0, err.decode()
    assert b"stopped" in out
    assert b"Traceback" not in err


async def test_a_random_token_is_printed_and_the_env_token_used() -> None:
    async with running("--control-port", "0") as (proc, _):
        url, token = await control_line(proc)
        assert len(token) >= 32
        assert (await ControlClient(url, token).stats())["requests"] == 0
    env = {**os.environ, "AWAITKIT_CONTROL_TOKEN": TOKEN}
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "awaitkit", "serve", "flags", "--port", "0"),
        *("--control-port", "0", "--metrics-public"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 60)  # serving ...
        url, shown = await control_line(proc)
        assert shown == "given"
        assert (await ControlClient(url, TOKEN).stats())["requests"] == 0
        assert "awaitkit_flags_in_flight" in await curl(f"{url}/metrics")  # public
    finally:
        proc.kill()
        await proc.communicate()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--control-token", TOKEN], "--control-token needs --control-port"),
        (["--metrics-public"], "--metrics-public needs --control-port"),
        (["--control-host", "::1"], "--control-host needs --control-port"),
        (["--control-port", "0", "--control-token", "short"], "control token"),
        (["--control-port", "0", "--control-token", "has a space"], "control token"),
        (["--control-port", "70000"], "argument --control-port: must be 0-65535"),
        (["--control-port", "x"], "argument --control-port"),
        (["--control-port", "0", "--control-host", "256.1.1.1"], "cannot listen"),
    ],
)
def test_bad_control_options_exit_with_a_message(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "awaitkit", "serve", "flags", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode in (1, 2), proc.stderr
    assert message in proc.stderr


def test_an_empty_env_token_means_a_random_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AWAITKIT_CONTROL_TOKEN='' is no token (not an invalid one)."""
    from argparse import Namespace

    from awaitkit.flags.cli import _control_token

    args = Namespace(
        control_port=0, control_host=None, control_token=None, metrics_public=False
    )
    monkeypatch.setenv("AWAITKIT_CONTROL_TOKEN", "")
    assert _control_token(args) is None
    monkeypatch.setenv("AWAITKIT_CONTROL_TOKEN", TOKEN)
    assert _control_token(args) == TOKEN
    args.control_token = "from-the-option-1"
    assert _control_token(args) == "from-the-option-1"  # the option wins
