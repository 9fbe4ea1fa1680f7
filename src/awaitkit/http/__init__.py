"""awaitkit.http: a lean asyncio HTTP/1.1 client for bulk GETs.

Example use::

    from awaitkit.http import HttpClient

    async with HttpClient(limit=100) as client:
        async with client.get(url) as resp:
            data = await resp.read()

Every error it raises derives from :class:`HttpClientError`, itself an
:class:`awaitkit.core.TransportError`.
"""

from __future__ import annotations

from awaitkit.http._backends import (
    AsyncioBackend,
    MockBackend,
    MockConnection,
    NetworkBackend,
)
from awaitkit.http._client import HttpClient
from awaitkit.http._errors import (
    BodyTooLarge,
    ConnectError,
    ConnectTimeout,
    HttpClientError,
    InvalidURL,
    ProtocolError,
    ReadTimeout,
    RedirectError,
    ServerDisconnected,
    TooManyRedirects,
    TruncatedBody,
)
from awaitkit.http._response import Headers, Response

__all__ = [
    "AsyncioBackend",
    "BodyTooLarge",
    "ConnectError",
    "ConnectTimeout",
    "Headers",
    "HttpClient",
    "HttpClientError",
    "InvalidURL",
    "MockBackend",
    "MockConnection",
    "NetworkBackend",
    "ProtocolError",
    "ReadTimeout",
    "RedirectError",
    "Response",
    "ServerDisconnected",
    "TooManyRedirects",
    "TruncatedBody",
]
