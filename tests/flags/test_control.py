"""The control API over raw sockets: the token, limits, hostile and half-closed input."""

from __future__ import annotations

import asyncio
import importlib
import json
import socket
from collections.abc import AsyncIterator

import pytest

from awaitkit.core import UsageError
from awaitkit.core.testing import exchange, split_url, status_of, statuses_of
from awaitkit.flags import FlagsServer, serving_flags

pytestmark = pytest.mark.anyio

# The control API imports prometheus-client: at collection, not inside the first
# test, where collecting its garbage would count as a slow callback (tests/loopdebug).
importlib.import_module("awaitkit.flags._control")

TOKEN = "test-token-0123456789"
AUTH = b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"


def req(
    method: bytes = b"GET",
    path: bytes = b"/stats",
    *extra: bytes,
    body: bytes | None = None,
    auth: bool = True,
    close: bool = True,
) -> bytes:
    """A request to the control API (with the token unless ``auth=False``)."""
    head = method + b" " + path + b" HTTP/1.1\r\nHost: x\r\n"
    if auth:
        head += AUTH
    head += b"".join(extra)
    if body is not None:
        head += b"Content-Length: %d\r\n" % len(body)
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + (body or b"")


def body_of(response: bytes) -> object:
    return json.loads(response.partition(b"\r\n\r\n")[2])


@pytest.fixture
async def server() -> AsyncIterator[FlagsServer]:
    async with FlagsServer(control=True, control_token=TOKEN) as running:
        yield running


async def test_without_the_token_401_with_a_wrong_one_403(server: FlagsServer) -> None:
    url = server.control_url
    for path in (b"/stats", b"/rules", b"/verdicts", b"/metrics", b"/nope"):
        response = await exchange(url, req(b"GET", path, auth=False))
        assert status_of(response) == 401, path
        assert b"WWW-Authenticate: Bearer" in response
    for header in (
        b"Authorization: Bearer wrong-token-0123456789\r\n",
        b"Authorization: Bearer " + TOKEN.encode()[:-1] + b"\r\n",  # a prefix
        b"Authorization: Basic " + TOKEN.encode() + b"\r\n",  # another scheme
        b"Authorization: Bearer\r\n",
        b"Authorization: \r\n",
    ):
        response = await exchange(url, req(b"GET", b"/stats", header, auth=False))
        assert status_of(response) == 403, header
    assert status_of(await exchange(url, req())) == 200


async def test_a_refused_post_never_reaches_the_endpoint(server: FlagsServer) -> None:
    """POST /reset without the token changes nothing."""
    async with asyncio.timeout(5):
        await exchange(server.base_url, b"GET /flags/br/br.gif HTTP/1.0\r\n\r\n")
    response = await exchange(server.control_url, req(b"POST", b"/reset", auth=False))
    assert status_of(response) == 401
    assert server.stats.requests == 1


async def test_metrics_public_lets_only_metrics_through() -> None:
    async with FlagsServer(
        control=True, control_token=TOKEN, metrics_public=True
    ) as server:
        url = server.control_url
        response = await exchange(url, req(b"GET", b"/metrics", auth=False))
        assert status_of(response) == 200
        assert b"awaitkit_flags_requests_total" in response
        assert status_of(await exchange(url, req(auth=False))) == 401


async def test_endpoints_answer_json(server: FlagsServer) -> None:
    url = server.control_url
    response = await exchange(url, req())
    assert status_of(response) == 200
    assert b"Content-Type: application/json" in response
    assert body_of(response) == {
        "requests": 0,
        "in_flight": 0,
        "max_in_flight": 0,
        "by_status": {},
        "by_fault": {},
        "by_rule": {},
        "connections": 0,
    }
    assert body_of(await exchange(url, req(b"GET", b"/verdicts"))) == {"clients": {}}
    assert body_of(await exchange(url, req(b"POST", b"/reset"))) == {"reset": True}
    metrics = await exchange(url, req(b"GET", b"/metrics"))
    assert b"Content-Type: text/plain; version=" in metrics


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (req(b"GET", b"/nope"), 404),
        (req(b"GET", b"/stats/"), 404),
        (req(b"GET", b"/../stats"), 404),
        (req(b"PUT", b"/stats"), 405),
        (req(b"POST", b"/stats", body=b"{}"), 405),
        (req(b"GET", b"/reset"), 405),
        (req(b"PATCH", b"/rules/r1"), 405),
        (req(b"POST", b"/rules"), 411),  # no Content-Length
        (req(b"POST", b"/rules", b"Transfer-Encoding: chunked\r\n"), 411),
        (req(b"POST", b"/rules", b"Content-Length: abc\r\n"), 400),
        (req(b"POST", b"/rules", b"Content-Length: -1\r\n"), 400),
        (req(b"POST", b"/rules", b"Content-Length: 99999999999999\r\n"), 400),
        (req(b"POST", b"/rules", b"Content-Length: 2000000\r\n"), 413),
        (b"HELLO\r\n\r\n", 400),
        (b"GET /stats\r\n\r\n", 400),
        (b"GET /stats HTTP/2.0\r\n\r\n", 400),
        (b"get /stats HTTP/1.1\r\n\r\n", 400),
        (b"GET stats HTTP/1.1\r\n\r\n", 400),
        (b"GET /a b HTTP/1.1\r\n\r\n", 400),
        (b"GET /\xff HTTP/1.1\r\n\r\n", 400),  # not ASCII (nor UTF-8)
        (b"GET /stats HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"GET /stats HTTP/1.1\r\n folded: x\r\n\r\n", 400),
        (b"GET /stats HTTP/1.1\r\nX: \xff\xfe\r\n\r\n", 400),
        (b"GET /stats HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n", 400),  # a TLS hello
        (req(b"GET", b"/stats", AUTH), 400),  # two Authorization headers
        (req(b"GET", b"/" + b"a" * 9000), 414),
        (req(b"GET", b"/stats", b"X-Big: " + b"a" * 9000 + b"\r\n"), 431),
        (req(b"GET", b"/stats", *(b"X-%d: v\r\n" % i for i in range(100))), 431),
        (
            req(
                b"GET",
                b"/stats",
                *(b"X-%d: %s\r\n" % (i, b"v" * 4000) for i in range(5)),
            ),
            431,
        ),
    ],
)
async def test_malformed_and_oversized_requests_get_4xx(
    server: FlagsServer, request_bytes: bytes, status: int
) -> None:
    response = await exchange(server.control_url, request_bytes)
    assert status_of(response) == status
    assert b"Connection: close" in response or status in (404, 405)
    # The server lives on: the next request is answered.
    assert status_of(await exchange(server.control_url, req())) == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xfe{}", b"not UTF-8"),
        (b"{not json", b"not JSON"),
        (b"[" * 200_000 + b"]" * 200_000, b"nests too deeply"),
        (b"", b"not JSON"),
    ],
)
async def test_bad_bodies_get_400(
    server: FlagsServer, body: bytes, message: bytes
) -> None:
    response = await exchange(server.control_url, req(b"POST", b"/rules", body=body))
    assert status_of(response) == 400
    assert message in response
    assert server.rules.rules() == []


async def test_keep_alive_answers_several_requests_on_one_connection(
    server: FlagsServer,
) -> None:
    data = req(close=False) + req(b"GET", b"/verdicts", close=False) + req()
    response = await exchange(server.control_url, data)
    assert statuses_of(response) == [200, 200, 200]


async def test_http10_closes_after_one_answer(server: FlagsServer) -> None:
    response = await exchange(
        server.control_url, b"GET /stats HTTP/1.0\r\n" + AUTH + b"\r\n" + req()
    )
    assert statuses_of(response) == [200]


async def test_a_refusal_closes_the_connection_and_ignores_what_follows(
    server: FlagsServer,
) -> None:
    response = await exchange(server.control_url, req(auth=False, close=False) + req())
    assert statuses_of(response) == [401]


async def test_half_closed_requests(server: FlagsServer) -> None:
    """A whole request then EOF is answered; a cut request gets 400, not a hang."""
    url = server.control_url
    whole = await exchange(url, req(close=False), half_close=True)
    assert statuses_of(whole) == [200]
    cut_head = await exchange(
        url, b"GET /stats HTTP/1.1\r\nHost: x\r\n", half_close=True
    )
    assert status_of(cut_head) == 400
    cut_line = await exchange(url, b"GET /stats HTT", half_close=True)
    assert status_of(cut_line) == 400
    cut_body = await exchange(
        url,
        req(b"POST", b"/rules", b"Content-Length: 100\r\n", close=False) + b"{",
        half_close=True,
    )
    assert status_of(cut_body) == 400
    assert await exchange(url, b"", half_close=True) == b""


async def test_expect_100_continue_is_answered(server: FlagsServer) -> None:
    """curl waits for 100 Continue before a body over 1 KiB."""
    host, port = split_url(server.control_url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            req(b"POST", b"/reset", b"Expect: 100-continue\r\nContent-Length: 2\r\n")
        )
        async with asyncio.timeout(5):
            interim = await reader.readuntil(b"\r\n\r\n")
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"{}")
            assert status_of(await reader.read()) == 200
    finally:
        writer.close()


async def test_a_silent_client_times_out() -> None:
    """A request that never ends gets 408; an idle connection is closed."""
    async with FlagsServer(control=True, control_token=TOKEN) as server:
        control = server._control
        assert control is not None
        control.request_timeout = 0.2
        control.keepalive_timeout = 0.2
        url = server.control_url
        async with asyncio.timeout(5):
            slow = await exchange(url, b"GET /stats HTTP/1.1\r\nHost: x\r\n")
            assert status_of(slow) == 408
            idle = await exchange(url, b"")
            assert idle == b""


async def test_too_many_connections_get_503() -> None:
    async with FlagsServer(control=True, control_token=TOKEN) as server:
        control = server._control
        assert control is not None
        control.max_connections = 2
        host, port = split_url(server.control_url)
        held = [socket.create_connection((host, port)) for _ in range(2)]
        try:
            await asyncio.sleep(0.1)  # both accepted
            reader, writer = await asyncio.open_connection(host, port)
            async with asyncio.timeout(5):
                response = await reader.read()  # refused before any request
            writer.close()
            assert status_of(response) == 503
        finally:
            for sock in held:
                sock.close()
        await asyncio.sleep(0.1)
        assert status_of(await exchange(server.control_url, req())) == 200


async def test_close_ends_open_connections() -> None:
    """Shutting down does not wait for an idle keep-alive client."""
    server = FlagsServer(control=True, control_token=TOKEN)
    await server.start()
    host, port = split_url(server.control_url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async with asyncio.timeout(5):
            await server.close()
            assert await reader.read() == b""
    finally:
        writer.close()


async def test_a_random_token_is_made_and_a_bad_one_refused() -> None:
    async with FlagsServer(control=True) as server:
        token = server.control_token
        assert len(token) >= 32
        auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
        ok = await exchange(
            server.control_url, req(b"GET", b"/stats", auth, auth=False)
        )
        assert status_of(ok) == 200
    for bad in ("short", "has space in it", "caf\u00e9-token-123", ""):
        with pytest.raises(UsageError, match="control token"):
            FlagsServer(control=True, control_token=bad)


async def test_control_is_off_unless_asked() -> None:
    async with serving_flags() as base_url:
        with pytest.raises(RuntimeError, match="control API is off"):
            base_url.control  # noqa: B018
        assert base_url.server.stats.requests == 0


async def test_an_endpoint_that_fails_answers_500_and_the_server_lives_on(
    server: FlagsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug behind an endpoint is logged and answered, never a dead task."""
    control = server._control
    assert control is not None

    def broken(body: bytes) -> object:
        raise ZeroDivisionError

    control.api.routes["/stats"]["GET"] = broken  # type: ignore[assignment]
    response = await exchange(server.control_url, req())
    assert status_of(response) == 500
    assert "control API: GET /stats failed" in caplog.text
    assert (
        status_of(await exchange(server.control_url, req(b"GET", b"/verdicts"))) == 200
    )
