"""HttpClient over TLS, against a local server with a self-signed certificate."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from awaitkit.http import ConnectError, HttpClient
from tests.conftest import find_binary
from tests.flags.loops import both_loops
from tests.http.test_client import ok

pytestmark = pytest.mark.anyio
anyio_backend = both_loops


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            find_binary("openssl"),
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


class TlsServer:
    """A threaded blocking TLS server on 127.0.0.1 answering every request with ``body``.

    Threads, not the event loop under test: a handshake the client refuses
    is then counted in ``refused`` instead of surfacing as a loop error.
    """

    def __init__(self, cert: Path, key: Path, body: bytes) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.body = body
        self.refused = 0
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"https://127.0.0.1:{self.listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    def __enter__(self) -> TlsServer:
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(10)
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                data = b""
                while not self._stop.is_set():
                    chunk = tls.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                    while b"\r\n\r\n" in data:
                        _, data = data.split(b"\r\n\r\n", 1)
                        tls.sendall(ok(self.body))
        except ssl.SSLError:
            self.refused += 1
        except OSError:
            pass
        finally:
            conn.close()


async def test_https_get_with_keep_alive(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    body = bytes(range(256)) * 1000
    trusted = ssl.create_default_context(cafile=str(cert))
    with TlsServer(cert, key, body) as server:
        async with HttpClient(ssl_context=trusted) as client:
            for _ in range(3):
                async with client.get(f"{server.url}/file") as resp:
                    assert resp.status == 200
                    assert await resp.read() == body
            assert client._pool.total == 1
        assert server.connections == 1


async def test_untrusted_certificate_is_a_connect_error(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    with TlsServer(cert, key, b"secret") as server:
        async with HttpClient() as client:  # the default context does not trust it
            with pytest.raises(ConnectError) as info:
                async with client.get(server.url):
                    pass
            assert isinstance(info.value.os_error, ssl.SSLCertVerificationError)
            assert client._pool.total == 0
