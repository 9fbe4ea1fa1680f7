"""``lean_logging``: records and lines identical to what stock logging makes."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import logging
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from awaitkit.servers import _logging
from awaitkit.servers._logging import LeanRecord, LoopBatchHandler, lean_logging

pytestmark = pytest.mark.anyio

CLI_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_STANDARD = [
    "name",
    "levelno",
    "levelname",
    "pathname",
    "filename",
    "module",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "relativeCreated",
    "thread",
    "threadName",
    "process",
    "processName",
    "message",
]
if sys.version_info >= (3, 12):
    _STANDARD.append("taskName")
# Every standard attribute, in each of the three styles.
EVERY_FIELD = (
    ("%", "%(asctime)s " + " ".join(f"%({name})s" for name in _STANDARD), None),
    ("{", "{asctime} " + " ".join(f"{{{name}}}" for name in _STANDARD), None),
    ("$", "${asctime} " + " ".join(f"${{{name}}}" for name in _STANDARD), None),
    ("%", CLI_FORMAT, None),
    ("%", CLI_FORMAT, "%H:%M:%S"),
    ("%", "%(asctime)s.%(msecs)03d %(message)s", "%Y-%m-%dT%H:%M:%S"),
)
TIME_FIELDS = {"created", "msecs", "relativeCreated"}
SWITCHES = ("logThreads", "logProcesses", "logMultiprocessing")
if sys.version_info >= (3, 12):
    SWITCHES += ("logAsyncioTasks",)


@contextlib.contextmanager
def lean_scope() -> Iterator[None]:
    """``lean_logging()`` for a while; the logging module's state restored after."""
    saved = {name: getattr(logging, name) for name in SWITCHES}
    factory = logging.getLogRecordFactory()
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        lean_logging()
        yield
    finally:
        for name, value in saved.items():
            setattr(logging, name, value)
        logging.setLogRecordFactory(factory)
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)  # a plain StreamHandler it wrapped


@pytest.fixture
def lean() -> Iterator[None]:
    """``lean_logging()`` for one test."""
    with lean_scope():
        yield


def record_pair(*args: Any, **kwargs: Any) -> tuple[logging.LogRecord, LeanRecord]:
    """A stock and a lean record from the same arguments, with the same times."""
    stock = logging.LogRecord(*args, **kwargs)
    lean = LeanRecord(*args, **kwargs)
    for field in TIME_FIELDS:
        setattr(lean, field, getattr(stock, field))
    return stock, lean


CASES = [
    ("awaitkit.servers.tcp", logging.INFO, "(unknown file)", 0,
     "%s query %r: %s found", ("127.0.0.1:5000", "cat face", 3), None,
     "(unknown function)", None),
    ("x", logging.WARNING, __file__, 12, "plain", (), None, "f", None),
    ("x", logging.DEBUG, "/a/b/mod.py", 1, "%(a)s", ({"a": 1},), None),
    ("x", logging.INFO, "/a/b/mod.py", 1, "%(a)s",
     (collections.OrderedDict(a=2),), None),
    ("x", logging.INFO, "/a/b/mod.py", 1, "%s", ({},), None),  # empty: not a mapping
    ("x", logging.INFO, "/a/b/mod.py", 1, "%s", (5,), None),
    ("x", 25, "mod", 1, "custom level", (), None),
    ("x", 99, "mod.tar.gz", 1, "unnamed level", None, None),
    ("x", logging.ERROR, "", 1, "no path", (), (None, None, None), None, "stack"),
    (None, None, None, 0, "", (), None, None),  # what makeLogRecord passes
    ("x", logging.INFO, ["not", "a", "path"], 1, "odd path", (), None),
]  # fmt: skip


@pytest.mark.parametrize("args", CASES)
def test_lean_record_matches_the_stock_one(lean: None, args: tuple[Any, ...]) -> None:
    for _ in range(2):  # the second time, from the cached path split
        stock, lean_record = record_pair(*args)
        assert list(vars(lean_record)) == list(vars(stock))
        assert vars(lean_record) == vars(stock)
        assert lean_record.getMessage() == stock.getMessage()


def test_lean_record_times_agree_with_each_other(lean: None) -> None:
    record = LeanRecord("x", logging.INFO, "p", 1, "m", (), None)
    stock = logging.LogRecord("x", logging.INFO, "p", 1, "m", (), None)
    assert abs(stock.created - record.created) < 1
    assert record.msecs == int((record.created - int(record.created)) * 1000)
    assert abs(stock.relativeCreated - record.relativeCreated) < 1000
    assert all(type(getattr(record, f)) is float for f in TIME_FIELDS)


def test_a_switch_turned_back_on_gives_stock_values(lean: None) -> None:
    logging.logThreads = True
    record = LeanRecord("x", logging.INFO, "p", 1, "m", (), None)
    assert record.thread == threading.get_ident()
    assert record.threadName == threading.current_thread().name
    stock = logging.LogRecord("x", logging.INFO, "p", 1, "m", (), None)
    assert list(vars(record)) == list(vars(stock))


def test_lean_logging_installs_the_factory_and_the_switches(lean: None) -> None:
    assert logging.getLogRecordFactory() is LeanRecord
    assert not logging.logThreads
    assert not logging.logProcesses
    record = logging.getLogger("test.lean").makeRecord(
        "test.lean", logging.INFO, "(unknown file)", 0, "m", (), None
    )
    assert type(record) is LeanRecord


def test_a_custom_record_factory_is_kept() -> None:
    stock_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = stock_factory(*args, **kwargs)
        record.custom = True
        return record

    logging.setLogRecordFactory(factory)
    try:
        with lean_scope():
            assert logging.getLogRecordFactory() is factory
    finally:
        logging.setLogRecordFactory(stock_factory)


def test_an_unknown_record_attribute_keeps_stock_records(
    lean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Newer(logging.LogRecord):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.somethingNew = 1

    assert _logging._lean_record_fits()
    with monkeypatch.context() as patch:
        patch.setattr(logging, "LogRecord", Newer)
        assert not _logging._lean_record_fits()
    with monkeypatch.context() as patch:  # a start time in other units
        patch.setattr(_logging, "_START", _logging._START * 1000)
        assert not _logging._lean_record_fits()


@pytest.mark.parametrize(("style", "fmt", "datefmt"), EVERY_FIELD)
async def test_lines_match_the_stock_handler(
    lean: None, style: Any, fmt: str, datefmt: str | None
) -> None:
    """One logger, two handlers: stock, and batched; the same record, the same line."""
    stock_out, batched_out = io.StringIO(), io.StringIO()
    stock = logging.StreamHandler(stock_out)
    stock.setFormatter(logging.Formatter(fmt, datefmt, style))
    target = logging.StreamHandler(batched_out)
    target.setFormatter(logging.Formatter(fmt, datefmt, style))
    batched = LoopBatchHandler(target)
    log = logging.getLogger(f"test.lean.lines.{style}")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(stock)
    log.addHandler(batched)
    try:
        for n in range(300):
            log.info("%s query %r: %s found", "127.0.0.1:5000", f"q{n}", n)
            if n % 7 == 0:
                await asyncio.sleep(0.0007)  # cross milliseconds and seconds
        log.warning("a dict %(a)s", {"a": 1})
        log.error("no args %s")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("with a traceback")
        log.info("with a stack", stack_info=True)
        await asyncio.sleep(0)
    finally:
        log.removeHandler(stock)
        log.removeHandler(batched)
        batched.close()
    assert batched_out.getvalue() == stock_out.getvalue()
    assert stock_out.getvalue().count("Traceback") == 1


def test_instance_time_settings_are_kept(lean: None) -> None:
    formatter = logging.Formatter(CLI_FORMAT)
    formatter.converter = time.gmtime
    formatter.default_msec_format = "%s.%03d"
    stock_out, batched_out = io.StringIO(), io.StringIO()
    stock = logging.StreamHandler(stock_out)
    stock.setFormatter(formatter)
    target = logging.StreamHandler(batched_out)
    target.setFormatter(formatter)
    batched = LoopBatchHandler(target)
    for created in (0.5, 3600 * 13.25, time.time()):
        record = logging.makeLogRecord({"msg": "m", "levelno": 20, "name": "t"})
        record.created = created
        record.msecs = int((created - int(created)) * 1000) + 0.0
        stock.handle(record)
        batched.handle(record)
    batched.close()
    assert batched_out.getvalue() == stock_out.getvalue()
    assert "1970-01-01 13:15:00.000" in stock_out.getvalue()


async def test_user_filters_and_handlers_see_every_record(lean: None) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    out = io.StringIO()
    target = logging.StreamHandler(out)
    target.setFormatter(logging.Formatter("%(message)s"))
    target.addFilter(lambda record: "target-drops" not in record.getMessage())
    batched = LoopBatchHandler(target)
    batched.addFilter(lambda record: "batch-drops" not in record.getMessage())
    parent, log = logging.getLogger("test.lean.f"), logging.getLogger("test.lean.f.c")
    keep = Keep()
    parent.addHandler(keep)
    parent.addHandler(batched)
    parent.propagate = False
    log.setLevel(logging.INFO)
    log.addFilter(lambda record: "logger-drops" not in record.getMessage())
    try:
        for text in ("one", "logger-drops", "batch-drops", "target-drops", "two"):
            log.info(text)
        await asyncio.sleep(0)
    finally:
        parent.removeHandler(keep)
        parent.removeHandler(batched)
        parent.propagate = True
        log.filters.clear()
        batched.close()
    assert [r.getMessage() for r in seen] == [
        "one",
        "batch-drops",
        "target-drops",
        "two",
    ]
    assert all(type(record) is LeanRecord for record in seen)
    assert out.getvalue().splitlines() == ["one", "two"]
