"""awaitkit.http: a lean asyncio HTTP/1.1 client for bulk GETs.

Example use::

    from awaitkit.http import HttpClient

    async with HttpClient(limit=100) as client:
        async with client.get(url) as resp:
            data = await resp.read()

Every error it raises derives from :class:`HttpClientError`, itself an
:class:`awaitkit.core.TransportError`.  :func:`tls_context` builds the
``ssl_context`` for one's own CA certificates, ``verify=False`` or a client
certificate.  :func:`proxy_settings` builds the ``proxies`` of curl's ``-x``,
``--noproxy`` and proxy environment variables.  :class:`BasicAuth` and
:class:`CookieHook` are :class:`RequestHook` s (``HttpClient(hooks=[...])``); :class:`CookieHook` is
imported on first use (:mod:`http.cookiejar` is slow to import).
"""

from __future__ import annotations

from awaitkit._lazy import attach
from awaitkit.http._backends import (
    AsyncioBackend,
    MockBackend,
    MockConnection,
    NetworkBackend,
)
from awaitkit.http._client import HttpClient
from awaitkit.http._decode import (
    ACCEPT_ENCODING,
    ContentDecoder,
    parse_content_encoding,
)
from awaitkit.http._errors import (
    BodyTooLarge,
    CertificateError,
    ConnectError,
    ConnectTimeout,
    DecodingError,
    HttpClientError,
    InvalidURL,
    ProtocolError,
    ProxyError,
    ReadTimeout,
    RedirectError,
    ServerDisconnected,
    TLSError,
    TooManyRedirects,
    TruncatedBody,
    UnsupportedEncoding,
)
from awaitkit.http._hooks import BasicAuth, OriginKey, RequestHook
from awaitkit.http._proxy import Proxy, ProxySettings, proxy_settings
from awaitkit.http._response import Headers, Response
from awaitkit.http._tls import tls_context
from awaitkit.http._url import static_fields as check_headers

TYPE_CHECKING = False  # see awaitkit._lazy
if TYPE_CHECKING:
    from awaitkit.http._cookies import CookieHook as CookieHook

_LAZY = {"CookieHook": "awaitkit.http._cookies"}
__getattr__, __dir__ = attach(__name__, _LAZY)

__all__ = [
    "ACCEPT_ENCODING",
    "AsyncioBackend",
    "BasicAuth",
    "BodyTooLarge",
    "CertificateError",
    "ConnectError",
    "ConnectTimeout",
    "ContentDecoder",
    "CookieHook",
    "DecodingError",
    "Headers",
    "HttpClient",
    "HttpClientError",
    "InvalidURL",
    "MockBackend",
    "MockConnection",
    "NetworkBackend",
    "OriginKey",
    "ProtocolError",
    "Proxy",
    "ProxyError",
    "ProxySettings",
    "ReadTimeout",
    "RedirectError",
    "RequestHook",
    "Response",
    "ServerDisconnected",
    "TLSError",
    "TooManyRedirects",
    "TruncatedBody",
    "UnsupportedEncoding",
    "check_headers",
    "parse_content_encoding",
    "proxy_settings",
    "tls_context",
]
