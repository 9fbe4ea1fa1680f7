"""awaitkit.probe: which DNS names exist?  The book's domainlib, made real.

Example use::

    from awaitkit.probe import DirectResolver, multi_probe, probe

    domain, found = await probe("python.org")           # getaddrinfo, as in the book
    async with DirectResolver(["127.0.0.1:5353"]) as resolver:
        async for result in multi_probe(names, concurrency=1000, resolver=resolver):
            print(result.domain, result.status, result.addresses)

A :class:`Result` unpacks as ``(domain, found)``; ``status`` tells NXDOMAIN
and NODATA (definite answers) from SERVFAIL, TIMEOUT and REFUSED (the
resolver could not tell), and INVALID for names no resolver can ask about.
"""

from __future__ import annotations

from awaitkit._lazy import attach

TYPE_CHECKING = False  # see awaitkit._lazy: the CLI must not import asyncio here
if TYPE_CHECKING:
    from awaitkit.probe._direct import DirectResolver as DirectResolver
    from awaitkit.probe._names import (
        candidate_names as candidate_names,
        to_ascii as to_ascii,
    )
    from awaitkit.probe._probe import (
        Resolver as Resolver,
        multi_probe as multi_probe,
        probe as probe,
    )
    from awaitkit.probe._records import Record as Record
    from awaitkit.probe._registered import RegisteredCheck as RegisteredCheck
    from awaitkit.probe._resolvers import ServerStats as ServerStats
    from awaitkit.probe._result import (
        Answer as Answer,
        Registration as Registration,
        Result as Result,
        Status as Status,
    )
    from awaitkit.probe._system import SystemResolver as SystemResolver
    from awaitkit.probe._udp import Stats as Stats

_LAZY = {
    "Answer": "awaitkit.probe._result",
    "DirectResolver": "awaitkit.probe._direct",
    "Record": "awaitkit.probe._records",
    "RegisteredCheck": "awaitkit.probe._registered",
    "Registration": "awaitkit.probe._result",
    "Resolver": "awaitkit.probe._probe",
    "Result": "awaitkit.probe._result",
    "ServerStats": "awaitkit.probe._resolvers",
    "Stats": "awaitkit.probe._udp",
    "Status": "awaitkit.probe._result",
    "SystemResolver": "awaitkit.probe._system",
    "candidate_names": "awaitkit.probe._names",
    "multi_probe": "awaitkit.probe._probe",
    "probe": "awaitkit.probe._probe",
    "to_ascii": "awaitkit.probe._names",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = attach(__name__, _LAZY)
