"""Raw requests for the flags server's tests (the wire helpers are awaitkit.core.testing)."""

from __future__ import annotations

import socket

from awaitkit.core.testing import split_url


def get(path: bytes, *extra: bytes) -> bytes:
    """A GET for ``path`` that asks the server to close after answering."""
    return (
        b"GET "
        + path
        + b" HTTP/1.1\r\nHost: x\r\n"
        + b"".join(extra)
        + b"Connection: close\r\n\r\n"
    )


def blocking_socket(base_url: str) -> socket.socket:
    """A plain blocking socket to the server, for byte-by-byte control."""
    return socket.create_connection(split_url(base_url), timeout=5)
