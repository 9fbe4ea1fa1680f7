"""HttpClient pool slots under cancellation, and redirects."""

from __future__ import annotations

import asyncio

import pytest

from awaitkit.core.testing import wait_until
from awaitkit.http import (
    HttpClient,
    RedirectError,
    Response,
    TooManyRedirects,
)
from tests.flags.loops import both_loops
from tests.http.test_client import Handler, RawServer, ok

pytestmark = pytest.mark.anyio
anyio_backend = both_loops


def stalling() -> tuple[asyncio.Event, Handler, list[asyncio.StreamReader]]:
    """A handler that sends half a body, then waits for ``release`` to send the rest.

    It also returns the list of its connections' readers, so a test can see a close.
    """
    release = asyncio.Event()
    readers: list[asyncio.StreamReader] = []

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        readers.append(reader)
        while await server.read_head(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nhalf")
            await writer.drain()
            await release.wait()
            writer.write(b"done")
            await writer.drain()

    return release, handler, readers


# -- cancellation ------------------------------------------------------------------


async def test_cancel_mid_body_closes_the_connection_and_frees_the_slot() -> None:
    release, handler, readers = stalling()
    async with RawServer(handler) as server, HttpClient(limit=1) as client:
        reading: list[Response] = []

        async def fetch() -> bytes:
            async with client.get(server.url) as resp:
                reading.append(resp)
                return await resp.read()

        task = asyncio.ensure_future(fetch())
        await wait_until(lambda: bool(reading))
        conn = reading[0]._conn
        assert conn is not None
        await wait_until(lambda: conn.waiter is not None)  # read() waits for the rest
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client._pool.total == 0
        await wait_until(readers[0].at_eof)  # the server saw it close
        release.set()
        async with client.get(server.url) as resp:
            assert await resp.read() == b"halfdone"
        assert server.connections == 2


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    release, handler, _readers = stalling()
    async with RawServer(handler) as server, HttpClient(limit=1) as client:
        pool = client._pool
        async with client.get(server.url) as first:
            waiting = asyncio.ensure_future(client.get(server.url).__aenter__())
            await wait_until(lambda: len(pool._waiters) == 1)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert pool._waiters == []
            release.set()
            assert await first.read() == b"halfdone"
        assert (pool.total, pool.idle_total) == (1, 1)
        async with client.get(server.url) as resp:
            assert await resp.read() == b"halfdone"
        assert server.connections == 1


async def test_waiter_cancelled_after_being_served_hands_the_connection_back() -> None:
    release, handler, _readers = stalling()
    release.set()
    async with RawServer(handler) as server, HttpClient(limit=1) as client:
        pool = client._pool
        context = client.get(server.url)
        async with client.get(server.url) as first:
            assert await first.read() == b"halfdone"
            waiting = asyncio.ensure_future(context.__aenter__())
            await wait_until(lambda: len(pool._waiters) == 1)
        # Leaving the block handed the connection to the waiter; it has not run yet.
        assert pool._waiters == []
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (pool.total, pool.idle_total) == (1, 1)
        async with client.get(server.url) as resp:
            assert await resp.read() == b"halfdone"
        assert server.connections == 1


async def test_waiters_are_served_in_order() -> None:
    release, handler, _readers = stalling()
    async with RawServer(handler) as server, HttpClient(limit=1) as client:
        pool = client._pool
        order: list[int] = []

        async def fetch(i: int) -> None:
            async with client.get(f"{server.url}/{i}") as resp:
                order.append(i)
                await resp.read()

        tasks = [asyncio.ensure_future(fetch(0))]
        await wait_until(lambda: order == [0])  # holds the one connection
        for i in range(1, 6):
            tasks.append(asyncio.ensure_future(fetch(i)))
            await wait_until(lambda: len(pool._waiters) == len(tasks) - 1)
        release.set()
        await asyncio.gather(*tasks)
        assert order == list(range(6))
        assert server.connections == 1


async def test_exception_in_block_closes_the_connection() -> None:
    async def fails_inside(client: HttpClient, url: str) -> None:
        async with client.get(url) as resp:
            await resp.read()
            raise RuntimeError("caller's own error")

    async with RawServer(_routes({"/": ok(b"x")})) as server, HttpClient() as client:
        with pytest.raises(RuntimeError, match="own error"):
            await fails_inside(client, server.url)
        assert client._pool.total == 0
        async with client.get(server.url) as resp:
            assert await resp.read() == b"x"
        assert server.connections == 2


# -- redirects ---------------------------------------------------------------------


def _routes(routes: dict[str, bytes]) -> Handler:
    """A keep-alive handler answering by path; unknown paths get 404."""

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (head := await server.read_head(reader)) is not None:
            path = head.split(b" ", 2)[1].decode("latin-1")
            writer.write(
                routes.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            )
            await writer.drain()

    return handler


def redirect(location: str | bytes, status: int = 302, body: bytes = b"") -> bytes:
    raw = location if isinstance(location, bytes) else location.encode()
    return b"HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        status,
        raw,
        len(body),
        body,
    )


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_relative_redirect(status: int) -> None:
    routes = {"/a/b": redirect("../c?q=1", status, b"moved"), "/c?q=1": ok(b"C")}
    async with RawServer(_routes(routes)) as server, HttpClient() as client:
        async with client.get(f"{server.url}/a/b") as resp:
            assert resp.status == 200
            assert resp.url == f"{server.url}/c?q=1"
            assert await resp.read() == b"C"
        assert server.connections == 1  # the small redirect body was read and dropped


async def test_absolute_redirect_to_another_server_keeps_headers() -> None:
    async with RawServer(_routes({"/there": ok(b"T")})) as target:
        routes = {"/here": redirect(f"{target.url}/there")}
        async with (
            RawServer(_routes(routes)) as server,
            HttpClient() as client,
            client.get(f"{server.url}/here", headers={"Range": "bytes=1-"}) as resp,
        ):
            assert resp.url == f"{target.url}/there"
            assert await resp.read() == b"T"
        assert b"\r\nRange: bytes=1-\r\n" in target.requests[0]
        assert b"\r\nHost: 127.0.0.1:" in target.requests[0]


async def test_redirect_chain_and_loop() -> None:
    routes = {
        "/1": redirect("/2"),
        "/2": redirect("/3", 301),
        "/3": redirect("/ok", 307),
        "/ok": ok(b"end"),
        "/loop": redirect("/loop"),
    }
    async with RawServer(_routes(routes)) as server, HttpClient() as client:
        async with client.get(f"{server.url}/1", max_redirects=3) as resp:
            assert await resp.read() == b"end"
        with pytest.raises(TooManyRedirects):
            async with client.get(f"{server.url}/1", max_redirects=2):
                pass
        before = len(server.requests)
        with pytest.raises(TooManyRedirects):
            async with client.get(f"{server.url}/loop", max_redirects=5):
                pass
        assert len(server.requests) - before == 6
        assert client._pool.total <= 1


async def test_max_redirects_zero_returns_the_redirect() -> None:
    routes = {"/": redirect("/elsewhere", 301, b"see elsewhere")}
    async with RawServer(_routes(routes)) as server, HttpClient() as client:
        async with client.get(server.url, max_redirects=0) as resp:
            assert resp.status == 301
            assert resp.headers["location"] == "/elsewhere"
            assert await resp.read() == b"see elsewhere"
        assert len(server.requests) == 1


@pytest.mark.parametrize(
    "response",
    [
        redirect("ftp://example.com/file"),
        redirect("javascript:alert(1)"),
        redirect("http://exa mple.com/"),
        redirect("http://[::1/"),
        redirect("http://host:99999/"),
        b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["ftp", "javascript", "space-in-host", "bad-ipv6", "bad-port", "no-location"],
)
async def test_unusable_redirects(response: bytes) -> None:
    async with RawServer(_routes({"/": response})) as server, HttpClient() as client:
        with pytest.raises(RedirectError):
            async with client.get(server.url):
                pass
        assert client._pool.total <= 1


async def test_redirect_location_bytes_are_percent_encoded() -> None:
    routes = {
        "/": redirect(b"/caf\xc3\xa9 \xe9"),
        "/caf%C3%A9%20%E9": ok(b"encoded"),
    }
    async with (
        RawServer(_routes(routes)) as server,
        HttpClient() as client,
        client.get(server.url) as resp,
    ):
        assert await resp.read() == b"encoded"


async def test_large_redirect_body_costs_the_connection() -> None:
    routes = {"/": redirect("/ok", body=b"z" * 4_000_000), "/ok": ok(b"fine")}
    async with RawServer(_routes(routes)) as server, HttpClient() as client:
        async with client.get(server.url) as resp:
            assert await resp.read() == b"fine"
        assert server.connections == 2


async def test_the_pool_forgets_an_origin_once_its_last_connection_goes() -> None:
    """A batch visiting many hosts leaves no books behind; a host in use keeps its own."""
    from awaitkit.http._connection import Connection
    from awaitkit.http._pool import Pool
    from awaitkit.http._url import Origin

    loop = asyncio.get_running_loop()
    pool: Pool

    async def connect(origin: Origin) -> Connection:
        return Connection(
            loop,
            origin,
            read_timeout=None,
            max_head=1024,
            on_lost=pool.connection_closed,
        )

    pool = Pool(2, None, connect)
    busy = await pool.acquire(Origin("http", "busy.test", 80, "busy.test"))
    for i in range(1_000):
        conn = await pool.acquire(Origin("http", f"h{i}.test", 80, f"h{i}.test"))
        pool.discard(conn)
        if i % 100 == 0:
            await asyncio.sleep(
                0
            )  # acquire() never suspends here: let the loop breathe
    assert pool.total == 1
    assert list(pool._hosts) == [busy.origin.key]
    pool.discard(busy)
    assert pool.total == 0
    assert not pool._hosts
