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

from awaitkit.flags._files import DirectoryFiles, MemoryFiles
from awaitkit.flags._policy import Action, Fault, Policy
from awaitkit.flags._rules import RuleSet, request_path

__all__ = ["Closable", "ServerStats", "Site"]


class Closable(Protocol):
    """A connection as the site sees it: closed when idle too long, or at shutdown."""

    task: asyncio.Task[None] | None  # the response in progress, if any

    def shutdown(self) -> None:
        """Drop the connection now (the server is stopping)."""
        ...

    def close_idle(self, now: float) -> None:
        """Close the connection if it has been idle past its timeout at loop time ``now``."""
        ...


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


NO_FAULT = Action(0.0, Fault.NONE)


class Site:
    """What every connection of one server shares: files, policy, rules, limits, stats.

    ``fast`` is True while no request can be delayed or faulted (no rates,
    no rules): connections then skip :meth:`decide`, attempt counting
    included.  The rule set tells the site when it changes.
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
        self.policy = policy
        self.faultless = policy.is_faultless
        self.rules = rules
        self._paths: dict[bytes, str] = {}  # request target -> the path rules match
        # A file's 200 header lines with a rule's headers merged, by (lines, headers).
        self.decorated: dict[tuple[bytes, tuple[tuple[str, str], ...]], bytes] = {}
        self.fast = self.faultless and not rules
        rules.subscribe(self._rules_changed)
        self.stats = ServerStats()
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

    def close(self) -> None:
        """Stop following the rule set (it may outlive this server)."""
        self.rules.unsubscribe(self._rules_changed)

    def _rules_changed(self) -> None:
        self.fast = self.faultless and not self.rules

    def decide(
        self, method: bytes, target: bytes, headers: Mapping[str, str], peer_ip: str
    ) -> Action:
        """What one request gets: the first matching rule, else the global rates.

        The attempt of (client, path) is counted for both, so the rates too
        are drawn per (path, attempt) and repeat under any concurrency.
        """
        rules = self.rules
        client = headers.get("x-client-id") or peer_ip
        paths = self._paths
        path = paths.get(target)
        if path is None:
            path = request_path(target)
            if len(target) <= 512:
                if len(paths) >= 4096:
                    paths.clear()
                paths[target] = path
        attempt = rules.count(client, path)
        if rules:
            method_text = method.decode("latin-1")
            action = rules.decide(client, method_text, path, headers, attempt=attempt)
            if action is not None:
                self.stats.by_rule[action.rule] += 1
                return action
        if self.faultless:
            return NO_FAULT
        return self.policy.decide_at(rules.key, path, attempt)

    def tick(self) -> None:
        """Refresh the cached Date header and close idle connections (once a second)."""
        self.date = formatdate(usegmt=True)
        self.date_bytes = self.date.encode("ascii")
        now = self.loop.time()
        for conn in list(self.connections):
            conn.close_idle(now)
