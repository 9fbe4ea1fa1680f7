"""Mojifinder over TCP: a small asyncio stream handler around :class:`Session`.

The protocol lives in :mod:`awaitkit.servers._protocol`; this module only
moves bytes, and bounds every resource a client could hold:

* a cap on concurrent clients (the excess get one ``busy`` line and are closed);
* an idle timeout (one re-arming timer per session, not one per read);
* every write is followed by ``drain()`` under a timeout, and a client that
  does not read in time is aborted, which drops its buffered output: a client
  that never reads cannot grow the server's memory;
* input is read in bounded chunks and only after the previous reply drained,
  so a client pipelining queries is throttled by its own reading speed.

Example use::

    index = load_index()                      # before the loop: it is synchronous
    sock = bind_tcp("127.0.0.1", 2323)
    async with TcpServer(index, sock) as server:
        print(server)                         # <TcpServer 127.0.0.1:2323 clients=0>
        await stop.wait()
    # leaving the block stops accepting and closes every session gracefully
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from awaitkit.core import QueryError, format_hostport
from awaitkit.servers._logging import log_at
from awaitkit.servers._protocol import (
    BUSY,
    CRLF,
    MAX_LINE,
    PAGE_SIZE,
    Reply,
    Search,
    Session,
)
from awaitkit.servers._search import CachedSearch

if TYPE_CHECKING:
    from awaitkit.find import CharIndex, QueryResult

__all__ = ["TcpServer"]

log = logging.getLogger("awaitkit.servers.tcp")
_QUERY_SITE = (__file__, "_converse")  # where the per-query line is logged

_READ_SIZE = 64 * 1024
_BURST = 16
_IDLE_BYE = b"\r\nidle timeout, bye" + CRLF
_SHUTDOWN_BYE = b"\r\nserver shutting down, bye" + CRLF


@dataclass(slots=True)
class _Client:
    """One open session, as the server tracks it."""

    where: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle: bool = False  # waiting for input: safe to end at once
    queries: int = 0
    last_input: float = 0.0  # loop time of the last read


class _IdleWatchdog:
    """Ends a session silent for ``timeout`` seconds.

    One timer per idle period rather than an ``asyncio.timeout()`` around
    every read (two timer handles per query): when the timer fires early
    because input came meanwhile, it re-arms for the remaining time.  On
    expiry it wakes the pending read with EOF and sets ``fired``.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, client: _Client, timeout: float
    ) -> None:
        self.loop = loop
        self.client = client
        self.timeout = timeout
        self.fired = False
        client.last_input = loop.time()
        self._handle = loop.call_at(client.last_input + timeout, self._check)

    def _check(self) -> None:
        deadline = self.client.last_input + self.timeout
        if self.client.idle and self.loop.time() >= deadline:
            self.fired = True
            self.client.reader.feed_eof()
        else:
            # Busy answering, or input arrived meanwhile: look again later.
            self._handle = self.loop.call_at(
                max(deadline, self.loop.time() + min(1.0, self.timeout)), self._check
            )

    def cancel(self) -> None:
        """Stop watching (the session is over)."""
        self._handle.cancel()


class TcpServer:
    """The Mojifinder TCP server, serving ``index`` on an already listening socket.

    Use it as an async context manager: entering starts accepting, leaving
    stops accepting, lets sessions in the middle of a reply finish it (for at
    most ``write_timeout`` seconds) and closes the rest.
    """

    def __init__(
        self,
        index: CharIndex | CachedSearch,
        sock: socket.socket,
        *,
        max_clients: int = 512,
        idle_timeout: float = 300.0,
        write_timeout: float = 10.0,
        page_size: int = PAGE_SIZE,
        max_line: int = MAX_LINE,
    ) -> None:
        # Share one CachedSearch with the web app when both run in one process.
        self.search = index if isinstance(index, CachedSearch) else CachedSearch(index)
        self.sock = sock
        self.max_clients = max_clients
        self.idle_timeout = idle_timeout
        self.write_timeout = write_timeout
        self.page_size = page_size
        self.max_line = max_line
        self.host, self.port = sock.getsockname()[:2]
        self._server: asyncio.Server | None = None
        self._sessions: dict[asyncio.Task[None], _Client] = {}
        self._rendered: dict[tuple[str, int, int], Reply] = {}
        self.closing = False
        self.queries = 0
        # Largest unsent output seen for one client: what a slow reader costs us.
        self.max_write_buffer = 0

    def __repr__(self) -> str:
        state = " closing" if self.closing else ""
        where = format_hostport(self.host, self.port)
        return f"<TcpServer {where} clients={len(self._sessions)}{state}>"

    @property
    def clients(self) -> int:
        """How many sessions are open right now."""
        return len(self._sessions)

    async def __aenter__(self) -> TcpServer:
        self._server = await asyncio.start_server(
            self._handle, sock=self.sock, limit=_READ_SIZE
        )
        log.info("Mojifinder TCP serving on %s", format_hostport(self.host, self.port))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop accepting, then end every session (idle ones at once).

        Sessions are never cancelled: Python 3.11's stream callback logs a
        cancelled handler as an error.  An idle session is woken with EOF on
        its reader; a busy one finishes its reply, then sees ``closing``; one
        still stuck after ``write_timeout`` is aborted.
        """
        if self._server is None:
            return
        self.closing = True
        self._server.close()
        for client in self._sessions.values():
            if client.idle:
                client.reader.feed_eof()
        if self._sessions:
            _, pending = await asyncio.wait(
                list(self._sessions), timeout=self.write_timeout + 1
            )
            for task in pending:
                self._sessions[task].writer.transport.abort()
            if pending:
                await asyncio.wait(pending, timeout=5)
        await self._server.wait_closed()
        self._server = None

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername")
        where = format_hostport(*peer[:2]) if peer else "?"
        if len(self._sessions) >= self.max_clients or self.closing:
            log.info("busy: refused %s (clients=%d)", where, len(self._sessions))
            writer.write(BUSY)
            writer.close()  # close() still flushes the one short line
            return
        task = asyncio.current_task()
        assert task is not None
        client = self._sessions[task] = _Client(where, reader, writer)
        log.info("connect %s (clients=%d)", where, len(self._sessions))
        reason = "cancelled"
        try:
            reason = await self._converse(client)
        except ConnectionError as exc:
            reason = f"connection lost ({type(exc).__name__})"
        finally:
            del self._sessions[task]
            writer.close()
            log.info("close %s after %d queries: %s", where, client.queries, reason)

    async def _converse(self, client: _Client) -> str:
        """Run one session; return why it ended."""
        reader, writer = client.reader, client.writer
        session = Session(
            page_size=self.page_size, max_line=self.max_line, rendered=self._rendered
        )
        if not await self._send(writer, session.greeting()):
            return "write timeout: client not reading"
        loop = asyncio.get_running_loop()
        watchdog = _IdleWatchdog(loop, client, self.idle_timeout)
        try:
            while not self.closing:
                client.idle = True
                data = await reader.read(_READ_SIZE)
                client.idle = False
                client.last_input = loop.time()
                if watchdog.fired:
                    writer.write(_IDLE_BYE)
                    return "idle timeout"
                if self.closing:
                    break  # woken by aclose(), or input arriving as we shut down
                session.feed(data)
                burst = 0
                while (event := session.next_event()) is not None:
                    burst += 1
                    if burst % _BURST == 0:
                        # Pipelined queries answered from cache never make drain()
                        # wait while the kernel takes the bytes: let others run.
                        await asyncio.sleep(0)
                    reply = event
                    if isinstance(event, Search):
                        # A cache hit needs no coroutine; a miss runs in a thread.
                        outcome = self.search.cached(
                            event.query, event.limit, event.offset
                        ) or await self._run(event)
                        reply = session.answer(event, outcome)
                    assert isinstance(reply, Reply)
                    if reply.query is not None:
                        client.queries += 1
                        self.queries += 1
                        log_at(
                            log,
                            _QUERY_SITE,
                            logging.INFO,
                            "%s query %r: %s found",
                            client.where,
                            reply.query,
                            reply.found,
                        )
                    if reply.data:
                        writer.write(reply.data)
                        # Most replies fit in the socket buffer: then no coroutine.
                        if writer.transport.get_write_buffer_size() and not (
                            await self._drain(writer)
                        ):
                            return "write timeout: client not reading"
                    if reply.close:
                        return "client quit" if data else "EOF"
        finally:
            watchdog.cancel()
        writer.write(_SHUTDOWN_BYE)
        return "server shutdown"

    async def _run(self, search: Search) -> QueryResult | QueryError:
        try:
            return await self.search.query(
                search.query, limit=search.limit, offset=search.offset
            )
        except QueryError as exc:
            return exc

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> bool:
        """Write and drain within ``write_timeout``; on timeout abort the connection."""
        writer.write(data)
        if not writer.transport.get_write_buffer_size():
            return True  # the kernel took it all: nothing to wait for
        return await self._drain(writer)

    async def _drain(self, writer: asyncio.StreamWriter) -> bool:
        """Drain within ``write_timeout``; on timeout abort the connection."""
        buffered = writer.transport.get_write_buffer_size()
        if buffered > self.max_write_buffer:
            self.max_write_buffer = buffered
        try:
            async with asyncio.timeout(self.write_timeout):
                await writer.drain()
        except TimeoutError:
            # abort() drops the unsent bytes at once; close() would keep them.
            writer.transport.abort()
            return False
        return True
