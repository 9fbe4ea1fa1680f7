"""A tiny aiohttp.web server on loopback for behaviour the flags server does not cover."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from awaitkit.core import bind_tcp
from awaitkit.flags import FlagsServer
from tests.threaded import served_in_thread


@contextlib.asynccontextmanager
async def serving_app(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (bound first, port 0); yield its base URL."""
    sock = bind_tcp("127.0.0.1", 0)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=0.5
    )
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


BODY = bytes(range(256)) * 2400  # 600 KiB: above the in-memory limit, so streamed


class RangeServer:
    """A raw HTTP/1.1 server with exact control over Range, truncation and stalls.

    Paths: ``/file`` honours Range; ``/norange`` ignores it; ``/badrange``
    answers 206 from the wrong offset; ``/416`` refuses any Range; ``/slow``
    sends half the body and then stalls while ``stall`` is set.
    ``truncate_next`` cuts that many responses at half their body.
    """

    def __init__(self) -> None:
        self.ranges: list[str | None] = []
        self.truncate_next = 0
        self.stall = True
        self.stalled = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._closing = asyncio.Event()
        self.base_url = ""

    async def __aenter__(self) -> RangeServer:
        self._server = await asyncio.start_server(self._handle, sock=bind_tcp())
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        # Handlers end by their connection closing, not by cancellation: on
        # 3.11 asyncio's stream server logs a cancelled handler as an error.
        self._closing.set()
        for writer in self._writers:
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                if not await self._respond(path, headers.get("range"), writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _respond(
        self, path: str, rng: str | None, writer: asyncio.StreamWriter
    ) -> bool:
        self.ranges.append(rng)
        start = int(rng.removeprefix("bytes=").rstrip("-")) if rng else 0
        if path == "/416" and rng:
            writer.write(
                b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n"
            )
            return True
        if path in ("/norange", "/416") or not rng:
            status, start, extra = "200 OK", 0, ""
        else:
            shown = start + 1 if path == "/badrange" else start
            status = "206 Partial Content"
            extra = f"Content-Range: bytes {shown}-{len(BODY) - 1}/{len(BODY)}\r\n"
        body = BODY[start:]
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode()
        )
        if path == "/slow" and self.stall:
            writer.write(body[: len(body) // 2])
            await writer.drain()
            self.stalled.set()
            await self._closing.wait()  # until the server closes
            return False
        if self.truncate_next:
            self.truncate_next -= 1
            writer.write(body[: len(body) // 2])
            await writer.drain()
            return False
        writer.write(body)
        await writer.drain()
        return True


def flags_servers_in_thread(
    count: int, preset: str = "LOCAL", **options: Any
) -> contextlib.AbstractContextManager[list[FlagsServer]]:
    """``count`` flags servers on their own loop in a thread, for a CLI's own loop."""
    return served_in_thread(*(FlagsServer(preset, **options) for _ in range(count)))
