"""awaitkit.probe.testing: nsd starts, answers, fails loudly and stops."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from awaitkit.probe.testing import (
    NsdStartError,
    serving_nsd,
    soa_query,
    wait_for_nsd,
)
from tests.conftest import find_binary

ZONE = """\
$ORIGIN example.
$TTL 300
@ SOA ns.example. admin.example. 7 3600 600 86400 300
@ NS ns.example.
ns A 127.0.0.1
"""


def _ask(port: int, query: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(query, ("127.0.0.1", port))
        return s.recv(4096)


def test_serves_zone_and_stops(tmp_path: Path) -> None:
    nsd = find_binary("nsd")
    extra = "server:\n    minimal-responses: yes\n"
    with serving_nsd(
        "example", ZONE, nsd=nsd, directory=tmp_path, extra_config=extra
    ) as port:
        reply = _ask(port, soa_query("example", 0x1234))
        assert reply[:2] == b"\x12\x34"
        assert reply[3] & 0x0F == 0  # NOERROR
        assert int.from_bytes(reply[6:8], "big") == 1  # the SOA
        wait_for_nsd(port, "example", timeout=5)
        conf = (tmp_path / f"nsd-{port}.conf").read_text()
        assert "minimal-responses: yes" in conf
        assert "receive-buffer-size: 4194304" in conf
    # Terminated and reaped: the port can be bound again.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))


def test_bad_zone_file_fails_fast_with_log(tmp_path: Path) -> None:
    nsd = find_binary("nsd")
    start = time.monotonic()
    with (
        pytest.raises(NsdStartError, match="no SOA record") as caught,
        serving_nsd("example", "this is not a zone\n", nsd=nsd, directory=tmp_path),
    ):
        pytest.fail("nsd reported ready for a broken zone")
    assert "rcode 2" in str(caught.value)  # SERVFAIL, not a timeout
    assert time.monotonic() - start < 20


def test_bad_config_reports_stderr(tmp_path: Path) -> None:
    nsd = find_binary("nsd")
    with (
        pytest.raises(NsdStartError, match="exited with status") as caught,
        serving_nsd(
            "example",
            ZONE,
            nsd=nsd,
            directory=tmp_path,
            extra_config="server:\n    no-such-option: 1\n",
        ),
    ):
        pytest.fail("nsd started with an invalid config")
    assert "syntax error" in str(caught.value)


def test_taken_port_is_an_error_when_asked_for(tmp_path: Path) -> None:
    nsd = find_binary("nsd")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with (
            pytest.raises(NsdStartError, match="can't bind"),
            serving_nsd("example", ZONE, nsd=nsd, directory=tmp_path, port=port),
        ):
            pytest.fail("nsd started on a taken port")


def test_wait_for_silent_port_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never answers
        port = silent.getsockname()[1]
        with pytest.raises(NsdStartError, match="did not answer"):
            wait_for_nsd(port, "example", timeout=0.3)
