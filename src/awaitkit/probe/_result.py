"""What a probe learns about one name: :class:`Status`, :class:`Answer`, :class:`Result`.

The book's ``Result`` is a two-field NamedTuple and its callers unpack it:
``domain, found = await probe(name)``.  A NamedTuple with more fields would
break that unpacking, so :class:`Result` *is* the two-field tuple
``(domain, found)`` and carries ``status`` and ``addresses`` as read-only
attributes beside it.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

__all__ = ["FAILURES", "Answer", "Result", "Status"]


class Status(enum.StrEnum):
    """Outcome of probing one name.

    Only ``FOUND`` means the name resolves.  ``NXDOMAIN`` and ``NODATA`` are
    definite answers ("no such name", "name exists but has no address of the
    asked type"); ``SERVFAIL``, ``TIMEOUT`` and ``REFUSED`` mean the resolver
    could not tell, and are never reported as "not found".  ``WILDCARD``: the
    name resolves, but only as random names under its parent do (a wildcard
    record answers for it); neither found nor a failure.
    """

    FOUND = "FOUND"
    NXDOMAIN = "NXDOMAIN"
    NODATA = "NODATA"
    SERVFAIL = "SERVFAIL"
    TIMEOUT = "TIMEOUT"
    REFUSED = "REFUSED"
    INVALID = "INVALID"
    WILDCARD = "WILDCARD"

    @property
    def is_failure(self) -> bool:
        """True for SERVFAIL, TIMEOUT and REFUSED: the name may well exist."""
        return self in FAILURES


#: Statuses that mean "the resolver could not tell": the name may exist.
FAILURES = frozenset({Status.SERVFAIL, Status.TIMEOUT, Status.REFUSED})


class Answer(NamedTuple):
    """A resolver's reply for one ASCII name: a status and the addresses found."""

    status: Status
    addresses: tuple[str, ...] = ()


_tuple_new = tuple.__new__


class _Pair(NamedTuple):
    domain: str
    found: bool


class Result(_Pair):
    """``(domain, found)`` as in the book, plus ``status`` and ``addresses``.

    Example use::

        domain, found = await probe("python.org")    # the book's unpacking
        result = await probe("python.org")
        result.status, result.addresses              # Status.FOUND, ('151.101...',)

    ``Result(domain, found)`` builds a book-style result (status ``FOUND`` or
    ``NXDOMAIN``); :meth:`from_answer` builds one from a resolver's answer.
    Equality and hashing cover all four values.
    """

    status: Status
    addresses: tuple[str, ...]

    def __new__(
        cls,
        domain: str,
        found: bool,
        *,
        status: Status | None = None,
        addresses: tuple[str, ...] = (),
    ) -> Result:
        if status is None:
            status = Status.FOUND if found else Status.NXDOMAIN
        elif found != (status is Status.FOUND):
            raise ValueError(f"found={found} contradicts status {status}")
        # Tuples are immutable; the extra attributes live in the instance
        # __dict__ (written directly: this runs once per name) and
        # __setattr__ below keeps them read-only.
        self = _tuple_new(cls, (domain, found))
        attributes = self.__dict__
        attributes["status"] = status
        attributes["addresses"] = tuple(addresses)
        return self

    @classmethod
    def from_answer(cls, domain: str, answer: Answer) -> Result:
        """Build the result for ``domain`` from a resolver's :class:`Answer`."""
        return cls(
            domain,
            answer.status is Status.FOUND,
            status=answer.status,
            addresses=answer.addresses,
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Result is read-only (cannot set {name!r})")

    def __repr__(self) -> str:
        return (
            f"Result(domain={self.domain!r}, found={self.found!r}, "
            f"status={self.status.value}, addresses={self.addresses!r})"
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Result):
            return (
                tuple.__eq__(self, other)
                and self.status is other.status
                and self.addresses == other.addresses
            )
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((self.domain, self.found, self.status, self.addresses))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.domain, self.status, self.addresses))

    def _replace(self, **changes: Any) -> Result:
        values: dict[str, Any] = {
            "domain": self.domain,
            "status": self.status,
            "addresses": self.addresses,
        }
        values.update(changes)
        status = Status(values["status"])
        return Result(
            values["domain"],
            status is Status.FOUND,
            status=status,
            addresses=tuple(values["addresses"]),
        )

    def _asdict(self) -> dict[str, Any]:
        """All four values (the NamedTuple's own would drop status and addresses)."""
        return {
            "domain": self.domain,
            "found": self.found,
            "status": self.status,
            "addresses": self.addresses,
        }

    def to_dict(self) -> dict[str, object]:
        """The result as plain JSON-ready data."""
        return {
            "domain": self.domain,
            "found": self.found,
            "status": self.status.value,
            "addresses": list(self.addresses),
        }


def _rebuild(domain: str, status: Status, addresses: tuple[str, ...]) -> Result:
    return Result(domain, status is Status.FOUND, status=status, addresses=addresses)
