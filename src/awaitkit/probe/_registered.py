"""``--check registered``: does a name exist at all (TAKEN), or is it FREE?

The book probes ``NAME.dev`` for an address, so a registered domain with no
A record (only NS or MX: NODATA) reads as available.  Here a name is TAKEN
when any of NS, SOA, A, AAAA is answered NOERROR (with records or without:
NODATA means the name exists), FREE only on NXDOMAIN, and UNKNOWN when every
type failed.  NS comes first: the parent zone's delegation answers it even
when the domain's own servers are lame, and one definite answer settles the
name, so a name usually costs one query.
"""

from __future__ import annotations

from awaitkit.probe._direct import DirectResolver
from awaitkit.probe._result import FAILURES, Answer, Status

__all__ = ["CHECK_TYPES", "RegisteredCheck"]

#: The types asked in turn, until one gives a definite answer.
CHECK_TYPES = ("NS", "SOA", "A", "AAAA")


class RegisteredCheck:
    """A resolver whose answers say whether names exist: see ``Status.registration``.

    Example use::

        async with DirectResolver(["127.0.0.1:5353"]) as direct:
            check = RegisteredCheck(direct)
            result = await probe("python.dev", resolver=check)
            result.status.registration        # Registration.TAKEN

    The answer is that of the first type answered definitely (FOUND,
    NODATA or NXDOMAIN), with the queries and time of all the types tried;
    the last failure when none was.
    """

    def __init__(self, resolver: DirectResolver) -> None:
        self.resolver = resolver

    def __repr__(self) -> str:
        return f"<RegisteredCheck {self.resolver!r}>"

    async def lookup(self, name: str) -> Answer:
        """Ask NS, SOA, A, AAAA about ``name`` in turn until one is definite."""
        attempts = 0
        duration = 0.0
        answer = Answer(Status.TIMEOUT)
        for rtype in CHECK_TYPES:
            answer = await self.resolver.query(name, rtype)
            attempts += answer.attempts
            duration += answer.duration or 0.0
            if answer.status not in FAILURES:
                break
        if not answer.attempts and not attempts:
            return answer  # INVALID: never asked
        return answer._replace(attempts=attempts, duration=duration)
