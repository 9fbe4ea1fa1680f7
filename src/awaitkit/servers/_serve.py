"""Running the servers until a signal: uvicorn glue and the CLI's coroutines.

uvicorn's ``Server.serve`` installs its own SIGINT/SIGTERM handlers and,
after a graceful stop, raises the signal again, which would turn a clean
Ctrl-C into ``KeyboardInterrupt`` and exit status 130.  :class:`WebServer`
leaves signals to us instead: the loop's signal handlers set one ``stop``
event, and every server running in the process shuts down gracefully from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import uvicorn

from awaitkit.core import AwaitkitError, bind_tcp, format_hostport
from awaitkit.servers._search import CachedSearch
from awaitkit.servers.tcp import TcpServer
from awaitkit.servers.web import create_app

if TYPE_CHECKING:
    from awaitkit.find import CharIndex

__all__ = [
    "LoopBatchHandler",
    "WebServer",
    "lean_logging",
    "listen",
    "serve_until_signal",
    "serving_web",
    "web_config",
]

log = logging.getLogger("awaitkit.servers")


def lean_logging() -> None:
    """Make the servers' per-query log lines cheap on the event loop thread.

    The servers log a line per query on the loop thread.  Finding the
    caller's source line and the thread/process names is skipped (the
    switches the logging HOWTO's "Optimization" section documents); each
    plain ``StreamHandler`` on the root logger is wrapped in a
    :class:`LoopBatchHandler`: same lines in the same order, with ``asctime``
    rendered once per second and one write per loop iteration, which cuts
    the CPU a query's log line costs by about a third.
    """
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
            root.addHandler(LoopBatchHandler(handler))


class _SecondsCachedFormatter(logging.Formatter):
    """A ``Formatter`` that renders ``asctime`` with strftime once per second.

    ``time.localtime`` + ``strftime`` are most of the cost of formatting a
    record; records logged within the same second share that text.
    """

    _cache_key: tuple[int, str | None] = (-1, None)
    _seconds_text = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style = self._style
        # A plain %-style format: the line is one `%` over the record's fields.
        self._plain = type(style) is logging.PercentStyle and not getattr(
            style, "_defaults", None
        )
        self._uses_time = self.usesTime()

    def format(self, record: logging.LogRecord) -> str:
        """The record's line: ``logging.Formatter.format`` minus its generic steps."""
        if not self._plain or record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        record.message = record.getMessage()
        if self._uses_time:
            record.asctime = self.formatTime(record, self.datefmt)
        return self._style._fmt % record.__dict__

    def formatTime(  # the name logging calls
        self, record: logging.LogRecord, datefmt: str | None = None
    ) -> str:
        """``asctime`` exactly as ``logging.Formatter`` renders it."""
        key = (int(record.created), datefmt)
        if key != self._cache_key:
            struct = self.converter(record.created)
            self._seconds_text = time.strftime(
                datefmt or self.default_time_format, struct
            )
            self._cache_key = key
        if datefmt or not self.default_msec_format:
            return self._seconds_text
        return self.default_msec_format % (self._seconds_text, record.msecs)


_STYLES = {
    logging.PercentStyle: "%",
    logging.StrFormatStyle: "{",
    logging.StringTemplateStyle: "$",
}


def _cached_copy(formatter: logging.Formatter | None) -> logging.Formatter:
    """``formatter`` with per-second ``asctime``, if it is a stock one."""
    if formatter is None:
        formatter = logging.Formatter()
    style = _STYLES.get(type(formatter._style))
    if type(formatter) is not logging.Formatter or style is None:
        return formatter  # someone else's formatter: use it as it is
    return _SecondsCachedFormatter(
        formatter._style._fmt,
        formatter.datefmt,
        style,
        defaults=getattr(formatter._style, "_defaults", None),
    )


class LoopBatchHandler(logging.Handler):
    """Writes ``target``'s lines once per event-loop iteration instead of per record.

    A record logged on a thread running an event loop is kept and a flush
    is scheduled with ``loop.call_soon``: every record logged during that
    loop iteration is formatted and written in one ``write`` + ``flush``.
    A record logged anywhere else (no running loop) flushes at once, after
    those pending, so order is kept.  ``flush()`` (called by
    ``logging.shutdown`` at exit and at the end of :func:`serve_until_signal`)
    writes whatever is pending: no line is lost when the loop stops first.
    """

    def __init__(self, target: logging.StreamHandler[Any], *, capacity: int = 1024):
        super().__init__(target.level)
        self.target = target
        self.capacity = capacity
        self.setFormatter(_cached_copy(target.formatter))
        self._pending: list[logging.LogRecord] = []
        self._flush_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<LoopBatchHandler {self.target!r} pending={len(self._pending)}>"

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record``; make sure a flush is coming (called under the lock)."""
        self._pending.append(record)
        loop = asyncio._get_running_loop()
        if loop is None or len(self._pending) >= self.capacity:
            self.flush()
        elif loop is not self._flush_loop:
            loop.call_soon(self.flush)
            self._flush_loop = loop

    def flush(self) -> None:
        """Format and write every pending record, then flush ``target``."""
        with self.lock:  # type: ignore[union-attr]  # createLock() ran in __init__
            records, self._pending = self._pending, []
            self._flush_loop = None
            target = self.target
            lines = []
            for record in records:
                if record.levelno < target.level or not target.filter(record):
                    continue
                try:
                    lines.append(self.format(record) + target.terminator)
                except Exception:  # as Handler.emit does
                    self.handleError(record)
            try:
                if lines:
                    target.stream.write("".join(lines))
                target.flush()
            except RecursionError:
                raise
            except Exception:  # a broken stream must not kill the server
                if records:
                    self.handleError(records[-1])


class WebServer(uvicorn.Server):
    """``uvicorn.Server`` that leaves SIGINT/SIGTERM to the caller."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing: the caller sets ``should_exit``."""
        yield


def web_config(app: Any, *, access_log: bool = False, **options: Any) -> uvicorn.Config:
    """uvicorn settings for Mojifinder: our logging, httptools/uvloop when installed."""
    return uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,  # keep the logging the CLI configured
        access_log=access_log,
        server_header=False,
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
    ``started`` flag, so the URL works as soon as it is yielded.
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


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


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
    with _stop_on_signals(stop):
        async with contextlib.AsyncExitStack() as stack:
            if tcp is not None:
                await stack.enter_async_context(
                    TcpServer(search, tcp, **(tcp_options or {}))
                )
            if web is not None:
                url = await stack.enter_async_context(
                    serving_web(create_app(search), web, **(web_options or {}))
                )
                log.info("Mojifinder web serving on %s", url)
            await stop.wait()
            log.info("shutting down")
    for handler in logging.getLogger().handlers:
        handler.flush()  # a LoopBatchHandler's last lines, before the loop ends
