"""What a probe learns about one name: :class:`Status`, :class:`Answer`, :class:`Result`.

The book's ``Result`` is a two-field NamedTuple and its callers unpack it:
``domain, found = await probe(name)``.  A NamedTuple with more fields would
break that unpacking, so :class:`Result` *is* the two-field tuple
``(domain, found)`` and carries ``status`` and ``addresses`` as read-only
attributes beside it, and, when the resolver gave a full answer
(``DirectResolver(records=True)``), ``rcode``, ``records``, ``chain``,
``resolver``, ``attempts`` and ``duration``.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, NamedTuple

from awaitkit.probe._wire import rcode_text

if TYPE_CHECKING:
    from awaitkit.probe._records import Record

__all__ = ["FAILURES", "Answer", "Registration", "Result", "Status"]


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

    @property
    def registration(self) -> Registration:
        """What this status says about the name existing at all.

        Any NOERROR answer (FOUND or NODATA) means the name exists: TAKEN.
        Only NXDOMAIN means FREE; failures and INVALID are UNKNOWN.
        """
        if self is Status.FOUND or self is Status.NODATA:
            return Registration.TAKEN
        if self is Status.NXDOMAIN:
            return Registration.FREE
        return Registration.UNKNOWN


class Registration(enum.StrEnum):
    """``--check registered``: is the name in use (TAKEN), FREE, or UNKNOWN?"""

    TAKEN = "TAKEN"
    FREE = "FREE"
    UNKNOWN = "UNKNOWN"


#: Statuses that mean "the resolver could not tell": the name may exist.
FAILURES = frozenset({Status.SERVFAIL, Status.TIMEOUT, Status.REFUSED})


class Answer(NamedTuple):
    """A resolver's reply for one ASCII name: a status and the addresses found.

    A full answer (``DirectResolver(records=True)``) also has the reply's
    ``rcode`` (``None``: no reply), every answer ``record``, the CNAME
    ``chain`` from the question name, the ``resolver`` (``"IP:PORT"``) that
    answered, the queries sent (``attempts``, 0 for a plain answer) and
    ``duration`` (seconds).
    """

    status: Status
    addresses: tuple[str, ...] = ()
    records: tuple[Record, ...] = ()
    chain: tuple[str, ...] = ()
    rcode: int | None = None
    resolver: str | None = None
    attempts: int = 0
    duration: float | None = None


_tuple_new = tuple.__new__


class _Pair(NamedTuple):
    domain: str
    found: bool


# The full answer's values: attributes of a Result only when the resolver
# gave them (class-level defaults otherwise, so a plain result costs nothing).
_DETAIL = ("records", "chain", "rcode", "resolver", "attempts", "duration")
_DETAIL_KEYS = frozenset(_DETAIL)


class Result(_Pair):
    """``(domain, found)`` as in the book, plus ``status`` and ``addresses``.

    Example use::

        domain, found = await probe("python.org")    # the book's unpacking
        result = await probe("python.org")
        result.status, result.addresses              # Status.FOUND, ('151.101...',)

    ``Result(domain, found)`` builds a book-style result (status ``FOUND`` or
    ``NXDOMAIN``); :meth:`from_answer` builds one from a resolver's answer.
    A full answer's values (see :class:`Answer`: ``records``, ``chain``,
    ``rcode``, ``resolver``, ``attempts``, ``duration``) are attributes too,
    empty or ``None`` when the resolver did not give them.  Equality covers
    the answer (domain, found, status, addresses, records, chain, rcode), not
    how it was obtained (resolver, attempts, duration).
    """

    status: Status
    addresses: tuple[str, ...]
    records: tuple[Record, ...] = ()
    chain: tuple[str, ...] = ()
    rcode: int | None = None
    resolver: str | None = None
    attempts: int = 0
    duration: float | None = None

    def __new__(
        cls,
        domain: str,
        found: bool,
        *,
        status: Status | None = None,
        addresses: tuple[str, ...] = (),
        **detail: Any,
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
        if detail:
            unknown = detail.keys() - set(_DETAIL)
            if unknown:
                raise TypeError(f"unexpected Result field(s): {sorted(unknown)}")
            for key in ("records", "chain"):
                if key in detail:
                    detail[key] = tuple(detail[key])
            attributes.update(detail)
        return self

    @classmethod
    def from_answer(cls, domain: str, answer: Answer) -> Result:
        """Build the result for ``domain`` from a resolver's :class:`Answer`."""
        result = cls(
            domain,
            answer.status is Status.FOUND,
            status=answer.status,
            addresses=answer.addresses,
        )
        if answer.attempts or answer.rcode is not None:  # a full answer
            result.__dict__.update(
                records=answer.records,
                chain=answer.chain,
                rcode=answer.rcode,
                resolver=answer.resolver,
                attempts=answer.attempts,
                duration=answer.duration,
            )
        return result

    @property
    def is_full(self) -> bool:
        """True when the resolver gave a full answer (records, rcode, timing)."""
        return bool(self._detail())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Result is read-only (cannot set {name!r})")

    def __repr__(self) -> str:
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in self._detail())
        return (
            f"Result(domain={self.domain!r}, found={self.found!r}, "
            f"status={self.status.value}, addresses={self.addresses!r}{extra})"
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Result):
            return (
                tuple.__eq__(self, other)
                and self.status is other.status
                and self.addresses == other.addresses
                and self.records == other.records
                and self.chain == other.chain
                and self.rcode == other.rcode
            )
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((self.domain, self.found, self.status, self.addresses))

    def __reduce__(self) -> tuple[Any, ...]:
        detail = {k: getattr(self, k) for k in self._detail()}
        return (_rebuild, (self.domain, self.status, self.addresses, detail))

    def _detail(self) -> tuple[str, ...]:
        """The full answer's field names this result has (none for a plain one)."""
        attributes = self.__dict__
        return tuple(k for k in _DETAIL if k in attributes)

    def _replace(self, **changes: Any) -> Result:
        values: dict[str, Any] = {
            "domain": self.domain,
            "status": self.status,
            "addresses": self.addresses,
        }
        values.update({k: getattr(self, k) for k in self._detail()})
        values.update(changes)
        status = Status(values.pop("status"))
        return Result(
            values.pop("domain"),
            status is Status.FOUND,
            status=status,
            addresses=tuple(values.pop("addresses")),
            **values,
        )

    def _asdict(self) -> dict[str, Any]:
        """All the values (the NamedTuple's own would drop all but two)."""
        values: dict[str, Any] = {
            "domain": self.domain,
            "found": self.found,
            "status": self.status,
            "addresses": self.addresses,
        }
        values.update({k: getattr(self, k) for k in self._detail()})
        return values

    def to_dict(self, *, full: bool = False) -> dict[str, object]:
        """The result as plain JSON-ready data.

        A full answer (or ``full=True``, for the same keys on every line)
        adds ``rcode`` (``"NOERROR"``...), ``records`` (``name``, ``type``,
        ``ttl``, ``data`` each), ``chain``, ``resolver``, ``attempts`` and
        ``duration_ms``; unknown values are ``null``.
        """
        data: dict[str, object] = {
            "domain": self.domain,
            "found": self.found,
            "status": self.status.value,
            "addresses": list(self.addresses),
        }
        if full or not _DETAIL_KEYS.isdisjoint(self.__dict__):
            data["rcode"] = None if self.rcode is None else rcode_text(self.rcode)
            # Dict displays, not Record._asdict(): this runs for every record.
            data["records"] = [
                {"name": name, "type": rtype, "ttl": ttl, "data": rdata}
                for name, rtype, ttl, rdata in self.records
            ]
            data["chain"] = list(self.chain)
            data["resolver"] = self.resolver
            data["attempts"] = self.attempts
            duration = self.duration
            data["duration_ms"] = None if duration is None else round(duration * 1e3, 3)
        return data


def _rebuild(
    domain: str,
    status: Status,
    addresses: tuple[str, ...],
    detail: dict[str, Any] | None = None,
) -> Result:
    return Result(
        domain,
        status is Status.FOUND,
        status=status,
        addresses=addresses,
        **(detail or {}),
    )
