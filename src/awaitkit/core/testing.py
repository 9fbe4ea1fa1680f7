"""Raw-wire helpers for testing servers on loopback.

An HTTP client normalises paths, refuses bad bytes and hides how a server
closed the connection; a test of hostile input needs none of that.  These
helpers send exactly the bytes given and return exactly the bytes received::

    from awaitkit.core.testing import exchange, status_of

    reply = await exchange(server.base_url, b"GET /../etc HTTP/1.1\\r\\n\\r\\n")
    assert status_of(reply) == 400

They are public, like ``trio.testing`` or ``aiohttp.test_utils``, so that the
tests of every app share one copy.  Nothing here is imported by the apps.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["exchange", "split_url", "status_of", "statuses_of", "wait_until"]


def split_url(address: str | int) -> tuple[str, int]:
    """``(host, port)`` of a base URL (``http://127.0.0.1:8000``), a ``host:port``
    string or a bare port on ``127.0.0.1``.

    >>> split_url("http://[::1]:8001")
    ('::1', 8001)
    >>> split_url(8002)
    ('127.0.0.1', 8002)
    """
    if isinstance(address, int):
        return "127.0.0.1", address
    rest = address.partition("://")[2] or address
    host, sep, port = rest.partition("/")[0].rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"no port in {address!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


async def exchange(
    address: str | int,
    data: bytes,
    *,
    half_close: bool = False,
    wait: float = 10.0,
) -> bytes:
    """Send ``data``, then return every byte the server sends until it closes.

    ``address`` is what :func:`split_url` takes.  With ``half_close`` the
    client shuts down its sending side after ``data`` (a client that has said
    all it will say).  Raises :class:`TimeoutError` if the server has not
    closed the connection within ``wait`` seconds, and
    :class:`ConnectionResetError` if it reset it (a test of a reset expects
    that); a reset that comes only as the client closes is ignored.
    """
    reader, writer = await asyncio.open_connection(*split_url(address))
    try:
        writer.write(data)
        await writer.drain()
        if half_close:
            writer.write_eof()
        async with asyncio.timeout(wait):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(OSError):  # the server may have reset it
            await writer.wait_closed()


async def wait_until(
    predicate: Callable[[], bool], *, wait: float = 5.0, interval: float = 0.01
) -> None:
    """Poll ``predicate`` (a server's counters...) until true.

    For conditions that no event announces.  Raises :class:`AssertionError`
    if it is still false after ``wait`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while not predicate():
        if loop.time() >= deadline:
            raise AssertionError(f"condition not reached in {wait} s")
        await asyncio.sleep(interval)


def status_of(response: bytes) -> int:
    """The status code of the first HTTP/1.x response in ``response``.

    Raises :class:`ValueError` if it does not start with a status line.
    """
    line = response.split(b"\r\n", 1)[0]
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or not code.isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {line[:80]!r}")
    return int(code)


def statuses_of(response: bytes) -> list[int]:
    """Status codes of every response in a pipelined stream.

    Bodies are skipped by their ``Content-Length`` (absent means none), so
    this reads replies to GETs, not to HEADs or chunked replies.
    """
    out = []
    rest = response
    while rest:
        head, _, rest = rest.partition(b"\r\n\r\n")
        out.append(status_of(head))
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        rest = rest[length:]
    return out
