"""The whole client on scripted bytes (MockBackend): no sockets anywhere."""

from __future__ import annotations

import socket
import ssl

import pytest

from awaitkit.core import ConnectError as CoreConnectError, TimeoutExpired
from awaitkit.http import (
    BodyTooLarge,
    ConnectError,
    ConnectTimeout,
    HttpClient,
    InvalidURL,
    MockBackend,
    ProtocolError,
    ReadTimeout,
    RedirectError,
    ServerDisconnected,
    TooManyRedirects,
    TruncatedBody,
)
from awaitkit.http._connection import HIGH_WATER

pytestmark = pytest.mark.anyio

URL = "http://example.test/a"


def ok(body: bytes, *fields: bytes) -> bytes:
    head = b"".join(field + b"\r\n" for field in fields)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), head) + body


def redirect(location: bytes, status: int = 302) -> bytes:
    return b"HTTP/1.1 %d Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % (
        status,
        location,
    )


async def get(client: HttpClient, url: str = URL, **kwargs: object) -> bytes:
    async with client.get(url, **kwargs) as resp:  # type: ignore[arg-type]
        return await resp.read()


# -- the mock itself -------------------------------------------------------------


async def test_one_response_and_what_was_written() -> None:
    backend = MockBackend([[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"]])
    async with (
        HttpClient(backend=backend, user_agent="t") as client,
        client.get(URL) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["content-length"] == "2"
        assert await resp.read() == b"hi"
    (conn,) = backend.connections
    assert (conn.host, conn.port, conn.tls) == ("example.test", 80, False)
    assert conn.written == (
        b"GET /a HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t\r\n"
        b"Accept-Encoding: identity\r\n\r\n"
    )
    assert conn.closed  # aclose closed the idle connection


async def test_https_asks_for_tls_on_the_default_port() -> None:
    backend = MockBackend([[ok(b"s")]])
    async with HttpClient(backend=backend) as client:
        assert await get(client, "https://example.test/") == b"s"
    assert (backend.connections[0].port, backend.connections[0].tls) == (443, True)


async def test_a_head_split_into_bytes_parses_the_same() -> None:
    whole = ok(b"body", b"X-A: 1")
    backend = MockBackend([[whole[i : i + 1] for i in range(len(whole))]])
    async with HttpClient(backend=backend) as client, client.get(URL) as resp:
        assert resp.headers["x-a"] == "1"
        assert await resp.read() == b"body"


# -- keep-alive ------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection() -> None:
    backend = MockBackend(
        [[ok(b"1"), MockBackend.NEXT, ok(b"2"), MockBackend.NEXT, ok(b"3")]]
    )
    async with HttpClient(backend=backend) as client:
        assert [await get(client) for _ in range(3)] == [b"1", b"2", b"3"]
    assert len(backend.connections) == 1
    assert backend.connections[0].written.count(b"GET /a ") == 3


async def test_connection_close_is_not_reused() -> None:
    backend = MockBackend([[ok(b"1", b"Connection: close")], [ok(b"2")]])
    async with HttpClient(backend=backend) as client:
        assert [await get(client), await get(client)] == [b"1", b"2"]
    assert len(backend.connections) == 2
    assert backend.connections[0].closed


async def test_stale_keep_alive_is_retried_once_on_a_new_connection() -> None:
    # The server closed the idle connection just as it was reused.
    backend = MockBackend([[ok(b"1"), MockBackend.NEXT, MockBackend.EOF], [ok(b"2")]])
    async with HttpClient(backend=backend) as client:
        assert await get(client) == b"1"
        assert await get(client) == b"2"
    assert len(backend.connections) == 2
    assert b"GET /a" in backend.connections[1].written


async def test_a_new_connection_that_closes_unanswered_is_not_retried() -> None:
    backend = MockBackend([[MockBackend.EOF], [ok(b"never")]])
    async with HttpClient(backend=backend) as client:
        with pytest.raises(ServerDisconnected, match="without responding"):
            await get(client)
    assert len(backend.connections) == 1


async def test_a_reused_connection_closed_mid_head_is_not_retried() -> None:
    backend = MockBackend(
        [[ok(b"1"), MockBackend.NEXT, b"HTTP/1.1 200", MockBackend.EOF], [ok(b"2")]]
    )
    async with HttpClient(backend=backend) as client:
        assert await get(client) == b"1"
        with pytest.raises(ServerDisconnected, match="before the response head"):
            await get(client)
    assert len(backend.connections) == 1


async def test_a_connection_paused_by_a_big_body_reads_again_when_reused() -> None:
    big = b"b" * (HIGH_WATER + 1)
    backend = MockBackend([[ok(big), MockBackend.NEXT, ok(b"2")]])
    async with HttpClient(backend=backend, read_timeout=2) as client:
        assert await get(client) == big  # paused and complete in one read
        assert await get(client) == b"2"
    assert len(backend.connections) == 1


async def test_what_the_pool_asks_a_connection() -> None:
    backend = MockBackend([[b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nha", b"lf"]])
    async with HttpClient(backend=backend) as client:
        async with client.get(URL) as resp:
            conn = resp._conn
            assert conn is not None
            assert not conn.is_idle()  # the body is still coming
            assert not conn.is_available()
            assert await resp.read() == b"half"
            assert conn.is_idle()
            assert conn.is_available()
        assert client._pool.idle_total == 1
        conn.fail(ServerDisconnected("gone"))
        assert conn.has_expired()
        assert not conn.is_available()
        await conn.lost
        assert conn.is_closed()
        assert client._pool.total == 0  # its loss callback freed the slot


# -- redirects -------------------------------------------------------------------


async def test_redirect_is_followed_on_the_same_connection() -> None:
    backend = MockBackend([[redirect(b"/b"), MockBackend.NEXT, ok(b"there")]])
    async with HttpClient(backend=backend) as client, client.get(URL) as resp:
        assert await resp.read() == b"there"
        assert resp.url == "http://example.test/b"
    assert len(backend.connections) == 1
    assert b"GET /b HTTP/1.1" in backend.connections[0].written


async def test_redirect_to_another_origin_opens_a_connection_there() -> None:
    backend = MockBackend([[redirect(b"https://other.test:8443/c")], [ok(b"c")]])
    async with HttpClient(backend=backend) as client:
        assert await get(client) == b"c"
    other = backend.connections[1]
    assert (other.host, other.port, other.tls) == ("other.test", 8443, True)
    assert b"Host: other.test:8443\r\n" in other.written


async def test_too_many_redirects() -> None:
    loop = [redirect(b"/a"), MockBackend.NEXT] * 3
    async with HttpClient(backend=MockBackend([loop])) as client:
        with pytest.raises(TooManyRedirects):
            await get(client, max_redirects=2)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
        redirect(b"ftp://example.test/x"),
        redirect(b"http://[::1/x"),
    ],
)
async def test_unusable_redirects(answer: bytes) -> None:
    async with HttpClient(backend=MockBackend([[answer]])) as client:
        with pytest.raises(RedirectError):
            await get(client)


async def test_max_redirects_zero_returns_the_redirect() -> None:
    async with (
        HttpClient(backend=MockBackend([[redirect(b"/b")]])) as client,
        client.get(URL, max_redirects=0) as resp,
    ):
        assert resp.status == 302


# -- bodies ----------------------------------------------------------------------


async def test_chunked_body_in_pieces() -> None:
    script = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"3\r\nabc\r\n",
        b"2\r\nde\r\n",
        b"0\r\nX-Trailer: t\r\n\r\n",
    ]
    async with (
        HttpClient(backend=MockBackend([script])) as client,
        client.get(URL) as resp,
    ):
        assert resp.content_length is None
        pieces = [piece async for piece in resp.chunks()]
        assert b"".join(pieces) == b"abcde"


async def test_body_until_eof() -> None:
    script = [b"HTTP/1.1 200 OK\r\n\r\nto the", b" end", MockBackend.EOF]
    async with HttpClient(backend=MockBackend([script])) as client:
        assert await get(client) == b"to the end"


async def test_declared_body_over_the_limit() -> None:
    async with (
        HttpClient(backend=MockBackend([[ok(b"x" * 100)]])) as client,
        client.get(URL) as resp,
    ):
        with pytest.raises(BodyTooLarge):
            await resp.read(limit=10)


async def test_undeclared_body_over_the_limit_stops_the_parser() -> None:
    script = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
    script += [b"400\r\n" + b"x" * 1024 + b"\r\n"] * 8
    async with (
        HttpClient(backend=MockBackend([script])) as client,
        client.get(URL) as resp,
    ):
        with pytest.raises(BodyTooLarge):
            await resp.read(limit=3000)


@pytest.mark.parametrize("end", [MockBackend.EOF, MockBackend.RESET])
async def test_truncated_body(end: object) -> None:
    script = [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", end]
    async with (
        HttpClient(backend=MockBackend([script])) as client,
        client.get(URL) as resp,
    ):
        with pytest.raises(TruncatedBody, match="after 4 body bytes"):
            await resp.read()


async def test_truncated_chunked_body() -> None:
    script = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        MockBackend.EOF,
    ]
    async with (
        HttpClient(backend=MockBackend([script])) as client,
        client.get(URL) as resp,
    ):
        with pytest.raises(TruncatedBody):
            await resp.read()


async def test_interim_100_is_skipped() -> None:
    script = [b"HTTP/1.1 100 Continue\r\n\r\n", ok(b"final")]
    async with HttpClient(backend=MockBackend([script])) as client:
        assert await get(client) == b"final"


# -- timeouts --------------------------------------------------------------------


async def test_silence_before_the_head_is_a_read_timeout() -> None:
    async with HttpClient(backend=MockBackend([[]]), read_timeout=0.05) as client:
        with pytest.raises(ReadTimeout, match="response head") as info:
            await get(client)
    assert isinstance(info.value, TimeoutExpired)
    assert isinstance(info.value, TimeoutError)


async def test_silence_mid_body_is_a_read_timeout() -> None:
    script = [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"]
    async with (
        HttpClient(backend=MockBackend([script]), read_timeout=0.05) as client,
        client.get(URL) as resp,
    ):
        with pytest.raises(ReadTimeout, match="response body"):
            await resp.read()


async def test_a_connect_that_hangs_is_a_connect_timeout() -> None:
    backend = MockBackend([MockBackend.HANG])
    async with HttpClient(backend=backend, connect_timeout=0.05) as client:
        with pytest.raises(
            ConnectTimeout, match=r"cannot connect to example\.test"
        ) as info:
            await get(client)
    assert isinstance(info.value, TimeoutExpired)
    assert isinstance(info.value.__cause__, TimeoutError)
    assert client._pool.total == 0


# -- every foreign error, mapped once --------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        ConnectionRefusedError(111, "Connection refused"),
        socket.gaierror(-2, "Name or service not known"),
        OSError(101, "Network is unreachable"),
        ssl.SSLCertVerificationError(1, "certificate verify failed"),
        ssl.SSLError(1, "wrong version number"),
    ],
)
async def test_connect_failures_are_connect_errors(failure: OSError) -> None:
    async with HttpClient(backend=MockBackend([failure])) as client:
        with pytest.raises(ConnectError) as info:
            await get(client)
    assert isinstance(info.value, CoreConnectError)
    assert info.value.os_error is failure
    assert info.value.__cause__ is failure
    assert client._pool.total == 0


async def test_scripts_run_out_is_a_refused_connect() -> None:
    async with HttpClient(backend=MockBackend([])) as client:
        with pytest.raises(ConnectError, match="no script left"):
            await get(client)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"SPDY/3 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Field: x\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    ],
)
async def test_parser_errors_are_protocol_errors(answer: bytes) -> None:
    async with HttpClient(backend=MockBackend([[answer]])) as client:
        with pytest.raises(ProtocolError) as info:
            await get(client)
    assert info.value.__cause__ is not None  # the parser's own error, chained


async def test_oversized_head_is_a_protocol_error() -> None:
    script = [b"HTTP/1.1 200 OK\r\n"] + [b"X-Pad: " + b"p" * 1000 + b"\r\n"] * 40
    async with HttpClient(backend=MockBackend([script]), max_head=16 * 1024) as client:
        with pytest.raises(ProtocolError, match="larger than"):
            await get(client)


async def test_bad_url_is_invalid_url_and_opens_nothing() -> None:
    backend = MockBackend([[ok(b"x")]])
    async with HttpClient(backend=backend) as client:
        for url in [
            "ftp://example.test/",
            "http://:80/",
            "http://h:99999/",
            "http://h/\n",
        ]:
            with pytest.raises(InvalidURL):
                await get(client, url)
    assert backend.connections == []


# -- raise_for_status ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [(404, "client error"), (451, "client error"), (503, "server error")],
)
async def test_raise_for_status_raises_for_4xx_and_5xx(status: int, kind: str) -> None:
    from awaitkit.core import HTTPStatusError

    head = b"HTTP/1.1 %d Nope\r\nContent-Length: 0\r\n\r\n" % status
    async with (
        HttpClient(backend=MockBackend([[head]])) as client,
        client.get(URL) as resp,
    ):
        with pytest.raises(HTTPStatusError) as info:
            resp.raise_for_status()
    assert (info.value.status_code, info.value.url) == (status, URL)
    assert str(info.value) == f"{kind} {status} Nope for {URL}"


@pytest.mark.parametrize("status", [200, 204, 304])
async def test_raise_for_status_returns_the_response_otherwise(status: int) -> None:
    head = b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n" % status
    async with (
        HttpClient(backend=MockBackend([[head]])) as client,
        client.get(URL) as resp,
    ):
        assert resp.raise_for_status() is resp


async def test_raise_for_status_leaves_an_unfollowed_redirect_alone() -> None:
    async with (
        HttpClient(backend=MockBackend([[redirect(b"/b")]])) as client,
        client.get(URL, max_redirects=0) as resp,
    ):
        assert resp.raise_for_status() is resp
        assert resp.status == 302
