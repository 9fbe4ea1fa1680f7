"""Raw-socket HTTP for tests: clients normalise paths and refuse bad bytes; we must not."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable


def split_url(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


async def wait_until(predicate: Callable[[], bool], wait: float = 5.0) -> None:
    """Poll a server-side condition (its stats) until true, for at most ``wait`` s."""
    for _ in range(int(wait / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def exchange(
    base_url: str, data: bytes, *, half_close: bool = False, wait: float = 5.0
) -> bytes:
    """Send raw bytes, then read until the server closes (or ``wait`` seconds)."""
    reader, writer = await asyncio.open_connection(*split_url(base_url))
    try:
        writer.write(data)
        await writer.drain()
        if half_close:
            writer.write_eof()
        return await asyncio.wait_for(reader.read(-1), wait)
    finally:
        writer.close()
        with contextlib.suppress(OSError):  # the server may have reset it
            await writer.wait_closed()


def status_of(response: bytes) -> int:
    """The status code of the first response in ``response``."""
    line = response.split(b"\r\n", 1)[0]
    assert line.startswith(b"HTTP/1.1 "), response[:80]
    return int(line.split()[1])


def statuses_of(response: bytes) -> list[int]:
    """Status codes of every response in a pipelined stream (bodies skipped)."""
    out = []
    rest = response
    while rest:
        head, _, rest = rest.partition(b"\r\n\r\n")
        out.append(status_of(head))
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        rest = rest[length:]
    return out


def get(path: bytes, *extra: bytes) -> bytes:
    return (
        b"GET "
        + path
        + b" HTTP/1.1\r\nHost: x\r\n"
        + b"".join(extra)
        + b"Connection: close\r\n\r\n"
    )


def blocking_socket(base_url: str) -> socket.socket:
    return socket.create_connection(split_url(base_url), timeout=5)
