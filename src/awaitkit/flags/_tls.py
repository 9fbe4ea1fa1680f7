"""TLS for the flags server: contexts from files or self-signed, and the handshake.

:func:`server_context` loads ``--tls-cert``/``--tls-key`` with every file
checked first (a clear :class:`~awaitkit.core.UsageError`, never an OpenSSL
traceback or a pass phrase prompt).  :func:`self_signed_tls` makes a CA
and a certificate for the loopback names with ``trustme`` (the optional
extra ``awaitkit[tls]``), so HTTPS clients can be tested against a CA they
are told to trust.  Both read or write files and make keys: call them
before the loop starts or in ``asyncio.to_thread``.

:class:`TlsAcceptor` accepts and runs each handshake itself instead of
``create_server(ssl=...)``: asyncio keeps a failed handshake to its debug
log, and a test server must say that a client sent plain HTTP or garbage
to its TLS port.  The plain-HTTP path never comes here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from awaitkit.core import UsageError
from awaitkit.flags._protocol import HttpConnection

if TYPE_CHECKING:
    from awaitkit.flags._site import Site

__all__ = [
    "LOOPBACK_NAMES",
    "SelfSignedTLS",
    "TlsAcceptor",
    "self_signed_tls",
    "server_context",
]

log = logging.getLogger("awaitkit.flags")

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""Names every self-signed certificate is valid for."""
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})
_MAX_PEM_FILE = 16 * 1024 * 1024  # a certificate chain is a few KB


class _Encrypted(Exception):
    """Raised by the pass phrase callback: the key is encrypted."""


def _no_passphrase() -> bytes:
    # Without a callback OpenSSL prompts on the terminal and waits.
    raise _Encrypted


def _shown(path: str | os.PathLike[str]) -> str:
    """A file name fit for a message: bytes that are not UTF-8 as ``\\xff``."""
    name = os.fspath(path)
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _regular_file(path: str | os.PathLike[str], option: str) -> str:
    """``path`` once it is a readable regular file of sane size (not a FIFO, not /dev/zero)."""
    name = os.fspath(path)
    shown = _shown(name)
    try:
        info = os.stat(name)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise UsageError(f"{option} {shown}: {why}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{option} {shown}: not a regular file")
    if info.st_size > _MAX_PEM_FILE:
        raise UsageError(f"{option} {shown}: too large to be a PEM file")
    return name


def _new_server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if context.minimum_version < ssl.TLSVersion.TLSv1_2:  # a system policy may ask more
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def server_context(
    certfile: str | os.PathLike[str], keyfile: str | os.PathLike[str] | None = None
) -> ssl.SSLContext:
    """A server context from a PEM certificate chain and its key (TLS 1.2 or later).

    ``keyfile`` may be left out when the key is in ``certfile``.  Raises
    :class:`~awaitkit.core.UsageError` naming the option and the file:
    missing, not a regular file, not PEM, an encrypted key, or a key that
    is not the certificate's.

    ::

        context = await asyncio.to_thread(server_context, "cert.pem", "key.pem")
        async with FlagsServer(ssl=context) as server:  # server.base_url: https://
            ...
    """
    cert = _regular_file(certfile, "--tls-cert")
    key = None if keyfile is None else _regular_file(keyfile, "--tls-key")
    cert_shown, key_shown = _shown(cert), _shown(key or cert)
    try:
        # Its certificates alone first: OpenSSL says "PEM lib" for a bad
        # certificate and a bad key alike.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=cert)
    except (ssl.SSLError, OSError):
        raise UsageError(f"--tls-cert {cert_shown}: no PEM certificate in it") from None
    context = _new_server_context()
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except _Encrypted:
        raise UsageError(
            f"--tls-key {key_shown}: encrypted; give it decrypted "
            "(openssl pkey -in KEY -out PLAIN)"
        ) from None
    except (ssl.SSLError, OSError) as exc:
        if getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
            raise UsageError(
                f"--tls-key {key_shown}: not the key of the certificate in {cert_shown}"
            ) from None
        if key is None:
            raise UsageError(
                f"--tls-cert {cert_shown}: no private key in it; give --tls-key"
            ) from None
        raise UsageError(f"--tls-key {key_shown}: not a PEM private key") from None
    return context


@dataclass(frozen=True, slots=True)
class SelfSignedTLS:
    """A CA of its own and a server certificate it signed, for ``hosts``.

    ``server_context`` goes to ``FlagsServer(ssl=...)``; clients trust
    ``ca_pem`` (:meth:`client_context`, or :meth:`write_ca` for curl's
    ``--cacert``).
    """

    server_context: ssl.SSLContext
    ca_pem: bytes
    hosts: tuple[str, ...]

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))

    def write_ca(self, directory: str | os.PathLike[str]) -> Path:
        """Write the CA certificate as ``ca.pem`` under ``directory`` (made if missing)."""
        path = Path(directory, "ca.pem")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.ca_pem)
        except OSError as exc:
            raise UsageError(f"--tls-dir {_shown(directory)}: {exc.strerror}") from None
        return path


def certificate_names(hosts: Iterable[str] = ()) -> tuple[str, ...]:
    """The loopback names, then each of ``hosts`` (the host name for a wildcard)."""
    names = list(LOOPBACK_NAMES)
    for host in hosts:
        name = socket.gethostname() if host in _WILDCARDS else host
        if name not in names:
            names.append(name)
    return tuple(names)


def self_signed_tls(hosts: Iterable[str] = ()) -> SelfSignedTLS:
    """A fresh CA and a certificate for the loopback names and ``hosts`` (``trustme``).

    Example (in a test, off the loop: making keys takes a few milliseconds
    of CPU and ``trustme`` writes a temporary file)::

        tls = await asyncio.to_thread(self_signed_tls)
        async with serving_flags(tls=tls.server_context) as base_url:
            async with HttpClient(ssl_context=tls.client_context()) as client:
                ...

    Raises :class:`~awaitkit.core.UsageError` when ``trustme`` is missing.
    """
    try:
        import trustme
    except ImportError:
        raise UsageError(
            "a self-signed certificate needs trustme: "
            "pip install 'awaitkit[tls]' (or give --tls-cert and --tls-key)"
        ) from None
    names = certificate_names(hosts)
    ca = trustme.CA(organization_name="awaitkit serve flags")
    issued = ca.issue_cert(*names)
    context = _new_server_context()
    issued.configure_cert(context)
    return SelfSignedTLS(context, ca.cert_pem.bytes(), names)


class _TlsConnection(HttpConnection):
    """An HTTP connection over TLS, where asyncio has no half-close."""

    def eof_received(self) -> bool | None:
        super().eof_received()
        # asyncio closes a TLS connection on the peer's close_notify
        # whatever we return, and logs a warning if we ask to keep it open.
        return None


def _failure(exc: OSError) -> str:
    """One line on a failed handshake."""
    reason = getattr(exc, "reason", None)
    if reason == "HTTP_REQUEST":
        return "plain HTTP sent to the TLS port"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error {reason or exc.__class__.__name__}"
    return str(exc) or exc.__class__.__name__


class TlsAcceptor:
    """Accepts connections on a listening socket, shakes hands, hands them to HTTP.

    Each accepted socket goes to ``loop.connect_accepted_socket(ssl=...)``,
    which raises when the handshake fails, so the failure can be logged
    (``create_server(ssl=...)`` keeps it to asyncio's debug log), and no
    byte is read before TLS owns the socket.  At most
    ``site.max_connections`` handshakes run at once (the rest are closed),
    each bounded by ``handshake_timeout``.  :meth:`close` stops accepting,
    cancels the handshakes in progress and closes the listening socket.
    """

    def __init__(
        self, site: Site, context: ssl.SSLContext, *, handshake_timeout: float
    ) -> None:
        self.site = site
        self.context = context
        self.handshake_timeout = handshake_timeout
        # Each handshake in progress and its socket (closed by close() if the
        # task is cancelled before it could take the socket over).
        self.handshakes: dict[asyncio.Task[None], socket.socket] = {}
        self.failed = 0
        self._accepting: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    def __repr__(self) -> str:
        return f"<TlsAcceptor handshakes={len(self.handshakes)} failed={self.failed}>"

    def start(self, sock: socket.socket) -> None:
        """Start accepting on ``sock`` (bound and listening); it is closed by :meth:`close`."""
        sock.setblocking(False)
        self._sock = sock
        self._accepting = self.site.loop.create_task(self._accept(sock))

    async def _accept(self, sock: socket.socket) -> None:
        loop = self.site.loop
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as exc:  # out of file descriptors...: wait, go on
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            if len(self.handshakes) >= self.site.max_connections:
                conn.close()
                continue
            task = loop.create_task(self._handshake(conn))
            self.handshakes[task] = conn
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self.handshakes.pop(task, None)

    async def _handshake(self, sock: socket.socket) -> None:
        try:
            peer = sock.getpeername()
            shown = f"{peer[0]}:{peer[1]}"
        except OSError:
            shown = "-"
        try:
            await self.site.loop.connect_accepted_socket(
                lambda: _TlsConnection(self.site),
                sock,
                ssl=self.context,
                ssl_handshake_timeout=self.handshake_timeout,
            )
        except OSError as exc:  # ssl.SSLError, resets, the handshake timeout
            self.failed += 1
            log.info("%s TLS handshake failed: %s", shown, _failure(exc))
            sock.close()

    async def close(self) -> None:
        """Stop accepting, cancel the handshakes in progress, close the socket."""
        pending = dict(self.handshakes)
        tasks = list(pending)
        if self._accepting is not None:
            tasks.append(self._accepting)
            self._accepting = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task, sock in pending.items():
            if task.cancelled():
                sock.close()  # a no-op if its transport closed it already
        if self._sock is not None:
            self._sock.close()
            self._sock = None
