"""Client verdicts: how each client behaved under the faults it was served (sans-I/O).

An observer of the flags server (``Site.observer``): it is fed
``started``/``finished`` events with loop times and keeps, per client (the
``X-Client-Id`` header, else the peer's IP address):

* **Retry-After**: after a 429/503 that carried ``Retry-After``, the gap
  between that response and the client's next request to the same path;
  ``honoured`` when the gap is at least the Retry-After, ``violated``
  otherwise, with the shortest gap seen.
* **resume**: after a response cut short (reset, truncate, stall) that had
  sent some body bytes, the next request to that path: ``resumed`` with a
  ``Range`` starting at or before the bytes received, ``restarted`` from 0
  (no Range, or ``bytes=0-``), or ``overshot`` (a Range past what it got).
* **after 404**: how many times it asked again for a path that was 404.
* **peak concurrency**: its most requests in flight at once.

Memory is bounded: at most ``max_clients`` clients (later ones are pooled
under ``"other"``) and ``max_paths`` pending paths per client (the oldest
are forgotten).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ClientVerdict", "Verdicts"]

_CUT_FAULTS = frozenset({"reset", "truncate", "stall"})
_RANGE_START = re.compile(r"\s*bytes\s*=\s*([0-9]+)\s*-")
OTHER = "other"


@dataclass(slots=True)
class ClientVerdict:
    """What one client did (see the module docstring)."""

    requests: int = 0
    in_flight: int = 0
    peak_concurrency: int = 0
    retry_after_honoured: int = 0
    retry_after_violated: int = 0
    shortest_retry_gap: float | None = None
    cuts: int = 0
    resumed: int = 0
    restarted: int = 0
    overshot: int = 0
    not_found_rerequests: int = 0
    # path -> (loop time of the 429/503, its Retry-After)
    waiting: dict[str, tuple[float, float]] = field(default_factory=dict)
    # path -> body bytes the client holds after a cut
    cut_at: dict[str, int] = field(default_factory=dict)
    not_found: dict[str, None] = field(default_factory=dict)  # an ordered set

    def to_dict(self) -> dict[str, object]:
        """JSON-able, as ``GET /verdicts`` shows it."""
        gap = self.shortest_retry_gap
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "peak_concurrency": self.peak_concurrency,
            "retry_after": {
                "honoured": self.retry_after_honoured,
                "violated": self.retry_after_violated,
                "shortest_gap": None if gap is None else round(gap, 4),
                "waiting": len(self.waiting),
            },
            "resume": {
                "cuts": self.cuts,
                "resumed": self.resumed,
                "restarted": self.restarted,
                "overshot": self.overshot,
                "waiting": len(self.cut_at),
            },
            "not_found_rerequests": self.not_found_rerequests,
        }


def range_start(headers: Mapping[str, str]) -> int | None:
    """The first byte a ``Range`` header asks for, or None (no or odd Range).

    >>> range_start({"range": "bytes=500-"})
    500
    >>> range_start({"range": "bytes=-500"}) is None
    True
    """
    value = headers.get("range")
    if value is None:
        return None
    match = _RANGE_START.match(value)
    return int(match.group(1)) if match else None


def _remember(pending: dict[str, Any], limit: int) -> None:
    """Keep ``pending`` under ``limit`` entries by forgetting the oldest."""
    while len(pending) > limit:
        del pending[next(iter(pending))]


class Verdicts:
    """Per-client verdicts, fed by the server's observer events."""

    def __init__(
        self,
        *,
        max_clients: int = 10_000,
        max_paths: int = 1_000,
        tolerance: float = 0.0,
    ) -> None:
        self.max_clients = max_clients
        self.max_paths = max_paths
        # Seconds of slack on Retry-After (timer granularity of a client).
        self.tolerance = tolerance
        self.clients: dict[str, ClientVerdict] = {}

    def _client(self, client: str) -> ClientVerdict:
        verdict = self.clients.get(client)
        if verdict is None:
            if len(self.clients) >= self.max_clients:
                client = OTHER
                verdict = self.clients.get(OTHER)
            if verdict is None:
                verdict = self.clients[client] = ClientVerdict()
        return verdict

    def started(
        self,
        client: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        now: float,
    ) -> None:
        """A request arrived: judge it against what this client was last told."""
        v = self._client(client)
        v.requests += 1
        v.in_flight += 1
        if v.in_flight > v.peak_concurrency:
            v.peak_concurrency = v.in_flight
        waiting = v.waiting.pop(path, None)
        if waiting is not None:
            when, retry_after = waiting
            gap = now - when
            if gap + self.tolerance >= retry_after:
                v.retry_after_honoured += 1
            else:
                v.retry_after_violated += 1
            if v.shortest_retry_gap is None or gap < v.shortest_retry_gap:
                v.shortest_retry_gap = gap
        held = v.cut_at.pop(path, None)
        if held is not None:
            start = range_start(headers)
            if start is None or start == 0:
                v.restarted += 1
            elif start <= held:
                v.resumed += 1
            else:
                v.overshot += 1
        if path in v.not_found:
            v.not_found_rerequests += 1

    def finished(
        self,
        client: str,
        path: str,
        status: int,
        fault: str,
        sent: int,
        complete: bool,
        now: float,
        *,
        body_end: int = 0,
        retry_after: float | None = None,
    ) -> None:
        """A response ended (or was dropped): remember what the client must do next."""
        v = self._client(client)
        v.in_flight = max(0, v.in_flight - 1)
        if status == 0:
            return  # the client left before its answer: nothing to judge next
        if retry_after is not None and status in (429, 503):
            v.waiting[path] = (now, retry_after)
            _remember(v.waiting, self.max_paths)
        if not complete and fault in _CUT_FAULTS and body_end > 0:
            v.cuts += 1
            v.cut_at[path] = body_end
            _remember(v.cut_at, self.max_paths)
        if status == 404:
            v.not_found[path] = None
            _remember(v.not_found, self.max_paths)
        else:
            v.not_found.pop(path, None)

    def reset(self) -> None:
        """Forget every client."""
        self.clients.clear()

    def report(self) -> dict[str, dict[str, object]]:
        """Every client's verdict, JSON-able."""
        return {client: v.to_dict() for client, v in self.clients.items()}
