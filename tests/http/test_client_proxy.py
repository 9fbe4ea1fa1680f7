"""HttpClient through proxies: tinyproxy on loopback, a scripted fake, and the mock backend.

http:// goes to the proxy in absolute form over connections shared by every
host; https:// through a CONNECT tunnel per origin with TLS (SNI and the
certificate check are the origin's).  A refused or broken CONNECT is a
one-line :class:`ProxyError` (or :class:`ConnectError` when the proxy just
went away), leaving no connection behind.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path

import pytest

from awaitkit.http import (
    CertificateError,
    ConnectError,
    ConnectTimeout,
    HttpClient,
    MockBackend,
    Proxy,
    ProxyError,
    ProxySettings,
    proxy_settings,
    tls_context,
)
from awaitkit.http._proxy import parse_proxy
from tests.flags.loops import both_loops
from tests.http._proxies import FakeProxy, Origin, TinyProxy
from tests.http._tls import Pki, TlsServer, make_pki

pytestmark = pytest.mark.anyio
anyio_backend = both_loops

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def trusted(pki: Pki) -> ssl.SSLContext:
    return await asyncio.to_thread(lambda: tls_context(cafile=pki.ca_pem))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def body(client: HttpClient, url: str) -> bytes:
    async with client.get(url) as resp:
        assert resp.status == 200, resp.status
        return await resp.read()


# -- the request's form, on the mock backend ---------------------------------


async def test_http_goes_to_the_proxy_in_absolute_form() -> None:
    backend = MockBackend([[OK, MockBackend.NEXT, OK]])
    proxies = proxy_settings("http://u%40x:p%40ss@proxy.example:3128")
    async with HttpClient(backend=backend, proxies=proxies) as client:
        assert await body(client, "http://a.example/x?y=1") == b"hi"
        assert await body(client, "http://b.example:8080/") == b"hi"
        assert client._pool.total == 1  # one connection to the proxy for both hosts
    [conn] = backend.connections
    assert (conn.host, conn.port, conn.tls) == ("proxy.example", 3128, False)
    first, second = conn.writes
    credentials = f"Proxy-Authorization: {basic('u@x', 'p@ss')}\r\n".encode()
    assert first.startswith(
        b"GET http://a.example/x?y=1 HTTP/1.1\r\nHost: a.example\r\n"
    )
    assert second.startswith(
        b"GET http://b.example:8080/ HTTP/1.1\r\nHost: b.example:8080\r\n"
    )
    assert credentials in first
    assert credentials in second


async def test_a_callers_proxy_authorization_replaces_the_proxy_urls() -> None:
    backend = MockBackend([[OK]])
    proxies = proxy_settings("http://u:p@proxy.example:3128")
    headers = {"Proxy-Authorization": "Bearer t"}
    async with HttpClient(backend=backend, proxies=proxies, headers=headers) as client:
        await body(client, "http://a.example/")
    written = backend.connections[0].written
    assert written.count(b"Proxy-Authorization") == 1
    assert b"Proxy-Authorization: Bearer t\r\n" in written


async def test_no_proxy_hosts_and_no_settings_go_direct() -> None:
    backend = MockBackend([[OK], [OK], [OK]])
    proxies = proxy_settings("proxy.example:3128", noproxy="direct.example")
    async with HttpClient(backend=backend, proxies=proxies) as client:
        await body(client, "http://www.direct.example/a")
        await body(client, "http://other.example/b")
    async with HttpClient(backend=backend, proxies=ProxySettings()) as client:
        await body(client, "http://other.example/c")
        assert client._proxies is None  # nothing is asked per origin
    direct, proxied, plain = backend.connections
    assert (direct.host, direct.port) == ("www.direct.example", 80)
    assert direct.written.startswith(b"GET /a HTTP/1.1\r\n")
    assert (proxied.host, proxied.port) == ("proxy.example", 3128)
    assert proxied.written.startswith(b"GET http://other.example/b HTTP/1.1\r\n")
    assert (plain.host, plain.written[:7]) == ("other.example", b"GET /c ")


async def test_the_proxy_is_not_held_to_one_hosts_limit() -> None:
    # Two hosts at once through one proxy with limit_per_host=1: two
    # connections to the proxy, not one request waiting for the other.
    backend = MockBackend([[OK], [OK]])
    proxies = proxy_settings("proxy.example:3128")
    client = HttpClient(backend=backend, proxies=proxies, limit_per_host=1)
    async with client, client.get("http://a.example/") as first:
        async with asyncio.timeout(2), client.get("http://b.example/") as second:
            assert await second.read() == b"hi"
        assert await first.read() == b"hi"
    assert [conn.host for conn in backend.connections] == ["proxy.example"] * 2


ASKED: list[str] = []


class CountingSettings(ProxySettings):
    def proxy_for(self, scheme: str, host: str) -> Proxy | None:
        ASKED.append(host)
        return super().proxy_for(scheme, host)


async def test_the_proxy_is_chosen_once_per_origin() -> None:
    backend = MockBackend([[OK, MockBackend.NEXT, OK, MockBackend.NEXT, OK]])
    ASKED.clear()
    proxies = CountingSettings(http=parse_proxy("proxy.example:3128"))
    async with HttpClient(backend=backend, proxies=proxies) as client:
        for path in ("/1", "/2", "/3"):
            await body(client, f"http://a.example{path}")
    assert ASKED == ["a.example"]


async def test_an_unreachable_proxy_is_named() -> None:
    backend = MockBackend([ConnectionRefusedError(111, "Connection refused")])
    proxies = proxy_settings("proxy.example:3128")
    async with HttpClient(backend=backend, proxies=proxies) as client:
        with pytest.raises(ConnectError) as info:
            await body(client, "http://a.example/")
    assert str(info.value) == (
        "cannot connect to proxy http://proxy.example:3128: Connection refused"
    )


# -- tinyproxy --------------------------------------------------------------


async def test_http_through_tinyproxy(tmp_path: Path) -> None:
    async with Origin() as origin, TinyProxy(tmp_path) as proxy:
        client = HttpClient(proxies=proxy_settings(proxy.url))
        async with client:
            got = await body(client, f"{origin.url}/a")
    # The origin got it from tinyproxy, which says so.
    assert got.startswith(b"/a 1.1 ")
    assert b"tinyproxy" in got
    [(line, fields)] = origin.heads
    assert line == "GET /a HTTP/1.1"
    assert fields["Host"] == f"127.0.0.1:{origin.port}"


async def test_https_through_a_connect_tunnel(
    tmp_path: Path, pki: Pki, trusted: ssl.SSLContext
) -> None:
    payload = bytes(range(256)) * 400
    async with (
        TlsServer(pki.server_context(), payload) as server,
        TinyProxy(tmp_path, connect_ports=[server.port]) as proxy,
    ):
        proxies = proxy_settings(proxy.url)
        async with HttpClient(proxies=proxies, ssl_context=trusted) as client:
            for _ in range(3):
                assert await body(client, f"{server.named_url}/f") == payload
            assert client._pool.total == 1  # one tunnel, kept alive
    assert server.names == ["localhost"]  # SNI: the origin's name
    assert server.connections == 1
    assert any(f"localhost:{server.port}" in line for line in proxy.log)


async def test_the_origins_certificate_is_checked_through_the_tunnel(
    tmp_path: Path, pki: Pki, trusted: ssl.SSLContext
) -> None:
    async with (
        TlsServer(pki.server_context("other")) as server,
        TinyProxy(tmp_path) as proxy,
    ):
        proxies = proxy_settings(proxy.url)
        async with HttpClient(proxies=proxies, ssl_context=trusted) as client:
            with pytest.raises(CertificateError) as info:
                await body(client, f"{server.named_url}/")
            assert client._pool.total == 0
    assert str(info.value).startswith(f"cannot connect to localhost:{server.port}: ")
    assert "not valid for 'localhost'" in str(info.value)


async def test_proxy_credentials(
    tmp_path: Path, pki: Pki, trusted: ssl.SSLContext
) -> None:
    async with (
        Origin() as origin,
        TlsServer(pki.server_context()) as server,
        TinyProxy(tmp_path, auth=("user", "s3cret")) as proxy,
    ):
        good = proxy_settings(proxy.url.replace("//", "//user:s3cr%65t@"))
        async with HttpClient(proxies=good, ssl_context=trusted) as client:
            assert (await body(client, f"{origin.url}/a")).startswith(b"/a 1.1")
            assert await body(client, f"{server.named_url}/") == b"hello"
        bad = proxy_settings(proxy.url.replace("//", "//user:wrong@"))
        async with HttpClient(proxies=bad, ssl_context=trusted) as client:
            # http://: the proxy's refusal is the response (tinyproxy
            # answers a GET with 401 where RFC 9110 says 407)
            async with client.get(f"{origin.url}/b") as resp:
                assert resp.status in (401, 407)
            with pytest.raises(ProxyError) as info:
                await body(client, f"{server.named_url}/")
            assert client._pool.total == 0
        async with HttpClient(
            proxies=proxy_settings(proxy.url), ssl_context=trusted
        ) as client:
            with pytest.raises(ProxyError) as none:
                await body(client, f"{server.named_url}/")
    # tinyproxy says 401 to wrong credentials, 407 to none
    assert info.value.status in (401, 407)
    assert str(info.value).startswith(
        f"proxy refused CONNECT to localhost:{server.port}: {info.value.status} "
    )
    assert none.value.status == 407
    assert str(none.value) == (
        f"proxy refused CONNECT to localhost:{server.port}: "
        "407 Proxy Authentication Required"
    )
    assert [line for line, _ in origin.heads] == ["GET /a HTTP/1.1"]


async def test_a_port_the_proxy_does_not_allow(tmp_path: Path, pki: Pki) -> None:
    async with (
        TlsServer(pki.server_context()) as server,
        TinyProxy(tmp_path, connect_ports=[443]) as proxy,
    ):
        client = HttpClient(proxies=proxy_settings(proxy.url))
        async with client:
            with pytest.raises(ProxyError) as info:
                await body(client, f"{server.url}/")
            assert client._pool.total == 0
    assert info.value.status == 403
    assert str(info.value) == (
        f"proxy refused CONNECT to 127.0.0.1:{server.port}: 403 Access violation"
    )
    assert server.connections == 0


# -- hostile proxies ----------------------------------------------------------


async def connect_error(fake: FakeProxy) -> ConnectError:
    """What a GET through ``fake`` fails with: one line, no connection left."""
    async with fake:
        proxies = proxy_settings(fake.url)
        async with HttpClient(proxies=proxies) as client:
            with pytest.raises(ConnectError) as info:
                await body(client, "https://origin.example:8443/")
            assert client._pool.total == 0
    message = str(info.value)
    assert "\n" not in message
    assert len(message) < 300
    return info.value


async def test_the_connect_request() -> None:
    fake = FakeProxy(b"HTTP/1.1 403 No\r\n\r\n")
    async with fake:
        proxies = proxy_settings(fake.url.replace("//", "//me:pw@"))
        async with HttpClient(proxies=proxies) as client:
            with pytest.raises(ProxyError):
                await body(client, "https://[::1]/")
    assert fake.received == [
        b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n"
        b"Proxy-Authorization: " + basic("me", "pw").encode() + b"\r\n\r\n"
    ]


async def test_an_endless_connect_answer_is_cut_off() -> None:
    fake = FakeProxy(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: yyyyyyyy\r\n" * 2000, "hang")
    error = await connect_error(fake)
    assert isinstance(error, ProxyError)
    assert str(error) == "proxy's answer to CONNECT over 16384 bytes"


async def test_a_connect_answer_that_is_not_http() -> None:
    error = await connect_error(FakeProxy(b"\xff\xfe\x00garbage\r\n\r\n"))
    assert isinstance(error, ProxyError)
    assert error.status is None
    assert "no HTTP status line: b'\\xff\\xfe\\x00garbage'" in str(error)


async def test_a_non_utf8_reason() -> None:
    error = await connect_error(FakeProxy(b"HTTP/1.1 502 B\xe4d \xff\r\n\r\n"))
    assert isinstance(error, ProxyError)
    assert error.status == 502
    assert str(error).endswith(": 502 B?d ?")


async def test_a_proxy_that_closes_before_its_answer_ends() -> None:
    error = await connect_error(FakeProxy(b"HTTP/1.1 200 Conn"))
    assert not isinstance(error, ProxyError)  # gone: worth another attempt
    assert "closed the connection before answering CONNECT" in str(error)


async def test_bytes_after_a_2xx_answer_are_refused() -> None:
    error = await connect_error(
        FakeProxy(b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200", "hang")
    )
    assert isinstance(error, ProxyError)
    assert str(error) == "proxy sent data after its answer to CONNECT"


async def test_a_silent_proxy_is_a_connect_timeout() -> None:
    fake = FakeProxy(b"", "hang")
    async with fake:
        proxies = proxy_settings(fake.url)
        async with HttpClient(proxies=proxies, connect_timeout=0.3) as client:
            with pytest.raises(ConnectTimeout, match=r"^cannot connect to proxy "):
                await body(client, "https://origin.example/")
            assert client._pool.total == 0
