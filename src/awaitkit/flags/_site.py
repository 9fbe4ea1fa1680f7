"""What every connection of one flags server shares: files, policy, limits, stats.

Its own module so that the connection protocol, the responder and the
server all import it, and it imports none of them: a connection only
registers itself here as something the site and the server can close.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Protocol

from awaitkit.flags._decide import FaultDecider
from awaitkit.flags._files import DirectoryFiles, MemoryFiles
from awaitkit.flags._policy import Policy
from awaitkit.flags._rules import RuleSet

__all__ = ["Closable", "Observer", "ObserverGroup", "ServerStats", "Site"]


class Closable(Protocol):
    """A connection as the site sees it: closed when idle too long, or at shutdown."""

    task: asyncio.Task[None] | None  # the response in progress, if any

    def shutdown(self) -> None:
        """Drop the connection now (the server is stopping)."""
        ...

    def close_idle(self, now: float) -> None:
        """Close the connection if it has been idle past its timeout at loop time ``now``."""
        ...


class Observer(Protocol):
    """Told of every request a connection answers (``Site.observer``).

    ``client`` is the ``X-Client-Id`` header, else the peer's IP address;
    ``path`` the target as rules match it (no query, percent-decoded);
    ``now`` loop time.  ``finished``
    comes once per ``started``: ``status`` 0 when the client went away
    before its answer; ``sent`` counts the bytes written (head included);
    ``complete`` is false when a fault cut the body; ``body_end`` is the
    offset in the file just past the last body byte sent (what a client may
    resume from); ``retry_after`` the seconds a 429/503 asked for.  A
    stalled response finishes when its partial body has been sent.
    """

    def started(
        self,
        client: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        now: float,
    ) -> None: ...

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
    ) -> None: ...


class ObserverGroup:
    """Several observers as one (the site calls one object)."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers
        # Bound once: the group runs twice per request.
        self._started = tuple(o.started for o in observers)
        self._finished = tuple(o.finished for o in observers)

    def started(
        self,
        client: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        now: float,
    ) -> None:
        for started in self._started:
            started(client, method, path, headers, now)

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
        for finished in self._finished:
            finished(
                client,
                path,
                status,
                fault,
                sent,
                complete,
                now,
                body_end=body_end,
                retry_after=retry_after,
            )


@dataclass
class ServerStats:
    """Counters a test can read while the server runs.

    ``requests`` counts requests received; ``in_flight`` those received and
    not yet answered (delayed ones included); ``max_in_flight`` its peak;
    ``by_status`` the responses sent, by status code (a response that a
    reset or truncate fault broke counts under the status it began with; a
    stalled one once its stall ends); ``by_fault`` the faults applied, by
    name (``"reset"``, ``"error"``...); ``by_rule`` the requests each rule
    decided, by rule id; ``connections`` the connections accepted.
    """

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_fault: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    connections: int = 0

    def reset(self) -> None:
        """Zero the counters; requests still in flight stay counted as such."""
        self.requests = 0
        self.max_in_flight = self.in_flight
        self.by_status.clear()
        self.by_fault.clear()
        self.by_rule.clear()
        self.connections = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-able (status codes as strings, as JSON keys must be)."""
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_fault": dict(sorted(self.by_fault.items())),
            "by_rule": dict(sorted(self.by_rule.items())),
            "connections": self.connections,
        }


class Site(FaultDecider):
    """What every connection of one server shares: files, policy, rules, limits, stats.

    Requests are decided by :class:`FaultDecider` (``fast``, ``decide``),
    as the proxy decides them.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        files: MemoryFiles | DirectoryFiles,
        policy: Policy,
        rules: RuleSet,
        *,
        max_connections: int,
        keepalive_timeout: float,
        request_timeout: float,
        max_url_bytes: int = 8 * 1024,
        max_header_bytes: int = 32 * 1024,
        max_body_bytes: int = 64 * 1024,
    ) -> None:
        self.loop = loop
        self.files = files
        # The in-memory store answers without I/O, so requests skip a task.
        self.memory_files = files if isinstance(files, MemoryFiles) else None
        self.stats = ServerStats()
        super().__init__(policy, rules, self.stats.by_rule)
        # A file's 200 header lines with a rule's headers merged, by (lines, headers).
        self.decorated: dict[tuple[bytes, tuple[tuple[str, str], ...]], bytes] = {}
        # None unless someone watches (the control API): the connection
        # then pays one attribute check per request.
        self.observer: Observer | None = None
        self.connections: set[Closable] = set()
        self.max_connections = max_connections
        self.keepalive_timeout = keepalive_timeout
        self.request_timeout = request_timeout
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.date = ""
        self.date_bytes = b""
        self.tick()

    def tick(self) -> None:
        """Refresh the cached Date header and close idle connections (once a second)."""
        self.date = formatdate(usegmt=True)
        self.date_bytes = self.date.encode("ascii")
        now = self.loop.time()
        for conn in list(self.connections):
            conn.close_idle(now)
