"""One ``ssl.SSLContext`` from curl's TLS options, every file checked before use.

:func:`tls_context` is what ``--cacert``, ``--capath``, ``-k``, ``--cert``
and ``--key`` amount to.  It reads files (a CA bundle is parsed certificate
by certificate, tens of milliseconds), so it is a plain function: call it
before the event loop starts or in ``asyncio.to_thread``, then hand the
context to ``HttpClient(ssl_context=...)``.

Whatever the options, the context requires TLS 1.2 or later and sends SNI
for host names (``asyncio`` passes the host as ``server_hostname``; OpenSSL
sends no SNI for an IP literal, which the standard forbids).

Bad input is a :class:`~awaitkit.core.UsageError` naming the file: missing,
not a regular file, too large to be a certificate file, not PEM, an
encrypted key (nothing here asks for a pass phrase), a key that is not the
certificate's, or a key without a certificate.
"""

from __future__ import annotations

import os
import re
import ssl
import stat
from pathlib import Path

from awaitkit.core import UsageError

__all__ = ["MAX_PEM_FILE", "tls_context"]

MAX_PEM_FILE = 16 * 1024 * 1024
"""The largest certificate or key file read (a full CA bundle is about 200 KB)."""

# The names `openssl rehash` gives CA certificates in a folder: the
# subject's hash and a number.  (CRLs get HASH.rN; they are not read.)
_HASHED = re.compile(r"[0-9a-f]{8}\.[0-9]+")
_SOURCE = re.compile(r"\s*\(_ssl\.c:\d+\)$")  # OpenSSL's line, not the user's business


class _Encrypted(Exception):
    """Raised by the pass phrase callback: the key is encrypted."""


def _no_passphrase() -> bytes:
    # Without a callback OpenSSL prompts on the terminal and waits.
    raise _Encrypted


def tls_context(
    *,
    cafile: str | os.PathLike[str] | None = None,
    capath: str | os.PathLike[str] | None = None,
    verify: bool = True,
    certfile: str | os.PathLike[str] | None = None,
    keyfile: str | os.PathLike[str] | None = None,
) -> ssl.SSLContext:
    """A client context: whom to trust, whether to check, which certificate to show.

    ``cafile`` (a PEM bundle, curl's ``--cacert``) and ``capath`` (a folder
    of PEM certificates named by ``openssl rehash``, curl's ``--capath``)
    replace the system's CA certificates; with neither, those are loaded.
    The folder's certificates are read now, not looked up during each
    handshake, so no handshake waits for the disk.  ``verify=False`` (curl's
    ``-k``) checks neither the certificate nor the host name.  ``certfile``
    is a client certificate (PEM, with its chain; its key too unless
    ``keyfile`` is given).

    ::

        context = await asyncio.to_thread(tls_context, cafile="ca.pem")
        async with HttpClient(ssl_context=context) as client:
            ...

    Blocks while it reads the files; raises :class:`~awaitkit.core.UsageError`
    for bad input (see the module's docstring).
    """
    if keyfile is not None and certfile is None:
        raise UsageError(f"client key {os.fspath(keyfile)}: give its certificate too")
    anchors: list[str] = []
    if cafile is not None:
        anchors.append(_regular_file(cafile, "CA file"))
    if capath is not None:
        anchors.extend(_hashed_files(capath))
    if anchors:
        # create_default_context keeps the running Python's verify flags
        # and SSLKEYLOGFILE; only its CA certificates are ours.
        context = _load_anchors(anchors[0], None)
        for path in anchors[1:]:
            _load_anchors(path, context)
    elif verify:
        context = ssl.create_default_context()
    else:
        # Nothing will be checked: no CA certificates to load.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if context.minimum_version < ssl.TLSVersion.TLSv1_2:  # a system policy may ask more
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    if certfile is not None:
        _load_client_certificate(context, certfile, keyfile)
    return context


def _regular_file(path: str | os.PathLike[str], what: str) -> str:
    """``path`` as a string once it is a regular file of at most :data:`MAX_PEM_FILE`.

    Checked first so that a FIFO or a device (``/dev/zero``) is refused
    instead of read forever.
    """
    name = os.fspath(path)
    try:
        info = os.stat(name)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise UsageError(f"{what} {name}: {reason}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{what} {name}: not a regular file")
    if info.st_size > MAX_PEM_FILE:
        raise UsageError(
            f"{what} {name}: larger than {MAX_PEM_FILE >> 20} MiB, "
            "not a certificate file"
        )
    return name


def _hashed_files(path: str | os.PathLike[str]) -> list[str]:
    """The certificates of a hashed CA folder (``HASH.0``, ``HASH.1``...), checked."""
    folder = os.fspath(path)
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise UsageError(f"CA folder {folder}: {reason}") from None
    files = [
        _regular_file(Path(folder, name), "CA file")
        for name in names
        if _HASHED.fullmatch(name)
    ]
    if not files:
        raise UsageError(
            f"CA folder {folder}: no certificates named HASH.0 in it "
            "(openssl rehash names them)"
        )
    return files


def _load_anchors(path: str, context: ssl.SSLContext | None) -> ssl.SSLContext:
    """Trust the certificates of PEM file ``path``: in a new context, or in ``context``."""
    try:
        if context is None:
            return ssl.create_default_context(cafile=path)
        context.load_verify_locations(cafile=path)
        return context
    except ssl.SSLError as exc:
        raise UsageError(f"CA file {path}: {_pem_problem(exc)}") from None
    except OSError as exc:
        raise UsageError(f"CA file {path}: {exc.strerror}") from None


def _load_client_certificate(
    context: ssl.SSLContext,
    certfile: str | os.PathLike[str],
    keyfile: str | os.PathLike[str] | None,
) -> None:
    cert = _regular_file(certfile, "client certificate")
    key = None if keyfile is None else _regular_file(keyfile, "client key")
    try:
        # Its certificates first, alone: OpenSSL's error for a chain file
        # without one is the same "PEM lib" as for a bad key.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=cert)
    except (ssl.SSLError, OSError) as exc:
        raise UsageError(f"client certificate {cert}: {_pem_problem(exc)}") from None
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except _Encrypted:
        raise UsageError(
            f"client key {key or cert}: encrypted; give it decrypted "
            "(openssl pkey -in KEY -out PLAIN)"
        ) from None
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None)
        if reason == "KEY_VALUES_MISMATCH":
            raise UsageError(
                f"client key {key or cert}: not the key of the certificate in {cert}"
            ) from None
        if key is None:
            raise UsageError(
                f"client certificate {cert}: no private key in it; give the key file"
            ) from None
        raise UsageError(f"client key {key}: not a PEM private key") from None


def _pem_problem(exc: OSError) -> str:
    reason = getattr(exc, "reason", None)
    if reason == "NO_CERTIFICATE_OR_CRL_FOUND":
        return "no PEM certificate in it"
    if reason:
        return f"not a valid PEM certificate file ({reason.lower().replace('_', ' ')})"
    text = _SOURCE.sub("", exc.strerror or "") or type(exc).__name__
    return f"not a valid PEM certificate file ({text})"
