"""Hostile, malformed, oversized and half-closed input over raw sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time

import pytest

from awaitkit.core.testing import (
    exchange,
    split_url,
    status_of,
    statuses_of,
    wait_until,
)
from awaitkit.flags import FlagsServer, serving_flags
from tests.flags.loops import both_loops
from tests.flags.rawhttp import get

pytestmark = pytest.mark.anyio


anyio_backend = both_loops


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (b"/../../../../etc/passwd", 404),
        (b"/flags/../../etc/passwd", 404),
        (b"/%2e%2e/%2e%2e/etc/passwd", 404),
        (b"/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", 404),
        (b"/flags/..%2f..%2fetc/passwd", 404),
        (b"/flags/br/..", 404),
        (b"/..%5c..%5cboot.ini", 404),
        (b"/etc/passwd", 404),
        (b"//etc/passwd", 404),
        (b"/flags/br/br.gif%00.txt", 400),
        (b"/%00", 400),
        (b"etc/passwd", 400),
        (b"/\xff\xfe/x", 400),  # not UTF-8 (the parser refuses raw high bytes)
        (b"/%ff%fe/x", 404),  # not UTF-8 once decoded
        (b"/flags/br/br.gif?../../etc/passwd", 200),  # the query names nothing
    ],
)
async def test_paths_are_confined(path: bytes, status: int) -> None:
    """Traversal, encoded traversal, absolute paths and NUL bytes never escape."""
    async with serving_flags() as base_url:
        response = await exchange(base_url, get(path))
    assert status_of(response) == status
    assert b"root:" not in response


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"HELLO\r\n\r\n", 400),
        (b"GET\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET / HTTP/7.5\r\nHost: x\r\n\r\n", 400),
        (b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # a TLS hello
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    ],
)
async def test_malformed_requests_get_400(request_bytes: bytes, status: int) -> None:
    """Garbage gets a 400 and a closed connection, never a hang or a traceback."""
    async with serving_flags() as base_url:
        response = await exchange(base_url, request_bytes)
    assert status_of(response) == status


async def test_upgrade_is_ignored_and_the_connection_closed() -> None:
    """An Upgrade request is answered as plain HTTP/1.1; bytes after it are ignored."""
    request = b"GET /flags/br/metadata.json HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
    async with serving_flags() as base_url:
        response = await exchange(base_url, request + b"\x81\x85garbage")
    assert statuses_of(response) == [200]


async def test_non_utf8_header_values_are_harmless() -> None:
    """Bytes that are not UTF-8 in header values do not break the request."""
    async with serving_flags() as base_url:
        response = await exchange(
            base_url, get(b"/flags/br/metadata.json", b"X-Junk: \xff\xfe\x80\r\n")
        )
    assert status_of(response) == 200


async def test_oversized_headers_get_431() -> None:
    """Headers past the limit get 431; a huge URL gets 414."""
    async with serving_flags() as base_url:
        big = b"X-Big: " + b"a" * 40_000 + b"\r\n"
        assert status_of(await exchange(base_url, get(b"/", big))) == 431
        many = b"".join(b"X-%d: v\r\n" % i for i in range(5_000))
        assert status_of(await exchange(base_url, get(b"/", many))) == 431
        assert status_of(await exchange(base_url, get(b"/" + b"a" * 9_000))) == 414


async def test_headers_that_never_end_get_431() -> None:
    """An endless header line (no CRLF yet) is cut off at the limit."""
    async with serving_flags() as base_url:
        response = await exchange(base_url, b"GET / HTTP/1.1\r\nX: " + b"a" * 100_000)
    assert status_of(response) == 431


async def test_oversized_body_gets_413() -> None:
    """A request body past the limit gets 413."""
    body = b"x" * 100_000
    request = b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    async with serving_flags() as base_url:
        assert status_of(await exchange(base_url, request + body)) == 413


async def test_other_methods_get_405() -> None:
    """Only GET and HEAD are served."""
    request = b"POST /flags/br/br.gif HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    async with serving_flags() as base_url:
        response = await exchange(base_url, request)
    assert status_of(response) == 405
    assert b"Allow: GET, HEAD" in response


async def test_pipelined_requests_are_answered_in_order() -> None:
    """Several requests in one packet get their responses in order."""
    requests = (
        b"GET /flags/br/metadata.json HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /flags/ar/ar.gif HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    async with serving_flags(delay="0-0.05", seed=1) as base_url:
        response = await exchange(base_url, requests + get(b"/flags/ar/metadata.json"))
    # HEAD announces a Content-Length but sends no body: split by hand.
    first, _, rest = response.partition(b"HTTP/1.1 404")
    assert status_of(first) == 200
    assert b'"iso_cc": "BR"' in first
    assert rest.count(b"HTTP/1.1 200 OK") == 2
    assert rest.endswith(b'"AR", "country": "Argentina"}\n')


async def test_garbage_after_pipelined_requests_waits_its_turn() -> None:
    """A bad request behind good ones: the good ones are answered, then 400."""
    one = b"GET /flags/br/metadata.json HTTP/1.1\r\nHost: x\r\n\r\n"
    async with serving_flags(delay=0.05) as base_url:
        response = await exchange(base_url, one * 2 + b"BAD REQUEST\r\n\r\n")
    assert statuses_of(response) == [200, 200, 400]


async def test_many_pipelined_requests_from_a_slow_reader() -> None:
    """200 pipelined GETs from a client that reads late: all answered, in order."""
    one = b"GET /flags/br/br.gif HTTP/1.1\r\nHost: x\r\n\r\n"
    async with FlagsServer() as server:
        response = await exchange(server.base_url, one * 199 + get(b"/nope"), wait=20)
        assert server.stats.requests == 200
    assert statuses_of(response) == [200] * 199 + [404]


async def test_half_closed_client_still_gets_its_answer() -> None:
    """A client that shuts its write side after the request is answered, then closed."""
    async with serving_flags() as base_url:
        response = await exchange(
            base_url,
            b"GET /flags/br/metadata.json HTTP/1.1\r\nHost: x\r\n\r\n",
            half_close=True,
        )
    assert status_of(response) == 200
    assert response.endswith(b"}\n")


async def test_half_closed_mid_request_is_just_closed() -> None:
    """A request cut off by the client's EOF gets no answer, and no hang."""
    async with FlagsServer() as server:
        response = await exchange(
            server.base_url, b"GET /flags/br/br.gif HTTP/1.1\r\nHo", half_close=True
        )
        assert response == b""
        assert server.stats.requests == 0


async def test_client_reset_during_delay_is_accounted() -> None:
    """A client that resets its connection while its response waits leaves in_flight."""
    async with FlagsServer(delay=30) as server:
        _, writer = await asyncio.open_connection(*split_url(server.base_url))
        writer.write(get(b"/flags/br/br.gif"))
        await writer.drain()
        await wait_until(lambda: server.stats.in_flight == 1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        await wait_until(lambda: server.stats.in_flight == 0)
        assert server.stats.by_status == {}


async def test_http10_closes_after_response() -> None:
    """HTTP/1.0 without keep-alive: one response, then the server closes."""
    async with serving_flags() as base_url:
        response = await exchange(
            base_url, b"GET /flags/br/metadata.json HTTP/1.0\r\n\r\n"
        )
    assert status_of(response) == 200
    assert b"Connection: close" in response


async def test_http10_keep_alive_is_acknowledged() -> None:
    """HTTP/1.0 with Connection: keep-alive gets it back and the connection stays."""
    one = b"GET /flags/br/metadata.json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    async with serving_flags() as base_url:
        response = await exchange(base_url, one + b"GET /nope HTTP/1.0\r\n\r\n")
    assert statuses_of(response) == [200, 404]
    assert b"Connection: keep-alive" in response


async def test_idle_keep_alive_connections_are_closed() -> None:
    """An idle keep-alive connection is closed after the keep-alive timeout."""
    async with FlagsServer(keepalive_timeout=0.3) as server:
        reader, writer = await asyncio.open_connection(*split_url(server.base_url))
        writer.write(b"GET /flags/br/metadata.json HTTP/1.1\r\nHost: x\r\n\r\n")
        start = time.monotonic()
        data = await asyncio.wait_for(reader.read(-1), 5)  # EOF once idle too long
        elapsed = time.monotonic() - start
        writer.close()
        await writer.wait_closed()
    assert status_of(data) == 200
    assert 0.3 <= elapsed < 3


async def test_slow_request_gets_408() -> None:
    """A request whose headers never complete gets 408 after the request timeout."""
    async with FlagsServer(request_timeout=0.3) as server:
        response = await exchange(server.base_url, b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert status_of(response) == 408


async def test_connection_limit_answers_503() -> None:
    """Past max_connections a new connection gets 503 and is closed."""
    async with FlagsServer(max_connections=2) as server:
        held = [
            await asyncio.open_connection(*split_url(server.base_url)) for _ in range(2)
        ]
        response = await exchange(server.base_url, get(b"/"))
        for _, writer in held:
            writer.close()
            await writer.wait_closed()
    assert status_of(response) == 503


async def test_shutdown_with_stalled_and_delayed_requests_is_prompt() -> None:
    """Closing the server drops stalled and delayed requests at once."""
    server = FlagsServer(stall_rate=0.5, delay="0-3", seed=2)
    await server.start()
    writers = []
    for _ in range(6):
        _, writer = await asyncio.open_connection(*split_url(server.base_url))
        writer.write(get(b"/flags/br/br.gif"))
        writers.append(writer)
    await wait_until(lambda: server.stats.requests == 6)
    start = time.monotonic()
    await asyncio.wait_for(server.close(), 5)
    assert time.monotonic() - start < 1
    for writer in writers:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
