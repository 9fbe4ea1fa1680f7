"""URLs and request heads for the HTTP client: parsed once per origin, checked strictly.

Everything that ends up in a request head passes through here, so a CR, LF
or NUL can never reach the wire (no header injection), and every path is
sent percent-encoded.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from awaitkit.core import UsageError
from awaitkit.http._errors import InvalidURL

__all__ = [
    "ORIGIN_BOUND",
    "Origin",
    "Proxy",
    "StaticFields",
    "basic_credentials",
    "check_field_value",
    "format_headers",
    "location_to_url",
    "parse_origin",
    "request_tail",
    "split_url",
    "split_userinfo",
    "static_fields",
]

# Bytes a request-target may carry as they are (RFC 3986 pchar, "/", "?")
# plus "%" when it starts a valid %XX escape.
_PATH_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?"
)
_PATH_NEEDS_WORK = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]|%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What _split_url would return unchanged: lower-case scheme, an authority
# without controls or spaces, a path of safe characters only (nothing to
# encode, no fragment).
_PLAIN_URL = re.compile(
    r"(https?)://([^/?#\x00-\x20\x7f]*)(/[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*)"
)
_REG_NAME = re.compile(r"[a-z0-9\-._~!$&'()*+,;=]+")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEX = frozenset("0123456789abcdefABCDEF")
_OWS = " \t"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Request fields the client writes itself; a caller's field of the same name replaces it.
_OWN_FIELDS = frozenset({"host", "user-agent", "accept-encoding"})
# Fields that frame the message or manage the connection: the client's alone.
_FRAMING_FIELDS = frozenset({"content-length", "transfer-encoding", "connection"})
ORIGIN_BOUND = frozenset({"authorization", "proxy-authorization", "cookie"})
"""Fields that carry credentials: sent to the request's first origin only, never
to another one after a redirect (curl's rule since CVE-2018-1000007)."""
_MAX_STATIC = 32 * 1024  # characters of extra fields per request, all together


@dataclass(frozen=True, slots=True)
class Proxy:
    """A proxy: where it listens, its scheme, and its credentials, if any.

    ``scheme`` is ``http`` (``authorization``: the ``Proxy-Authorization``
    value), ``socks5`` (the client resolves the origin's name and sends
    the address) or ``socks5h`` (the proxy resolves it); a SOCKS5 proxy's
    ``credentials`` are the RFC 1929 user name and password, as bytes.
    """

    host: str  # for connect(): IDNA-encoded, IPv6 without brackets
    port: int
    host_field: str  # host:port as written in a URL (IPv6 in brackets)
    authorization: str | None = field(default=None, repr=False)
    scheme: str = "http"
    credentials: tuple[bytes, bytes] | None = field(default=None, repr=False)

    @property
    def is_socks(self) -> bool:
        """True for a SOCKS5 proxy: a tunnel per origin, http:// ones included."""
        return self.scheme != "http"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_field}"


class Origin:
    """One (scheme, host, port): where to connect, and the Host field."""

    __slots__ = (
        "cross_tail",
        "host",
        "host_field",
        "key",
        "port",
        "proxy",
        "proxy_line",
        "route",
        "start",
        "tail",
        "tls",
    )

    def __init__(self, scheme: str, host: str, port: int, host_field: str) -> None:
        self.key = (scheme, host, port)
        self.tls = scheme == "https"
        self.host = host  # for connect(): IDNA-encoded, IPv6 without brackets
        self.port = port
        self.host_field = host_field
        # Set by the client when a proxy applies: the proxy, what pools the
        # connections (the key; the proxy for http://, key + proxy for a
        # tunnel), the request line's start (the absolute form for http://
        # through a proxy) and the Proxy-Authorization line of its head.
        self.proxy: Proxy | None = None
        self.route: tuple[object, ...] = self.key
        self.start = "GET "
        self.proxy_line = ""
        # Set by the client: " HTTP/1.1\r\nHost: ...\r\n" + its own fields +
        # the caller's fixed ones; cross_tail leaves out the ORIGIN_BOUND ones,
        # for a redirect here from another origin.
        self.tail = ""
        self.cross_tail = ""

    def __repr__(self) -> str:
        return f"<Origin {self.key[0]}://{self.host_field}>"


def split_url(url: str) -> tuple[str, str, str]:
    """``(scheme, authority, target)`` of an absolute http(s) URL.

    ``target`` is the path and query, percent-encoded where needed, "/" when
    empty; the fragment is dropped.  Raises :class:`InvalidURL`.
    """
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None:  # one regex for the common case (a bulk download's)
        return plain[1], plain[2], plain[3]
    return _split_url(url)


def _split_url(url: str) -> tuple[str, str, str]:
    if _CONTROL.search(url):
        raise InvalidURL(f"control character in URL {url!r}")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        raise InvalidURL(f"not an http(s) URL: {url!r}")
    end = len(rest)
    for stop in "/?#":
        at = rest.find(stop)
        if 0 <= at < end:
            end = at
    authority, target = rest[:end], rest[end:]
    target = target.partition("#")[0]
    if not target.startswith("/"):
        target = "/" + target
    if _PATH_NEEDS_WORK.search(target):
        target = _quote(target)
    return scheme, authority, target


def parse_origin(scheme: str, authority: str) -> tuple[str, int, str]:
    """``(host, port, Host field)`` of an authority; raises :class:`InvalidURL`."""
    if "@" in authority:
        raise InvalidURL(f"credentials in URLs are not supported: {authority!r}")
    default = _DEFAULT_PORTS[scheme]
    if authority.startswith("["):
        literal, bracket, port_text = authority[1:].partition("]")
        if not bracket or (port_text and not port_text.startswith(":")):
            raise InvalidURL(f"bad IPv6 literal in {authority!r}")
        port_text = port_text[1:]
        try:
            host = str(ipaddress.IPv6Address(literal.replace("%25", "%")))
        except ValueError:
            raise InvalidURL(f"bad IPv6 literal in {authority!r}") from None
        shown = "[" + host.partition("%")[0] + "]"
    else:
        name, _, port_text = authority.partition(":")
        host = _host_name(name, authority)
        shown = host
    port = default
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 5:
            raise InvalidURL(f"bad port in {authority!r}")
        port = int(port_text)
        if not 0 < port < 65536:
            raise InvalidURL(f"bad port in {authority!r}")
    host_field = shown if port == default else f"{shown}:{port}"
    return host, port, host_field


def _host_name(name: str, authority: str) -> str:
    if not name:
        raise InvalidURL(f"no host in URL authority {authority!r}")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidURL(f"bad host name {name!r}") from None
    name = name.lower()
    if not _REG_NAME.fullmatch(name):
        raise InvalidURL(f"bad host name {name!r}")
    return name


def _quote(target: str) -> str:
    """Percent-encode what may not appear raw; keep valid %XX escapes as they are."""
    out: list[str] = []
    size = len(target)
    for i, char in enumerate(target):
        if char in _PATH_SAFE or (
            char == "%"
            and i + 2 < size
            and target[i + 1] in _HEX
            and target[i + 2] in _HEX
        ):
            out.append(char)
        else:
            try:
                raw = char.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidURL(
                    f"unencodable character in URL path {target!r}"
                ) from None
            out.extend(f"%{byte:02X}" for byte in raw)
    return "".join(out)


def request_tail(
    host_field: str,
    user_agent: str,
    skip: frozenset[str],
    accept_encoding: str = "identity",
) -> str:
    """The request head after the target: version, Host, User-Agent, Accept-Encoding.

    ``skip`` names (lowercase) fields the caller sends instead.
    """
    parts = [" HTTP/1.1\r\n"]
    if "host" not in skip:
        parts.append(f"Host: {host_field}\r\n")
    if "user-agent" not in skip:
        parts.append(f"User-Agent: {user_agent}\r\n")
    if "accept-encoding" not in skip:
        parts.append(f"Accept-Encoding: {accept_encoding}\r\n")
    return "".join(parts)


def check_field_value(value: str, what: str) -> None:
    """Refuse a header value that could end the field early or is not Latin-1."""
    if _CONTROL.search(value.replace("\t", " ")):
        raise UsageError(f"control character in {what}: {value!r}")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise UsageError(f"{what} is not Latin-1: {value!r}") from None


def format_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[str, frozenset[str]]:
    """``Name: value\\r\\n`` lines of the caller's fields, and which own fields they replace.

    ``headers`` is a mapping or ``(name, value)`` pairs (a name may repeat).

    Raises :class:`~awaitkit.core.UsageError` for a name that is not a token or a value with
    CR, LF, NUL or another control character (header injection).
    """
    lines: list[str] = []
    replaced: set[str] = set()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise UsageError(f"bad header name {name!r}")
        if not isinstance(value, str):
            raise UsageError(
                f"header {name} value must be str, not {type(value).__name__}"
            )
        check_field_value(value, f"header {name}")
        lines.append(f"{name}: {value.strip(_OWS)}\r\n")
        lower = name.lower()
        if lower in _OWN_FIELDS:
            replaced.add(lower)
    return "".join(lines), frozenset(replaced)


def location_to_url(raw: bytes) -> str:
    """A Location field as text: bytes above ASCII percent-encoded as they were sent.

    Servers send UTF-8 or Latin-1 there; escaping the bytes themselves keeps
    either one intact, as browsers do.
    """
    if raw.isascii():
        return raw.decode("ascii")
    return "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in raw)


class StaticFields:
    """The caller's fixed request fields, formatted once per client.

    ``lines`` go on every request, ``bound`` only to the request's first
    origin (:data:`ORIGIN_BOUND`), ``skip`` names the client's own fields
    they replace or remove, ``names`` every name given (lowercase).
    """

    __slots__ = ("bound", "lines", "names", "skip")

    def __init__(
        self, lines: str, bound: str, skip: frozenset[str], names: frozenset[str]
    ) -> None:
        self.lines = lines
        self.bound = bound
        self.skip = skip
        self.names = names


def static_fields(
    headers: Iterable[tuple[str, str | None]] | Mapping[str, str | None],
) -> StaticFields:
    """Check and format fields sent on every request of a client.

    A value of ``None`` removes the client's own field of that name
    (User-Agent, Accept-Encoding), as curl's ``-H 'Name:'`` does; a name may
    repeat.  Host may be replaced, never removed; Content-Length,
    Transfer-Encoding and Connection are the client's alone.  Raises
    :class:`~awaitkit.core.UsageError`.
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lines: list[str] = []
    bound: list[str] = []
    skip: set[str] = set()
    names: set[str] = set()
    size = 0
    for name, value in pairs:
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise UsageError(f"bad header name {name!r}: not an HTTP token")
        lower = name.lower()
        if lower in _FRAMING_FIELDS:
            raise UsageError(f"header {name}: the client sets it itself")
        if value is None:
            if lower == "host":
                raise UsageError("header Host cannot be removed (HTTP/1.1 needs it)")
            if lower in _OWN_FIELDS:
                skip.add(lower)
            continue
        if not isinstance(value, str):
            raise UsageError(
                f"header {name} value must be str, not {type(value).__name__}"
            )
        check_field_value(value, f"header {name}")
        line = f"{name}: {value.strip(_OWS)}\r\n"
        size += len(line)
        if size > _MAX_STATIC:
            raise UsageError(f"headers over {_MAX_STATIC} characters in all")
        (bound if lower in ORIGIN_BOUND else lines).append(line)
        names.add(lower)
        if lower in _OWN_FIELDS:
            skip.add(lower)
    return StaticFields(
        "".join(lines), "".join(bound), frozenset(skip), frozenset(names)
    )


def basic_credentials(user: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic for ``user`` and ``password`` (UTF-8, RFC 7617).

    >>> basic_credentials("Aladdin", "open sesame")
    'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=='
    """
    if ":" in user:
        raise UsageError("a user name for Basic auth cannot hold ':'")
    for part, what in ((user, "user name"), (password, "password")):
        if _CONTROL.search(part):
            raise UsageError(f"control character in the {what}")
    try:
        raw = f"{user}:{password}".encode()
    except UnicodeEncodeError:
        raise UsageError("credentials are not valid UTF-8") from None
    return "Basic " + base64.b64encode(raw).decode("ascii")


def split_userinfo(url: str) -> tuple[str, str | None]:
    """``url`` without ``user:password@``, and the Basic credentials those gave.

    Percent-escapes in the user and password are decoded first, as curl
    does.  A URL without userinfo comes back unchanged, with ``None``.
    """
    scheme, sep, rest = url.partition("://")
    end = len(rest)
    for stop in "/?#":
        at = rest.find(stop)
        if 0 <= at < end:
            end = at
    authority = rest[:end]
    if not sep or "@" not in authority:
        return url, None
    userinfo, _, host = authority.rpartition("@")
    user, _, password = userinfo.partition(":")
    try:
        user = unquote(user, errors="strict")
        password = unquote(password, errors="strict")
    except UnicodeDecodeError:
        raise InvalidURL("credentials in the URL are not UTF-8") from None
    try:
        credentials = basic_credentials(user, password)
    except UsageError as exc:
        raise InvalidURL(f"bad credentials in URL: {exc}") from None
    return f"{scheme}{sep}{host}{rest[end:]}", credentials
