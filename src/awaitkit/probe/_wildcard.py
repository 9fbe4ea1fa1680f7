"""Wildcard detection: does a name resolve only because ``*.parent`` answers for it?

A wildcard record (``*.wild.test``) makes every name under its parent resolve,
so a brute force "finds" every word it tries.  The test is puredns's: ask a
few random labels under the name's parent through the same resolver; if they
resolve, the parent has a wildcard, and a name whose addresses all belong to
what the random labels got is reported as :attr:`Status.WILDCARD`.

Testing the *immediate* parent is enough, whatever level the wildcard is at:
``x.b.wild.test`` and ``random.b.wild.test`` are answered by the same record
(``*.b.wild.test`` if it exists, else ``*.wild.test`` when ``b.wild.test``
does not exist, RFC 4592), and a CNAME wildcard yields the addresses at the
end of its chain, which is what is compared.  A real name beside the
wildcard with addresses of its own stays FOUND.

The decision (:func:`parent_zone`, :func:`summarize`, :func:`is_wildcard`)
is sans-I/O; :class:`WildcardDetector` adds the lookups and the per-parent
cache: each parent is tested once, and names of a parent being tested wait
for that one test.
"""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from awaitkit.probe._names import to_ascii
from awaitkit.probe._probe import Resolver
from awaitkit.probe._result import Answer, Result, Status

__all__ = [
    "Wildcard",
    "WildcardDetector",
    "is_wildcard",
    "parent_zone",
    "random_label",
    "summarize",
]

_ALPHABET = string.ascii_lowercase + string.digits
_LABEL_LENGTH = 12
_CACHE_LIMIT = 65536  # parents remembered; the oldest finished tests go first

Spawn = Callable[[Coroutine[Any, Any, "Wildcard"]], "asyncio.Task[Wildcard]"]


@dataclass(frozen=True, slots=True)
class Wildcard:
    """What the random labels under ``zone`` got.

    ``addresses`` is the union of their addresses (empty: no wildcard);
    ``failed`` counts labels that got no definite answer.
    """

    zone: str
    addresses: frozenset[str] = frozenset()
    failed: int = 0

    @property
    def exists(self) -> bool:
        """True when some random label resolved: ``*.zone`` answers."""
        return bool(self.addresses)


def parent_zone(name: str) -> str | None:
    """The parent of an ASCII name (``a.b.test`` -> ``b.test``); ``None`` for a TLD."""
    _, dot, parent = name.rstrip(".").partition(".")
    return parent if dot and parent else None


def random_label(rng: random.Random) -> str:
    """A 12-character label no zone plausibly holds (36**12 choices)."""
    return "".join(rng.choice(_ALPHABET) for _ in range(_LABEL_LENGTH))


def summarize(zone: str, answers: Iterable[Answer]) -> Wildcard:
    """The verdict on ``zone`` from the answers its random labels got."""
    addresses: set[str] = set()
    failed = 0
    for answer in answers:
        if answer.status is Status.FOUND:
            addresses.update(answer.addresses)
        elif answer.status.is_failure:
            failed += 1
    return Wildcard(zone, frozenset(addresses), failed)


def is_wildcard(addresses: Iterable[str], wildcard: Wildcard) -> bool:
    """True when every address is one the wildcard gives (and there is one).

    Subset, not equality: a load-balanced wildcard answers each random label
    with some of its addresses, and a name it answers may get another mix.
    """
    found = set(addresses)
    return bool(found) and wildcard.exists and found <= wildcard.addresses


def _zone_of(result: Result) -> str | None:
    if result.status is not Status.FOUND:
        return None
    name = to_ascii(result.domain)
    return parent_zone(name) if name is not None else None


def _mark(result: Result, wildcard: Wildcard) -> Result:
    if not is_wildcard(result.addresses, wildcard):
        return result
    return Result(
        result.domain, False, status=Status.WILDCARD, addresses=result.addresses
    )


class WildcardDetector:
    """Marks FOUND results that only a wildcard answers for.

    Example use::

        async with asyncio.TaskGroup() as tg:
            detector = WildcardDetector(resolver, spawn=tg.create_task)
            result = await detector.check(result)   # FOUND or WILDCARD

    ``resolver`` asks the random labels (``tests`` per parent, default 3);
    ``spawn`` starts each parent's test as a task (a TaskGroup's
    ``create_task``), awaited by every name of that parent, so a name
    cancelled while waiting does not cancel the test the others wait for.
    """

    def __init__(
        self,
        resolver: Resolver,
        *,
        spawn: Spawn,
        tests: int = 3,
        rng: random.Random | None = None,
    ) -> None:
        if tests < 1:
            raise ValueError("tests must be at least 1")
        self.resolver = resolver
        self.tests = tests
        self.wildcards: dict[str, Wildcard] = {}  # zones found to have one
        self.tested = 0
        self._spawn = spawn
        self._rng = rng if rng is not None else random.SystemRandom()
        self._zones: dict[str, asyncio.Task[Wildcard]] = {}

    def __repr__(self) -> str:
        return (
            f"<WildcardDetector tested={self.tested} wildcards={len(self.wildcards)}>"
        )

    async def check(self, result: Result) -> Result:
        """``result`` as WILDCARD when its parent's wildcard explains it, else as is."""
        zone = _zone_of(result)
        if zone is None:
            return result
        task = self._zones.get(zone)
        if task is None:
            task = self._zones[zone] = self._spawn(self._test(zone))
            self._forget_old()
        return _mark(result, await asyncio.shield(task))

    def check_now(self, result: Result) -> Result | None:
        """:meth:`check` without waiting: ``None`` when its parent is not yet known.

        Most names of a brute force share a parent tested long ago; deciding
        those here spares each one a task.
        """
        zone = _zone_of(result)
        if zone is None:
            return result
        task = self._zones.get(zone)
        if task is None or not task.done() or task.cancelled():
            return None
        return _mark(result, task.result())

    def cancel(self) -> None:
        """Cancel the zone tests still running (their waiters are gone)."""
        for task in self._zones.values():
            task.cancel()

    async def _test(self, zone: str) -> Wildcard:
        names = [f"{random_label(self._rng)}.{zone}" for _ in range(self.tests)]
        lookup = self.resolver.lookup
        answers = await asyncio.gather(*(lookup(name) for name in names))
        self.tested += 1
        wildcard = summarize(zone, answers)
        if wildcard.exists:
            self.wildcards[zone] = wildcard
        return wildcard

    def _forget_old(self) -> None:
        if len(self._zones) <= _CACHE_LIMIT:
            return
        for zone, task in list(self._zones.items())[: _CACHE_LIMIT // 4]:
            if task.done():
                del self._zones[zone]
