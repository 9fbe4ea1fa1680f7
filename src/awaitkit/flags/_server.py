"""``FlagsServer`` and ``serving_flags``: the flags data set over HTTP, with faults.

Bind first, then serve (the port is known before anyone connects); the data
set is built in a worker thread the first time a process needs it and kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias

from awaitkit.core import bind_tcp
from awaitkit.flags._files import DirectoryFiles, MemoryFiles
from awaitkit.flags._policy import Policy
from awaitkit.flags._protocol import HttpConnection
from awaitkit.flags._rulefile import load_rules
from awaitkit.flags._rules import Rule, RuleError, RuleSet
from awaitkit.flags._site import ServerStats, Site

__all__ = ["FlagsServer", "RulesArg", "serving_flags"]

RulesArg: TypeAlias = (
    "RuleSet | Iterable[Rule | Mapping[str, object]] | str | os.PathLike[str] | None"
)

_BACKLOG = 4096


def _memory_files() -> MemoryFiles:
    """The built-in data set, held in memory: for a worker thread, since its
    import, its disk reads (or its drawing, on a first run) and its headers
    would each hold the loop."""
    from awaitkit.flags._dataset import build_dataset

    return MemoryFiles(build_dataset())


class FlagsServer:
    """The flags HTTP server as an async context manager.

    Example use::

        async with FlagsServer("ERROR", seed=1) as server:
            url = f"{server.base_url}/flags/br/br.gif"
            ...
            print(server.stats.by_status[418])

    ``preset`` is LOCAL, DELAY or ERROR; ``fault_options`` override fields of
    :class:`Policy` (``delay="0.5-1"``, ``error_rate=0.1``, ``reset_rate=...``).
    ``directory`` serves that directory instead of the in-memory data set.

    ``rules`` is a :class:`RuleSet` (kept, so it can change while serving:
    ``server.rules.add(...)``), a list of rules or their dicts, or the path
    of a TOML/JSON rule file (read in a thread at start).  The first
    matching rule decides a request; requests no rule matches get the
    global rates.  With ``seed``, rates and jitter are drawn per (path,
    attempt) and repeat exactly; a given RuleSet is reseeded with it.
    """

    def __init__(
        self,
        preset: str = "LOCAL",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        directory: Path | str | None = None,
        seed: int | None = None,
        max_connections: int = 10_000,
        keepalive_timeout: float = 15.0,
        request_timeout: float = 30.0,
        sock: socket.socket | None = None,
        rules: RulesArg = None,
        **fault_options: Any,
    ) -> None:
        self.policy = Policy.preset(preset, **fault_options)
        self._rules_file: Path | None = None
        if rules is None:
            self.rules = RuleSet(seed=seed)
        elif isinstance(rules, RuleSet):
            self.rules = rules
            if seed is not None:
                rules.reseed(seed)
        elif isinstance(rules, Mapping):
            raise RuleError(
                "rules= takes a list of rules (or a RuleSet or a path), not one"
            )
        elif isinstance(rules, str | os.PathLike):
            self._rules_file = Path(rules)
            self.rules = RuleSet(seed=seed)  # filled at start
        else:
            self.rules = RuleSet(rules, seed=seed)
        self.preset = preset.upper()
        self.host = host
        self.port = port
        self.directory = Path(directory) if directory is not None else None
        self.seed = seed
        self.max_connections = max_connections
        self.keepalive_timeout = keepalive_timeout
        self.request_timeout = request_timeout
        self._sock = sock
        self._server: asyncio.AbstractServer | None = None
        self._site: Site | None = None
        self._ticker: asyncio.TimerHandle | None = None
        self.base_url = ""

    def __repr__(self) -> str:
        state = self.base_url or "not started"
        conns = len(self._site.connections) if self._site else 0
        return f"<FlagsServer {self.preset} {state} connections={conns}>"

    @property
    def stats(self) -> ServerStats:
        """Live counters (requests, in_flight, max_in_flight, by_status)."""
        if self._site is None:
            raise RuntimeError("the server is not running")
        return self._site.stats

    async def start(self) -> None:
        """Build or load the files, bind, and start accepting connections."""
        loop = asyncio.get_running_loop()
        files: MemoryFiles | DirectoryFiles
        if self.directory is not None:
            files = DirectoryFiles(self.directory)
        else:
            files = await asyncio.to_thread(_memory_files)
        if self._rules_file is not None:
            loaded = await asyncio.to_thread(load_rules, self._rules_file)
            for rule in loaded.rules():
                self.rules.add(rule)
            self._rules_file = None
        self._site = site = Site(
            loop,
            files,
            self.policy,
            self.rules,
            max_connections=self.max_connections,
            keepalive_timeout=self.keepalive_timeout,
            request_timeout=self.request_timeout,
        )
        sock = self._sock or bind_tcp(self.host, self.port, backlog=_BACKLOG)
        # create_server listens again with its own backlog (default 100, too
        # few for a thousand clients connecting at once): pass ours.
        self._server = await loop.create_server(
            lambda: HttpConnection(site), sock=sock, backlog=_BACKLOG
        )
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}"
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        site = self._site
        assert site is not None
        interval = min(1.0, site.keepalive_timeout / 4, site.request_timeout / 4)
        site.tick()
        self._ticker = site.loop.call_later(interval, self._schedule_tick)

    async def close(self) -> None:
        """Stop accepting, drop every connection (stalled ones too), and wait."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = []
        if self._site is not None:
            for conn in list(self._site.connections):
                if conn.task is not None:
                    tasks.append(conn.task)
                    conn.task.cancel()
                conn.shutdown()
        # File reads in flight (directory mode) end before we return.
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
        if self._site is not None:
            self._site.close()

    async def __aenter__(self) -> FlagsServer:
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
async def serving_flags(
    preset: str = "LOCAL",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    directory: Path | str | None = None,
    seed: int | None = None,
    rules: RulesArg = None,
    **fault_options: Any,
) -> AsyncIterator[str]:
    """Serve the flags data set in-process; yield its base URL.

    Example::

        async with serving_flags("DELAY", delay=0.5) as base_url:
            # GET f"{base_url}/flags/br/br.gif" -> 200 after 0.5 s
            ...

        rules = [{"path": "/flags/*", "schedule": ["503", "reset@1000", "200"]}]
        async with serving_flags(rules=rules) as base_url:
            ...  # each path: 503, then a reset after 1000 body bytes, then 200s
    """
    async with FlagsServer(
        preset,
        host=host,
        port=port,
        directory=directory,
        seed=seed,
        rules=rules,
        **fault_options,
    ) as server:
        yield server.base_url
