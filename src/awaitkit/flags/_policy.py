"""The fault policy: which delay and which fault each request gets (sans-I/O).

A :class:`Policy` is a frozen dataclass; :meth:`Policy.decide` draws exactly
two numbers from the random generator it is given, whatever the outcome, so
a seeded generator yields the same sequence of decisions for the same
sequence of requests.  The server draws once per request in arrival order;
with concurrent clients that order depends on scheduling, so a seed fixes the
sequence of faults, not which connection gets which.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import random
from dataclasses import dataclass
from typing import Any

from awaitkit.core.errors import UsageError

__all__ = ["PRESETS", "Decision", "Fault", "Policy", "parse_delay"]


class Fault(enum.Enum):
    """What goes wrong with one response (``NONE``: nothing)."""

    NONE = "none"
    ERROR = "error"  # the error status (418 by default) instead of the file
    RATE_LIMIT = "rate-limit"  # 429 Too Many Requests with Retry-After
    UNAVAILABLE = "unavailable"  # 503 Service Unavailable with Retry-After
    RESET = "reset"  # half the body, then a TCP reset
    TRUNCATE = "truncate"  # half the body, then a clean close (short of Content-Length)
    STALL = "stall"  # half the body, then silence until the stall timeout

    @property
    def replaces_response(self) -> bool:
        """True when the fault sends an error status instead of the file."""
        return self in (Fault.ERROR, Fault.RATE_LIMIT, Fault.UNAVAILABLE)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one draw: wait ``delay`` seconds, then apply ``fault``."""

    delay: float
    fault: Fault


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

    def decide(self, rng: random.Random) -> Decision:
        """Draw the delay and fault of the next request from ``rng`` (two draws, always)."""
        pick = rng.random()
        spread = rng.random()
        lo, hi = self.delay
        delay = lo + (hi - lo) * spread
        edge = 0.0
        for name, fault in _RATE_FIELDS:
            edge += getattr(self, name)
            if pick < edge:
                return Decision(delay, fault)
        return Decision(delay, Fault.NONE)

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
