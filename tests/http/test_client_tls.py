"""HttpClient over TLS against a threaded server on loopback, certificates from trustme.

Every refusal is checked for its class (final :class:`TLSError`, or
:class:`CertificateError` for the server's certificate), its one-line
reason, and for leaving no connection behind.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import warnings
from pathlib import Path
from typing import Any

import pytest

from awaitkit import core
from awaitkit.http import (
    CertificateError,
    ConnectError,
    HttpClient,
    TLSError,
    tls_context,
)
from tests.conftest import find_binary
from tests.flags.loops import both_loops
from tests.http._tls import (
    Pki,
    TlsServer,
    hashed_ca_folder,
    make_pki,
    tls11_server_context,
)

pytestmark = pytest.mark.anyio
anyio_backend = both_loops


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def context(**options: Any) -> ssl.SSLContext:
    """:func:`tls_context` built off the loop, as a caller must (it reads files)."""
    return await asyncio.to_thread(lambda: tls_context(**options))


async def get(url: str, ssl_context: ssl.SSLContext | None) -> bytes:
    async with HttpClient(ssl_context=ssl_context) as client, client.get(url) as resp:
        assert resp.status == 200
        return await resp.read()


async def refused(url: str, ssl_context: ssl.SSLContext | None) -> ConnectError:
    """The error a GET of ``url`` fails with; no connection may be left open."""
    async with HttpClient(ssl_context=ssl_context) as client:
        with pytest.raises(ConnectError) as info:
            async with client.get(url):
                pass
        assert client._pool.total == 0
    message = str(info.value)
    assert "\n" not in message
    assert "_ssl.c" not in message
    return info.value


async def test_https_get_with_keep_alive(pki: Pki) -> None:
    body = bytes(range(256)) * 1000
    trusted = await context(cafile=pki.ca_pem)
    async with TlsServer(pki.server_context(), body) as server:
        async with HttpClient(ssl_context=trusted) as client:
            for _ in range(3):
                async with client.get(f"{server.named_url}/file") as resp:
                    assert resp.status == 200
                    assert await resp.read() == body
            assert client._pool.total == 1
        assert server.connections == 1


async def test_sni_names_the_host_but_never_an_ip_literal(pki: Pki) -> None:
    trusted = await context(cafile=pki.ca_pem)
    async with TlsServer(pki.server_context()) as server:
        assert await get(server.named_url, trusted) == b"hello"
        assert await get(server.url, trusted) == b"hello"
    assert server.names == ["localhost", None]


async def test_an_unknown_ca_is_a_final_certificate_error(pki: Pki) -> None:
    async with TlsServer(pki.server_context()) as server:
        # The default context: the system's CAs, which never issued this one.
        error = await refused(server.named_url, None)
    assert isinstance(error, CertificateError)
    assert isinstance(error, core.TLSError)
    assert isinstance(error.os_error, ssl.SSLCertVerificationError)
    assert str(error) == (
        f"cannot connect to localhost:{server.port}: certificate verify failed: "
        "unable to get local issuer certificate"
    )


@pytest.mark.parametrize(
    ("name", "target", "reason"),
    [
        (
            "other",
            "named_url",
            "Hostname mismatch, certificate is not valid for 'localhost'",
        ),
        (
            "other",
            "url",
            "IP address mismatch, certificate is not valid for '127.0.0.1'",
        ),
        ("expired", "named_url", "certificate has expired"),
    ],
)
async def test_a_wrong_or_expired_certificate_is_refused(
    pki: Pki, name: str, target: str, reason: str
) -> None:
    trusted = await context(cafile=pki.ca_pem)
    async with TlsServer(pki.server_context(name)) as server:
        error = await refused(getattr(server, target), trusted)
    assert isinstance(error, CertificateError)
    assert str(error).endswith(f": certificate verify failed: {reason}")


async def test_verify_false_accepts_any_certificate(pki: Pki) -> None:
    insecure = await context(verify=False)
    async with TlsServer(pki.server_context("expired")) as server:
        assert await get(server.named_url, insecure) == b"hello"
    async with TlsServer(pki.server_context("other")) as server:
        assert await get(server.named_url, insecure) == b"hello"
        assert server.names == ["localhost"]  # SNI all the same


async def test_a_tls_1_1_server_is_refused(pki: Pki) -> None:
    server_context = tls11_server_context(pki)
    if server_context is None:
        pytest.skip("this OpenSSL cannot make a TLS 1.1 server")
    trusted = await context(cafile=pki.ca_pem)
    async with TlsServer(server_context) as server:
        error = await refused(server.named_url, trusted)
    assert type(error) is TLSError
    assert str(error).endswith(
        ": no TLS version in common (TLS 1.2 or later is required)"
    )


def test_the_tls_1_1_server_does_speak_tls_1_1(pki: Pki) -> None:
    """The control for the test above: a client that allows TLS 1.1 gets through."""
    server_context = tls11_server_context(pki)
    if server_context is None:
        pytest.skip("this OpenSSL cannot make a TLS 1.1 server")
    client = ssl.create_default_context(cafile=str(pki.ca_pem))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client.minimum_version = ssl.TLSVersion.TLSv1_1
    client.set_ciphers("DEFAULT:@SECLEVEL=0")
    with (
        TlsServer(server_context) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        client.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() == "TLSv1.1"


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        # TLS 1.3: the server judges us after our side of the handshake is
        # done, so its refusal arrives with the first read.
        (ssl.TLSVersion.TLSv1_3, "the server requires a client certificate"),
        (ssl.TLSVersion.TLSv1_2, "the server refused the handshake"),
    ],
)
async def test_a_required_client_certificate_not_given_is_refused(
    pki: Pki, version: ssl.TLSVersion, reason: str
) -> None:
    server_context = pki.requiring_client_certificates()
    server_context.minimum_version = server_context.maximum_version = version
    trusted = await context(cafile=pki.ca_pem)
    async with TlsServer(server_context) as server:
        error = await refused(server.named_url, trusted)
        assert server.connections == 1  # not tried again on a new connection
    assert isinstance(error, TLSError)
    assert f"cannot connect to localhost:{server.port}: {reason}" in str(error)


@pytest.mark.parametrize("together", [False, True], ids=["cert+key", "one-file"])
async def test_a_client_certificate_is_shown(pki: Pki, together: bool) -> None:
    if together:
        mine = await context(cafile=pki.ca_pem, certfile=pki.folder / "client-all.pem")
    else:
        mine = await context(
            cafile=pki.ca_pem, certfile=pki.cert("client"), keyfile=pki.key("client")
        )
    async with TlsServer(pki.requiring_client_certificates()) as server:
        assert await get(server.named_url, mine) == b"hello"
    assert server.peers == [True]


async def test_a_client_certificate_of_another_ca_is_refused(pki: Pki) -> None:
    mine = await context(
        cafile=pki.ca_pem, certfile=pki.cert("stranger"), keyfile=pki.key("stranger")
    )
    async with TlsServer(pki.requiring_client_certificates()) as server:
        error = await refused(server.named_url, mine)
    assert isinstance(error, TLSError)
    assert "the server does not trust our client certificate's CA" in str(error)


async def test_a_hashed_ca_folder_is_trusted(pki: Pki) -> None:
    openssl = find_binary("openssl")
    folder = await asyncio.to_thread(hashed_ca_folder, pki, openssl)
    trusted = await context(capath=folder)
    async with TlsServer(pki.server_context()) as server:
        assert await get(server.named_url, trusted) == b"hello"


async def test_only_the_ca_files_certificates_are_trusted(
    pki: Pki, tmp_path: Path
) -> None:
    other_ca = await asyncio.to_thread(make_pki, tmp_path)
    trusted = await context(cafile=other_ca.ca_pem)
    async with TlsServer(pki.server_context()) as server:
        error = await refused(server.named_url, trusted)
    assert isinstance(error, CertificateError)
