"""What every connection of one fault proxy shares: upstream pool, policy, limits, stats.

The proxy's counterpart of :mod:`awaitkit.flags._site`; the connections
register here so the server can close idle ones and shut them all down.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate

from awaitkit.flags._policy import Action, Policy
from awaitkit.flags._rules import RuleSet, request_path
from awaitkit.flags._site import NO_FAULT, Closable, ServerStats
from awaitkit.flags._upstream import UpstreamPool

__all__ = ["ProxySite", "ProxyStats"]


@dataclass
class ProxyStats(ServerStats):
    """:class:`ServerStats` plus ``upstream_errors``: failures by kind
    (``"refused"``, ``"reset"``, ``"closed"``, ``"garbage"``, ``"timeout"``...)."""

    upstream_errors: Counter[str] = field(default_factory=Counter)


class ProxySite:
    """Shared by the connections of one proxy.

    Requests are decided as the flags server decides them (``Site.decide``):
    the first matching rule, else the global rates drawn per (path, attempt),
    so one rule file and one seed give the same faults in either mode.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pool: UpstreamPool,
        policy: Policy,
        rules: RuleSet,
        *,
        max_connections: int,
        keepalive_timeout: float,
        request_timeout: float,
        cut_after: int,
        max_url_bytes: int = 8 * 1024,
        max_header_bytes: int = 32 * 1024,
        max_body_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.loop = loop
        self.pool = pool
        self.policy = policy
        self.faultless = policy.is_faultless
        self.rules = rules
        self.fast = self.faultless and not rules
        rules.subscribe(self._rules_changed)
        self.stats = ProxyStats()
        self.connections: set[Closable] = set()
        self.max_connections = max_connections
        self.keepalive_timeout = keepalive_timeout
        self.request_timeout = request_timeout
        self.cut_after = cut_after
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.date = ""
        self.tick()

    def close(self) -> None:
        """Stop following the rule set (it may outlive this proxy)."""
        self.rules.unsubscribe(self._rules_changed)

    def _rules_changed(self) -> None:
        self.fast = self.faultless and not self.rules

    def decide(
        self, method: bytes, target: bytes, headers: Mapping[str, str], client_ip: str
    ) -> Action:
        """What one request gets: the first matching rule, else the global rates."""
        rules = self.rules
        client = headers.get("x-client-id") or client_ip
        path = request_path(target)
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
        """Refresh the Date of our own answers; close idle connections (once a second)."""
        self.date = formatdate(usegmt=True)
        now = self.loop.time()
        for conn in list(self.connections):
            conn.close_idle(now)
        self.pool.close_idle(now)
