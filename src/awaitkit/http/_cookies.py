"""Cookies for :class:`HttpClient`: a :mod:`http.cookiejar` jar behind a :class:`RequestHook`.

The jar keeps its own rules (domain, path, ``Secure``, expiry) for which
cookie goes to which request; this hook only hands it each hop's URL and
each response head, redirects included.  A server decides what it sends,
so what is kept is bounded: at most ``max_cookies`` cookies, each at most
``max_size`` characters, and none whose parts could break a request field
or a line of a Netscape cookie file (control characters, tabs).

Importing :mod:`http.cookiejar` costs tens of milliseconds (it brings
``urllib.request``), so nothing imports this module until cookies are used.
"""

from __future__ import annotations

import re
import urllib.request
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy

from awaitkit.http._hooks import OriginKey
from awaitkit.http._response import Headers, Response
from awaitkit.http._url import check_field_value

__all__ = [
    "MAX_COOKIES",
    "MAX_COOKIE_SIZE",
    "BoundedCookiePolicy",
    "CookieHook",
    "fits",
]

MAX_COOKIES = 1000
"""Cookies a jar keeps at most (RFC 6265 asks for at least 3000 in a browser; a
downloader needs far fewer, and this bounds what a hostile server can make it hold)."""
MAX_COOKIE_SIZE = 4096
"""Characters of name, value, domain and path together (RFC 6265's minimum for browsers)."""
_UNSAFE = re.compile(
    r"[\x00-\x1f\x7f]"
)  # tab included: it separates a cookie file's columns


class BoundedCookiePolicy(DefaultCookiePolicy):
    """The default policy, refusing cookies that are too big, malformed, or one too many."""

    def __init__(
        self,
        jar: CookieJar,
        *,
        max_cookies: int = MAX_COOKIES,
        max_size: int = MAX_COOKIE_SIZE,
    ) -> None:
        super().__init__()
        self._jar = jar
        self.max_cookies = max_cookies
        self.max_size = max_size

    def set_ok(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        """Accept ``cookie`` if the default policy does and it fits the bounds."""
        if not fits(cookie, self.max_size):
            return False
        if not super().set_ok(cookie, request):
            return False
        jar = self._jar
        if len(jar) >= self.max_cookies:
            jar.clear_expired_cookies()
            if len(jar) >= self.max_cookies and not _replaces(jar, cookie):
                return False
        return True


def fits(cookie: Cookie, max_size: int = MAX_COOKIE_SIZE) -> bool:
    """Whether ``cookie`` is small enough and can go on the wire and in a cookie file."""
    parts = (cookie.name, cookie.value or "", cookie.domain, cookie.path)
    if sum(len(part) for part in parts) > max_size:
        return False
    if any(_UNSAFE.search(part) for part in parts):
        return False
    try:
        "".join(parts).encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _replaces(jar: CookieJar, cookie: Cookie) -> bool:
    return any(
        (old.domain, old.path, old.name) == (cookie.domain, cookie.path, cookie.name)
        for old in jar
    )


class _Head:
    """A response as :meth:`CookieJar.extract_cookies` reads one: ``info()`` only."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def info(self) -> Headers:
        return self._headers


class CookieHook:
    """Cookies from ``jar`` on each request; each response's Set-Cookie back into it.

    The jar's policy becomes a :class:`BoundedCookiePolicy` (the bounds
    hold whatever servers send), and cookies it already holds that could
    not be sent (control characters, not Latin-1, too big) are dropped.
    ``fixed`` (``"name=value; ..."``, curl's ``-b DATA``) goes first in the
    Cookie field of every request at its own first origin, never after a
    redirect to another.  Example use::

        jar = http.cookiejar.MozillaCookieJar("cookies.txt")
        jar.load(ignore_discard=True)           # before the loop: file I/O
        async with HttpClient(hooks=[CookieHook(jar)]) as client:
            ...
        jar.save(ignore_discard=True)
    """

    __slots__ = ("fixed", "jar")

    def __init__(
        self,
        jar: CookieJar,
        *,
        fixed: str = "",
        max_cookies: int = MAX_COOKIES,
        max_size: int = MAX_COOKIE_SIZE,
    ) -> None:
        if fixed:
            check_field_value(fixed, "fixed")
        self.jar = jar
        # ``name=value; ...`` sent to each request's own origin (curl's
        # ``-b DATA``), before the jar's cookies, in the same Cookie field.
        self.fixed = fixed
        jar.set_policy(
            BoundedCookiePolicy(jar, max_cookies=max_cookies, max_size=max_size)
        )
        # Cookies already there (a file's) that could not go on the wire.
        for cookie in [cookie for cookie in jar if not fits(cookie, max_size)]:
            jar.clear(cookie.domain, cookie.path, cookie.name)

    def __repr__(self) -> str:
        return f"<CookieHook cookies={len(self.jar)}>"

    def request_fields(
        self, url: str, origin: OriginKey, first: OriginKey
    ) -> list[tuple[str, str]]:
        """The Cookie field for ``url``: ``fixed`` at the request's first origin, then the jar's."""
        request = urllib.request.Request(url)
        self.jar.add_cookie_header(request)
        value = request.get_header("Cookie")
        if self.fixed and origin == first:
            value = f"{self.fixed}; {value}" if value else self.fixed
        return [("Cookie", value)] if value else []

    def response_received(self, url: str, response: Response) -> None:
        """Store the response's cookies, as the jar's rules allow."""
        headers = response.headers
        if "set-cookie" not in headers and "set-cookie2" not in headers:
            return
        self.jar.extract_cookies(_Head(headers), urllib.request.Request(url))  # type: ignore[arg-type]
