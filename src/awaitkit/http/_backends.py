"""Network backends: how the client opens a connection, and a scripted one for tests.

The client's only contact with the network is :meth:`NetworkBackend.connect`:
open a stream to ``host:port`` (TLS when given a context) and drive the
client's :class:`asyncio.Protocol` with it.  :class:`AsyncioBackend` does it
with ``loop.create_connection``; :class:`MockBackend` replays scripted bytes
through an in-memory transport, so the whole client (pool, keep-alive,
retries, redirects, timeouts, every error path) runs without a socket, as
httpcore's ``AsyncMockBackend`` does.  Failures are raised as the foreign
errors a real network raises (``OSError``, ``ssl.SSLError``); the client
translates them at its one boundary.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

__all__ = ["AsyncioBackend", "MockBackend", "MockConnection", "NetworkBackend"]


class NetworkBackend(Protocol):
    """Opens the connections of an :class:`~awaitkit.http.HttpClient`."""

    async def connect(
        self,
        protocol: asyncio.Protocol,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        """Connect ``protocol`` to ``host:port``; TLS with SNI for ``host`` when given a context.

        Returns once ``protocol.connection_made`` has run; raises ``OSError``
        (``ssl.SSLError`` included) when the connection cannot be made.
        """
        ...


class AsyncioBackend:
    """The default backend: ``loop.create_connection`` (DNS, TCP, TLS)."""

    async def connect(
        self,
        protocol: asyncio.Protocol,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        """Open a TCP (or TLS) connection driving ``protocol``."""
        await asyncio.get_running_loop().create_connection(
            lambda: protocol,
            host,
            port,
            ssl=ssl_context,
            server_hostname=host if ssl_context is not None else None,
        )


class _Mark:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"MockBackend.{self.name}"


Step = bytes | _Mark
Script = Sequence[Step] | BaseException | _Mark


class MockBackend:
    """Replays one script per connection, in order, and records what was written.

    Each script is a list of steps, played after the client writes its
    request, one step per loop turn:

    * ``bytes``: delivered to the client as one read;
    * ``MockBackend.NEXT``: wait for the next request before going on
      (keep-alive: the next response on the same connection);
    * ``MockBackend.EOF``: the server closes the connection;
    * ``MockBackend.RESET``: the connection is reset (``ConnectionResetError``).

    After the last step the server goes silent (a read timeout's case).  In
    place of a list, a script may be an exception instance, which the
    connect raises (``ConnectionRefusedError()``, ``ssl.SSLError(...)``), or
    ``MockBackend.HANG``: the connect never completes.  Once the scripts run
    out, a connect is refused.  ``connections`` holds a
    :class:`MockConnection` per connect, with what the client wrote.

    ::

        backend = MockBackend([[b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi"]])
        async with HttpClient(backend=backend) as client:
            async with client.get("http://example.org/") as resp:
                assert await resp.read() == b"hi"
    """

    NEXT = _Mark("NEXT")
    EOF = _Mark("EOF")
    RESET = _Mark("RESET")
    HANG = _Mark("HANG")

    def __init__(self, scripts: Iterable[Script]) -> None:
        self._scripts = list(scripts)
        self.connections: list[MockConnection] = []

    async def connect(
        self,
        protocol: asyncio.Protocol,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        """Play the next script to ``protocol`` (or fail or hang as scripted)."""
        if len(self.connections) >= len(self._scripts):
            raise ConnectionRefusedError(f"no script left for {host}:{port}")
        script = self._scripts[len(self.connections)]
        conn = MockConnection(host, port, ssl_context is not None)
        self.connections.append(conn)
        if script is MockBackend.HANG:
            await asyncio.get_running_loop().create_future()  # until cancelled
        if isinstance(script, BaseException):
            raise script
        if isinstance(script, _Mark):
            raise TypeError(f"{script!r} is not a connection script")
        transport = _MockTransport(asyncio.get_running_loop(), protocol, script, conn)
        protocol.connection_made(transport)


class MockConnection:
    """One connection a :class:`MockBackend` made: where to, and what was written."""

    def __init__(self, host: str, port: int, tls: bool) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.writes: list[bytes] = []
        self.closed = False  # the client closed or aborted it

    @property
    def written(self) -> bytes:
        """Everything the client wrote, joined."""
        return b"".join(self.writes)


class _MockTransport(asyncio.Transport):
    """An in-memory transport: plays a script to its protocol, paced by writes."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol: asyncio.Protocol,
        script: Sequence[Step],
        record: MockConnection,
    ) -> None:
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self._steps = list(script)
        self._at = 0
        self._record = record
        self._waiting = True  # for a request before the next step
        self._credits = 0  # requests written and not yet waited for
        self._paused = False
        self._scheduled = False
        self._closing = False
        self._lost = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        self._record.writes.append(bytes(data))
        self._credits += 1
        self._schedule()

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._record.closed = True
        self._lose(None)

    def abort(self) -> None:
        self._record.closed = True
        self._lose(None)

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        self._paused = False
        self._schedule()

    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return (self._record.host, self._record.port)
        return default

    def _schedule(self) -> None:
        if not self._scheduled and not self._closing:
            self._scheduled = True
            self._loop.call_soon(self._step)

    def _step(self) -> None:
        self._scheduled = False
        if self._closing or self._paused:
            return
        if self._waiting:
            if not self._credits:
                return
            self._credits -= 1
            self._waiting = False
        if self._at >= len(self._steps):
            return  # silence
        step = self._steps[self._at]
        self._at += 1
        if step is MockBackend.NEXT:
            self._waiting = True
            self._schedule()
            return
        if step is MockBackend.EOF:
            self._lose(None)
            return
        if step is MockBackend.RESET:
            self._lose(ConnectionResetError("connection reset by peer"))
            return
        if not isinstance(step, bytes):
            raise TypeError(f"bad script step {step!r}")
        self._protocol.data_received(step)
        self._schedule()

    def _lose(self, exc: Exception | None) -> None:
        self._closing = True
        if not self._lost:
            self._lost = True
            self._loop.call_soon(self._protocol.connection_lost, exc)
