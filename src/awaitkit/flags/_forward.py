"""What a reverse proxy changes in the heads it passes on (sans-I/O).

Hop-by-hop fields (RFC 9110 7.6.1: ``Connection`` and the fields it names,
``Keep-Alive``, ``TE``, ``Transfer-Encoding``, ``Upgrade``...) belong to one
connection and are dropped both ways; the proxy sets its own framing.
Requests go to the upstream with ``Host`` set to the upstream's authority
(what nginx's ``proxy_pass`` does by default, so name-based virtual hosts
there answer as if asked directly); the client's ``Host`` goes on in
``X-Forwarded-Host``, its address in ``X-Forwarded-For``, and both ways get
``Via: 1.1 awaitkit``.  Field values stay bytes end to end: whatever the
client or the upstream sent (non-UTF-8 included) passes unchanged.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

from awaitkit.core.errors import UsageError

__all__ = [
    "Framing",
    "Upstream",
    "origin_form",
    "parse_upstream",
    "request_head",
    "response_head",
]

VIA = b"1.1 awaitkit"

_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
# Set by the proxy itself (framing, or merged with what it adds).
_REQUEST_OWN = frozenset(
    {b"host", b"content-length", b"expect", b"via", b"x-forwarded-for"}
)
_RESPONSE_OWN = frozenset({b"via"})

Fields = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Upstream:
    """Where the proxy forwards to: ``host`` and ``port`` of an http:// URL."""

    host: str
    port: int

    @functools.cached_property
    def host_line(self) -> bytes:
        """The ``Host`` field every forwarded request carries (built once)."""
        return b"Host: " + self.authority

    @property
    def authority(self) -> bytes:
        """``host:port`` as the ``Host`` field wants it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        raw = f"{host}:{self.port}"
        return raw.encode("ascii") if raw.isascii() else raw.encode("idna")

    @property
    def url(self) -> str:
        return f"http://{self.authority.decode('ascii', 'replace')}"


def parse_upstream(url: str) -> Upstream:
    """``http://host[:port]`` -> :class:`Upstream`; a UsageError for anything else.

    >>> parse_upstream("http://127.0.0.1:8080")
    Upstream(host='127.0.0.1', port=8080)
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad upstream URL {url!r}: {exc}") from None
    if parts.scheme != "http":
        raise UsageError(f"upstream must be an http:// URL, not {url!r}")
    if not parts.hostname:
        raise UsageError(f"no host in upstream URL {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(
            f"upstream URL {url!r} must have no path: requests keep their own"
        )
    if parts.username is not None:
        raise UsageError("upstream URL must not hold credentials")
    upstream = Upstream(parts.hostname, port if port is not None else 80)
    try:
        upstream.authority  # noqa: B018 - checks that the name can be sent
    except UnicodeError:
        raise UsageError(f"bad host in upstream URL {url!r}") from None
    return upstream


def origin_form(target: bytes) -> bytes | None:
    """The target to send upstream: the path and query (``None``: not a path).

    Absolute-form (``http://host/x``) is cut to its path: this is a reverse
    proxy, the authority is always the upstream's.  ``*`` stays (``OPTIONS *``).
    """
    if target.startswith(b"/") or target == b"*":
        return target
    lowered = target[:8].lower()
    if lowered.startswith((b"http://", b"https://")):
        after = target.split(b"//", 1)[1]
        slash = after.find(b"/")
        if slash < 0:
            query = after.find(b"?")
            return b"/" + (after[query:] if query >= 0 else b"")
        return after[slash:]
    return None


def _extra_hops(value: bytes) -> list[bytes]:
    """Field names a ``Connection`` value lists beyond the fixed hop-by-hop set."""
    named = (token.strip().lower() for token in value.split(b","))
    return [token for token in named if token and token not in _HOP_BY_HOP]


def _dropped(fields: Fields, extra: Fields | tuple[()] = ()) -> frozenset[bytes]:
    """The lower-case names to leave out: hop-by-hop ones, those ``Connection``
    lists, and those ``extra`` replaces."""
    more = [name.lower() for name, _ in extra]
    for name, value in fields:
        if len(name) == 10 and name.lower() == b"connection":
            more += _extra_hops(value)
    return _HOP_BY_HOP.union(more) if more else _HOP_BY_HOP


# The hot loops lower-case a name only when its length is one of these: most
# fields (Date, Server, Content-Type, ETag...) pass with one len().
_REQUEST_SPECIAL = frozenset(map(len, _HOP_BY_HOP | _REQUEST_OWN))
_RESPONSE_SPECIAL = frozenset(
    map(len, _HOP_BY_HOP | _RESPONSE_OWN | {b"content-length"})
)


def request_head(
    method: bytes,
    target: bytes,
    fields: Fields,
    *,
    upstream: Upstream,
    client_ip: str,
    body_length: int | None,
) -> bytes:
    """The request head to send upstream (``body_length`` None: no body, no length)."""
    # One pass while no Connection field names more hops (almost always);
    # such a field may follow the fields it names: then start again knowing.
    head = _request_head(
        method, target, fields, upstream, client_ip, body_length, _HOP_BY_HOP
    )
    if head is None:
        drop = _dropped(fields)
        head = _request_head(
            method, target, fields, upstream, client_ip, body_length, drop
        )
        assert head is not None  # drop is complete: nothing to start again for
    return head


def _request_head(
    method: bytes,
    target: bytes,
    fields: Fields,
    upstream: Upstream,
    client_ip: str,
    body_length: int | None,
    drop: frozenset[bytes],
) -> bytes | None:
    """``request_head`` leaving out ``drop``; None if a Connection field names
    more fields while ``drop`` is the fixed set."""
    special = _REQUEST_SPECIAL if drop is _HOP_BY_HOP else None
    parts = [method, b" ", target, b" HTTP/1.1\r\n", upstream.host_line, b"\r\n"]
    forwarded_for: list[bytes] = []
    via: list[bytes] = []
    for name, value in fields:
        if special is None or len(name) in special:
            lowered = name.lower()
            if lowered in drop:
                if (
                    special is not None
                    and lowered == b"connection"
                    and _extra_hops(value)
                ):
                    return None
                continue
            if lowered in _REQUEST_OWN:
                if lowered == b"host":
                    parts += (b"X-Forwarded-Host: ", value, b"\r\n")
                elif lowered == b"x-forwarded-for":
                    forwarded_for.append(value)
                elif lowered == b"via":
                    via.append(value)
                continue
        parts += (name, b": ", value, b"\r\n")
    forwarded_for.append(client_ip.encode("ascii", "replace"))
    via.append(VIA)
    parts += (b"X-Forwarded-For: ", b", ".join(forwarded_for), b"\r\n")
    parts += (b"Via: ", b", ".join(via), b"\r\n")
    if body_length is not None:
        parts.append(b"Content-Length: %d\r\n" % body_length)
    parts.append(b"\r\n")
    return b"".join(parts)


class Framing(enum.Enum):
    """How the proxy frames a response body for its client."""

    NONE = "none"  # no body (HEAD, 204, 304): the upstream's fields unchanged
    LENGTH = "length"  # the upstream's Content-Length, bytes passed through
    CHUNKED = "chunked"  # chunked or close-delimited upstream: re-chunked
    CLOSE = "close"  # an HTTP/1.0 client and no length: ends when we close


_REFRAMED = (Framing.CHUNKED, Framing.CLOSE)

# Response heads built lately, by everything they are built from (bounded:
# cleared when full, as a head's Date makes it stale within a second anyway).
_MAX_RECENT_HEADS = 256
_recent_heads: dict[tuple[object, ...], bytes] = {}


def response_head(
    status: int,
    reason: bytes,
    fields: Fields,
    *,
    framing: Framing,
    keep_alive: bool,
    http10_keep_alive: bool = False,
    extra: Fields | tuple[()] = (),
) -> bytes:
    """The response head to send the client, framed as ``framing`` says
    (``extra``: a rule's fields, which replace the upstream's of the same name)."""
    if not extra:  # one pass, as request_head
        # The same head again (one file asked by many clients within the
        # second of its Date) is looked up, not rebuilt: exact bytes as key.
        key = (status, reason, framing, keep_alive, http10_keep_alive, *fields)
        head = _recent_heads.get(key)
        if head is not None:
            return head
        head = _response_head(
            status,
            reason,
            fields,
            framing,
            keep_alive,
            http10_keep_alive,
            (),
            _HOP_BY_HOP,
        )
        if head is not None:
            if len(_recent_heads) >= _MAX_RECENT_HEADS:
                _recent_heads.clear()
            _recent_heads[key] = head
            return head
    drop = _dropped(fields, extra)
    head = _response_head(
        status, reason, fields, framing, keep_alive, http10_keep_alive, extra, drop
    )
    assert head is not None  # drop is complete: nothing to start again for
    return head


def _response_head(
    status: int,
    reason: bytes,
    fields: Fields,
    framing: Framing,
    keep_alive: bool,
    http10_keep_alive: bool,
    extra: Fields | tuple[()],
    drop: frozenset[bytes],
) -> bytes | None:
    """``response_head`` leaving out ``drop``; None as ``_request_head``."""
    special = _RESPONSE_SPECIAL if drop is _HOP_BY_HOP else None
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
    via: list[bytes] = []
    reframed = framing in _REFRAMED
    for name, value in fields:
        if special is None or len(name) in special:
            lowered = name.lower()
            if lowered in drop:
                if (
                    special is not None
                    and lowered == b"connection"
                    and _extra_hops(value)
                ):
                    return None
                continue
            if lowered in _RESPONSE_OWN:
                via.append(value)
                continue
            if reframed and lowered == b"content-length":
                continue  # a body we re-frame: its length goes with it
        parts += (name, b": ", value, b"\r\n")
    via.append(VIA)
    parts += (b"Via: ", b", ".join(via), b"\r\n")
    for name, value in extra:
        parts += (name, b": ", value, b"\r\n")
    if framing is Framing.CHUNKED:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    if not keep_alive:
        parts.append(b"Connection: close\r\n")
    elif http10_keep_alive:
        parts.append(b"Connection: keep-alive\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)
