"""Proxies as curl takes them: proxy URLs, no_proxy lists, the environment, CONNECT answers.

Pure functions, no I/O: the client asks :meth:`ProxySettings.proxy_for` once
per origin (and caches the answer on the origin), so a request to an origin
no proxy applies to costs nothing more than before.

curl's rules, kept here:

* ``http_proxy`` (lower case only: ``HTTP_PROXY`` is ignored, as CGI
  programs get it from a request's ``Proxy:`` field, the "httpoxy" hole),
  ``https_proxy`` or ``HTTPS_PROXY``, then ``all_proxy`` or ``ALL_PROXY``
  for either scheme; ``no_proxy`` or ``NO_PROXY``.  An explicit proxy
  (``-x``) overrides them all, an explicit no-proxy list (``--noproxy``)
  overrides ``no_proxy``.
* A proxy URL without a scheme is ``http://``; without a port, port 1080.
  ``user:password@`` gives Basic credentials (percent-escapes decoded).
* ``socks5h://`` is a SOCKS5 proxy that resolves the origin's name itself,
  ``socks5://`` one given the address the client resolved; for either,
  ``user:password@`` is RFC 1929's user name and password (UTF-8, each at
  most 255 bytes).  SOCKS4 and https:// proxies are refused.
* A no-proxy list is separated by commas (or spaces); ``*`` alone matches
  every host; a name matches itself and its subdomains (``example.com``,
  ``.example.com`` and ``*.example.com`` all match ``www.example.com``), a port in an entry is
  ignored, IPv6 addresses are written without brackets, and IP addresses
  may be CIDR ranges (``10.0.0.0/8``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from awaitkit.core import UsageError
from awaitkit.http._errors import InvalidURL, ProxyError
from awaitkit.http._url import Proxy, basic_credentials, parse_origin

__all__ = [
    "CONNECT_HEAD_LIMIT",
    "NoProxy",
    "Proxy",
    "ProxySettings",
    "connect_status",
    "parse_no_proxy",
    "parse_proxy",
    "proxy_settings",
]

_DEFAULT_PORT = 1080  # curl's, whatever the proxy's scheme
_MAX_TEXT = 4096  # characters of a proxy URL or a no-proxy list
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_CREDENTIAL_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # spaces may be escaped in
_SCHEMES = frozenset({"http", "socks5", "socks5h"})
_UNSUPPORTED = {
    "https": "https:// proxies (TLS to the proxy) are not supported: use http://",
    "socks4": "SOCKS4 proxies are not supported: use socks5:// or socks5h://",
    "socks4a": "SOCKS4 proxies are not supported: use socks5:// or socks5h://",
}
_SOCKS_FIELD = 255  # bytes of a SOCKS5 user name or password (RFC 1929)
CONNECT_HEAD_LIMIT = 16 * 1024
"""Bytes of a proxy's answer to CONNECT (its head) the client reads at most."""
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: ([^\r\n]*))?")


def parse_proxy(text: str, what: str = "proxy") -> Proxy:
    """The :class:`Proxy` of a proxy URL such as ``http://user:pass@host:3128``.

    ``what`` names the source in the error (``-x``, ``https_proxy``...).
    Raises :class:`~awaitkit.core.UsageError` for a malformed URL or a
    scheme other than http://, socks5:// and socks5h://.

    >>> parse_proxy("proxy.example:3128")
    Proxy(host='proxy.example', port=3128, host_field='proxy.example:3128', scheme='http')
    >>> str(parse_proxy("socks5h://u:p@[::1]"))
    'socks5h://[::1]:1080'
    >>> parse_proxy("http://[::1]").port
    1080
    """
    if len(text) > _MAX_TEXT:
        raise UsageError(f"{what}: proxy URL over {_MAX_TEXT} characters")
    shown = text  # as {shown!r}: escaped, on one line
    if _CONTROL.search(text):
        raise UsageError(f"{what}: control character or space in proxy URL {shown!r}")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "http", text
    scheme = scheme.lower()
    if scheme not in _SCHEMES:
        reason = _UNSUPPORTED.get(scheme, f"unsupported proxy scheme {scheme}://")
        raise UsageError(f"{what}: {reason}")
    authority, _, path = rest.partition("/")
    if path or "?" in authority or "#" in authority:
        raise UsageError(f"{what}: a proxy URL has no path or query: {shown!r}")
    authorization = credentials = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        user, _, password = userinfo.partition(":")
        try:
            user = unquote(user, errors="strict")
            password = unquote(password, errors="strict")
            if scheme == "http":
                authorization = basic_credentials(user, password)
            else:
                credentials = _socks_credentials(user, password)
        except UnicodeDecodeError:
            raise UsageError(f"{what}: proxy credentials are not UTF-8") from None
        except UsageError as exc:
            raise UsageError(f"{what}: bad proxy credentials: {exc}") from None
    if ":" not in authority.rpartition("]")[2]:
        authority += f":{_DEFAULT_PORT}"
    try:
        host, port, host_field = parse_origin("http", authority)
    except InvalidURL as exc:
        raise UsageError(f"{what}: bad proxy URL {shown!r}: {exc}") from None
    if port == 80:  # parse_origin leaves out the scheme's default port
        host_field += ":80"
    return Proxy(host, port, host_field, authorization, scheme, credentials)


def _socks_credentials(user: str, password: str) -> tuple[bytes, bytes]:
    """RFC 1929's user name and password as bytes; UsageError when they cannot be sent."""
    if _CREDENTIAL_CONTROL.search(user + password):
        raise UsageError("control character in the user name or password")
    raw = user.encode(), password.encode()
    if not raw[0]:
        raise UsageError("a SOCKS5 user name cannot be empty")
    for part, what in zip(raw, ("user name", "password"), strict=True):
        if len(part) > _SOCKS_FIELD:
            raise UsageError(
                f"a SOCKS5 {what} is at most {_SOCKS_FIELD} bytes, not {len(part)}"
            )
    return raw


@dataclass(frozen=True, slots=True)
class NoProxy:
    """Hosts reached directly: exact names, domain suffixes, IP networks, or all."""

    everything: bool = False
    names: frozenset[str] = frozenset()  # "example.com": itself and its subdomains
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def matches(self, host: str) -> bool:
        """True when ``host`` (lowercase, IDNA, IPv6 without brackets) is to be reached directly.

        >>> parse_no_proxy(".example.com, 10.0.0.0/8").matches("www.example.com")
        True
        """
        if self.everything:
            return True
        if self.networks and (":" in host or host[-1:].isdigit()):
            try:
                address = ipaddress.ip_address(host.partition("%")[0])
            except ValueError:
                pass
            else:
                return any(address in network for network in self.networks)
        names = self.names
        if not names:
            return False
        host = host.rstrip(".")
        while True:
            if host in names:
                return True
            dot = host.find(".")
            if dot < 0:
                return False
            host = host[dot + 1 :]


_NOTHING = NoProxy()


def parse_no_proxy(text: str, what: str = "no_proxy") -> NoProxy:
    """The :class:`NoProxy` of a list such as ``localhost,.example.com,10.0.0.0/8``.

    Raises :class:`~awaitkit.core.UsageError` for an entry that is neither a
    host name nor an IP address or network.
    """
    if len(text) > _MAX_TEXT * 4:
        raise UsageError(f"{what}: list over {_MAX_TEXT * 4} characters")
    names: set[str] = set()
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for raw in re.split(r"[,\s]+", text.strip()):
        entry = raw.lower()
        if not entry:
            continue
        if entry == "*":
            return NoProxy(everything=True)
        shown = raw
        if entry.startswith("*."):  # a common spelling of ".example.com"
            entry = entry[1:]
        if entry.startswith("["):  # [v6] or [v6]:port
            entry = entry[1:].partition("]")[0]
        elif entry.count(":") == 1:  # name:port or v4:port: the port is ignored
            entry = entry.partition(":")[0]
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        entry = entry.strip(".")
        try:
            host = parse_origin("http", entry)[0] if entry else ""
        except InvalidURL:
            host = ""
        if not host or "/" in entry:
            raise UsageError(f"{what}: not a host name or IP address: {shown!r}")
        names.add(host)
    if not names and not networks:
        return _NOTHING
    return NoProxy(names=frozenset(names), networks=tuple(networks))


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """Which proxy each scheme goes through, and which hosts go direct.

    Build it with :func:`proxy_settings` (curl's options and environment) or
    directly; give it to :class:`~awaitkit.http.HttpClient` as ``proxies``.
    """

    http: Proxy | None = None
    https: Proxy | None = None
    no_proxy: NoProxy = _NOTHING

    def proxy_for(self, scheme: str, host: str) -> Proxy | None:
        """The proxy for an origin, or None to connect directly."""
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or self.no_proxy.matches(host):
            return None
        return proxy

    def __bool__(self) -> bool:
        return self.http is not None or self.https is not None


def _env(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    for name in names:
        value = env.get(name)
        if value:
            return name, value
    return None


def proxy_settings(
    proxy: str | None = None,
    noproxy: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ProxySettings:
    """curl's proxy rules: ``-x`` (``proxy``), ``--noproxy``, then the environment ``env``.

    ``proxy`` (any non-empty URL) is used for both schemes and the proxy
    variables are then ignored; ``proxy=""`` means no proxy at all, as
    curl's ``-x ''``.  ``noproxy`` replaces ``no_proxy``/``NO_PROXY``
    (``""``: none).  ``env`` is usually ``os.environ``; None reads nothing.

    >>> proxy_settings(env={"http_proxy": "p:3128", "no_proxy": "localhost"}).proxy_for(
    ...     "http", "example.org")
    Proxy(host='p', port=3128, host_field='p:3128', scheme='http')
    >>> print(proxy_settings(env={"HTTP_PROXY": "p:3128"}).http)  # httpoxy: ignored
    None
    """
    env = env or {}
    http = https = None
    if proxy is not None:
        if proxy:
            http = https = parse_proxy(proxy, "-x/--proxy")
    else:
        every = _env(env, "all_proxy", "ALL_PROXY")
        found = _env(env, "http_proxy") or every
        if found is not None:
            http = parse_proxy(found[1], found[0])
        found = _env(env, "https_proxy", "HTTPS_PROXY") or every
        if found is not None:
            https = parse_proxy(found[1], found[0])
    if http is None and https is None:
        return ProxySettings()
    if noproxy is not None:
        excluded = parse_no_proxy(noproxy, "--noproxy")
    else:
        found = _env(env, "no_proxy", "NO_PROXY")
        excluded = parse_no_proxy(found[1], found[0]) if found else _NOTHING
    return ProxySettings(http, https, excluded)


def connect_status(head: bytes, target: str) -> int:
    """The status of a proxy's answer to ``CONNECT target``; raises :class:`ProxyError` unless 2xx.

    ``head`` is the answer up to its blank line.  The reason phrase goes
    into the error as printable ASCII, cut to 80 characters.

    >>> connect_status(b"HTTP/1.1 200 Connection established\\r\\n", "a:443")
    200
    """
    line = head.partition(b"\n")[0].rstrip(b"\r")
    match = _STATUS_LINE.fullmatch(line)
    if match is None:
        raise ProxyError(
            f"proxy answered CONNECT to {target} with no HTTP status line: "
            f"{bytes(line[:80])!r}"
        )
    status = int(match[1])
    if 200 <= status < 300:
        return status
    reason = (match[2] or b"")[:80].decode("latin-1")
    reason = "".join(c if " " <= c <= "~" else "?" for c in reason).strip()
    raise ProxyError(
        f"proxy refused CONNECT to {target}: {status} {reason}".rstrip(), status
    )
