"""Running the servers until a signal: uvicorn glue and the CLI's coroutines.

uvicorn's ``Server.serve`` installs its own SIGINT/SIGTERM handlers and,
after a graceful stop, raises the signal again, which would turn a clean
Ctrl-C into ``KeyboardInterrupt`` and exit status 130.  :class:`WebServer`
leaves signals to us instead: :func:`awaitkit.core.stop_on_signals` sets one
``stop`` event, and every server running in the process shuts down gracefully from it.

:func:`web_config` also hardens uvicorn against hostile clients: request
heads are bounded (``414``/``431`` and close, see :class:`HeadLimits`) and
requests from a client that half-closed its side are still answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import uvicorn

from awaitkit.core import AwaitkitError, bind_tcp, format_hostport, stop_on_signals
from awaitkit.servers._http_limits import HeadLimits, uvicorn_options
from awaitkit.servers._logging import LoopBatchHandler, lean_logging
from awaitkit.servers._search import CachedSearch
from awaitkit.servers.tcp import TcpServer
from awaitkit.servers.web import create_app

if TYPE_CHECKING:
    from awaitkit.find import CharIndex

__all__ = [
    "HeadLimits",
    "LoopBatchHandler",
    "WebServer",
    "lean_logging",
    "listen",
    "serve_until_signal",
    "serving_web",
    "web_config",
]

log = logging.getLogger("awaitkit.servers")


class WebServer(uvicorn.Server):
    """``uvicorn.Server`` that leaves SIGINT/SIGTERM to the caller."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing: the caller sets ``should_exit``."""
        yield


def web_config(
    app: Any,
    *,
    access_log: bool = False,
    limits: HeadLimits | None = None,
    http: Any = "auto",
    **options: Any,
) -> uvicorn.Config:
    """uvicorn settings for Mojifinder: our logging, httptools/uvloop when installed.

    Request heads are bounded by ``limits`` (:class:`HeadLimits` defaults
    when ``None``) whichever HTTP protocol serves them; with httptools a
    half-closed client's requests are answered (see :mod:`._http_limits`).
    """
    return uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,  # keep the logging the CLI configured
        access_log=access_log,
        server_header=False,
        **uvicorn_options(http, limits if limits is not None else HeadLimits()),
        **options,
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or an :class:`AwaitkitError` saying why not."""
    return bind_tcp(host, port)


async def _run_web(server: WebServer, sock: socket.socket) -> None:
    """Serve until ``server.should_exit``; a startup failure becomes an error."""
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits when the lifespan fails
        raise AwaitkitError("web server failed to start") from exc


@contextlib.asynccontextmanager
async def serving_web(
    app: Any, sock: socket.socket | None = None, **options: Any
) -> AsyncIterator[str]:
    """Run ``app`` on uvicorn in this loop; yield its base URL once it serves.

    Binds first (port 0 unless ``sock`` is given) and waits on uvicorn's own
    ``started`` flag, so the URL works as soon as it is yielded.  ``options``
    go to :func:`web_config` (``limits=HeadLimits(...)``, ``http="h11"``...).
    """
    sock = sock if sock is not None else bind_tcp("127.0.0.1", 0)
    server = WebServer(web_config(app, **options))
    task = asyncio.create_task(_run_web(server, sock))
    try:
        while not server.started:
            if task.done():
                await task
                raise AwaitkitError("web server stopped before serving")
            await asyncio.sleep(0.01)
        host, port = sock.getsockname()[:2]
        yield f"http://{format_hostport(host, port)}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def serve_until_signal(
    index: CharIndex,
    *,
    tcp: socket.socket | None = None,
    web: socket.socket | None = None,
    tcp_options: dict[str, Any] | None = None,
    web_options: dict[str, Any] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve TCP and/or web on the given sockets until SIGINT/SIGTERM (or ``stop``).

    Both share one :class:`CachedSearch` over ``index``.
    """
    stop = stop if stop is not None else asyncio.Event()
    search = CachedSearch(index)
    # FastAPI builds every route's models as the app is made: a worker
    # thread's job, or the loop (and a TCP server on it) would stall.
    app = None if web is None else await asyncio.to_thread(create_app, search)
    with stop_on_signals(stop.set):
        async with contextlib.AsyncExitStack() as stack:
            if tcp is not None:
                await stack.enter_async_context(
                    TcpServer(search, tcp, **(tcp_options or {}))
                )
            if web is not None and app is not None:
                url = await stack.enter_async_context(
                    serving_web(app, web, **(web_options or {}))
                )
                log.info("Mojifinder web serving on %s", url)
            await stop.wait()
            log.info("shutting down")
    for handler in logging.getLogger().handlers:
        handler.flush()  # a LoopBatchHandler's last lines, before the loop ends
