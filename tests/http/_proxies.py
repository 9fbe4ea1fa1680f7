"""Proxies and an origin for proxy tests: Debian's tinyproxy, a scripted fake, a threaded origin.

:class:`TinyProxy` runs ``tinyproxy -d`` on a free loopback port with a
config written for the test (Basic credentials, the ports CONNECT may reach)
and waits for its "Accepting connections" line; it adds a ``Via`` field,
which tells the origin the request came through it.  :class:`FakeProxy`
answers every CONNECT with scripted bytes, for the hostile cases.
:class:`Origin` is a threaded HTTP/1.1 server that records request heads.
"""

from __future__ import annotations

import asyncio
import http.server
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.conftest import find_binary

__all__ = ["FakeProxy", "MicroSocks", "Origin", "TinyProxy", "free_port"]

BIG = 4 * 1024 * 1024  # /big's body: streamed, several reads


def free_port() -> int:
    """A loopback port nothing listens on now (for a server that cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TinyProxy:
    """``tinyproxy`` on 127.0.0.1 for one test; ``url`` is ``http://127.0.0.1:PORT``.

    ``auth``: BasicAuth user and password it requires; ``connect_ports``:
    the only ports CONNECT may reach (none given: any).  ``log`` gets its
    output lines.  :meth:`kill` stops it at once (SIGKILL).
    """

    def __init__(
        self,
        folder: Path,
        *,
        auth: tuple[str, str] | None = None,
        connect_ports: Sequence[int] = (),
    ) -> None:
        self.binary = find_binary("tinyproxy")
        self.folder = folder
        self.auth = auth
        self.connect_ports = connect_ports
        self.log: list[str] = []
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> TinyProxy:
        for _ in range(5):  # another process may take the free port first
            if self._start():
                return self
        raise RuntimeError("tinyproxy did not start:\n" + "\n".join(self.log))

    def _start(self) -> bool:
        self.port = free_port()
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Allow 127.0.0.1",
            "Timeout 30",
            "LogLevel Info",
            "MaxClients 50",
        ]
        if self.auth is not None:
            lines.append(f"BasicAuth {self.auth[0]} {self.auth[1]}")
        lines += [f"ConnectPort {port}" for port in self.connect_ports]
        conf = self.folder / f"tinyproxy-{self.port}.conf"
        conf.write_text("\n".join(lines) + "\n")
        self.process = process = subprocess.Popen(
            [self.binary, "-d", "-c", str(conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()
        threading.Thread(target=self._read, args=(process, ready), daemon=True).start()
        ready.wait(20)
        if process.poll() is None and any(
            "Accepting connections" in line for line in self.log
        ):
            return True
        self.kill()
        return False

    def _read(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:  # drained to the end: the pipe never fills
            self.log.append(line.rstrip("\n"))
            if "Accepting connections" in line:
                ready.set()
        process.stdout.close()
        ready.set()

    def kill(self) -> None:
        """SIGKILL, at once; waits for the process to be gone."""
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            process.wait(10)

    def __exit__(self, *exc: object) -> None:
        self.kill()

    async def __aenter__(self) -> TinyProxy:
        return await asyncio.to_thread(self.__enter__)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.kill)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        origin = self.server.origin
        origin.heads.append((self.requestline, dict(self.headers.items())))
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            piece = b"x" * (256 * 1024)
            self.wfile.write(piece)
            self.wfile.flush()
            origin.streaming.set()
            if origin.on_streaming is not None:
                origin.on_streaming()  # then the rest, into whatever is left
            elif not origin.go_on.wait(20):
                return
            for _ in range(BIG // len(piece) - 1):
                self.wfile.write(piece)
            return
        body = f"{self.path} {self.headers.get('Via', '-')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    origin: Origin


class Origin:
    """A threaded HTTP/1.1 server on 127.0.0.1; ``heads`` gets (request line, fields).

    Any path answers ``PATH VIA`` (the Via field it got, ``-`` for none);
    ``/big`` sends a quarter MiB of its 4 MiB, sets ``streaming`` and calls
    ``on_streaming`` if set (or else waits for ``go_on``) before the rest.
    """

    def __init__(self) -> None:
        self.heads: list[tuple[str, dict[str, str]]] = []
        self.streaming = threading.Event()
        self.go_on = threading.Event()
        self.on_streaming: Callable[[], None] | None = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.origin = self
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Origin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.go_on.set()
        self._server.shutdown()
        self._server.server_close()

    async def __aenter__(self) -> Origin:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.__exit__)


class FakeProxy:
    """An asyncio server answering the first request head with ``answer``.

    ``then`` is what follows: ``"close"`` (EOF), ``"hang"`` (silence until
    the client goes).  ``received`` gets what each client sent up to its
    blank line.
    """

    def __init__(self, answer: bytes, then: str = "close") -> None:
        self.answer = answer
        self.then = then
        self.received: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        try:
            self.received.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(self.answer)
            await writer.drain()
            if self.then == "hang":
                await reader.read()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


class MicroSocks:
    """Debian's ``microsocks`` SOCKS5 server on 127.0.0.1 for one test (``auth``: user, password).

    It cannot be handed a socket: a free port is picked, and another one
    tried when it loses the port to another process; it is ready once a TCP
    connect to it succeeds.
    """

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self.binary = find_binary("microsocks")
        self.auth = auth
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, scheme: str = "socks5h", userinfo: str = "") -> str:
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}"

    def __enter__(self) -> MicroSocks:
        for _ in range(5):
            self.port = free_port()
            command = [self.binary, "-i", "127.0.0.1", "-p", str(self.port)]
            if self.auth is not None:
                command += ["-u", self.auth[0], "-P", self.auth[1]]
            self.process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            while self.process.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), 1).close()
                except OSError:
                    threading.Event().wait(0.01)  # not listening yet
                    continue
                return self
            self.process.wait()  # it exited: the port was taken
        raise RuntimeError("microsocks did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(10)

    async def __aenter__(self) -> MicroSocks:
        return await asyncio.to_thread(self.__enter__)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.__exit__)
