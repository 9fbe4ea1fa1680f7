"""Request hooks: fields added per request, response heads seen, for auth and cookies.

A hook is what :class:`HttpClient` consults on every hop of a request
(redirects included) when the fields depend on where the hop goes: HTTP
credentials, cookies.  Fixed fields (``-H``, the User-Agent) are not hooks:
the client formats those once.  With no hook, a request costs nothing more.

The client tells a hook two origins, each ``(scheme, host, port)``: the
hop's and the first one of the request (the URL the caller gave).  That is
enough for curl's rule on credentials: they go to the origin they were
given for, never to another one a redirect points at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from awaitkit.http._url import basic_credentials

if TYPE_CHECKING:
    from awaitkit.http._response import Response

__all__ = ["BasicAuth", "OriginKey", "RequestHook"]

OriginKey = tuple[str, str, int]
"""``(scheme, host, port)``: the host lowercase and IDNA-encoded, as connected to."""


class RequestHook(Protocol):
    """What :class:`HttpClient` asks on each hop of a request, and tells after it."""

    def request_fields(
        self, url: str, origin: OriginKey, first: OriginKey
    ) -> list[tuple[str, str]]:
        """Fields to add to the request for ``url`` (at ``origin``; the request began at ``first``).

        A field whose name the request already has (the caller's own, an
        earlier hook's) is not sent twice: the first one given wins.
        """
        ...

    def response_received(self, url: str, response: Response) -> None:
        """See the head of every response, redirects included, before its body is read."""
        ...


class BasicAuth:
    """HTTP Basic credentials, sent as curl sends them.

    ``credentials`` (curl's ``-u``) go to the first origin of every request,
    the host of the URL given, and never to another origin a redirect leads
    to.  ``hosts`` (a netrc's machines) go to that host whichever hop
    reaches it, and ``fallback`` (a netrc's ``default``) like
    ``credentials``; ``credentials`` win over both.

    >>> auth = BasicAuth(("u", "p"))
    >>> auth.request_fields("http://h/", ("http", "h", 80), ("http", "h", 80))
    [('Authorization', 'Basic dTpw')]
    >>> auth.request_fields("http://b/", ("http", "b", 80), ("http", "h", 80))
    []
    """

    __slots__ = ("_fallback", "_given", "_hosts")

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        *,
        hosts: Mapping[str, tuple[str, str]] | None = None,
        fallback: tuple[str, str] | None = None,
    ) -> None:
        # Encoded once: nothing per request but a look-up.
        self._given = None if credentials is None else basic_credentials(*credentials)
        self._fallback = None if fallback is None else basic_credentials(*fallback)
        self._hosts = {
            host.lower(): basic_credentials(*pair)
            for host, pair in (hosts or {}).items()
        }

    def __repr__(self) -> str:  # never the credentials themselves
        return (
            f"<BasicAuth given={self._given is not None} hosts={len(self._hosts)} "
            f"fallback={self._fallback is not None}>"
        )

    def request_fields(
        self, url: str, origin: OriginKey, first: OriginKey
    ) -> list[tuple[str, str]]:
        """The Authorization field for this hop, if any credentials apply to it."""
        same = origin == first
        value = self._given if same else None
        if value is None:
            value = self._hosts.get(origin[1])
        if value is None and same:
            value = self._fallback
        return [] if value is None else [("Authorization", value)]

    def response_received(self, url: str, response: Response) -> None:
        """Nothing to learn from a response."""
