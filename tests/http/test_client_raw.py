"""HttpClient against scripted raw servers: framing, hostile and broken responses, timeouts."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import pytest

from awaitkit.core import TimeoutExpired
from awaitkit.core.testing import wait_until
from awaitkit.http import (
    BodyTooLarge,
    ConnectError,
    ConnectTimeout,
    HttpClient,
    ProtocolError,
    ReadTimeout,
    ServerDisconnected,
    TruncatedBody,
)
from awaitkit.http._connection import HIGH_WATER
from tests.flags.loops import both_loops
from tests.http.test_client import RawServer, answering, ok

pytestmark = pytest.mark.anyio
anyio_backend = both_loops


async def bodies(url: str, times: int) -> list[bytes]:
    """GET ``url`` ``times`` times through one client; the bodies, in order."""
    got = []
    async with HttpClient() as client:
        for _ in range(times):
            async with client.get(url) as resp:
                got.append(await resp.read())
    return got


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'5;name=value;q="quoted"\r\nhello\r\n'
    b"1\r\n \r\n"
    b"5\r\nworld\r\n"
    b"0\r\nX-Trailer: t\r\n\r\n"
)


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# -- framing ----------------------------------------------------------------


async def test_chunked_with_extensions_and_trailers() -> None:
    async with RawServer(answering(CHUNKED, ok(b"next"))) as server:
        async with HttpClient() as client:
            async with client.get(server.url) as resp:
                assert resp.content_length is None
                assert await resp.read() == b"hello world"
                assert "x-trailer" not in resp.headers
            async with client.get(server.url) as resp:
                assert await resp.read() == b"next"
        assert server.connections == 1


async def test_chunked_split_at_every_byte() -> None:
    async def trickle(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_head(reader)
        for i in range(len(CHUNKED)):
            writer.write(CHUNKED[i : i + 1])
            await writer.drain()
            await asyncio.sleep(0.0005)
        await reader.read()

    async with (
        RawServer(trickle) as server,
        HttpClient() as client,
        client.get(server.url) as resp,
    ):
        assert (resp.status, await resp.read()) == (200, b"hello world")


async def test_chunks_iterates_a_chunked_body() -> None:
    async with RawServer(answering(CHUNKED)) as server, HttpClient() as client:
        async with client.get(server.url) as resp:
            pieces = [piece async for piece in resp.chunks()]
        assert b"".join(pieces) == b"hello world"


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
        b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nuntil the end",
    ],
    ids=["connection-close", "http-1.0", "te-identity"],
)
async def test_body_delimited_by_close(response: bytes) -> None:
    async with RawServer(answering(response)) as server:
        assert await bodies(server.url, 2) == [b"until the end"] * 2
        assert server.connections == 2


async def test_body_delimited_by_close_but_reset_is_truncated() -> None:
    head_in = asyncio.Event()

    async def cut(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial")
        await writer.drain()
        await head_in.wait()  # a reset would discard what the client has not read
        reset(writer)

    async with RawServer(cut) as server, HttpClient() as client:
        async with client.get(server.url) as resp:
            head_in.set()
            with pytest.raises(TruncatedBody, match="reset"):
                await resp.read()
        assert client._pool.total == 0


async def test_interim_responses_are_skipped() -> None:
    response = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n" + ok(b"final")
    )
    async with RawServer(answering(response, ok(b"again"))) as server:
        async with HttpClient() as client:
            async with client.get(server.url) as resp:
                assert resp.status == 200
                assert "link" not in resp.headers
                assert await resp.read() == b"final"
            async with client.get(server.url) as resp:
                assert await resp.read() == b"again"
        assert server.connections == 1


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n",
    ],
)
async def test_no_body_statuses(head: bytes) -> None:
    async with RawServer(answering(head, ok(b"after"))) as server:
        async with HttpClient() as client:
            async with client.get(server.url) as resp:
                assert (
                    await resp.read(limit=10) == b""
                )  # a declared length does not count
            async with client.get(server.url) as resp:
                assert await resp.read() == b"after"
        assert server.connections == 1


# -- broken and hostile responses ------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    ],
    ids=["content-length", "no-last-chunk", "mid-chunk"],
)
async def test_close_before_the_end_is_truncated(response: bytes) -> None:
    async with RawServer(answering(response)) as server, HttpClient() as client:
        async with client.get(server.url) as resp:
            with pytest.raises(TruncatedBody):
                await resp.read()
        assert client._pool.total == 0


async def test_reset_mid_body_is_truncated() -> None:
    head_in = asyncio.Event()

    async def cut(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
        await writer.drain()
        await head_in.wait()
        reset(writer)

    async with (
        RawServer(cut) as server,
        HttpClient() as client,
        client.get(server.url) as resp,
    ):
        head_in.set()
        with pytest.raises(TruncatedBody, match="reset after 4 body bytes"):
            await resp.read()


@pytest.mark.parametrize(
    "response",
    [b"", b"HTTP/1.1 200 OK\r\nContent-Le"],
    ids=["nothing", "half-head"],
)
async def test_close_before_the_head_is_server_disconnected(response: bytes) -> None:
    async with RawServer(answering(response)) as server, HttpClient() as client:
        with pytest.raises(ServerDisconnected):
            async with client.get(server.url):
                pass
        assert server.connections == 1  # a fresh connection is not retried
        assert client._pool.total == 0


@pytest.mark.parametrize(
    "response",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/2 200\r\n\r\n",
        # An HTTP/2 server's SETTINGS frame.
        b"\x00\x00\x12\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64\x00\x04\x00\x10\x00\x00",
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi",
        b"HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX\xff: x\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ],
    ids=[
        "garbage",
        "bad-status",
        "icy",
        "http2-line",
        "http2-frame",
        "bare-lf",
        "obs-fold",
        "space-in-name",
        "non-ascii-name",
        "cl-letters",
        "cl-negative",
        "cl-list",
        "cl-twice",
        "cl-overflow",
        "cl-and-chunked",
        "bad-chunk-size",
        "switching-protocols",
        "switching-bare",
    ],
)
async def test_malformed_responses_are_protocol_errors(response: bytes) -> None:
    async with RawServer(answering(response, then_close=False)) as server:
        async with HttpClient() as client:
            with pytest.raises(ProtocolError):
                async with client.get(server.url) as resp:
                    await resp.read()
            assert client._pool.total == 0
        await wait_until(lambda: server.active == 0)


async def test_non_utf8_field_values_are_kept_as_latin1() -> None:
    response = (
        b"HTTP/1.1 200 OK\r\nX-Raw: \xff\xfe caf\xc3\xa9\r\nContent-Length: 2\r\n\r\nok"
    )
    async with (
        RawServer(answering(response)) as server,
        HttpClient() as client,
        client.get(server.url) as resp,
    ):
        assert resp.headers["x-raw"].encode("latin-1") == b"\xff\xfe caf\xc3\xa9"
        assert await resp.read() == b"ok"


async def test_endless_head_is_refused_without_buffering_it() -> None:
    sent = 0

    async def endless(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal sent
        await server.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Pad: ")
        line = b"a" * 16384
        while True:  # one never-ending field value, until the client hangs up
            writer.write(line)
            await writer.drain()
            sent += len(line)

    async with RawServer(endless) as server, HttpClient(max_head=64 * 1024) as client:
        with pytest.raises(ProtocolError, match="head larger"):
            async with client.get(server.url):
                pass
        await wait_until(lambda: server.active == 0)
    assert sent > 64 * 1024


async def test_many_fields_over_max_head() -> None:
    fields = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 100) for i in range(10000))
    response = b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 0\r\n\r\n"
    async with (
        RawServer(answering(response, then_close=False)) as server,
        HttpClient(max_head=16 * 1024) as client,
    ):
        with pytest.raises(ProtocolError, match="head larger"):
            async with client.get(server.url):
                pass


async def test_extra_bytes_after_a_response_spoil_only_the_connection() -> None:
    response = ok(b"fine") + b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
    async with RawServer(answering(response, ok(b"second"))) as server:
        assert await bodies(server.url, 2) == [b"fine"] * 2
        assert server.connections == 2


async def test_unsolicited_bytes_while_idle_drop_the_connection() -> None:
    idle = asyncio.Event()

    async def chatty(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_head(reader)
        writer.write(ok(b"one"))
        await writer.drain()
        await idle.wait()
        writer.write(b"HTTP/1.1 200 OK\r\n")  # nobody asked
        await reader.read()

    async with RawServer(chatty) as server, HttpClient() as client:
        async with client.get(server.url) as resp:
            assert await resp.read() == b"one"
        assert client._pool.idle_total == 1
        idle.set()
        await wait_until(lambda: client._pool.total == 0)


# -- stale keep-alive connections ---------------------------------------------------


async def test_stale_connection_is_retried_once_on_a_new_one() -> None:
    async def closes_second(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if server.connections == 1:
            await server.read_head(reader)
            writer.write(ok(b"first"))
            await writer.drain()
            await server.read_head(reader)  # then close without answering
        else:
            await answering(ok(b"second"))(server, reader, writer)

    async with RawServer(closes_second) as server, HttpClient() as client:
        for expected in (b"first", b"second"):
            async with client.get(server.url) as resp:
                assert await resp.read() == expected
        assert server.connections == 2
        assert len(server.requests) == 3


async def test_stale_connection_reset_is_retried() -> None:
    async def resets_second(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if server.connections == 1:
            await server.read_head(reader)
            writer.write(ok(b"first"))
            await writer.drain()
            await server.read_head(reader)
            reset(writer)
        else:
            await answering(ok(b"second"))(server, reader, writer)

    async with RawServer(resets_second) as server, HttpClient() as client:
        for expected in (b"first", b"second"):
            async with client.get(server.url) as resp:
                assert await resp.read() == expected


async def test_retry_happens_only_once() -> None:
    async def unreliable(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_head(reader)
        if server.connections == 1:
            writer.write(ok(b"first"))
            await writer.drain()
            await server.read_head(reader)
        # every later connection: closed unanswered

    async with RawServer(unreliable) as server, HttpClient() as client:
        async with client.get(server.url) as resp:
            await resp.read()
        with pytest.raises(ServerDisconnected):
            async with client.get(server.url):
                pass
        assert server.connections == 2


async def test_partial_answer_on_reused_connection_is_not_retried() -> None:
    async def half(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_head(reader)
        writer.write(ok(b"first"))
        await writer.drain()
        await server.read_head(reader)
        writer.write(b"HTTP/1.1 200")

    async with RawServer(half) as server, HttpClient() as client:
        async with client.get(server.url) as resp:
            await resp.read()
        with pytest.raises(ServerDisconnected):
            async with client.get(server.url):
                pass
        assert server.connections == 1


# -- limits on bodies ---------------------------------------------------------------


async def test_declared_body_over_limit() -> None:
    body = b"x" * 1000
    async with RawServer(answering(ok(body), then_close=False)) as server:
        async with HttpClient() as client:
            async with client.get(server.url) as resp:
                with pytest.raises(BodyTooLarge):
                    await resp.read(limit=999)
            assert client._pool.total == 0
            async with client.get(server.url) as resp:
                assert await resp.read(limit=1000) == body
        assert server.connections == 2


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"10\r\n0123456789abcdef\r\n" * 4
        + b"0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"y" * 64,
    ],
    ids=["chunked", "close-delimited"],
)
async def test_received_body_over_limit(response: bytes) -> None:
    async with (
        RawServer(answering(response, then_close=False)) as server,
        HttpClient() as client,
    ):
        async with client.get(server.url) as resp:
            with pytest.raises(BodyTooLarge):
                await resp.read(limit=40)
        assert client._pool.total == 0


async def test_large_body_streams_with_bounded_buffer() -> None:
    size = 20 * 1024 * 1024
    block = bytes(range(256)) * 256

    async def big(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // len(block)):
            writer.write(block)
            await writer.drain()
        await reader.read()

    async with RawServer(big) as server, HttpClient() as client:
        async with client.get(server.url) as resp:
            conn = resp._conn
            assert conn is not None
            total = peak = 0
            async for piece in resp.chunks():
                total += len(piece)
                peak = max(peak, len(piece))  # all that was buffered, joined
                await asyncio.sleep(0.005)  # a slow consumer
            assert total == size
            # Paused at the high mark, with at most one more read in flight.
            assert HIGH_WATER < peak <= HIGH_WATER + 256 * 1024
        assert client._pool.idle_total == 1


# -- timeouts and connect failures -----------------------------------------------------


async def test_silent_server_times_out() -> None:
    async def silent(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_head(reader)
        await reader.read()

    async with RawServer(silent) as server, HttpClient(read_timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(ReadTimeout, match="response head"):
            async with client.get(server.url):
                pass
        assert 0.19 <= time.monotonic() - started < 2
        assert client._pool.total == 0


async def test_stall_mid_body_times_out() -> None:
    stall = answering(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf", then_close=False
    )
    async with RawServer(stall) as server, HttpClient(read_timeout=0.2) as client:
        async with client.get(server.url) as resp:
            with pytest.raises(ReadTimeout, match="response body"):
                await resp.read()
        await wait_until(lambda: server.active == 0)


async def test_read_timeout_is_about_inactivity_not_total_time() -> None:
    async def trickle(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
        for byte in b"trickled":
            await asyncio.sleep(0.06)
            writer.write(bytes([byte]))
        await reader.read()

    async with (
        RawServer(trickle) as server,
        HttpClient(read_timeout=0.25) as client,
        client.get(server.url) as resp,
    ):
        assert await resp.read() == b"trickled"  # 0.5 s in all


async def test_connect_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with HttpClient() as client:
        with pytest.raises(ConnectError) as info:
            async with client.get(f"http://127.0.0.1:{port}/"):
                pass
        assert isinstance(info.value.os_error, ConnectionRefusedError)
        assert client._pool.total == 0


async def test_connect_timeout() -> None:
    # A listener whose accept queue is full: the kernel drops further SYNs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        async with HttpClient(connect_timeout=0.3) as client:
            started = time.monotonic()
            with pytest.raises(ConnectTimeout) as info:
                async with client.get(f"http://127.0.0.1:{port}/"):
                    pass
            assert time.monotonic() - started < 2
            assert isinstance(info.value, TimeoutExpired)
            assert isinstance(info.value.__cause__, TimeoutError)
            assert client._pool.total == 0
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
