"""Proxy mode against real upstreams on loopback: our flags server, raw asyncio
servers that misbehave, and nginx; clients are aiohttp and raw sockets."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from awaitkit.core.errors import UsageError
from awaitkit.core.testing import exchange, split_url, status_of, statuses_of
from awaitkit.flags import FaultProxy, FlagsServer, build_dataset, serving_proxy
from tests.flags.loops import both_loops
from tests.flags.upstreams import (
    answer,
    closed_port,
    open_fds,
    reset,
    serving_nginx,
    serving_raw,
)

pytestmark = pytest.mark.anyio

anyio_backend = both_loops

GIF = "/flags/br/br.gif"


@pytest.fixture(scope="module", autouse=True)
def _dataset_loaded() -> None:
    """Load the data set before any loop runs (a first load holds the caller)."""
    build_dataset()


def gif_body(cc: str = "br") -> bytes:
    return build_dataset()[f"flags/{cc}/{cc}.gif"].body


@contextlib.asynccontextmanager
async def flags_and_proxy(
    flags: dict[str, Any] | None = None, **proxy: Any
) -> AsyncIterator[tuple[FlagsServer, FaultProxy]]:
    async with (
        FlagsServer(**(flags or {})) as upstream,
        FaultProxy(upstream.base_url, **proxy) as px,
    ):
        yield upstream, px


def get(path: bytes, *extra: bytes, close: bool = True) -> bytes:
    return (
        b"GET "
        + path
        + b" HTTP/1.1\r\nHost: x\r\n"
        + b"".join(extra)
        + (b"Connection: close\r\n" if close else b"")
        + b"\r\n"
    )


def split_response(raw: bytes) -> tuple[bytes, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """The data of a chunked body, and whether it ended with the last chunk."""
    out = b""
    while body:
        size_line, sep, rest = body.partition(b"\r\n")
        if not sep:
            return out, False
        size = int(size_line, 16)
        if size == 0:
            return out, rest.startswith(b"\r\n")
        out += rest[:size]
        body = rest[size + 2 :]
    return out, False


# -- in front of the flags server --------------------------------------------


async def test_forwards_files_statuses_and_validators() -> None:
    """GET, 404, HEAD, Range and If-None-Match pass through unchanged, with Via."""
    async with flags_and_proxy() as (upstream, px), aiohttp.ClientSession() as s:
        async with s.get(px.base_url + GIF) as resp:
            assert resp.status == 200
            assert await resp.read() == gif_body()
            assert resp.headers["Via"] == "1.1 awaitkit"
            etag = resp.headers["ETag"]
        async with s.get(px.base_url + "/flags/zz/none.gif") as resp:
            assert resp.status == 404
        async with s.head(px.base_url + GIF) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Length"] == str(len(gif_body()))
        async with s.get(px.base_url + GIF, headers={"Range": "bytes=0-9"}) as resp:
            assert resp.status == 206
            assert await resp.read() == gif_body()[:10]
        async with s.get(px.base_url + GIF, headers={"If-None-Match": etag}) as resp:
            assert resp.status == 304
            assert await resp.read() == b""
        async with s.get(px.base_url + GIF) as resp:
            assert await resp.read() == gif_body()
    assert upstream.stats.by_status == {200: 3, 404: 1, 206: 1, 304: 1}
    assert upstream.stats.connections <= 2  # keep-alive to the upstream (HEAD closes)


async def test_keep_alive_and_pipelined_requests_share_one_upstream_connection() -> (
    None
):
    """Eight pipelined GETs on one client connection: in order, one upstream connection."""
    async with flags_and_proxy() as (upstream, px):
        paths = [f"/flags/{cc}/{cc}.gif".encode() for cc in ("br", "fr", "jp", "de")]
        data = b"".join(get(p, close=False) for p in paths * 2)
        data += get(b"/flags/br/metadata.json")
        raw = await exchange(px.base_url, data)
        assert statuses_of(raw) == [200] * 9
        for cc in ("br", "fr", "jp", "de"):
            assert raw.count(gif_body(cc)) == 2
        assert upstream.stats.connections == 1
        assert px.pool.count == 1
        assert px.stats.max_in_flight >= 2


async def test_status_faults_are_answered_without_the_upstream() -> None:
    """error, 429 and 503 faults never reach the upstream; Retry-After is set."""
    async with (
        flags_and_proxy(error_rate=1.0, error_status=500) as (upstream, px),
        aiohttp.ClientSession() as s,
    ):
        async with s.get(px.base_url + GIF) as resp:
            assert resp.status == 500
        assert upstream.stats.requests == 0
    for option, status in (("rate_limit_rate", 429), ("unavailable_rate", 503)):
        async with (
            flags_and_proxy(**{option: 1.0, "retry_after": 7}) as (upstream, px),
            aiohttp.ClientSession() as s,
        ):
            async with s.get(px.base_url + GIF) as resp:
                assert resp.status == status
                assert resp.headers["Retry-After"] == "7"
            assert upstream.stats.requests == 0
            assert (
                px.stats.by_fault[option.removesuffix("_rate").replace("_", "-")] == 1
            )


async def test_delay_is_applied_before_forwarding() -> None:
    async with flags_and_proxy(delay=0.3) as (_, px):
        loop = asyncio.get_running_loop()
        start = loop.time()
        raw = await exchange(px.base_url, get(GIF.encode()))
        assert loop.time() - start >= 0.29
        assert status_of(raw) == 200


async def test_truncate_cuts_at_half_the_upstream_content_length() -> None:
    """The client gets the head and exactly half the body, then a clean close."""
    async with flags_and_proxy(truncate_rate=1.0) as (upstream, px):
        raw = await exchange(px.base_url, get(GIF.encode(), close=False))
        head, body = split_response(raw)
        assert b"Content-Length: %d" % len(gif_body()) in head
        assert body == gif_body()[: len(gif_body()) // 2]
        assert px.stats.by_fault["truncate"] == 1
        # The upstream connection was mid-body: dropped, not pooled.
        await _wait(lambda: px.pool.count == 0)
        assert upstream.stats.requests == 1


async def test_reset_sends_a_tcp_reset_mid_body() -> None:
    async with flags_and_proxy(reset_rate=1.0) as (_, px):
        with pytest.raises(ConnectionResetError):
            await exchange(px.base_url, get(GIF.encode(), close=False))
        assert px.stats.by_fault["reset"] == 1


async def test_stall_holds_the_client_silent_then_closes() -> None:
    async with flags_and_proxy(stall_rate=1.0, stall_timeout=0.5) as (_, px):
        loop = asyncio.get_running_loop()
        start = loop.time()
        raw = await exchange(px.base_url, get(GIF.encode(), close=False))
        assert loop.time() - start >= 0.45
        assert split_response(raw)[1] == gif_body()[: len(gif_body()) // 2]
        assert px.pool.count == 0  # the upstream was let go at once


async def test_body_fault_on_a_bodiless_answer_cuts_the_head() -> None:
    async with flags_and_proxy(truncate_rate=1.0) as (_, px):
        raw = await exchange(
            px.base_url, b"HEAD " + GIF.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert raw.startswith(b"HTTP/1.1 200")
        assert b"\r\n\r\n" not in raw


async def test_seed_repeats_the_fault_sequence() -> None:
    async def run() -> list[int]:
        async with flags_and_proxy(error_rate=0.5, seed=7) as (_, px):
            data = b"".join(get(GIF.encode(), close=False) for _ in range(11))
            raw = await exchange(px.base_url, data + get(GIF.encode()))
            return statuses_of(raw)

    first = await run()
    assert set(first) == {200, 418}
    assert await run() == first


# -- upstreams that misbehave --------------------------------------------------


async def test_refused_upstream_gets_502_and_the_proxy_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FaultProxy(f"http://127.0.0.1:{closed_port()}") as px:
        for _ in range(2):
            raw = await exchange(px.base_url, get(b"/x"))
            assert status_of(raw) == 502
            assert b"upstream refused" in raw
        assert px.stats.upstream_errors["refused"] == 2
        assert px.pool.count == 0
    logged = [r for r in caplog.records if "upstream refused" in r.getMessage()]
    assert len(logged) == 2  # once per failed request


async def _wait(predicate: Any, wait: float = 5.0) -> None:
    from awaitkit.core.testing import wait_until

    await wait_until(predicate, wait=wait)


async def test_upstream_reset_before_the_head_gets_502() -> None:
    async def handler(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        reset(writer)

    async with serving_raw(handler) as up, FaultProxy(up.url) as px:
        raw = await exchange(px.base_url, get(b"/x"))
        assert status_of(raw) == 502
        assert (
            px.stats.upstream_errors["reset"] + px.stats.upstream_errors["closed"] == 1
        )


@pytest.mark.parametrize(
    "garbage",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 abc Nope\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-N: v\r\n" * 9_000 + b"\r\n",  # many small
        b"\xff\xfe\x00binary\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n",
    ],
)
async def test_upstream_garbage_gets_502(garbage: bytes) -> None:
    async def handler(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(garbage)
        await writer.drain()
        await asyncio.sleep(5)

    async with serving_raw(handler) as up, FaultProxy(up.url) as px:
        raw = await exchange(px.base_url, get(b"/x"))
        assert status_of(raw) == 502
        assert px.stats.upstream_errors["garbage"] == 1


async def test_an_unasked_for_second_response_drops_the_connection() -> None:
    """Bytes after the response in the same read: the next request gets a new
    upstream connection, never the stray response."""
    calls = 0

    async def doubled(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        nonlocal calls
        calls += 1
        one = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
        writer.write(one + b"%03d" % calls + one + b"bad")
        await writer.drain()

    async with serving_raw(doubled) as up, FaultProxy(up.url) as px:
        raw = await exchange(px.base_url, get(b"/a", close=False) + get(b"/b"))
        assert raw.count(b"HTTP/1.1 200 OK") == 2
        assert raw.endswith(b"002")
        assert b"bad" not in raw
        assert up.connections == 2


async def test_odd_but_valid_upstream_heads_pass() -> None:
    """A non-UTF-8 reason phrase and an interim 100 pass (the 100 is dropped)."""

    async def odd(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 200 \xe7a va\r\nContent-Length: 2\r\n\r\nok"
        )
        await writer.drain()

    async with serving_raw(odd) as up, FaultProxy(up.url) as px:
        raw = await exchange(px.base_url, get(b"/x"))
        assert raw.startswith(b"HTTP/1.1 200 \xe7a va\r\n")
        assert raw.endswith(b"\r\n\r\nok")
        assert b"100 Continue" not in raw


async def test_stalled_upstream_gets_504_and_the_next_request_is_served() -> None:
    calls = 0

    async def handler(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(10)  # never answers
        await answer(200, b"fine")(r, writer, head)

    async with (
        serving_raw(handler) as up,
        FaultProxy(up.url, upstream_timeout=0.3) as px,
    ):
        raw = await exchange(px.base_url, get(b"/slow"))
        assert status_of(raw) == 504
        raw = await exchange(px.base_url, get(b"/next"))
        assert status_of(raw) == 200
        assert raw.endswith(b"fine")
        assert px.stats.upstream_errors["timeout"] == 1


async def test_upstream_stalling_mid_body_ends_the_client_response_short() -> None:
    async def handler(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"a" * 10)
        await writer.drain()
        await asyncio.sleep(10)

    async with (
        serving_raw(handler) as up,
        FaultProxy(up.url, upstream_timeout=0.3) as px,
    ):
        raw = await exchange(px.base_url, get(b"/x", close=False))
        head, body = split_response(raw)
        assert status_of(head) == 200
        assert body == b"a" * 10  # short of Content-Length: the client can tell
        assert px.stats.upstream_errors["timeout"] == 1


async def test_truncated_upstream_body_is_passed_on_truncated() -> None:
    async def handler(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"b" * 500)
        await writer.drain()
        writer.close()

    async with serving_raw(handler) as up, FaultProxy(up.url) as px:
        raw = await exchange(px.base_url, get(b"/x", close=False))
        assert split_response(raw)[1] == b"b" * 500
        assert px.stats.upstream_errors["closed"] == 1
        assert status_of(await exchange(px.base_url, get(b"/x"))) == 200


async def test_garbage_mid_body_ends_the_client_response_short() -> None:
    async def bad_chunk(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n"
        )
        await writer.drain()
        await asyncio.sleep(5)

    async with serving_raw(bad_chunk) as up, FaultProxy(up.url) as px:
        raw = await exchange(px.base_url, get(b"/x", close=False))
        head, body = split_response(raw)
        assert status_of(head) == 200
        assert dechunk(body) == (b"abc", False)  # no last chunk: visibly cut
        assert px.stats.upstream_errors["garbage"] == 1


async def test_chunked_and_close_delimited_upstreams_are_rechunked() -> None:
    async def chunked(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n"
        )
        await writer.drain()

    async def to_eof(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    for handler, expected in ((chunked, b"hello world"), (to_eof, b"until the end")):
        async with serving_raw(handler) as up, FaultProxy(up.url) as px:
            data = get(b"/a", close=False) + get(b"/b")
            raw = await exchange(px.base_url, data)
            assert raw.count(b"HTTP/1.1 200 OK") == 2
            first, _, second = raw.partition(b"HTTP/1.1 200 OK")[2].partition(
                b"HTTP/1.1 200 OK"
            )
            for response in (first, second):
                head, _, body = response.partition(b"\r\n\r\n")
                assert b"Transfer-Encoding: chunked" in head
                assert b"Connection: close" not in head or response is second
                assert dechunk(body) == (expected, True)
            async with aiohttp.ClientSession() as s, s.get(px.base_url + "/c") as resp:
                assert await resp.read() == expected


async def test_http10_client_gets_a_close_delimited_body() -> None:
    async def chunked(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        )
        await writer.drain()

    async with serving_raw(chunked) as up, FaultProxy(up.url) as px:
        raw = await exchange(px.base_url, b"GET / HTTP/1.0\r\n\r\n")
        head, body = split_response(raw)
        assert b"chunked" not in head
        assert body == b"abc"


@pytest.mark.parametrize("status", [204, 304])
async def test_bodiless_statuses_keep_the_connection(status: int) -> None:
    async with (
        serving_raw(answer(status, b"", b'ETag: "1"')) as up,
        FaultProxy(up.url) as px,
    ):
        raw = await exchange(px.base_url, get(b"/a", close=False) + get(b"/b"))
        assert raw.count(b"HTTP/1.1 %d" % status) == 2
        assert b"Transfer-Encoding" not in raw
        assert up.connections == 1


async def test_a_stale_keep_alive_connection_is_retried_once() -> None:
    """An upstream that drops idle connections silently: the proxy retries on a new one."""

    async def once(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        await answer(200, b"ok")(r, writer, head)
        writer.close()  # without Connection: close, as idle timeouts do

    async with serving_raw(once) as up, FaultProxy(up.url) as px:
        for _ in range(3):
            raw = await exchange(px.base_url, get(b"/x"))
            assert status_of(raw) == 200, raw
            await asyncio.sleep(0.05)  # let the close arrive while idle
        assert up.connections == 3
        assert not px.stats.upstream_errors


# -- request bodies and hostile clients ---------------------------------------


async def test_request_bodies_are_forwarded_with_a_length() -> None:
    async with serving_raw(answer(201, b"made")) as up, FaultProxy(up.url) as px:
        plain = (
            b"POST /p HTTP/1.1\r\nHost: client.example\r\nContent-Length: 5\r\n"
            b"X-Forwarded-For: 10.1.1.1\r\n\r\nhello"
        )
        chunked = (
            b"PUT /q HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        raw = await exchange(px.base_url, plain + chunked)
        assert statuses_of(raw) == [201, 201]
        assert up.bodies == [b"hello", b"abcde"]
        first, second = up.heads
        assert first.startswith(b"POST /p HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"X-Forwarded-Host: client.example" in first
        assert b"X-Forwarded-For: 10.1.1.1, 127.0.0.1" in first
        assert b"Content-Length: 5" in first
        assert b"Content-Length: 5" in second  # it came chunked
        assert b"Transfer-Encoding" not in second
        assert b"Connection" not in second


async def test_expect_continue_gets_100_first() -> None:
    async with serving_raw(answer(200, b"ok")) as up, FaultProxy(up.url) as px:
        reader, writer = await asyncio.open_connection(*split_url(px.base_url))
        try:
            writer.write(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"hi")
            raw = await asyncio.wait_for(reader.read(), 5)
            assert status_of(raw) == 200
        finally:
            writer.close()
        assert up.bodies == [b"hi"]
        assert b"Expect" not in up.heads[0]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT HTTP\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"X-A: " + b"b" * 40_000 + b"\r\n\r\n", 431),
        (b"CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n", 405),
        (b"GET host.example:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ],
)
async def test_malformed_and_oversized_requests(
    request_bytes: bytes, status: int
) -> None:
    async with serving_raw(answer(200)) as up, FaultProxy(up.url) as px:
        raw = await exchange(px.base_url, request_bytes)
        assert status_of(raw) == status
        assert not up.heads  # nothing reached the upstream


async def test_upgrade_requests_are_forwarded_without_the_upgrade() -> None:
    """A WebSocket handshake gets the upstream's plain answer, then the close."""
    async with serving_raw(answer(200, b"no ws")) as up, FaultProxy(up.url) as px:
        raw = await exchange(
            px.base_url,
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
            b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        assert status_of(raw) == 200
        assert raw.endswith(b"no ws")
        assert b"upgrade" not in up.heads[0].lower()
        assert b"Sec-WebSocket-Version: 13" in up.heads[0]


async def test_oversized_body_gets_413() -> None:
    async with (
        serving_raw(answer(200)) as up,
        FaultProxy(up.url, max_body_bytes=1000) as px,
    ):
        raw = await exchange(
            px.base_url,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000,
        )
        assert status_of(raw) == 413
        assert not up.heads


async def test_non_utf8_fields_pass_unchanged_both_ways() -> None:
    async with (
        serving_raw(answer(200, b"", b"X-Back: \xe9t\xe9")) as up,
        FaultProxy(up.url) as px,
    ):
        raw = await exchange(px.base_url, get(b"/caf%C3%A9", b"X-Name: \xff\xfe\r\n"))
        assert status_of(raw) == 200
        assert b"X-Back: \xe9t\xe9" in raw
        assert b"X-Name: \xff\xfe" in up.heads[0]
        assert up.heads[0].startswith(b"GET /caf%C3%A9 ")


async def test_half_closed_client_gets_every_answer() -> None:
    async with flags_and_proxy() as (_, px):
        data = get(GIF.encode(), close=False) * 3
        raw = await exchange(px.base_url, data, half_close=True)
        assert statuses_of(raw) == [200, 200, 200]


async def test_client_gone_mid_body_frees_the_upstream_connection() -> None:
    """Clients that leave mid-body leak no upstream connection and no descriptor."""
    piece = b"z" * (64 * 1024)
    size = 128 * len(piece)  # 8 MB: more than the kernel buffers hold

    async def handler(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        if head.startswith(b"GET /small"):
            await answer(200, b"still here")(r, writer, head)
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // len(piece)):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(
                0
            )  # drain() does not yield while the kernel takes it all

    async with serving_raw(handler) as up, FaultProxy(up.url) as px:
        fds_before = None
        for i in range(12):
            reader, writer = await asyncio.open_connection(*split_url(px.base_url))
            writer.write(get(b"/big", close=False))
            await reader.readexactly(100_000)
            if i % 2:
                writer.transport.abort()
            else:
                writer.write_eof()  # half-closed, then gone
                writer.close()
            # No busy upstream connection is left: an exchange cut short
            # closed its connection; one the kernel buffers let finish idles.
            await _wait(
                lambda: px.connections == 0 and px.pool.count == len(px.pool.idle) <= 1
            )
            if fds_before is None:
                fds_before = open_fds()
        assert open_fds() <= (fds_before or 0) + 2
        assert px.stats.in_flight == 0
        raw = await exchange(px.base_url, get(b"/small"))
        assert split_response(raw)[1] == b"still here"


async def test_pool_is_bounded_and_waiters_are_served() -> None:
    async def slow(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        await asyncio.sleep(0.05)
        await answer(200, b"ok")(r, writer, head)

    async with (
        serving_raw(slow) as up,
        FaultProxy(up.url, upstream_connections=2) as px,
    ):
        peak = 0

        async def one() -> int:
            nonlocal peak
            raw = await exchange(px.base_url, get(b"/x"))
            peak = max(peak, px.pool.count)
            return status_of(raw)

        assert await asyncio.gather(*(one() for _ in range(12))) == [200] * 12
        assert peak <= 2
        assert up.connections <= 2


async def test_slow_client_large_body_streams_in_flat_memory() -> None:
    """A 16 MB body to a client reading slowly: the proxy holds a bounded amount."""
    size = 16 * 1024 * 1024
    piece = os.urandom(64 * 1024)
    digest = hashlib.sha256(piece * (size // len(piece))).hexdigest()

    async def handler(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // len(piece)):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(
                0
            )  # drain() does not yield while the kernel takes it all

    async with serving_raw(handler) as up, FaultProxy(up.url) as px:
        reader, writer = await asyncio.open_connection(
            *split_url(px.base_url), limit=64 * 1024
        )
        tracemalloc.start()
        try:
            writer.write(get(b"/big"))
            head = await reader.readuntil(b"\r\n\r\n")
            assert status_of(head) == 200
            hasher = hashlib.sha256()
            got = 0
            while got < size:
                chunk = await reader.read(256 * 1024)
                assert chunk
                hasher.update(chunk)
                got += len(chunk)
                if got < 2 * 1024 * 1024:
                    await asyncio.sleep(0.01)  # slow at first: the proxy must pause
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            writer.close()
        assert hasher.hexdigest() == digest
        # The body is 16 MB; what the proxy (and both test ends) held at once
        # stays a few socket buffers' worth.
        assert peak < 6 * 1024 * 1024, peak


async def test_connection_limit_answers_503() -> None:
    async with (
        serving_raw(answer(200)) as up,
        FaultProxy(up.url, max_connections=1) as px,
    ):
        _, writer = await asyncio.open_connection(*split_url(px.base_url))
        try:
            await _wait(lambda: px.connections == 1)
            raw = await exchange(px.base_url, get(b"/"))
            assert status_of(raw) == 503
        finally:
            writer.close()


async def test_idle_client_connections_are_closed() -> None:
    async with (
        serving_raw(answer(200)) as up,
        FaultProxy(up.url, keepalive_timeout=0.3) as px,
    ):
        raw = await exchange(px.base_url, get(b"/", close=False), wait=5)
        assert status_of(raw) == 200


@pytest.mark.parametrize(
    "options",
    [
        {"upstream_connections": 0},
        {"upstream_timeout": 0},
        {"cut_after": 0},
        {"error_rate": 2},
    ],
)
def test_bad_options_are_usage_errors(options: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        FaultProxy("http://127.0.0.1:1", **options)


async def test_serving_proxy_yields_its_url() -> None:
    async with FlagsServer() as upstream, serving_proxy(upstream.base_url) as url:
        raw = await exchange(url, get(GIF.encode()))
        assert split_response(raw)[1] == gif_body()


async def test_shutdown_with_stalled_and_delayed_requests_is_prompt() -> None:
    async def never(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        await asyncio.sleep(30)

    async with serving_raw(never) as up:
        px = FaultProxy(up.url)
        await px.start()
        tasks = [
            asyncio.ensure_future(exchange(px.base_url, get(b"/x"))) for _ in range(3)
        ]
        await _wait(lambda: px.pool.count == 3)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await px.close()
        assert loop.time() - start < 2
        for task in tasks:
            with contextlib.suppress(Exception):
                await task


# -- in front of nginx --------------------------------------------------------


@pytest.fixture(scope="module")
def nginx_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("www")
    (root / "hello.txt").write_bytes(b"hello from nginx\n" * 1000)
    (root / "big.bin").write_bytes(bytes(range(256)) * (5 * 4096))  # 5 MB
    with serving_nginx(Path(root)) as url:
        yield url


async def test_in_front_of_nginx(nginx_url: str) -> None:
    big = bytes(range(256)) * (5 * 4096)
    text = b"hello from nginx\n" * 1000
    async with FaultProxy(nginx_url) as px, aiohttp.ClientSession() as s:
        async with s.get(px.base_url + "/big.bin") as resp:
            assert resp.status == 200
            assert await resp.read() == big
            assert "nginx" in resp.headers["Server"]
        async with s.head(px.base_url + "/big.bin") as resp:
            assert resp.headers["Content-Length"] == str(len(big))
        async with s.get(px.base_url + "/hello.txt") as resp:
            etag = resp.headers["ETag"]
            assert await resp.read() == text
        async with s.get(
            px.base_url + "/hello.txt", headers={"If-None-Match": etag}
        ) as resp:
            assert resp.status == 304
        async with s.get(
            px.base_url + "/hello.txt", headers={"Accept-Encoding": "gzip"}
        ) as resp:
            assert (
                resp.headers["Transfer-Encoding"] == "chunked"
            )  # from nginx, re-chunked
            assert resp.headers["Content-Encoding"] == "gzip"
            assert await resp.read() == text  # aiohttp decodes
        async with s.get(px.base_url + "/missing") as resp:
            assert resp.status == 404
    assert not px.stats.upstream_errors


async def test_faults_in_front_of_nginx(nginx_url: str) -> None:
    """Truncating a gzip'd (chunked) nginx answer cuts after --cut-after bytes."""
    async with FaultProxy(nginx_url, truncate_rate=1.0, cut_after=100) as px:
        raw = await exchange(
            px.base_url,
            get(b"/hello.txt", b"Accept-Encoding: gzip\r\n", close=False),
        )
        head, body = split_response(raw)
        assert b"Transfer-Encoding: chunked" in head
        data, ended = dechunk(body)
        assert len(data) == 100
        assert not ended
        with pytest.raises((EOFError, OSError, gzip.BadGzipFile)):
            gzip.decompress(data)


async def test_pipelined_bodies_past_the_byte_bound_are_all_answered() -> None:
    """Queued request bodies pause reading past max_body_bytes, then resume."""
    async with (
        serving_raw(answer(200, b"ok")) as up,
        FaultProxy(up.url, max_body_bytes=1000) as px,
    ):
        post = (
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\n\r\n" + b"p" * 600
        )
        raw = await exchange(px.base_url, post * 9 + get(b"/last"))
        assert statuses_of(raw) == [200] * 10
        assert up.bodies == [b"p" * 600] * 9 + [b""]


async def test_a_dropped_request_is_retried_for_a_get_not_for_a_post() -> None:
    """An upstream that drops the second request of each connection unanswered:
    a GET goes again on a new connection; a POST (maybe acted on) gets 502."""
    seen: dict[int, int] = {}

    async def second_dropped(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        key = id(writer)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            writer.close()
            return
        await answer(200, b"ok")(r, writer, head)

    async with serving_raw(second_dropped) as up, FaultProxy(up.url) as px:
        raw = await exchange(px.base_url, get(b"/1", close=False) + get(b"/2"))
        assert statuses_of(raw) == [200, 200]
        assert not px.stats.upstream_errors
        post = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nq"
        raw = await exchange(px.base_url, get(b"/3", close=False) + post)
        assert statuses_of(raw) == [200, 502]
        assert px.stats.upstream_errors["closed"] == 1


async def test_a_client_that_stops_reading_is_dropped_and_frees_its_slot() -> None:
    piece = b"s" * (64 * 1024)

    async def endless(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (1 << 30))
        while True:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(
                0
            )  # drain() does not yield while the kernel takes it all

    async with (
        serving_raw(endless) as up,
        FaultProxy(up.url, request_timeout=0.5, upstream_connections=1) as px,
    ):
        _, writer = await asyncio.open_connection(*split_url(px.base_url))
        try:
            writer.write(get(b"/big"))  # and never read
            await _wait(lambda: px.pool.count == 1)
            await _wait(lambda: px.connections == 0 and px.pool.count == 0, wait=10)
        finally:
            writer.close()
        assert px.stats.in_flight == 0
