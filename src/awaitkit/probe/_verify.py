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
from pathlib import Path

from awaitkit.core import UsageError
from awaitkit.probe._direct import parse_nameserver
from awaitkit.probe._names import to_ascii
from awaitkit.probe._probe import Resolver
from awaitkit.probe._result import Result, Status

__all__ = ["ATTRIBUTED", "Verifier", "format_server", "read_resolver_file"]

#: Contradicted names whose ordinary resolvers are each asked who lied.
ATTRIBUTED = 20
_MAX_LINE = 300  # longer than any IP[:PORT]; a longer line is not one
_DENIED = frozenset({Status.NXDOMAIN, Status.NODATA})


def format_server(server: tuple[str, int]) -> str:
    """``IP:PORT`` (``[IPv6]:PORT``) as a resolver file would spell it."""
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def read_resolver_file(path: str, option: str = "--trusted-resolvers") -> list[str]:
    """The ``IP[:PORT]`` lines of a resolver file (massdns format), normalized.

    Blank lines and ``#`` comments are skipped; any other line that is not an
    address, or is not UTF-8, is a :class:`UsageError` naming the line (a
    trusted list is short and must be exactly what the user meant).  Read it
    before the event loop starts: this reads the file.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {path}: {exc.strerror}") from exc
    servers: list[str] = []
    for number, raw in enumerate(data.splitlines(), 1):
        try:
            line = raw.decode("utf-8").split("#", 1)[0].strip()
        except UnicodeDecodeError:
            raise UsageError(f"{option} {path} line {number}: not UTF-8") from None
        if not line:
            continue
        if len(line) > _MAX_LINE:
            raise UsageError(f"{option} {path} line {number}: line too long")
        try:
            servers.append(format_server(parse_nameserver(line)))
        except UsageError as exc:
            raise UsageError(f"{option} {path} line {number}: {exc}") from None
    if not servers:
        raise UsageError(f"{option} {path}: no resolver in it")
    return servers


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
