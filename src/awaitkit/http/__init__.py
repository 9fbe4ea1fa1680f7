"""awaitkit.http: a lean asyncio HTTP/1.1 client for bulk GETs.

Example use::

    from awaitkit.http import HttpClient

    async with HttpClient(limit=100) as client:
        async with client.get(url) as resp:
            data = await resp.read()

Every error it raises derives from :class:`HttpClientError`, itself an
:class:`awaitkit.core.TransportError`.  :func:`tls_context` builds the
``ssl_context`` for one's own CA certificates, ``verify=False`` or a client
certificate.
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
    CertificateError,
    ConnectError,
    ConnectTimeout,
    HttpClientError,
    InvalidURL,
    ProtocolError,
    ReadTimeout,
    RedirectError,
    ServerDisconnected,
    TLSError,
    TooManyRedirects,
    TruncatedBody,
)
from awaitkit.http._response import Headers, Response
from awaitkit.http._tls import tls_context

__all__ = [
    "AsyncioBackend",
    "BodyTooLarge",
    "CertificateError",
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
    "TLSError",
    "TooManyRedirects",
    "TruncatedBody",
    "tls_context",
]
