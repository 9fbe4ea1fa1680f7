"""A test CA with its certificates on disk, and a threaded TLS server on loopback.

The server runs in threads, not on the event loop under test: a handshake
one side refuses is then recorded in ``errors`` instead of surfacing as a
loop error, and CLI tests (which run their own loop) can use it too.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import subprocess
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = [
    "Pki",
    "TlsServer",
    "hashed_ca_folder",
    "make_pki",
    "respond_ok",
    "tls11_server_context",
]


def respond_ok(body: bytes) -> bytes:
    """A keep-alive 200 response with Content-Length."""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


@dataclass(frozen=True)
class Pki:
    """A CA (``ca.pem``) and the certificates a test needs, as PEM files in ``folder``.

    ``good``: localhost and 127.0.0.1; ``other``: only other.example;
    ``expired``: localhost, expired yesterday; ``client``: a client
    certificate, its key apart (``client.key``) and together (``client-all.pem``);
    ``stranger``: a client certificate from another CA.
    """

    folder: Path
    ca: trustme.CA
    ca_pem: Path

    def cert(self, name: str) -> Path:
        return self.folder / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.folder / f"{name}.key"

    def server_context(self, name: str = "good") -> ssl.SSLContext:
        """A server context showing certificate ``name``."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # no system CAs: fast
        context.load_cert_chain(self.cert(name), self.key(name))
        return context

    def requiring_client_certificates(
        self, context: ssl.SSLContext | None = None
    ) -> ssl.SSLContext:
        """``context`` (default: the good one) asking for a client certificate of this CA."""
        context = context or self.server_context()
        context.verify_mode = ssl.CERT_REQUIRED
        self.ca.configure_trust(context)
        return context


def make_pki(folder: Path) -> Pki:
    """Issue the certificates of :class:`Pki` into ``folder``."""
    ca = trustme.CA()
    ca_pem = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    now = datetime.datetime.now(datetime.UTC)
    issued = {
        "good": ca.issue_cert("localhost", "127.0.0.1"),
        "other": ca.issue_cert("other.example"),
        "expired": ca.issue_cert(
            "localhost",
            "127.0.0.1",
            not_before=now - datetime.timedelta(days=10),
            not_after=now - datetime.timedelta(days=1),
        ),
        "client": ca.issue_cert("client.example"),
        "stranger": trustme.CA().issue_cert("client.example"),
    }
    for name, leaf in issued.items():
        with open(folder / f"{name}.pem", "wb") as out:
            for blob in leaf.cert_chain_pems:
                out.write(blob.bytes())
        leaf.private_key_pem.write_to_path(str(folder / f"{name}.key"))
    issued["client"].private_key_and_cert_chain_pem.write_to_path(
        str(folder / "client-all.pem")
    )
    return Pki(folder, ca, ca_pem)


def tls11_server_context(pki: Pki) -> ssl.SSLContext | None:
    """A server context that speaks TLS 1.1 only, or None if OpenSSL cannot make one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1_1 is
            context.minimum_version = ssl.TLSVersion.TLSv1_1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # TLS 1.1 needs level 0
        context.load_cert_chain(pki.cert("good"), pki.key("good"))
    except (ssl.SSLError, ValueError):
        return None
    return context


class TlsServer:
    """A threaded blocking TLS server on 127.0.0.1 answering every request with ``body``.

    ``names`` gets the SNI name of each handshake (None: none sent),
    ``errors`` the OpenSSL reason of each refused one, ``peers`` whether
    the client showed a certificate.
    """

    def __init__(self, context: ssl.SSLContext, body: bytes = b"hello") -> None:
        self.context = context
        self.body = body
        self.names: list[str | None] = []
        self.errors: list[str] = []
        self.peers: list[bool] = []
        self.connections = 0
        context.sni_callback = self._sni
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.named_url = f"https://localhost:{self.port}"
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    @property
    def refused(self) -> int:
        return len(self.errors)

    def __enter__(self) -> TlsServer:
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(10)
        self.listener.close()

    # In async tests: the threads are joined off the loop, which may still
    # have to close the client's side of a connection a thread waits on.
    async def __aenter__(self) -> TlsServer:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.__exit__)

    def _sni(self, sock: ssl.SSLObject, name: str | None, context: object) -> None:
        self.names.append(name)

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
        # wrap_socket closes the socket when its handshake fails: do that here.
        tls = self.context.wrap_socket(
            conn, server_side=True, do_handshake_on_connect=False
        )
        try:
            try:
                tls.do_handshake()
            except ssl.SSLError as exc:
                self.errors.append(exc.reason or str(exc))
                _linger(tls)
                return
            self.peers.append(tls.getpeercert() not in (None, {}))
            data = b""
            while not self._stop.is_set():
                chunk = tls.recv(65536)
                if not chunk:
                    return
                data += chunk
                while b"\r\n\r\n" in data:
                    _, data = data.split(b"\r\n\r\n", 1)
                    tls.sendall(respond_ok(self.body))
        except OSError:
            pass
        finally:
            tls.close()


def _linger(conn: socket.socket) -> None:
    """Close after a refused handshake as nginx does: without a reset.

    Closing with the client's request unread sends a TCP reset, which may
    reach the client before the TLS alert and destroy it in its buffer.
    """
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(2)
        while conn.recv(65536):
            pass
    except OSError:
        pass


def hashed_ca_folder(pki: Pki, openssl: str) -> Path:
    """A folder holding the CA as ``openssl rehash`` names it (``HASH.0``)."""
    folder = pki.folder / "hashed"
    folder.mkdir(exist_ok=True)
    (folder / "ca.pem").write_bytes(pki.ca_pem.read_bytes())
    subprocess.run([openssl, "rehash", str(folder)], check=True, timeout=60)
    return folder
