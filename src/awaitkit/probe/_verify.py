"""Trusted resolvers: re-ask what ordinary resolvers FOUND, and name the liars.

A list of public resolvers found on the internet holds some that answer every
name with an address (ad-serving ISPs, captive portals, poisoned caches), so
a brute force through them "finds" names that do not exist.  With
``--verify`` each FOUND name is asked again of the trusted resolvers (a few
the user vouches for) before it is reported, and the trusted answer is the
one reported.  When they deny the name (NXDOMAIN or NODATA), each ordinary
resolver is asked that name alone, and those that still give an address are
named as poisoning in the summary (for the first ``ATTRIBUTED`` such names:
after that only the count grows, so a poisoning list costs no more queries
per name than it already did).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from awaitkit.core import UsageError
from awaitkit.probe._names import to_ascii
from awaitkit.probe._probe import Resolver
from awaitkit.probe._resolvers import (
    format_server,
    read_resolver_file as read_resolvers,
)
from awaitkit.probe._result import Result, Status

__all__ = ["ATTRIBUTED", "Verifier", "format_server", "read_resolver_file"]

#: Contradicted names whose ordinary resolvers are each asked who lied.
ATTRIBUTED = 20
_DENIED = frozenset({Status.NXDOMAIN, Status.NODATA})


def read_resolver_file(path: str, option: str = "--trusted-resolvers") -> list[str]:
    """The resolvers of a trusted list (massdns format), as ``IP:PORT``.

    Read as ``-r`` files are (:func:`~awaitkit.probe._resolvers.read_resolver_file`),
    but strictly: a trusted list is short and must be exactly what the user
    meant, so a line that is not a resolver is a :class:`UsageError` naming
    it instead of a warning.  Read it before the event loop starts.
    """
    try:
        parsed = read_resolvers(path, strict=True)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc}") from None
    return [format_server(server) for server in parsed.servers]


class Verifier:
    """Checks FOUND results against trusted resolvers.

    Example use::

        verifier = Verifier(trusted, suspects=[("192.0.2.1:53", one_server)])
        result = await verifier.check(result)   # the trusted resolvers' answer

    ``suspects`` are the ordinary resolvers, each as ``(label, resolver asking
    only it)``; a ``None`` resolver is blamed without asking (the only one).
    """

    def __init__(
        self,
        trusted: Resolver,
        *,
        suspects: Sequence[tuple[str, Resolver | None]] = (),
    ) -> None:
        self.trusted = trusted
        self.suspects = list(suspects)
        self.verified = 0
        self.contradicted = 0
        self.unanswered = 0
        self.poisoning: Counter[str] = Counter()
        self._attributed = 0

    def __repr__(self) -> str:
        return (
            f"<Verifier verified={self.verified} contradicted={self.contradicted} "
            f"unanswered={self.unanswered} poisoning={len(self.poisoning)}>"
        )

    async def check(self, result: Result) -> Result:
        """The trusted resolvers' result for a FOUND ``result`` (others as they are)."""
        if result.status is not Status.FOUND:
            return result
        name = to_ascii(result.domain)
        if name is None:  # pragma: no cover - FOUND names were valid
            return result
        answer = await self.trusted.lookup(name)
        if answer.status is Status.FOUND:
            self.verified += 1
        elif answer.status in _DENIED:
            self.contradicted += 1
            if self._attributed < ATTRIBUTED:
                self._attributed += 1
                await self._attribute(name)
        else:
            self.unanswered += 1
        return Result.from_answer(result.domain, answer)

    async def _attribute(self, name: str) -> None:
        asked = [(label, r) for label, r in self.suspects if r is not None]
        for label, resolver in self.suspects:
            if resolver is None:
                self.poisoning[label] += 1
        answers = await asyncio.gather(*(r.lookup(name) for _, r in asked))
        for (label, _), answer in zip(asked, answers, strict=True):
            if answer.status is Status.FOUND:
                self.poisoning[label] += 1
