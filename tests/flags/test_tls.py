"""The flags server over TLS: self-signed or given certificates, hostile clients, the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator

import pytest

from awaitkit.core.testing import exchange, split_url
from awaitkit.flags import (
    FlagsServer,
    SelfSignedTLS,
    build_dataset,
    self_signed_tls,
    serving_flags,
)
from awaitkit.http import CertificateError, ConnectError, HttpClient, TruncatedBody
from tests.flags.loops import both_loops
from tests.flags.rawhttp import get

pytestmark = pytest.mark.anyio


anyio_backend = both_loops

GIF = "/flags/br/br.gif"


def troubles(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Errors, tracebacks and our own warnings (a loaded machine's slow-callback
    warnings from asyncio debug mode are not the server's doing)."""
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR
        or r.exc_info
        or (r.levelno >= logging.WARNING and not r.msg.startswith("Executing "))
    ]


@pytest.fixture(scope="module")
def tls() -> SelfSignedTLS:
    return self_signed_tls()


@contextlib.asynccontextmanager
async def tls_server(
    tls: SelfSignedTLS, **options: float
) -> AsyncIterator[FlagsServer]:
    async with FlagsServer(ssl=tls.server_context, **options) as server:
        yield server


async def test_self_signed_serves_https(tls: SelfSignedTLS) -> None:
    """FlagsServer(ssl=...) serves https:// to a client that trusts the CA: files,
    httpbin paths (with https in their URLs), drips."""
    async with (
        tls_server(tls) as server,
        HttpClient(ssl_context=tls.client_context()) as client,
    ):
        base = server.base_url
        assert base.startswith("https://127.0.0.1:")
        async with client.get(f"{base}{GIF}") as resp:
            assert resp.status == 200
            assert await resp.read() == build_dataset()["flags/br/br.gif"].body
        async with client.get(f"{base}/delay/0") as resp:
            assert (await resp.read()).count(b'"url": "https://') == 1
        async with client.get(f"{base}/drip?numbytes=50&duration=0.2") as resp:
            assert await resp.read() == b"*" * 50
        async with client.get(f"{base}/status/503") as resp:
            assert resp.status == 503
        localhost = base.replace("127.0.0.1", "localhost")
        async with client.get(f"{localhost}/flags/br/metadata.json") as resp:
            assert resp.status == 200
        assert server.stats.connections == 2  # keep-alive over TLS, one per host
    assert tls.hosts == ("localhost", "127.0.0.1", "::1")


async def test_serving_flags_takes_tls(tls: SelfSignedTLS) -> None:
    """serving_flags(tls=context) yields an https:// URL; an untrusting client is refused."""
    async with serving_flags(tls=tls.server_context) as base_url:
        assert base_url.startswith("https://")
        async with (
            HttpClient(ssl_context=tls.client_context()) as client,
            client.get(f"{base_url}/status/418") as resp,
        ):
            assert resp.status == 418
        stranger = await asyncio.to_thread(self_signed_tls)  # another CA
        async with HttpClient(ssl_context=stranger.client_context()) as client:
            with pytest.raises(CertificateError):
                async with client.get(f"{base_url}/status/200"):
                    pass


async def test_body_faults_apply_over_tls(tls: SelfSignedTLS) -> None:
    """A reset or a truncation mid-body works through TLS too."""
    async with (
        tls_server(tls, truncate_rate=1.0) as server,
        HttpClient(ssl_context=tls.client_context()) as client,
    ):
        with pytest.raises(TruncatedBody):
            async with client.get(f"{server.base_url}{GIF}") as resp:
                await resp.read()
        assert server.stats.by_fault["truncate"] == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (get(b"/flags/br/br.gif"), "plain HTTP sent to the TLS port"),
        (b"\x16\x03\x01\x00\x05hello" + bytes(range(256)) * 4, "TLS error"),
        (b"\x00" * 5000, "TLS error"),
    ],
)
async def test_plain_http_and_garbage_are_logged_and_survived(
    tls: SelfSignedTLS, caplog: pytest.LogCaptureFixture, data: bytes, reason: str
) -> None:
    """Plain HTTP or garbage on the TLS port: closed, one INFO line, no traceback,
    and the next client is served."""
    caplog.set_level(logging.INFO)
    async with (
        tls_server(tls) as server,
        HttpClient(ssl_context=tls.client_context()) as client,
    ):
        with contextlib.suppress(ConnectionResetError):
            response = await exchange(server.base_url, data)
            assert not response.startswith(b"HTTP/")
        async with client.get(f"{server.base_url}{GIF}") as resp:
            assert resp.status == 200
    [line] = [r for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert reason in line.getMessage()
    assert line.levelno == logging.INFO
    assert not troubles(caplog)


async def test_silent_and_vanishing_clients_time_out_or_are_dropped(
    tls: SelfSignedTLS, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that never says hello is cut at the handshake timeout; one that
    hangs up mid-handshake or half-closes costs nothing; shutdown cancels the rest."""
    caplog.set_level(logging.INFO)
    async with tls_server(tls, request_timeout=0.5) as server:
        host, port = split_url(server.base_url)
        response = await exchange(server.base_url, b"", wait=10)  # no hello at all
        assert response == b""
        assert await exchange(server.base_url, b"\x16\x03", half_close=True) == b""
        _, writer = await asyncio.open_connection(host, port)
        writer.close()
        await writer.wait_closed()
        # One more left mid-handshake while the server stops.
        _, lingering = await asyncio.open_connection(host, port)
    lingering.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("taking longer than 0.5 seconds" in m for m in messages), messages
    assert not troubles(caplog)


async def test_handshakes_in_progress_are_bounded(tls: SelfSignedTLS) -> None:
    """Past max_connections handshakes at once, new connections are closed at once."""
    async with tls_server(tls, max_connections=2) as server:
        address = split_url(server.base_url)
        silent = [await asyncio.open_connection(*address) for _ in range(2)]
        reader, writer = await asyncio.open_connection(*address)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, not queued
        writer.close()
        for _, w in silent:
            w.close()
        # The slots come back once the server has seen those two leave.
        async with HttpClient(ssl_context=tls.client_context()) as client:
            async with asyncio.timeout(5):
                while True:
                    try:
                        async with client.get(f"{server.base_url}{GIF}") as resp:
                            assert resp.status == 200
                            break
                    except ConnectError:
                        await asyncio.sleep(0.02)


def _half_closed_request(address: tuple[str, int], ca_pem: bytes) -> bytes:
    """Blocking: send a request over TLS, shut the TCP write side, read what comes."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    with (
        socket.create_connection(address, timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls_sock,
    ):
        tls_sock.sendall(b"GET /flags/br/metadata.json HTTP/1.1\r\nHost: x\r\n\r\n")
        # SSLSocket.shutdown would drop the TLS state: shut the descriptor only.
        socket.socket.shutdown(tls_sock, socket.SHUT_WR)
        data = b""
        with contextlib.suppress(OSError):  # ssl.SSLEOFError and resets included
            while chunk := tls_sock.recv(65536):
                data += chunk
        return data


async def test_half_closed_tls_client_does_not_hurt_the_server(
    tls: SelfSignedTLS, caplog: pytest.LogCaptureFixture
) -> None:
    """A TLS client that half-closes TCP after its request: no crash, no warning,
    and the next one is served."""
    async with (
        tls_server(tls) as server,
        HttpClient(ssl_context=tls.client_context()) as client,
    ):
        data = await asyncio.to_thread(
            _half_closed_request, split_url(server.base_url), tls.ca_pem
        )
        assert data.startswith(b"HTTP/1.1 200")  # answered, then closed
        async with client.get(f"{server.base_url}{GIF}") as resp:
            assert resp.status == 200
    assert not troubles(caplog)
