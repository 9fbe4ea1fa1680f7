"""What every connection of one fault proxy shares: upstream pool, policy, limits, stats.

The proxy's counterpart of :mod:`awaitkit.flags._site`; the connections
register here so the server can close idle ones and shut them all down.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate

from awaitkit.flags._decide import FaultDecider
from awaitkit.flags._policy import Policy
from awaitkit.flags._rules import RuleSet
from awaitkit.flags._site import Closable, ServerStats
from awaitkit.flags._upstream import UpstreamPool

__all__ = ["ProxySite", "ProxyStats"]


@dataclass
class ProxyStats(ServerStats):
    """:class:`ServerStats` plus ``upstream_errors``: failures by kind
    (``"refused"``, ``"reset"``, ``"closed"``, ``"garbage"``, ``"timeout"``...)."""

    upstream_errors: Counter[str] = field(default_factory=Counter)


class ProxySite(FaultDecider):
    """Shared by the connections of one proxy.

    Requests are decided by :class:`FaultDecider`, as the flags server
    decides them: the first matching rule, else the global rates drawn per
    (path, attempt), so one rule file and one seed give the same faults in
    either mode.
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
        self.stats = ProxyStats()
        super().__init__(policy, rules, self.stats.by_rule)
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

    def tick(self) -> None:
        """Refresh the Date of our own answers; close idle connections (once a second)."""
        self.date = formatdate(usegmt=True)
        now = self.loop.time()
        for conn in list(self.connections):
            conn.close_idle(now)
        self.pool.close_idle(now)
