"""Cheap per-query log lines: lean records, batched writes, cached timestamps.

The servers log one stdlib INFO line per query on the event loop thread, so
what a record costs is paid per query.  :func:`lean_logging` trims that cost
without changing a line or leaving the stdlib machinery: every record still
goes through the logger hierarchy, its filters and every handler.

* the public switches the logging HOWTO's "Optimization" section
  documents: no thread, process or asyncio task names (``None`` in the
  record, as with those switches set by hand).  Its caller-lookup switch
  is a private name of the logging module, so records keep their caller;
  the per-query lines name theirs instead (:func:`log_at`), skipping the
  stack walk with ``Logger.makeRecord`` and ``Logger.handle``;
* :class:`LeanRecord` as the record factory, unless one was installed
  already: the stock ``LogRecord``'s attributes and values, built without
  repeating the work that gives the same answer every time;
* each plain ``StreamHandler`` on the root logger wrapped in a
  :class:`LoopBatchHandler`: the same lines in the same order, formatted and
  written once per loop iteration, ``asctime`` rendered once per millisecond.

In ``bench/bench_tcp.py`` (cached queries; INFO against WARNING) a query's
line then costs the server about 5-6 µs of CPU, a quarter of what it costs
with stock records and a plain ``StreamHandler``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["LeanRecord", "LoopBatchHandler", "lean_logging", "log_at"]

# Thread, process and task names: the HOWTO's switches (the last is 3.12+).
_SWITCHES = ("logThreads", "logProcesses", "logMultiprocessing", "logAsyncioTasks")
_HAS_TASK_NAMES = hasattr(logging, "logAsyncioTasks")
# Attributes that differ between any two records made at different times.
_TIME_FIELDS = frozenset({"created", "msecs", "relativeCreated"})


def _start_time() -> float:
    """When logging was imported, in seconds, as a stock record measures from it."""
    sample = logging.LogRecord("n", logging.INFO, "p", 1, "m", (), None)
    return sample.created - sample.relativeCreated / 1000


_START = _start_time()
# Filterer.filter returns the record (3.12+) or True; so does Handler.handle.
_FILTER_GIVES_RECORD = sys.version_info >= (3, 12)
# The module, for reading its switches as LogRecord does (3.12's is untyped).
_switches: Any = logging
_MAX_PATHS = 256
_paths: dict[str, tuple[str, str]] = {}


def log_at(
    log: logging.Logger,
    site: tuple[str, str],
    level: int,
    msg: str,
    *args: object,
) -> None:
    """``log.log(level, msg, *args)`` from ``site`` (file, function), without a stack walk.

    For lines logged per query: ``Logger.findCaller`` walks the stack for
    every record, which is most of what a record costs once the rest is
    lean.  The record goes through the same filters and handlers; its
    ``lineno`` is 0, as logging gives when it cannot find the caller.
    """
    if log.isEnabledFor(level):
        log.handle(
            log.makeRecord(log.name, level, site[0], 0, msg, args, None, site[1])
        )


def lean_logging() -> None:
    """Make the servers' per-query log lines cheap on the event loop thread.

    Call it after configuring logging (the CLI does, for ``awaitkit serve``).
    A record factory installed beforehand is kept; so is any handler other
    than a plain ``StreamHandler`` on the root logger.
    """
    for switch in _SWITCHES:
        if hasattr(logging, switch):
            setattr(logging, switch, False)
    if logging.getLogRecordFactory() is logging.LogRecord and _lean_record_fits():
        logging.setLogRecordFactory(LeanRecord)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
            root.addHandler(LoopBatchHandler(handler))


def _split_path(pathname: Any) -> tuple[Any, str]:
    """``filename`` and ``module`` as ``LogRecord`` derives them from a path."""
    try:
        filename = os.path.basename(pathname)
        names = filename, os.path.splitext(filename)[0]
    except (TypeError, ValueError, AttributeError):
        return pathname, "Unknown module"
    if type(pathname) is str and len(_paths) < _MAX_PATHS:
        _paths[pathname] = names
    return names


class LeanRecord(logging.LogRecord):
    """A ``LogRecord`` with the stock attributes and values, made in half the time.

    The stock record splits its source path with ``os.path`` for every
    record; here the split comes from a dict.  With any of the switches :func:`lean_logging` turns off turned
    back on, the record is built by ``LogRecord`` itself.
    """

    def __init__(
        self,
        name: str,
        level: int,
        pathname: str,
        lineno: int,
        msg: object,
        args: Any,
        exc_info: Any,
        func: Any = None,
        sinfo: str | None = None,
        **kwargs: Any,
    ) -> None:
        if (
            _switches.logThreads
            or _switches.logProcesses
            or _switches.logMultiprocessing
            or (_HAS_TASK_NAMES and _switches.logAsyncioTasks)
        ):
            super().__init__(
                name, level, pathname, lineno, msg, args, exc_info, func, sinfo
            )
            return
        # The same assignments as LogRecord.__init__, in its order (the
        # order of the record's __dict__, which some formatters dump).
        ct = time.time()
        self.name = name
        self.msg = msg
        if args and len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            args = args[0]
        self.args = args
        self.levelname = logging.getLevelName(level)
        self.levelno = level
        self.pathname = pathname
        try:
            self.filename, self.module = _paths[pathname]
        except (KeyError, TypeError):
            self.filename, self.module = _split_path(pathname)
        self.exc_info = exc_info
        self.exc_text = None
        self.stack_info = sinfo
        self.lineno = lineno
        self.funcName = func
        self.created = ct
        self.msecs = int((ct - int(ct)) * 1000) + 0.0
        self.relativeCreated = (ct - _START) * 1000
        self.thread = None
        self.threadName = None
        self.processName = None
        self.process = None
        if _HAS_TASK_NAMES:
            self.taskName = None


def _lean_record_fits() -> bool:
    """Whether :class:`LeanRecord` builds what this Python's ``LogRecord`` builds.

    A Python whose records carry an attribute this module does not know
    keeps its stock records.
    """
    sample = ("n", logging.INFO, __file__, 1, "%s", ("a",), None, "f", None)
    lean = vars(LeanRecord(*sample))
    stock = vars(logging.LogRecord(*sample))
    return (
        list(stock) == list(lean)
        and all(stock[key] == lean[key] for key in stock if key not in _TIME_FIELDS)
        # Times in the same units, from the same start: made a moment apart.
        and abs(stock["created"] - lean["created"]) < 1
        and abs(stock["relativeCreated"] - lean["relativeCreated"]) < 1000
    )


class _SecondsCachedFormatter(logging.Formatter):
    """A stock ``Formatter``'s lines, with ``asctime`` rendered at most once per millisecond.

    ``time.localtime`` + ``strftime`` are most of the cost of formatting a
    record; records logged within the same second share that text, and
    records logged within the same millisecond share the whole ``asctime``.
    The rest of the line is ``inner``'s own ``formatMessage``.
    """

    # (floor of created, datefmt) -> strftime text
    _seconds: tuple[float, str | None, str] = (-1.0, None, "")
    # (floor of created, msecs) -> asctime, as format() renders it
    _asctime: tuple[float, float, str] = (-1.0, -1.0, "")

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__(datefmt=inner.datefmt)
        self.inner = inner
        self._uses_time = inner.usesTime()

    def format(self, record: logging.LogRecord) -> str:
        """The record's line: ``logging.Formatter.format``'s steps, cached ``asctime``."""
        if record.exc_info or record.exc_text or record.stack_info:
            return self.inner.format(record)
        record.message = record.getMessage()
        if self._uses_time:
            # One tuple read and written whole: safe with records from threads.
            seconds, msecs, text = self._asctime
            if record.msecs != msecs or record.created // 1 != seconds:
                text = self.formatTime(record, self.datefmt)
                self._asctime = (record.created // 1, record.msecs, text)
            record.asctime = text
        return self.inner.formatMessage(record)

    def formatTime(  # the name logging calls
        self, record: logging.LogRecord, datefmt: str | None = None
    ) -> str:
        """``asctime`` exactly as ``inner`` renders it."""
        inner = self.inner
        # localtime() floors a float; so does // 1 (int() would not, before 1970).
        seconds = record.created // 1
        cached_seconds, cached_datefmt, text = self._seconds
        if seconds != cached_seconds or datefmt != cached_datefmt:
            struct = inner.converter(record.created)
            text = time.strftime(datefmt or inner.default_time_format, struct)
            self._seconds = (seconds, datefmt, text)
        if datefmt or not inner.default_msec_format:
            return text
        return inner.default_msec_format % (text, record.msecs)


def _cached_copy(formatter: logging.Formatter | None) -> logging.Formatter:
    """``formatter`` with cached ``asctime``, if it is a stock one."""
    if formatter is None:
        formatter = logging.Formatter()
    if type(formatter) is not logging.Formatter:
        return formatter  # someone else's formatter: use it as it is
    return _SecondsCachedFormatter(formatter)


class LoopBatchHandler(logging.Handler):
    """Writes ``target``'s lines once per event-loop iteration instead of per record.

    A record logged on a thread running an event loop is kept and a flush
    is scheduled with ``loop.call_soon``: every record logged during that
    loop iteration is formatted and written in one ``write`` + ``flush``.
    A record logged anywhere else (no running loop) flushes at once, after
    those pending, so order is kept.  ``flush()`` (called by
    ``logging.shutdown`` at exit and at the end of :func:`serve_until_signal`)
    writes whatever is pending: no line is lost when the loop stops first.
    ``target``'s level and filters apply at flush time, as its ``handle``
    would apply them.
    """

    def __init__(self, target: logging.StreamHandler[Any], *, capacity: int = 1024):
        super().__init__(target.level)
        self.target = target
        self.capacity = capacity
        self.setFormatter(_cached_copy(target.formatter))
        self._pending: list[logging.LogRecord] = []
        self._flush_loop: asyncio.AbstractEventLoop | None = None
        self._flush_thread = 0  # the thread running _flush_loop

    def __repr__(self) -> str:
        return f"<LoopBatchHandler {self.target!r} pending={len(self._pending)}>"

    def handle(self, record: logging.LogRecord) -> Any:
        """``Handler.handle``: filters, then :meth:`emit` under the lock."""
        if self.filters:
            return super().handle(record)
        # As Handler.handle does it, without its method calls to filter(),
        # acquire() and release(), which cost more than the work they wrap.
        lock: Any = self.lock
        lock.acquire()
        try:
            self.emit(record)
        finally:
            lock.release()
        return record if _FILTER_GIVES_RECORD else True

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record``; make sure a flush is coming (called under the lock)."""
        pending = self._pending
        pending.append(record)
        scheduled = self._flush_loop
        if (
            scheduled is not None
            and self._flush_thread == threading.get_ident()
            and scheduled.is_running()
            and len(pending) < self.capacity
        ):
            # This thread runs the loop that will flush: the usual case, decided
            # without get_running_loop(), which costs a getpid() call on 3.11.
            return
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or len(pending) >= self.capacity:
            self.flush()
        elif loop is not scheduled:
            loop.call_soon(self.flush)
            self._flush_loop = loop
            self._flush_thread = threading.get_ident()

    def flush(self) -> None:
        """Format and write every pending record, then flush ``target``."""
        with self.lock:  # type: ignore[union-attr]  # createLock() ran in __init__
            records, self._pending = self._pending, []
            self._flush_loop = None
            target = self.target
            level, filtered = target.level, bool(target.filters)
            render = self.formatter.format if self.formatter else self.format
            lines = []
            for record in records:
                if record.levelno < level:
                    continue
                if filtered:
                    passed = target.filter(record)
                    if not passed:
                        continue
                    if isinstance(passed, logging.LogRecord):
                        record = passed  # 3.12+: a replacement
                try:
                    lines.append(render(record))
                except Exception:  # as Handler.emit does
                    self.handleError(record)
            try:
                if lines:
                    terminator = target.terminator
                    target.stream.write(terminator.join(lines) + terminator)
                target.flush()
            except RecursionError:
                raise
            except Exception:  # a broken stream must not kill the server
                if records:
                    self.handleError(records[-1])
