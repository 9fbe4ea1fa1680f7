"""The TCP server on a real loopback socket: protocol, limits and hostile clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from awaitkit.core import bind_tcp
from awaitkit.find import CharIndex
from awaitkit.servers import TcpServer
from awaitkit.servers._protocol import BUSY, PROMPT, RULE

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def serving(index: CharIndex, **options: Any) -> AsyncIterator[TcpServer]:
    sock = bind_tcp("127.0.0.1", 0)
    async with TcpServer(index, sock, **options) as server:
        yield server


@contextlib.asynccontextmanager
async def connect(
    server: TcpServer,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def until_prompt(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(10):
        return await reader.readuntil(PROMPT)


async def read_all(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(10):
        return await reader.read()


async def eventually(predicate: Any) -> None:
    """Wait for server-side state the server signals no event for (bounded)."""
    async with asyncio.timeout(10):
        while not predicate():  # noqa: ASYNC110  # polling plain attributes
            await asyncio.sleep(0.01)


async def test_query_round_trip_and_repr(index: CharIndex) -> None:
    async with serving(index) as server, connect(server) as (reader, writer):
        assert await until_prompt(reader) == PROMPT
        writer.write(b"cat face\r\n")
        reply = await until_prompt(reader)
        assert reply.startswith("U+1F431\t\U0001f431\tCAT FACE\r\n".encode())
        assert f"{RULE} 11 found\r\n".encode() in reply
        assert repr(server) == f"<TcpServer 127.0.0.1:{server.port} clients=1>"
    assert server.queries == 1


async def test_plus_pages_over_the_wire(index: CharIndex) -> None:
    async with (
        serving(index, page_size=3) as server,
        connect(server) as (reader, writer),
    ):
        await until_prompt(reader)
        writer.write(b"cat face\r\n+\r\n")
        first = await until_prompt(reader)
        second = await until_prompt(reader)
        assert f"{RULE} first 3 of 11 found; send + for more".encode() in first
        assert f"{RULE} 4-6 of 11 found; send + for more".encode() in second


async def test_logs_connection_query_and_close(
    index: CharIndex, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="awaitkit.servers.tcp")
    async with serving(index) as server:
        async with connect(server) as (reader, writer):
            await until_prompt(reader)
            writer.write(b"cat face\r\n")
            await until_prompt(reader)
        await eventually(lambda: server.clients == 0)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("connect 127.0.0.1:") for m in messages)
    assert any("query 'cat face': 11 found" in m for m in messages)
    assert any(
        m.startswith("close 127.0.0.1:") and "after 1 queries" in m for m in messages
    )


async def test_oversized_line_gets_error_and_session_continues(
    index: CharIndex, caplog: pytest.LogCaptureFixture
) -> None:
    """A 1 MiB line (the book's server reset the connection) is refused politely."""
    async with (
        serving(index, max_line=1024) as server,
        connect(server) as (reader, writer),
    ):
        await until_prompt(reader)
        writer.write(b"A" * (1 << 20) + b"\r\ncat face\r\n")
        error = await until_prompt(reader)
        assert error == b"error: line too long (max 1024 bytes), ignored\r\n" + PROMPT
        assert b"CAT FACE" in await until_prompt(reader)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_non_utf8_gets_error_and_session_continues(index: CharIndex) -> None:
    async with serving(index) as server, connect(server) as (reader, writer):
        await until_prompt(reader)
        writer.write(b"\xc3\x28 \xa0\xa1\r\ncat face\r\n")
        assert (await until_prompt(reader)).startswith(
            b"error: input is not valid UTF-8"
        )
        assert b"CAT FACE" in await until_prompt(reader)


async def test_control_character_closes_session(index: CharIndex) -> None:
    async with serving(index) as server, connect(server) as (reader, writer):
        await until_prompt(reader)
        writer.write(b"\xff\xf4\xff\xfd\x06")  # telnet's Ctrl-C
        assert await read_all(reader) == b""
        await eventually(lambda: server.clients == 0)


async def test_half_closed_client_gets_its_answer(index: CharIndex) -> None:
    """A client that sends a query and shuts its side (nc -N) still reads the reply."""
    async with serving(index) as server, connect(server) as (reader, writer):
        writer.write(b"cat face")
        writer.write_eof()
        data = await read_all(reader)
        assert data.startswith(PROMPT + b"U+1F431")
        assert f"{RULE} 11 found".encode() in data


async def test_idle_client_is_closed(index: CharIndex) -> None:
    async with (
        serving(index, idle_timeout=0.2) as server,
        connect(server) as (reader, _),
    ):
        data = await read_all(reader)
        assert data == PROMPT + b"\r\nidle timeout, bye\r\n"
        await eventually(lambda: server.clients == 0)


async def test_excess_clients_get_busy_line(index: CharIndex) -> None:
    async with serving(index, max_clients=2) as server:
        async with connect(server) as (r1, _), connect(server) as (r2, _):
            await until_prompt(r1)
            await until_prompt(r2)
            async with connect(server) as (r3, _):
                assert await read_all(r3) == BUSY
            assert server.clients == 2
        await eventually(lambda: server.clients == 0)
        async with connect(server) as (r4, _):  # room again
            assert await until_prompt(r4) == PROMPT


async def test_client_that_never_reads_is_dropped_and_costs_bounded_memory(
    index: CharIndex,
) -> None:
    """Huge results asked for and never read: output stays bounded, then the client goes."""
    async with serving(index, write_timeout=0.5) as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(sock, (server.host, server.port))
            await eventually(lambda: server.clients == 1)
            # 2,000 pipelined `cjk` queries (100 rows each): ~13 MB of replies.
            with contextlib.suppress(ConnectionError):
                async with asyncio.timeout(10):
                    await loop.sock_sendall(sock, b"cjk\r\n" * 2000)
            await eventually(lambda: server.clients == 0)
        finally:
            sock.close()
        assert server.queries < 2000
        # One page (~7 KB) on top of the transport's 64 KiB high-water mark at most.
        assert 0 < server.max_write_buffer < 128 * 1024


async def test_many_clients_at_once(index: CharIndex) -> None:
    async def one(server: TcpServer, query: bytes) -> bytes:
        async with connect(server) as (reader, writer):
            await until_prompt(reader)
            writer.write(query + b"\r\n")
            return await until_prompt(reader)

    async with serving(index) as server:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(one(server, b"cat face")) for _ in range(50)]
        assert all(b"CAT FACE" in t.result() for t in tasks)
        assert server.queries == 50


async def test_shutdown_says_goodbye_to_idle_clients(index: CharIndex) -> None:
    sock = bind_tcp("127.0.0.1", 0)
    server = TcpServer(index, sock)
    await server.__aenter__()
    async with connect(server) as (reader, _):
        await until_prompt(reader)
        await server.aclose()
        assert await read_all(reader) == b"\r\nserver shutting down, bye\r\n"
    assert server.clients == 0
    with pytest.raises(ConnectionRefusedError):  # no longer accepting
        await asyncio.open_connection(server.host, server.port)


async def test_sequences_over_the_wire_and_paged(index: CharIndex) -> None:
    """Sequence results (from an index that has them) keep every code point."""
    from tests.servers._contract_index import FAMILY, ContractIndex

    contract = ContractIndex(index)
    async with (
        serving(contract, page_size=1) as server,
        connect(server) as (reader, writer),
    ):
        await until_prompt(reader)
        writer.write(b"flag brazil\r\nfamily\r\n+\r\n")
        flag = await until_prompt(reader)
        family = await until_prompt(reader)
        more = await until_prompt(reader)
    assert flag.decode().split("\r\n")[0] == (
        "U+1F1E7 U+1F1F7\t\U0001f1e7\U0001f1f7\tflag: Brazil"
    )
    assert family.decode().startswith(
        f"{FAMILY.code}\t{FAMILY.char}\t{FAMILY.name}\r\n"
    )
    assert "; send + for more" in family.decode()
    assert more.decode().startswith("U+")
    assert FAMILY.char not in more.decode()
