"""HttpClient through SOCKS5 proxies: Debian's microsocks on loopback and a hostile fake.

A SOCKS5 proxy is a tunnel per origin, http:// and https:// alike; requests
go in origin form; socks5h:// sends the name, socks5:// the address
resolved here.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from awaitkit.http import (
    ConnectError,
    ConnectTimeout,
    HttpClient,
    ProxyError,
    proxy_settings,
    tls_context,
)
from tests.flags.loops import both_loops
from tests.http._proxies import MicroSocks, Origin
from tests.http._tls import Pki, TlsServer, make_pki

pytestmark = pytest.mark.anyio
anyio_backend = both_loops


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def trusted(pki: Pki) -> ssl.SSLContext:
    return await asyncio.to_thread(lambda: tls_context(cafile=pki.ca_pem))


async def body(client: HttpClient, url: str) -> bytes:
    async with client.get(url) as resp:
        assert resp.status == 200, resp.status
        return await resp.read()


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
async def test_http_and_https_through_microsocks(
    scheme: str, pki: Pki, trusted: ssl.SSLContext
) -> None:
    async with (
        Origin() as origin,
        TlsServer(pki.server_context(), b"secret") as server,
        MicroSocks() as socks,
    ):
        proxies = proxy_settings(socks.url(scheme))
        async with HttpClient(proxies=proxies, ssl_context=trusted) as client:
            for _ in range(2):
                assert await body(client, f"{origin.url}/a") == b"/a -"
                assert await body(client, f"{server.named_url}/") == b"secret"
            assert client._pool.total == 2  # a tunnel per origin, kept alive
    assert [line for line, _ in origin.heads] == ["GET /a HTTP/1.1"] * 2
    assert server.names == ["localhost"]
    assert server.connections == 1


async def test_credentials(pki: Pki, trusted: ssl.SSLContext) -> None:
    async with (
        Origin() as origin,
        TlsServer(pki.server_context()) as server,
        MicroSocks(auth=("user", "s3cret")) as socks,
    ):
        good = proxy_settings(socks.url("socks5h", "user:s3cr%65t@"))
        async with HttpClient(proxies=good, ssl_context=trusted) as client:
            assert await body(client, f"{origin.url}/a") == b"/a -"
            assert await body(client, f"{server.named_url}/") == b"hello"
        bad = proxy_settings(socks.url("socks5h", "user:wrong@"))
        async with HttpClient(proxies=bad, ssl_context=trusted) as client:
            with pytest.raises(ProxyError) as wrong:
                await body(client, f"{origin.url}/b")
            assert client._pool.total == 0
        async with HttpClient(proxies=proxy_settings(socks.url())) as client:
            with pytest.raises(ProxyError) as none:
                await body(client, f"{origin.url}/c")
    assert str(wrong.value) == (
        f"SOCKS5 proxy socks5h://127.0.0.1:{socks.port} refused the user name "
        "and password (status 2)"
    )
    assert "accepts none of our authentication methods" in str(none.value)
    assert [line for line, _ in origin.heads] == ["GET /a HTTP/1.1"]


async def test_a_refused_target_is_named() -> None:
    async with Origin() as origin:
        port = origin.port  # closed now: nothing listens there
    async with (
        MicroSocks() as socks,
        HttpClient(proxies=proxy_settings(socks.url())) as client,
    ):
        with pytest.raises(ProxyError) as info:
            await body(client, f"http://127.0.0.1:{port}/")
    assert str(info.value).startswith(
        f"SOCKS5 proxy socks5h://127.0.0.1:{socks.port} could not connect to "
        f"127.0.0.1:{port}: "
    )
    assert info.value.reply is not None


async def test_socks5_resolves_here(pki: Pki, trusted: ssl.SSLContext) -> None:
    sent: list[bytes] = []
    async with Fake(b"\x05\x00", b"\x05\x05\x00\x01" + bytes(6), sent) as fake:
        proxies = proxy_settings(f"socks5://127.0.0.1:{fake.port}")
        async with HttpClient(proxies=proxies) as client:
            with pytest.raises(ProxyError, match="connection refused"):
                await body(client, "http://localhost:8/")
    assert sent[1] in (
        b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x08",
        b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x00\x08",
    )


# -- a hostile fake ---------------------------------------------------------


class Fake:
    """An asyncio server sending ``answers`` one per read of the client's."""

    def __init__(self, *answers: bytes | list[bytes]) -> None:
        self.answers = [a for a in answers if isinstance(a, bytes)]
        self.sent: list[bytes] = next((a for a in answers if isinstance(a, list)), [])
        self.port = 0
        self.hang = False
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Fake:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        try:
            for answer in self.answers:
                self.sent.append(await reader.read(1024))
                writer.write(answer)
                await writer.drain()
            if self.hang:
                self.sent.append(await reader.read(1024))
                await reader.read()
        except OSError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        (
            [b"\x05\x00", b"\x05\x02\x00\x01"],
            "connection not allowed by ruleset (reply 2)",
        ),
        ([b"\x05\x00", b"\x05\x07"], "command not supported (reply 7)"),
        ([b"\x05\x00", b"\x05\x08"], "address type not supported (reply 8)"),
        ([b"\x05\xff"], "accepts none of our authentication methods"),
        (
            [b"HTTP/1.1 400 Bad\r\n\r\n"],
            "not a SOCKS5 proxy: it replied with version 72",
        ),
        (
            [b"\x05\x00", b"\x05\x00\x00\x01" + bytes(6) + b"junk"],
            "sent data after its reply",
        ),
        ([b"\x05\x00", b"\x05\x00\x00\x09"], "unknown address type 9"),
    ],
)
async def test_hostile_replies(answers: list[bytes], words: str) -> None:
    async with Fake(*answers) as fake:
        proxies = proxy_settings(f"socks5h://127.0.0.1:{fake.port}")
        async with HttpClient(proxies=proxies) as client:
            with pytest.raises(ProxyError) as info:
                await body(client, "https://example.invalid/")
            assert client._pool.total == 0
    assert str(info.value).startswith(f"SOCKS5 proxy socks5h://127.0.0.1:{fake.port} ")
    assert words in str(info.value)


async def test_a_proxy_that_closes_mid_reply() -> None:
    async with Fake(b"\x05\x00", b"\x05\x00\x00") as fake:
        proxies = proxy_settings(f"socks5h://127.0.0.1:{fake.port}")
        async with HttpClient(proxies=proxies) as client:
            with pytest.raises(ConnectError, match="closed the connection during"):
                await body(client, "http://example.invalid/")


async def test_a_silent_proxy_is_a_connect_timeout(tmp_path: Path) -> None:
    async with Fake() as fake:
        fake.hang = True
        proxies = proxy_settings(f"socks5h://127.0.0.1:{fake.port}")
        async with HttpClient(proxies=proxies, connect_timeout=0.3) as client:
            with pytest.raises(ConnectTimeout):
                await body(client, "http://example.invalid/")
