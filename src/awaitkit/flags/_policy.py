"""The fault policy: which delay and which fault each request gets (sans-I/O).

A :class:`Policy` is a frozen dataclass of global rates.  The server draws
each request's two numbers with :func:`draw` from a keyed hash of (seed,
path, attempt) -- the attempt being the Nth time one client asks for that
path -- rather than from a generator shared in arrival order, so with a seed
the same requests get the same faults whatever the concurrency.
:meth:`Policy.decide` still takes any ``random.Random`` (two draws, always).

:class:`Action` (``Decision`` is its old name) is what the connection
applies: a delay, then one :class:`Fault`, with the details a rule may set.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import os
import random
import struct
from dataclasses import dataclass
from typing import Any

from awaitkit.core.errors import UsageError

__all__ = [
    "PRESETS",
    "Action",
    "Decision",
    "Fault",
    "Policy",
    "draw",
    "parse_delay",
    "seed_key",
]


class Fault(enum.Enum):
    """What goes wrong with one response (``NONE``: nothing)."""

    NONE = "none"
    ERROR = "error"  # the error status (418 by default) instead of the file
    RATE_LIMIT = "rate-limit"  # 429 Too Many Requests with Retry-After
    UNAVAILABLE = "unavailable"  # 503 Service Unavailable with Retry-After
    RESET = "reset"  # half the body, then a TCP reset
    TRUNCATE = "truncate"  # half the body, then a clean close (short of Content-Length)
    STALL = "stall"  # half the body, then silence until the stall timeout
    STATUS = "status"  # a rule's status (and body) instead of the file
    THROTTLE = "throttle"  # the whole response, at a rule's bytes/s

    @property
    def replaces_response(self) -> bool:
        """True when the fault sends a status of its own instead of the file."""
        return self in _REPLACING

    @property
    def breaks_body(self) -> bool:
        """True when the fault cuts the body (reset, truncate, stall)."""
        return self in _BREAKING


_REPLACING = frozenset((Fault.ERROR, Fault.RATE_LIMIT, Fault.UNAVAILABLE, Fault.STATUS))
_BREAKING = frozenset((Fault.RESET, Fault.TRUNCATE, Fault.STALL))


@dataclass(frozen=True, slots=True)
class Action:
    """What one request gets: wait ``delay`` seconds, then apply ``fault``.

    The global rates set only ``delay`` and ``fault``; a rule may set the
    rest.  ``status``/``body`` replace the default error answer of a
    replacing fault (``None``: the policy's status, ``"STATUS REASON\n"``);
    ``headers`` are added to whatever response goes out; ``at`` is how many
    body bytes a body fault sends before it cuts (``None``: half the body;
    clamped to the body's size); ``rate`` paces the body at that many bytes
    per second; ``stall_timeout`` and ``retry_after`` override the policy's;
    ``rule`` names the rule that decided (``""``: the global rates).
    """

    delay: float
    fault: Fault
    status: int | None = None
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    at: int | None = None
    rate: int | None = None
    stall_timeout: float | None = None
    retry_after: int | None = None
    rule: str = ""


Decision = Action  # the name before rules existed


def seed_key(seed: int | None) -> bytes:
    """The hash key of :func:`draw` for ``seed`` (``None``: a random one)."""
    if seed is None:
        return os.urandom(32)
    return hashlib.sha256(b"awaitkit.flags:%d" % seed).digest()


def draw(key: bytes, path: str, attempt: int) -> tuple[float, float]:
    """Two uniform numbers in [0, 1) for ``attempt`` at ``path``, fixed by ``key``.

    A keyed BLAKE2b of the pair instead of a shared generator: the same
    request of the same run draws the same numbers in any arrival order.
    (The client is left out, so an address that changes between runs does
    not change the outcomes; the attempt is still counted per client.)

    >>> draw(seed_key(1), "/x", 1) == draw(seed_key(1), "/x", 1)
    True
    """
    data = f"{path}\x00{attempt}".encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(data, key=key, digest_size=16).digest()
    a, b = struct.unpack("<QQ", digest)
    return (a >> 11) * _TO_UNIT, (b >> 11) * _TO_UNIT


_TO_UNIT = 2.0**-53


def parse_delay(text: str) -> tuple[float, float]:
    """``"0.5"`` -> (0.5, 0.5); ``"0.5-5"`` -> (0.5, 5.0); raises UsageError otherwise."""
    lo_text, sep, hi_text = text.partition("-")
    try:
        lo = float(lo_text)
        hi = float(hi_text) if sep else lo
    except ValueError:
        raise UsageError(f"bad delay {text!r}: use SECONDS or MIN-MAX") from None
    return _check_delay((lo, hi))


def _check_delay(delay: tuple[float, float]) -> tuple[float, float]:
    lo, hi = delay
    if not (math.isfinite(lo) and math.isfinite(hi)) or not 0 <= lo <= hi <= 3600:
        raise UsageError(f"bad delay {lo}-{hi}: need 0 <= MIN <= MAX <= 3600")
    return (lo, hi)


_RATE_FIELDS = (
    ("error_rate", Fault.ERROR),
    ("rate_limit_rate", Fault.RATE_LIMIT),
    ("unavailable_rate", Fault.UNAVAILABLE),
    ("reset_rate", Fault.RESET),
    ("truncate_rate", Fault.TRUNCATE),
    ("stall_rate", Fault.STALL),
)


@dataclass(frozen=True, slots=True)
class Policy:
    """Delays and fault rates of a server; every rate is a probability in [0, 1].

    >>> policy = Policy(delay=(0.5, 0.5), error_rate=0.25)
    >>> rng = random.Random(3)
    >>> [policy.decide(rng).fault.value for _ in range(2)]
    ['error', 'none']
    """

    delay: tuple[float, float] = (0.0, 0.0)
    error_rate: float = 0.0
    error_status: int = 418
    rate_limit_rate: float = 0.0
    unavailable_rate: float = 0.0
    reset_rate: float = 0.0
    truncate_rate: float = 0.0
    stall_rate: float = 0.0
    retry_after: int = 1  # seconds, sent with 429 and 503
    stall_timeout: float = 30.0  # how long a stalled response holds the connection

    def __post_init__(self) -> None:
        _check_delay(self.delay)
        total = 0.0
        for name, _ in _RATE_FIELDS:
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise UsageError(
                    f"{name.replace('_', '-')} must be in [0, 1], not {rate}"
                )
            total += rate
        if total > 1.0 + 1e-9:
            raise UsageError(f"fault rates add up to {total:g}, more than 1")
        if not 400 <= self.error_status <= 599:
            raise UsageError(f"error status must be 400..599, not {self.error_status}")
        if self.retry_after < 0:
            raise UsageError("retry-after must be >= 0")
        if not self.stall_timeout > 0:
            raise UsageError("stall timeout must be > 0")

    @property
    def is_faultless(self) -> bool:
        """True when no request is ever delayed or faulted (the fast path)."""
        return self.delay == (0.0, 0.0) and all(
            getattr(self, name) == 0.0 for name, _ in _RATE_FIELDS
        )

    def decide(self, rng: random.Random) -> Action:
        """Draw the delay and fault of the next request from ``rng`` (two draws, always)."""
        return self.decide_from(rng.random(), rng.random())

    def decide_at(self, key: bytes, path: str, attempt: int) -> Action:
        """The delay and fault of ``attempt`` at ``path``, drawn with :func:`draw`."""
        return self.decide_from(*draw(key, path, attempt))

    def decide_from(self, pick: float, spread: float) -> Action:
        """The outcome for two uniform numbers: ``pick`` the fault, ``spread`` the delay."""
        lo, hi = self.delay
        delay = lo + (hi - lo) * spread
        edge = 0.0
        for name, fault in _RATE_FIELDS:
            edge += getattr(self, name)
            if pick < edge:
                return Action(delay, fault)
        return Action(delay, Fault.NONE)

    def with_options(self, **options: Any) -> Policy:
        """A copy with some fields replaced; ``delay`` may be a number or ``"MIN-MAX"``."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise UsageError(f"unknown fault option(s): {', '.join(unknown)}")
        delay = options.get("delay")
        if isinstance(delay, str):
            options["delay"] = parse_delay(delay)
        elif isinstance(delay, int | float):
            options["delay"] = _check_delay((float(delay), float(delay)))
        elif delay is not None:
            options["delay"] = _check_delay((float(delay[0]), float(delay[1])))
        return dataclasses.replace(self, **options)

    @classmethod
    def preset(cls, name: str, **options: Any) -> Policy:
        """The policy of preset ``name`` (LOCAL, DELAY, ERROR), with ``options`` applied."""
        try:
            base = PRESETS[name.upper()]
        except KeyError:
            raise UsageError(
                f"unknown preset {name!r}: choose from {', '.join(PRESETS)}"
            ) from None
        return base.with_options(**options) if options else base


# The book's labels: LOCAL (no faults), DELAY (slow), ERROR (418 teapots).
PRESETS: dict[str, Policy] = {
    "LOCAL": Policy(),
    "DELAY": Policy(delay=(0.5, 5.0)),
    "ERROR": Policy(delay=(0.5, 0.5), error_rate=0.25, error_status=418),
}
