"""Errors raised by the HTTP client (timeouts and cancellation excepted).

Every client failure derives from :class:`HttpClientError`, so a caller can
catch the lot; timeouts raise the builtin :class:`TimeoutError` and
cancellation :class:`asyncio.CancelledError`, as everywhere in asyncio.
They sit in the project's error tree: ``HttpClientError`` is a
:class:`awaitkit.core.TransportError`, and :class:`ConnectError` is also
:class:`awaitkit.core.ConnectError`.
"""

from __future__ import annotations

from awaitkit.core import errors as _core

__all__ = [
    "BodyTooLarge",
    "ConnectError",
    "HttpClientError",
    "InvalidURL",
    "ProtocolError",
    "RedirectError",
    "ServerDisconnected",
    "TooManyRedirects",
    "TruncatedBody",
]


class HttpClientError(_core.TransportError):
    """Base of every error the HTTP client raises."""


class ConnectError(HttpClientError, _core.ConnectError):
    """DNS resolution, TCP connect or the TLS handshake failed."""

    def __init__(self, message: str, os_error: OSError | None = None) -> None:
        super().__init__(message)
        self.os_error = os_error


class ServerDisconnected(HttpClientError):
    """The server closed the connection before a complete response head."""


class TruncatedBody(HttpClientError):
    """The connection closed (or was reset) before the end of the body."""


class ProtocolError(HttpClientError):
    """The server sent something that is not a valid HTTP/1.x response."""


class BodyTooLarge(HttpClientError):
    """The body is larger (declared or received) than the caller's limit."""


class TooManyRedirects(HttpClientError):
    """More redirects than ``max_redirects`` in a row."""


class RedirectError(HttpClientError):
    """A redirect without a usable ``Location`` (missing, unparsable, not http(s))."""


class InvalidURL(HttpClientError):
    """A URL the client refuses: not http(s), no host, bad port, control characters."""
