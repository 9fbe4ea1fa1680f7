"""awaitkit.core.testing: the raw-wire helpers, against real servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from awaitkit.core import bind_tcp
from awaitkit.core.testing import (
    exchange,
    split_url,
    status_of,
    statuses_of,
    wait_until,
)

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[int]:
    """Serve ``handler`` on 127.0.0.1 and yield the port; each connection is closed after."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, sock=bind_tcp("127.0.0.1", 0))
    async with server:
        yield server.sockets[0].getsockname()[1]


@pytest.fixture
async def echo_until_eof() -> AsyncIterator[int]:
    """Echoes everything, and closes only when the client has half-closed."""

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"got:" + await reader.read())
        await writer.drain()

    async with serving(handler) as port:
        yield port


@pytest.fixture
async def one_line() -> AsyncIterator[int]:
    """Answers the first line and closes, whatever follows."""

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"line:" + await reader.readline())
        await writer.drain()

    async with serving(handler) as port:
        yield port


async def test_exchange_returns_everything_until_the_server_closes(
    one_line: int,
) -> None:
    assert await exchange(one_line, b"hello\nrest") == b"line:hello\n"
    assert await exchange(f"http://127.0.0.1:{one_line}", b"a\n") == b"line:a\n"
    assert await exchange(f"127.0.0.1:{one_line}", b"b\n") == b"line:b\n"


async def test_half_close_is_what_lets_an_eof_waiting_server_answer(
    echo_until_eof: int,
) -> None:
    assert await exchange(echo_until_eof, b"ab", half_close=True) == b"got:ab"
    with pytest.raises(TimeoutError):
        await exchange(echo_until_eof, b"ab", wait=0.2)


async def test_a_reset_is_raised_not_taken_for_a_close() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readline()
        writer.write(b"bye")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST, not FIN

    async with serving(handler) as port:
        with pytest.raises(ConnectionResetError):
            await exchange(port, b"x\n")


async def test_exchange_to_a_closed_port_is_refused() -> None:
    sock = bind_tcp("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        await exchange(port, b"x")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("http://127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("http://127.0.0.1:8000/path:9", ("127.0.0.1", 8000)),
        ("http://[::1]:8001", ("::1", 8001)),
        ("localhost:80", ("localhost", 80)),
        (8002, ("127.0.0.1", 8002)),
    ],
)
def test_split_url(address: str | int, expected: tuple[str, int]) -> None:
    assert split_url(address) == expected


@pytest.mark.parametrize("address", ["http://127.0.0.1", "127.0.0.1", "h:x", ""])
def test_split_url_refuses_an_address_without_a_port(address: str) -> None:
    with pytest.raises(ValueError, match="no port"):
        split_url(address)


def test_status_of() -> None:
    assert status_of(b"HTTP/1.1 404 Not Found\r\n\r\n") == 404
    assert status_of(b"HTTP/1.0 200 OK\r\nX: HTTP/1.1 500\r\n\r\n") == 200


@pytest.mark.parametrize(
    "response", [b"", b"HTTP/2 200\r\n", b"HTTP/1.1 abc\r\n", b"garbage HTTP/1.1 200"]
)
def test_status_of_refuses_what_is_not_a_status_line(response: bytes) -> None:
    with pytest.raises(ValueError, match="status line"):
        status_of(response)


def test_statuses_of_skips_bodies_by_their_length() -> None:
    body = b"HTTP/1.1 200 OK\r\n\r\n"  # a body that looks like a response
    stream = (
        b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body)
        + body
        + b"HTTP/1.1 304 Not Modified\r\n\r\n"
        + b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    )
    assert statuses_of(stream) == [200, 304, 400]
    assert statuses_of(b"") == []


async def test_wait_until_returns_once_true_and_fails_when_never() -> None:
    flag = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, flag.set)
    await wait_until(flag.is_set)
    assert flag.is_set()
    with pytest.raises(AssertionError, match="not reached"):
        await wait_until(lambda: False, wait=0.05)
