"""HttpClient against the flags server, plus the raw loopback server the other client tests use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest

from awaitkit.core import bind_tcp
from awaitkit.core.testing import wait_until
from awaitkit.flags import FlagsServer, build_dataset, serving_flags
from awaitkit.http import Headers, HttpClient, HttpClientError
from awaitkit.http._parser import DONE
from tests.flags.loops import both_loops

pytestmark = pytest.mark.anyio
anyio_backend = both_loops

Handler = Callable[
    ["RawServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]
]


class RawServer:
    """A loopback server that runs ``handler`` per connection, with exact control of the bytes.

    It counts ``connections``, records each request head read through
    :meth:`read_head` in ``requests``, and tracks handlers that are still
    running in ``active``.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.active = 0
        self.requests: list[bytes] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[object]] = set()

    async def __aenter__(self) -> RawServer:
        sock = bind_tcp("127.0.0.1", 0)
        self._server = await asyncio.start_server(self._serve, sock=sock)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.active += 1
        try:
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up: part of many tests
        except asyncio.CancelledError:
            # Only __aexit__ cancels handlers.  End quietly: Python 3.11's
            # start_server reports a cancelled handler as an unhandled error.
            pass
        finally:
            self.active -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            self._tasks.discard(task)

    async def read_head(self, reader: asyncio.StreamReader) -> bytes | None:
        """The next request head, or None when the client closed."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        self.requests.append(head)
        return head


def answering(*responses: bytes, then_close: bool = True) -> Handler:
    """Per connection: answer the first requests with ``responses`` in turn, then close."""

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        for response in responses:
            if await server.read_head(reader) is None:
                return
            writer.write(response)
            await writer.drain()
        if not then_close:
            await reader.read()

    return handler


def ok(body: bytes = b"hello", *extra: str) -> bytes:
    """A keep-alive 200 response with Content-Length."""
    fields = "".join(f"{line}\r\n" for line in extra)
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{fields}\r\n"
    return head.encode("latin-1") + body


# -- the flags server ----------------------------------------------------------


async def test_bodies_are_byte_exact() -> None:
    data = await asyncio.to_thread(build_dataset)
    async with serving_flags() as base, HttpClient() as client:
        for cc in ("br", "cn", "us"):
            async with client.get(f"{base}/flags/{cc}/{cc}.gif") as resp:
                body = await resp.read()
                assert resp.status == 200
                assert resp.reason == "OK"
                assert resp.url == f"{base}/flags/{cc}/{cc}.gif"
                assert resp.headers["Content-Type"] == "image/gif"
                assert resp.content_length == len(body)
                assert body == data[f"flags/{cc}/{cc}.gif"].body
            async with client.get(f"{base}/flags/{cc}/metadata.json") as resp:
                assert resp.status == 200
                assert f'"{cc.upper()}"'.encode() in await resp.read()


async def test_not_found_body_and_reuse() -> None:
    async with FlagsServer() as server, HttpClient() as client:
        for _ in range(20):
            async with client.get(f"{server.base_url}/flags/zz/zz.gif") as resp:
                assert resp.status == 404
                assert await resp.read()
        async with client.get(f"{server.base_url}/flags/br/br.gif") as resp:
            assert resp.status == 200
            await resp.read()
        assert server.stats.connections == 1
        assert server.stats.requests == 21


async def test_unread_complete_body_still_reuses_and_reads_after_exit() -> None:
    async with FlagsServer() as server, HttpClient() as client:
        async with client.get(f"{server.base_url}/flags/br/metadata.json") as resp:
            conn = resp._conn
            assert conn is not None
            await wait_until(
                lambda: conn.parser.state == DONE
            )  # arrived, and not read here
        assert b"Brazil" in await resp.read()
        async with client.get(f"{server.base_url}/flags/br/metadata.json") as resp:
            assert b"Brazil" in await resp.read()
        assert server.stats.connections == 1


async def test_limit_is_never_exceeded() -> None:
    async with (
        FlagsServer("DELAY", delay=0.03) as server,
        HttpClient(limit=5) as client,
    ):
        pool = client._pool

        async def fetch(cc: str) -> None:
            async with client.get(f"{server.base_url}/flags/{cc}/{cc}.gif") as resp:
                assert pool.total <= 5
                assert resp.status == 200
                await resp.read()

        ccs = ["br", "cn", "us", "fr", "de", "in", "jp", "ng", "mx", "ru"] * 3
        await asyncio.gather(*(fetch(cc) for cc in ccs))
        assert server.stats.max_in_flight == 5
        assert server.stats.connections == 5
        assert pool.total == 5
        assert pool.idle_total == 5


async def test_limit_per_host_across_origins() -> None:
    async with contextlib.AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(FlagsServer("DELAY", delay=0.03))
            for _ in range(3)
        ]
        client = await stack.enter_async_context(HttpClient(limit=4, limit_per_host=2))
        pool = client._pool
        peak = 0

        async def fetch(server: FlagsServer) -> None:
            nonlocal peak
            async with client.get(f"{server.base_url}/flags/br/br.gif") as resp:
                peak = max(peak, pool.total)
                await resp.read()

        await asyncio.gather(*(fetch(servers[i % 3]) for i in range(36)))
        assert peak == 4
        for server in servers:
            assert server.stats.max_in_flight == 2
            assert server.stats.requests == 12
        # At the total limit, idle connections to other origins were closed to make room.
        assert sum(server.stats.connections for server in servers) > 4


async def test_idle_connection_to_another_origin_makes_room() -> None:
    async with (
        FlagsServer() as first,
        FlagsServer() as second,
        HttpClient(limit=1) as client,
    ):
        for server in (first, second, first):
            async with client.get(f"{server.base_url}/flags/br/br.gif") as resp:
                await resp.read()
        assert first.stats.connections == 2
        assert second.stats.connections == 1
        assert client._pool.total == 1


async def test_idle_connection_closed_by_server_is_dropped() -> None:
    async with (
        FlagsServer(keepalive_timeout=0.2) as server,
        HttpClient() as client,
    ):
        async with client.get(f"{server.base_url}/flags/br/br.gif") as resp:
            await resp.read()
        assert client._pool.idle_total == 1
        await wait_until(lambda: client._pool.total == 0)
        assert client._pool.idle_total == 0
        async with client.get(f"{server.base_url}/flags/br/br.gif") as resp:
            assert resp.status == 200
        assert server.stats.connections == 2


async def test_error_preset_statuses_pass_through() -> None:
    async with (
        FlagsServer("ERROR", delay=0, error_rate=0.5, seed=7) as server,
        HttpClient() as client,
    ):
        statuses = []
        for _ in range(20):
            async with client.get(f"{server.base_url}/flags/br/br.gif") as resp:
                statuses.append(resp.status)
                await resp.read()
        assert sorted(set(statuses)) == [200, 418]
        assert server.stats.connections == 1


async def test_closed_client_refuses_and_closes_connections_in_use() -> None:
    stall = answering(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", then_close=False
    )
    async with RawServer(stall) as server:
        client = HttpClient()
        async with client.get(server.url) as resp:
            reading = asyncio.ensure_future(resp.read())
            conn = resp._conn
            assert conn is not None
            await wait_until(lambda: conn.waiter is not None)
            await client.aclose()
            with pytest.raises(HttpClientError, match="closed"):
                await reading
        assert client._pool.total == 0
        await wait_until(lambda: server.active == 0)
        with pytest.raises(HttpClientError, match="closed"):
            async with client.get(server.url):
                pass


# -- Headers --------------------------------------------------------------------


def test_headers_mapping() -> None:
    headers = Headers(
        [
            (b"Content-Type", b"text/plain"),
            (b"Set-Cookie", b"a=1"),
            (b"set-cookie", b"b=2 "),
            (b"X-Latin", b"caf\xe9"),
        ]
    )
    assert headers["content-type"] == "text/plain"
    assert headers.get("SET-COOKIE") == "a=1, b=2"
    assert headers.get("missing") is None
    assert headers.get("missing", "x") == "x"
    assert "Content-Type" in headers
    not_a_name: object = 3
    assert not_a_name not in headers
    assert headers["x-latin"] == "café"
    with pytest.raises(KeyError):
        headers["missing"]
    assert dict(headers.items()) == {
        "content-type": "text/plain",
        "set-cookie": "a=1, b=2",
        "x-latin": "café",
    }
    assert len(headers) == 3


async def test_body_after_the_block() -> None:
    async def half(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while await server.read_head(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
            await writer.drain()

    async with RawServer(half) as server, HttpClient() as client:
        async with client.get(server.url) as resp:
            pass
        with pytest.raises(HttpClientError, match="closed before its body"):
            await resp.read()
        with pytest.raises(HttpClientError, match="closed before its body"):
            async for _ in resp.chunks():
                pass
        assert client._pool.total == 0


async def test_read_twice_and_chunks_after_read() -> None:
    async with (
        RawServer(answering(ok(b"same"))) as server,
        HttpClient() as client,
        client.get(server.url) as resp,
    ):
        assert await resp.read() == b"same"
        assert await resp.read() == b"same"
        assert [piece async for piece in resp.chunks()] == []
