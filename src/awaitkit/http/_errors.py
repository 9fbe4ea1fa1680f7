"""Errors raised by the HTTP client, and the one table that translates foreign ones.

Every client failure derives from :class:`HttpClientError`, an
:class:`awaitkit.core.TransportError`; cancellation stays
:class:`asyncio.CancelledError`.  The tree::

    awaitkit.core.TransportError
    └── HttpClientError
        ├── ConnectError           (also awaitkit.core.ConnectError)
        │   ├── TLSError           (also awaitkit.core.TLSError): final, not retried
        │   │   └── CertificateError   the server's certificate was not accepted
        │   └── ProxyError         the proxy refused CONNECT (or SOCKS5) or answered nonsense
        ├── ConnectTimeout         (also awaitkit.core.TimeoutExpired, TimeoutError)
        ├── ReadTimeout            (also awaitkit.core.TimeoutExpired, TimeoutError)
        ├── ServerDisconnected
        ├── TruncatedBody
        ├── ProtocolError
        ├── BodyTooLarge
        ├── DecodingError          (also awaitkit.core.DecodingError)
        │   └── UnsupportedEncoding (also awaitkit.core.UnsupportedEncoding)
        ├── TooManyRedirects
        ├── RedirectError
        └── InvalidURL

Foreign exceptions (``OSError``, ``ssl.SSLError``, the ``TimeoutError`` of
``asyncio.timeout``, httptools' parser errors) reach the client only at its
socket boundary: connecting and feeding the parser.  There they go through
:func:`translate` and :data:`FOREIGN`, so the mapping is written once.
"""

from __future__ import annotations

import re
import ssl

import httptools

from awaitkit.core import errors as _core

__all__ = [
    "FOREIGN",
    "BodyTooLarge",
    "CertificateError",
    "ConnectError",
    "ConnectTimeout",
    "DecodingError",
    "HttpClientError",
    "InvalidURL",
    "ProtocolError",
    "ProxyError",
    "ReadTimeout",
    "RedirectError",
    "ServerDisconnected",
    "TLSError",
    "TooManyRedirects",
    "TruncatedBody",
    "UnsupportedEncoding",
    "ssl_words",
    "translate",
]


class HttpClientError(_core.TransportError):
    """Base of every error the HTTP client raises."""


class ConnectError(HttpClientError, _core.ConnectError):
    """DNS resolution, TCP connect or the TLS handshake failed.

    ``os_error`` is the ``OSError`` behind it (``ssl.SSLError`` included), if any.
    """

    def __init__(self, message: str, os_error: OSError | None = None) -> None:
        super().__init__(message)
        self._os_error = os_error

    @property
    def os_error(self) -> OSError | None:
        """The ``OSError`` that failed the connection, given or chained."""
        if self._os_error is not None:
            return self._os_error
        cause = self.__cause__
        return cause if isinstance(cause, OSError) else None


class TLSError(ConnectError, _core.TLSError):
    """The TLS handshake failed for good: refused by the server, no common version...

    Not a dropped connection (that is a plain :class:`ConnectError`): the
    server or our own checks said no, and would say it again.
    """


class CertificateError(TLSError):
    """The server's certificate was not accepted: unknown CA, wrong name, expired..."""


class ProxyError(ConnectError):
    """The proxy would not open a tunnel: a non-2xx answer to CONNECT, a SOCKS5 refusal, nonsense.

    ``status`` is an HTTP proxy's status (407: it wants credentials, 403: the
    port is not allowed, 502: it could not reach the origin...), None when
    the answer was not a valid HTTP head (too large, no status line) or
    the proxy is a SOCKS5 one.  ``reply`` is a SOCKS5 proxy's reply code
    (5: connection refused, 4: host unreachable...), None otherwise.
    """

    def __init__(
        self, message: str, status: int | None = None, *, reply: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reply = reply


class ConnectTimeout(HttpClientError, _core.TimeoutExpired):
    """DNS, TCP connect and the TLS handshake took longer than ``connect_timeout``."""


class ReadTimeout(HttpClientError, _core.TimeoutExpired):
    """No byte for ``read_timeout`` while waiting for the response head or body."""


class ServerDisconnected(HttpClientError):
    """The server closed the connection before a complete response head."""


class TruncatedBody(HttpClientError):
    """The connection closed (or was reset) before the end of the body."""


class ProtocolError(HttpClientError):
    """The server sent something that is not a valid HTTP/1.x response."""


class BodyTooLarge(HttpClientError):
    """The body is larger (declared or received) than the caller's limit."""


class DecodingError(HttpClientError, _core.DecodingError):
    """The body is not valid data of its Content-Encoding: corrupt, or cut short."""


class UnsupportedEncoding(DecodingError, _core.UnsupportedEncoding):
    """The Content-Encoding names a coding the client cannot decode (or too many)."""


class TooManyRedirects(HttpClientError):
    """More redirects than ``max_redirects`` in a row."""


class RedirectError(HttpClientError):
    """A redirect without a usable ``Location`` (missing, unparsable, not http(s))."""


class InvalidURL(HttpClientError):
    """A URL the client refuses: not http(s), no host, bad port, control characters."""


# Foreign type -> ours; the most specific class in the exception's MRO wins,
# so TimeoutError (an OSError) and ssl.SSLError (one too) go before OSError.
# A TLS failure is final unless the peer just went away mid-handshake.
FOREIGN: dict[type[BaseException], type[HttpClientError]] = {
    TimeoutError: ConnectTimeout,  # asyncio.timeout around the connect
    ssl.SSLCertVerificationError: CertificateError,
    ssl.SSLEOFError: ConnectError,
    ssl.SSLZeroReturnError: ConnectError,
    ssl.SSLSyscallError: ConnectError,
    ssl.SSLError: TLSError,
    OSError: ConnectError,
    httptools.HttpParserUpgrade: ProtocolError,
    httptools.HttpParserError: ProtocolError,
}


def translate(exc: BaseException, message: str) -> HttpClientError:
    """Our error for foreign ``exc`` (chained to it), or ``exc`` itself when ours.

    Raises ``exc`` again when the table has no entry for it: an unexpected
    error is a bug to see, not a transport failure to retry.
    """
    if isinstance(exc, HttpClientError):
        return exc
    for cls in type(exc).__mro__:
        ours = FOREIGN.get(cls)
        if ours is not None:
            detail = _detail(exc)
            mapped = ours(f"{message}: {detail}" if detail else message)
            mapped.__cause__ = exc
            return mapped
    raise exc


# OpenSSL's reasons for the alerts a server sends, in words.
_PROTOCOL_VERSION = "no TLS version in common (TLS 1.2 or later is required)"
_ALERTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the server refused the handshake "
    "(it may require a client certificate, or share no cipher with us)",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server refused our client certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the server refused our client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the server says our client certificate expired",
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not trust our client certificate's CA",
    "TLSV1_ALERT_PROTOCOL_VERSION": _PROTOCOL_VERSION,
    "UNSUPPORTED_PROTOCOL": _PROTOCOL_VERSION,
    "WRONG_VERSION_NUMBER": "the reply is not TLS (is it an http:// server?)",
}
_SOURCE = re.compile(r"\s*\(_ssl\.c:\d+\)$")


def ssl_words(exc: ssl.SSLError) -> str:
    """What an ``ssl.SSLError`` says, in one line without OpenSSL's source location.

    >>> ssl_words(ssl.SSLError(1, "[SSL: BAD_LENGTH] bad length (_ssl.c:1)"))
    'TLS: [SSL: BAD_LENGTH] bad length'
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        # Set by OpenSSL's errors; one made in Python (a test's) lacks them.
        why = (getattr(exc, "verify_message", None) or "").rstrip(".")
        return (
            f"certificate verify failed: {why}" if why else "certificate verify failed"
        )
    reason = getattr(exc, "reason", None)
    if reason in _ALERTS:
        return _ALERTS[reason]
    if isinstance(exc, ssl.SSLEOFError):
        return "the connection closed during the TLS handshake"
    text = _SOURCE.sub("", exc.strerror or str(exc))
    return f"TLS: {text}" if text else f"TLS: {type(exc).__name__}"


def _detail(exc: BaseException) -> str:
    if isinstance(exc, httptools.HttpParserUpgrade):
        return "the server switched protocols"
    if isinstance(exc, ssl.SSLError):
        return ssl_words(exc)
    if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or ("timed out" if isinstance(exc, TimeoutError) else "")
