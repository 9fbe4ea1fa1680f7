"""Upstreams for proxy-mode tests: a raw asyncio server that misbehaves on cue, and nginx."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

from tests.conftest import find_binary

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[None]]


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """One request head (through the blank line), or b"" at EOF."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def reset(writer: asyncio.StreamWriter) -> None:
    """Abort with a TCP RST."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class RawUpstream:
    """A loopback server; ``handler(reader, writer, head)`` answers each request
    (keep-alive: it is called again while it leaves the connection open)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0
        self.url = ""
        self.tasks: set[asyncio.Task[None]] = set()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            while not writer.is_closing():
                head = await read_head(reader)
                if not head:
                    break
                body = await reader.readexactly(content_length(head))
                self.heads.append(head)
                self.bodies.append(body)
                await self.handler(reader, writer, head)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only serving_raw cancels these, at exit; the stream machinery
            # would report a cancelled handler task as an error.
            pass
        finally:
            self.tasks.discard(task)
            writer.close()


@contextlib.asynccontextmanager
async def serving_raw(handler: Handler) -> AsyncIterator[RawUpstream]:
    upstream = RawUpstream(handler)
    server = await asyncio.start_server(upstream._serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream.url = f"http://127.0.0.1:{port}"
    try:
        yield upstream
    finally:
        server.close()
        # Handlers still blocked (stalls) end with the server.
        tasks = list(upstream.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks)
        await server.wait_closed()


def answer(status: int, body: bytes = b"", *extra: bytes) -> Handler:
    """A handler that answers every request with ``status`` and ``body`` (keep-alive)."""

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        lines = [b"HTTP/1.1 %d X" % status, *extra]
        if status not in (204, 304) and not head.startswith(b"HEAD"):
            lines.append(b"Content-Length: %d" % len(body))
            writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        else:
            if head.startswith(b"HEAD"):
                lines.append(b"Content-Length: %d" % len(body))
            writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
        await writer.drain()

    return handler


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


NGINX_CONF = """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_timeout 65s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/plain txt; application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        # gzip makes nginx answer chunked: no length known ahead.
        gzip on;
        gzip_types text/plain;
        gzip_min_length 0;
        gzip_proxied any;  # we add Via: nginx would not compress otherwise
    }}
}}
"""


@contextlib.contextmanager
def serving_nginx(root: Path) -> Iterator[str]:
    """Real nginx (one worker) serving ``root`` on a free loopback port."""
    binary = find_binary("nginx")
    port = closed_port()
    with tempfile.TemporaryDirectory(prefix="awaitkit-nginx-") as tmp:
        conf = Path(tmp, "nginx.conf")
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, root=root.resolve()))
        user = ["-g", "daemon off; user root root;"] if os.geteuid() == 0 else None
        args = [binary, "-p", tmp, "-c", str(conf)]
        args += user or ["-g", "daemon off;"]
        proc = subprocess.Popen(args, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=1),
                ):
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"nginx did not start: {err}")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
