"""bind_tcp: a listening socket on an ephemeral port, clear errors otherwise."""

from __future__ import annotations

import socket

import pytest

from awaitkit.core import AwaitkitError, UsageError, bind_tcp, format_hostport


def test_listens_at_once_on_an_ephemeral_port() -> None:
    with bind_tcp("127.0.0.1", 0) as sock:
        host, port = sock.getsockname()[:2]
        assert host == "127.0.0.1"
        assert port > 0
        # Listening already: a client connects before anyone calls accept().
        with socket.create_connection((host, port), timeout=2):
            pass


@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_port_out_of_range_is_a_usage_error(port: int) -> None:
    with pytest.raises(UsageError, match="0-65535"):
        bind_tcp("127.0.0.1", port)


def test_port_in_use_is_a_clear_error() -> None:
    with bind_tcp("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(AwaitkitError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind_tcp("127.0.0.1", port)


def test_format_hostport_brackets_ipv6() -> None:
    assert format_hostport("::1", 80) == "[::1]:80"
    assert format_hostport("127.0.0.1", 80) == "127.0.0.1:80"
