"""``FaultProxy`` and ``serving_proxy``: the flags server's faults in front of any HTTP server.

::

    async with FaultProxy("http://127.0.0.1:8080", reset_rate=0.1, seed=1) as proxy:
        ...  # GET f"{proxy.base_url}/any/path": the upstream's answer, 1 in 10 reset
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any

from awaitkit.core import bind_tcp
from awaitkit.core.errors import UsageError
from awaitkit.flags._forward import Upstream, parse_upstream
from awaitkit.flags._policy import Policy
from awaitkit.flags._proxy import ProxyConnection
from awaitkit.flags._proxy_site import ProxySite, ProxyStats
from awaitkit.flags._rulefile import load_rules
from awaitkit.flags._rules import RuleSet
from awaitkit.flags._server import RulesArg
from awaitkit.flags._upstream import UpstreamPool

__all__ = ["FaultProxy", "serving_proxy"]

_BACKLOG = 4096


class FaultProxy:
    """A reverse proxy to ``upstream`` (``http://host:port``) that injects faults.

    ``preset`` and ``fault_options`` are those of :class:`FlagsServer`
    (``delay="0.5-1"``, ``error_rate``, ``reset_rate``, ``truncate_rate``,
    ``stall_rate``...).  Status faults are answered without asking the
    upstream; body faults cut the upstream's response at half its
    Content-Length, or after ``cut_after`` body bytes when it has none.
    ``upstream_connections`` caps the keep-alive pool; an upstream silent for
    ``upstream_timeout`` seconds gets the client a 504 (502 when it refuses,
    resets or answers garbage).

    ``rules`` are those of :class:`FlagsServer` (a :class:`RuleSet`, a list
    of rules or dicts, or a TOML/JSON file): a rule's status is answered by
    the proxy, its delay, body cut (``reset@N``...), stall, bytes/s limit and
    headers apply to the upstream's response.
    """

    def __init__(
        self,
        upstream: str,
        preset: str = "LOCAL",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        max_connections: int = 10_000,
        keepalive_timeout: float = 15.0,
        request_timeout: float = 30.0,
        upstream_connections: int = 100,
        upstream_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        cut_after: int = 1024,
        max_body_bytes: int = 8 * 1024 * 1024,
        sock: socket.socket | None = None,
        rules: RulesArg = None,
        **fault_options: Any,
    ) -> None:
        self.upstream: Upstream = parse_upstream(upstream)
        self.policy = Policy.preset(preset, **fault_options)
        self._rules_file: Path | None = None
        if rules is None:
            self.rules = RuleSet(seed=seed)
        elif isinstance(rules, RuleSet):
            self.rules = rules
            if seed is not None:
                rules.reseed(seed)
        elif isinstance(rules, str | os.PathLike):
            self._rules_file = Path(rules)
            self.rules = RuleSet(seed=seed)  # filled at start
        else:
            self.rules = RuleSet(rules, seed=seed)
        self.preset = preset.upper()
        for name, value in (
            ("upstream connections", upstream_connections),
            ("cut-after", cut_after),
            ("max body bytes", max_body_bytes),
            ("max connections", max_connections),
        ):
            if value < 1:
                raise UsageError(f"{name} must be >= 1, not {value}")
        for name, seconds in (
            ("upstream timeout", upstream_timeout),
            ("connect timeout", connect_timeout),
            ("keep-alive timeout", keepalive_timeout),
            ("request timeout", request_timeout),
        ):
            if not seconds > 0:
                raise UsageError(f"{name} must be > 0, not {seconds}")
        self.host = host
        self.port = port
        self.seed = seed
        self.max_connections = max_connections
        self.keepalive_timeout = keepalive_timeout
        self.request_timeout = request_timeout
        self.upstream_connections = upstream_connections
        self.upstream_timeout = upstream_timeout
        self.connect_timeout = connect_timeout
        self.cut_after = cut_after
        self.max_body_bytes = max_body_bytes
        self._sock = sock
        self._server: asyncio.AbstractServer | None = None
        self._site: ProxySite | None = None
        self._ticker: asyncio.TimerHandle | None = None
        self.base_url = ""

    def __repr__(self) -> str:
        state = self.base_url or "not started"
        return f"<FaultProxy {state} -> {self.upstream.url}>"

    @property
    def stats(self) -> ProxyStats:
        """Live counters (requests, by_status, by_fault, upstream_errors...)."""
        return self._running().stats

    @property
    def pool(self) -> UpstreamPool:
        """The upstream connection pool (``count`` open, ``idle`` kept)."""
        return self._running().pool

    @property
    def connections(self) -> int:
        """Client connections open now."""
        return len(self._running().connections)

    def _running(self) -> ProxySite:
        if self._site is None:
            raise RuntimeError("the proxy is not running")
        return self._site

    async def start(self) -> None:
        """Bind and start accepting connections (the upstream is dialled on demand)."""
        loop = asyncio.get_running_loop()
        if self._rules_file is not None:
            loaded = await asyncio.to_thread(load_rules, self._rules_file)
            for rule in loaded.rules():
                self.rules.add(rule)
            self._rules_file = None
        pool = UpstreamPool(
            loop,
            self.upstream,
            limit=self.upstream_connections,
            connect_timeout=self.connect_timeout,
            read_timeout=self.upstream_timeout,
            idle_timeout=self.keepalive_timeout,
        )
        self._site = site = ProxySite(
            loop,
            pool,
            self.policy,
            self.rules,
            max_connections=self.max_connections,
            keepalive_timeout=self.keepalive_timeout,
            request_timeout=self.request_timeout,
            cut_after=self.cut_after,
            max_body_bytes=self.max_body_bytes,
        )
        sock = self._sock or bind_tcp(self.host, self.port, backlog=_BACKLOG)
        self._server = await loop.create_server(
            lambda: ProxyConnection(site), sock=sock, backlog=_BACKLOG
        )
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}"
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        site = self._running()
        interval = min(1.0, site.keepalive_timeout / 4, site.request_timeout / 4)
        site.tick()
        self._ticker = site.loop.call_later(interval, self._schedule_tick)

    async def close(self) -> None:
        """Stop accepting, drop every client and upstream connection, and wait."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = []
        site = self._site
        if site is not None:
            site.pool.close()
            for conn in list(site.connections):
                if conn.task is not None:
                    tasks.append(conn.task)
                    conn.task.cancel()
                conn.shutdown()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
        if site is not None:
            site.close()

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def serving_proxy(
    upstream: str,
    preset: str = "LOCAL",
    *,
    seed: int | None = None,
    rules: RulesArg = None,
    **fault_options: Any,
) -> AsyncIterator[str]:
    """Run a :class:`FaultProxy` to ``upstream`` in-process; yield its base URL."""
    async with FaultProxy(
        upstream, preset, seed=seed, rules=rules, **fault_options
    ) as proxy:
        yield proxy.base_url
