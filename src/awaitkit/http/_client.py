"""A lean asyncio HTTP/1.1 client for bulk GETs: keep-alive pool, httptools parser.

::

    async with HttpClient(limit=100) as client:
        async with client.get(url) as resp:
            if resp.status == 200:
                data = await resp.read()

A request costs one ``transport.write``, a future and a few small objects;
a small body that arrives with its head is joined once, without waiting
again.  Large bodies stream through :meth:`Response.chunks` with flow
control.  See :class:`HttpClient` for limits, timeouts and redirects.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import cast
from urllib.parse import urljoin

from awaitkit.core import UsageError
from awaitkit.http._backends import AsyncioBackend, NetworkBackend
from awaitkit.http._connection import Connection
from awaitkit.http._decode import CODINGS
from awaitkit.http._errors import (
    ConnectError,
    HttpClientError,
    InvalidURL,
    ProxyError,
    RedirectError,
    ServerDisconnected,
    TooManyRedirects,
    translate,
)
from awaitkit.http._hooks import RequestHook
from awaitkit.http._parser import DONE
from awaitkit.http._pool import VIA, Pool
from awaitkit.http._proxy import (
    CONNECT_HEAD_LIMIT,
    Proxy,
    ProxySettings,
    connect_status,
)
from awaitkit.http._response import Response
from awaitkit.http._socks import Socks5Handshake
from awaitkit.http._tls import tls_context
from awaitkit.http._url import (
    ORIGIN_BOUND,
    Origin,
    StaticFields,
    check_field_value,
    format_headers,
    location_to_url,
    parse_origin,
    request_tail,
    split_url,
    split_userinfo,
    static_fields,
)

__all__ = ["HttpClient"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_REDIRECT_BODY_LIMIT = 64 * 1024  # read and drop this much to reuse the connection
_NO_FIELDS: frozenset[str] = frozenset()
_AUTHORITY_CACHE = 4096  # parsed authorities kept; cleared when full


class _RequestContext:
    """What :meth:`HttpClient.get` returns: sends on entry, settles the connection on exit."""

    __slots__ = ("_client", "_headers", "_max_redirects", "_response", "_url")

    def __init__(
        self,
        client: HttpClient,
        url: str,
        headers: Mapping[str, str] | None,
        max_redirects: int,
    ) -> None:
        self._client = client
        self._url = url
        self._headers = headers
        self._max_redirects = max_redirects
        self._response: Response | None = None

    async def __aenter__(self) -> Response:
        self._response = response = await self._client._open(
            self._url, self._headers, self._max_redirects
        )
        return response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        response, self._response = self._response, None
        if response is not None:
            response._finish(failed=exc_type is not None)


class HttpClient:
    """Keep-alive connection pool + GET; one per batch.

    ``limit`` caps open connections in all, ``limit_per_host`` per origin.
    ``headers`` are fields sent on every request, as ``(name, value)``
    pairs or a mapping, checked and formatted once here: they replace the
    client's own User-Agent or Host of the same name, a ``None`` value
    removes its User-Agent or Accept-Encoding, and Authorization, Cookie
    and Proxy-Authorization among them go to the request's first origin
    only (never to another after a redirect).  ``hooks`` add fields per hop
    and see every response head (:class:`RequestHook`: credentials,
    cookies); a field the request already has is not added again.
    ``user:password@`` in a URL gives Basic credentials for that URL's
    origin, never sent elsewhere after a redirect.
    ``connect_timeout`` covers DNS, TCP and TLS; ``read_timeout`` is an
    inactivity timeout (no byte for that long while waiting for the head or
    a body piece); they raise :class:`ConnectTimeout` and :class:`ReadTimeout`,
    both :class:`awaitkit.core.TimeoutExpired` (so also ``TimeoutError``).
    Bad arguments raise :class:`awaitkit.core.UsageError`.  ``ssl_context``
    is used for every https:// connection (build one with :func:`tls_context`:
    own CA certificates, no checks, a client certificate); without it the
    system's CA certificates are loaded in a thread on the first one.  A
    refused certificate or handshake raises :class:`TLSError`
    (:class:`CertificateError` when it is the server's certificate), which
    is final.  ``max_head`` caps the response head.  ``backend`` opens the
    connections (default: :class:`AsyncioBackend`; :class:`MockBackend`
    replays scripted bytes).
    ``accept_encoding`` is the ``Accept-Encoding`` sent (default
    ``identity``: bodies come as stored); any other value, such as
    :data:`ACCEPT_ENCODING` (``gzip, deflate, br, zstd``), may name only
    ``gzip``, ``deflate``, ``br``, ``zstd`` and ``identity``, and bodies that
    come back encoded are decoded (see :class:`Response`).
    ``proxies`` (:func:`proxy_settings`: curl's ``-x``, ``--noproxy`` and
    environment) sends http:// requests to an HTTP proxy in absolute form,
    over keep-alive connections shared by every host, and opens a CONNECT
    tunnel per https:// origin, with TLS to the origin through it; a
    refused CONNECT raises :class:`ProxyError`.  A ``socks5://`` (names
    resolved here) or ``socks5h://`` (by the proxy) proxy opens a SOCKS5
    tunnel per origin, http:// ones included (requests in origin form);
    its refusal is a :class:`ProxyError` too.  Without it (the default)
    every connection is direct and the environment is not read.
    Use as ``async with`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        limit: int = 100,
        limit_per_host: int | None = None,
        connect_timeout: float | None = 30.0,
        read_timeout: float | None = 60.0,
        user_agent: str = "awaitkit",
        headers: Iterable[tuple[str, str | None]]
        | Mapping[str, str | None]
        | None = None,
        hooks: Sequence[RequestHook] = (),
        ssl_context: ssl.SSLContext | None = None,
        max_head: int = 64 * 1024,
        backend: NetworkBackend | None = None,
        accept_encoding: str | None = None,
        proxies: ProxySettings | None = None,
    ) -> None:
        if limit < 1:
            raise UsageError(f"limit must be >= 1, not {limit}")
        if limit_per_host is not None and limit_per_host < 1:
            raise UsageError(f"limit_per_host must be >= 1, not {limit_per_host}")
        check_field_value(user_agent, "user_agent")
        self._accept_encoding = _check_accept_encoding(accept_encoding)
        self._decode = self._accept_encoding != "identity"
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._user_agent = user_agent
        self._static: StaticFields = static_fields(headers or ())
        self._hooks = tuple(hooks)
        self._ssl_context = ssl_context
        self._ssl_loading: asyncio.Future[ssl.SSLContext] | None = None
        self._max_head = max_head
        self._backend: NetworkBackend = backend or AsyncioBackend()
        self._pool = Pool(limit, limit_per_host, self._connect)
        # "scheme://authority" as written -> its Origin: parsed once.
        self._origins: dict[str, Origin] = {}
        self._proxies = proxies if proxies else None
        # No hooks, no proxies: a request's head is "GET " + target + the origin's tail.
        self._plain = not self._hooks and self._proxies is None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every connection: idle ones, then any still in use."""
        await self._pool.aclose()

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_redirects: int = 10,
    ) -> contextlib.AbstractAsyncContextManager[Response]:
        """GET ``url`` (following up to ``max_redirects`` redirects; 0: none).

        ``headers`` are sent on every hop, but Authorization,
        Proxy-Authorization and Cookie only to ``url``'s own origin; they
        replace the client's own Host, User-Agent or Accept-Encoding of the
        same name.  On leaving the block
        the connection goes back to the pool only if the whole body arrived,
        the server allows keep-alive, and no error happened.
        """
        return _RequestContext(self, url, headers, max_redirects)

    # -- internals ---------------------------------------------------------------

    def _locate(self, url: str) -> tuple[Origin, str]:
        scheme, authority, target = split_url(url)
        key = f"{scheme}://{authority}"
        origin = self._origins.get(key)
        if origin is None:
            if len(self._origins) >= _AUTHORITY_CACHE:
                self._origins.clear()  # a batch over millions of hosts
            host, port, host_field = parse_origin(scheme, authority)
            origin = self._origins[key] = Origin(scheme, host, port, host_field)
            if self._proxies is not None:
                self._route(origin)
            static = self._static
            own = request_tail(
                host_field, self._user_agent, static.skip, self._accept_encoding
            )
            own += origin.proxy_line
            origin.cross_tail = own + static.lines
            origin.tail = own + static.lines + static.bound
        return origin, target

    def _route(self, origin: Origin) -> None:
        """Decide once whether ``origin`` goes through a proxy, and how."""
        proxy = cast(ProxySettings, self._proxies).proxy_for(origin.key[0], origin.host)
        if proxy is None:
            return
        origin.proxy = proxy
        if origin.tls or proxy.is_socks:  # a tunnel per origin
            origin.route = (*origin.key, proxy)
            return
        origin.route = (VIA, proxy)
        origin.start = f"GET http://{origin.host_field}"
        if proxy.authorization and "proxy-authorization" not in self._static.names:
            origin.proxy_line = f"Proxy-Authorization: {proxy.authorization}\r\n"

    def _tail(self, origin: Origin, replaced: frozenset[str], same: bool) -> str:
        """The head after the target when the call's own fields replace some of ours."""
        static = self._static
        own = request_tail(
            origin.host_field,
            self._user_agent,
            replaced | static.skip,
            self._accept_encoding,
        )
        own += origin.proxy_line
        return own + static.lines + static.bound if same else own + static.lines

    async def _open(
        self, url: str, headers: Mapping[str, str] | None, max_redirects: int
    ) -> Response:
        extra, replaced = format_headers(headers) if headers else ("", _NO_FIELDS)
        credentials = None
        if "@" in url:  # rare: a test in C, then the parse
            url, credentials = split_userinfo(url)
        origin, target = self._locate(url)
        if credentials is None and self._plain:
            # The common case: nothing depends on the hop but the origin's tail.
            tail = origin.tail if not replaced else self._tail(origin, replaced, True)
            request = f"GET {target}{tail}{extra}\r\n".encode("latin-1")
            response = await self._exchange(origin, request, url)
            if response.status not in _REDIRECTS:
                return response
            return await self._follow(
                response, url, max_redirects, origin, extra, replaced
            )
        if credentials is None and not self._hooks:
            # The same through a proxy: the request line starts as the origin says.
            tail = origin.tail if not replaced else self._tail(origin, replaced, True)
            head = f"{origin.start}{target}{tail}{extra}\r\n".encode("latin-1")
            response = await self._exchange(origin, head, url)
            if response.status not in _REDIRECTS:
                return response
            return await self._follow(
                response, url, max_redirects, origin, extra, replaced
            )
        names: set[str] | None = None
        if headers:
            names = {name.lower() for name in headers}
        head = self._head(
            origin, target, extra, replaced, True, url, origin, credentials, names
        )
        response = await self._exchange(origin, head, url)
        return await self._follow(
            response, url, max_redirects, origin, extra, replaced, credentials, names
        )

    async def _follow(
        self,
        response: Response,
        url: str,
        max_redirects: int,
        first: Origin,
        extra: str,
        replaced: frozenset[str],
        credentials: str | None = None,
        names: set[str] | None = None,
    ) -> Response:
        """Tell the hooks about ``response``; follow its redirects, doing the same."""
        hooks = self._hooks
        if hooks:
            self._received(response)
        hops = 0
        while response.status in _REDIRECTS and max_redirects > 0:
            try:
                if hops >= max_redirects:
                    raise TooManyRedirects(
                        f"more than {max_redirects} redirects from {url}"
                    )
                url = self._redirect_url(response)
                await self._drain(response)
                origin, target = self._locate(url)
                same = origin is first or origin.key == first.key
                if not same and extra:
                    extra = _without_bound(extra)  # and so on for later hops
                if credentials is None and not hooks:
                    head = self._head(origin, target, extra, replaced, same)
                else:
                    head = self._head(
                        origin,
                        target,
                        extra,
                        replaced,
                        same,
                        url,
                        first,
                        credentials,
                        names,
                    )
            except BaseException:
                response._finish(failed=True)
                raise
            hops += 1
            response = await self._exchange(origin, head, url)
            if hooks:
                self._received(response)
        return response

    def _received(self, response: Response) -> None:
        try:
            for hook in self._hooks:
                hook.response_received(response.url, response)
        except BaseException:
            response._finish(failed=True)
            raise

    def _head(
        self,
        origin: Origin,
        target: str,
        extra: str,
        replaced: frozenset[str],
        same: bool,
        url: str = "",
        first: Origin | None = None,
        credentials: str | None = None,
        names: set[str] | None = None,
    ) -> bytes:
        """The request head for one hop (``same``: at the request's first origin)."""
        if replaced:
            tail = self._tail(origin, replaced, same)
        else:
            tail = origin.tail if same else origin.cross_tail
        if first is not None:
            extra += self._hop_fields(origin, url, first, credentials, names, same)
        return f"{origin.start}{target}{tail}{extra}\r\n".encode("latin-1")

    def _hop_fields(
        self,
        origin: Origin,
        url: str,
        first: Origin,
        credentials: str | None,
        names: set[str] | None,
        same: bool,
    ) -> str:
        """Fields that depend on the hop: the URL's credentials, then the hooks'."""
        static = self._static
        taken = set(static.names if same else static.names - ORIGIN_BOUND)
        if names:
            taken |= names if same else names - ORIGIN_BOUND
        lines = []
        if credentials is not None and same and "authorization" not in taken:
            lines.append(f"Authorization: {credentials}\r\n")
            taken.add("authorization")
        for hook in self._hooks:
            fields = [
                (name, value)
                for name, value in hook.request_fields(url, origin.key, first.key)
                if name.lower() not in taken
            ]
            if fields:
                try:
                    lines.append(format_headers(fields)[0])
                except UsageError as exc:
                    raise HttpClientError(f"a request hook's field: {exc}") from None
                taken.update(name.lower() for name, _ in fields)
        return "".join(lines)

    def _redirect_url(self, response: Response) -> str:
        """Where ``response`` redirects to, checked as :meth:`_locate` would take it."""
        raw = response._location()
        if raw is None:
            raise RedirectError(
                f"{response.status} redirect without Location from {response.url}"
            )
        try:
            url = urljoin(response.url, location_to_url(raw))
            self._locate(url)
        except (ValueError, InvalidURL) as exc:
            raise RedirectError(
                f"unusable redirect to {raw!r} from {response.url}: {exc}"
            ) from None
        return url

    async def _drain(self, response: Response) -> None:
        # Read a small redirect body so the connection can be reused; a big
        # or broken one just costs the connection.
        conn = response._conn
        if conn is not None and conn.parser.state != DONE:
            declared = response.content_length
            if declared is None or declared <= _REDIRECT_BODY_LIMIT:
                with contextlib.suppress(HttpClientError):
                    await response.read(_REDIRECT_BODY_LIMIT, decode=False)
        response._finish(failed=False)

    async def _exchange(self, origin: Origin, request: bytes, url: str) -> Response:
        pool = self._pool
        conn = pool.take_idle(origin) if not pool.closed else None
        if conn is None:
            conn = await pool.acquire(origin)
        while True:
            reused = conn.requests > 0
            waiter = conn.start(request)
            try:
                await waiter
            except BaseException:
                pool.discard(conn)
                raise
            exc = conn.exc
            if exc is None:
                return Response(conn, url, pool, self._decode)
            pool.discard(conn)
            if (
                reused
                and conn.parser.head_bytes == 0
                and isinstance(exc, ServerDisconnected)
            ):
                # The server dropped an idle connection as we reused it: GET is
                # idempotent, so try once more on a new connection.
                conn = await pool.acquire(origin, fresh=True)
                continue
            raise exc

    async def _default_context(self) -> ssl.SSLContext:
        """The system's TLS settings and CA certificates, loaded once, off the loop.

        Loading the certificates takes tens of milliseconds, which would hold
        every other connection; the first HTTPS connection starts it in a
        thread, and any others opened meanwhile wait for the same one.
        """
        if self._ssl_loading is None:
            self._ssl_loading = asyncio.ensure_future(asyncio.to_thread(tls_context))
        # Shielded: a connection given up on does not stop the loading for the rest.
        context = await asyncio.shield(self._ssl_loading)
        self._ssl_context = context
        return context

    def _connection(
        self, loop: asyncio.AbstractEventLoop, origin: Origin
    ) -> Connection:
        """A connection to ``origin``, not yet connected, reporting its loss to the pool."""
        return Connection(
            loop,
            origin,
            read_timeout=self._read_timeout,
            max_head=self._max_head,
            on_lost=self._pool.connection_closed,
        )

    async def _connect(self, origin: Origin) -> Connection:
        if origin.proxy is not None:
            return await self._connect_proxied(origin)
        loop = asyncio.get_running_loop()
        conn = self._connection(loop, origin)
        context = None
        if origin.tls:
            context = self._ssl_context or await self._default_context()
        try:
            async with asyncio.timeout(self._connect_timeout):
                await self._backend.connect(conn, origin.host, origin.port, context)
        except OSError as exc:  # ssl.SSLError and the timeout's TimeoutError included
            raise translate(exc, f"cannot connect to {origin.host_field}") from exc
        return conn

    async def _connect_proxied(self, origin: Origin) -> Connection:
        """A connection to the proxy (http://) or a tunnel through it with TLS (https://)."""
        proxy = cast(Proxy, origin.proxy)
        if proxy.is_socks:
            return await self._connect_socks(origin, proxy)
        loop = asyncio.get_running_loop()
        conn = self._connection(loop, origin)
        if not origin.tls:
            try:
                async with asyncio.timeout(self._connect_timeout):
                    await self._backend.connect(conn, proxy.host, proxy.port, None)
            except OSError as exc:
                raise translate(exc, f"cannot connect to proxy {proxy}") from exc
            return conn
        context = self._ssl_context or await self._default_context()
        # CONNECT's authority form always has the port.
        target = origin.host_field if origin.port != 443 else f"{origin.host_field}:443"
        setup = _TunnelSetup(loop)
        where = f"proxy {proxy}"
        try:
            async with asyncio.timeout(self._connect_timeout):
                await self._backend.connect(setup, proxy.host, proxy.port, None)
                transport = cast(asyncio.Transport, setup.transport)
                try:
                    lines = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
                    if proxy.authorization:
                        lines += f"Proxy-Authorization: {proxy.authorization}\r\n"
                    transport.write(f"{lines}\r\n".encode("latin-1"))
                    connect_status(await setup.answer, target)
                    where = origin.host_field
                    tls = await _tls_through(loop, transport, conn, context, origin)
                except BaseException:
                    setup.answer.cancel()  # its loss is nobody's news now
                    transport.abort()
                    raise
        except OSError as exc:  # ssl.SSLError and the timeout's TimeoutError included
            raise translate(exc, f"cannot connect to {where}") from exc
        # start_tls does not call connection_made: the protocol is told here.
        conn.connection_made(tls)
        return conn

    async def _connect_socks(self, origin: Origin, proxy: Proxy) -> Connection:
        """A SOCKS5 tunnel to ``origin``: TLS through it for https://, plain for http://."""
        loop = asyncio.get_running_loop()
        conn = self._connection(loop, origin)
        context = None
        if origin.tls:
            context = self._ssl_context or await self._default_context()
        where = origin.host_field
        try:
            async with asyncio.timeout(self._connect_timeout):
                host = origin.host
                if proxy.scheme == "socks5" and not _is_address(host):
                    # socks5://: the name is resolved here, the proxy gets the address.
                    infos = await loop.getaddrinfo(
                        host, origin.port, type=socket.SOCK_STREAM
                    )
                    host = str(infos[0][4][0])
                where = f"proxy {proxy}"
                shake = Socks5Handshake(
                    host, origin.port, proxy.credentials, f"SOCKS5 proxy {proxy}"
                )
                setup = _SocksSetup(loop, shake)
                await self._backend.connect(setup, proxy.host, proxy.port, None)
                transport = cast(asyncio.Transport, setup.transport)
                try:
                    transport.write(shake.greeting())
                    await setup.opened
                    where = origin.host_field
                    if context is not None:
                        transport = await _tls_through(
                            loop, transport, conn, context, origin
                        )
                    else:
                        transport.set_protocol(conn)
                except BaseException:
                    setup.opened.cancel()  # its loss is nobody's news now
                    transport.abort()
                    raise
        except OSError as exc:  # ssl.SSLError and the timeout's TimeoutError included
            raise translate(exc, f"cannot connect to {where}") from exc
        conn.connection_made(transport)
        if context is None:
            transport.resume_reading()
        return conn


async def _tls_through(
    loop: asyncio.AbstractEventLoop,
    transport: asyncio.Transport,
    conn: Connection,
    context: ssl.SSLContext,
    origin: Origin,
) -> asyncio.Transport:
    """TLS with ``origin`` over a tunnel's ``transport``: SNI and the certificate check are the origin's."""
    tls = await loop.start_tls(transport, conn, context, server_hostname=origin.host)
    if tls is None:  # closed as the handshake ended
        raise ConnectionResetError("closed during the TLS handshake")
    return tls


class _TunnelSetup(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT: its head, up to the blank line, within limits."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.transport: asyncio.BaseTransport | None = None
        self.answer: asyncio.Future[bytes] = loop.create_future()
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        buffer = self._buffer
        start = max(0, len(buffer) - 3)  # the blank line may span two reads
        buffer += data
        end = buffer.find(b"\r\n\r\n", start)
        if end < 0 and len(buffer) <= CONNECT_HEAD_LIMIT:
            return
        if end < 0 or end + 4 > CONNECT_HEAD_LIMIT:
            self._fail(
                ProxyError(f"proxy's answer to CONNECT over {CONNECT_HEAD_LIMIT} bytes")
            )
        elif end + 4 < len(buffer) and _connect_ok(buffer):
            # The origin speaks only after our TLS hello: this is not it.
            self._fail(ProxyError("proxy sent data after its answer to CONNECT"))
        else:
            cast(asyncio.Transport, self.transport).pause_reading()
            self.answer.set_result(bytes(buffer[: end + 2]))

    def _fail(self, exc: BaseException) -> None:
        self.answer.set_exception(exc)
        cast(asyncio.Transport, self.transport).abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(
                ConnectError("the proxy closed the connection before answering CONNECT")
            )


class _SocksSetup(asyncio.Protocol):
    """Drives a :class:`Socks5Handshake` over a fresh connection to the proxy."""

    def __init__(self, loop: asyncio.AbstractEventLoop, shake: Socks5Handshake) -> None:
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self._shake = shake

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.opened.done():
            return
        transport = cast(asyncio.Transport, self.transport)
        try:
            out = self._shake.feed(data)
        except ProxyError as exc:
            self.opened.set_exception(exc)
            transport.abort()
            return
        if out:
            transport.write(out)
        if self._shake.done:
            transport.pause_reading()  # until the connection takes over
            self.opened.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(
                ConnectError(
                    f"{self._shake.proxy} closed the connection during the handshake"
                )
            )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _connect_ok(head: bytes | bytearray) -> bool:
    """True when ``head`` starts with a 2xx status line (the tunnel would be open)."""
    return head[:9] in (b"HTTP/1.1 ", b"HTTP/1.0 ") and head[9:10] == b"2"


def _without_bound(extra: str) -> str:
    """``extra`` (formatted fields) without the ones bound to the first origin."""
    return "".join(
        line
        for line in extra.splitlines(keepends=True)
        if line.partition(":")[0].strip().lower() not in ORIGIN_BOUND
    )


def _check_accept_encoding(value: str | None) -> str:
    """``value`` as it will be sent ("identity" for None); refuses what cannot be decoded."""
    if value is None:
        return "identity"
    check_field_value(value, "accept_encoding")
    names = [item.split(";")[0].strip(" \t").lower() for item in value.split(",")]
    names = [name for name in names if name]
    if not names:
        raise UsageError("accept_encoding is empty (use 'identity' for none)")
    for name in names:
        if name not in CODINGS and name not in ("identity", "x-gzip"):
            raise UsageError(
                f"accept_encoding: cannot decode {name!r} "
                f"(known: {', '.join(CODINGS)}, identity)"
            )
    return value.strip(" \t")
