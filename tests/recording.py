"""A loopback HTTP/1.1 server that records every request head it gets, for request-option tests.

Paths script the answer: ``/to/<URL>`` redirects (302) to the
percent-decoded URL, ``/set/<SET-COOKIE>`` answers with that
percent-decoded Set-Cookie field (``/set/<SET-COOKIE>/to/<URL>``: a
redirect that sets it), and any other path answers 200 with the path as
body.  Each request is kept
as ``(path, fields)``, the fields' names lowercase, each with its list of
values; a path in ``missing`` is answered 404.  :func:`recording_in_thread` runs servers on a loop of their own,
for a CLI run that has its loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import unquote

from awaitkit.core import bind_tcp
from tests.threaded import served_in_thread

Fields = dict[str, list[str]]


class RecordingServer:
    """See the module docstring; ``host`` may be another loopback address (127.0.0.2)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[tuple[str, Fields]] = []
        self.missing: set[str] = set()  # paths answered 404 while listed
        self.url = ""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"<RecordingServer {self.url} requests={len(self.requests)}>"

    def fields(self, path: str) -> list[Fields]:
        """The fields of every request for ``path``, in order."""
        return [fields for got, fields in self.requests if got == path]

    async def __aenter__(self) -> RecordingServer:
        self._server = await asyncio.start_server(
            self._handle, sock=bind_tcp(self.host, 0)
        )
        self.url = f"http://{self.host}:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
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
                fields: Fields = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        fields.setdefault(name.lower(), []).append(value.strip())
                self.requests.append((path, fields))
                writer.write(_MISSING if path in self.missing else _answer(path))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()


_MISSING = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def _answer(path: str) -> bytes:
    extra: list[str] = []
    body = path.encode("latin-1")
    status = "200 OK"
    if path.startswith("/set/"):
        cookie, _, rest = path[5:].partition("/")
        extra.append(f"Set-Cookie: {unquote(cookie)}")
        path = "/" + rest
    if path.startswith("/to/"):
        status = "302 Found"
        extra.append(f"Location: {unquote(path[4:])}")
        body = b""
    fields = "".join(f"{line}\r\n" for line in extra)
    return (
        f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{fields}\r\n".encode(
            "latin-1"
        )
        + body
    )


def recording_in_thread(
    *hosts: str,
) -> contextlib.AbstractContextManager[list[RecordingServer]]:
    """One :class:`RecordingServer` per host, served by a loop in a thread."""
    return served_in_thread(*(RecordingServer(host) for host in hosts))
