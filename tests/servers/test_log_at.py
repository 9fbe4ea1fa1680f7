"""``log_at``: a record from a named call site, through the logger's own filters and handlers."""

from __future__ import annotations

import logging

import pytest

from awaitkit.servers._logging import log_at


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept() -> tuple[logging.Logger, _Keep]:
    log = logging.getLogger("awaitkit.tests.log_at")
    handler = _Keep()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log, handler
    log.removeHandler(handler)
    log.propagate = True
    log.setLevel(logging.NOTSET)
    log.filters.clear()


def test_the_record_names_the_site_and_formats_its_arguments(kept) -> None:
    log, handler = kept
    log_at(log, ("/src/x.py", "serve"), logging.INFO, "%s query %r", "peer", "cat")
    (record,) = handler.records
    assert record.getMessage() == "peer query 'cat'"
    assert (record.pathname, record.funcName, record.lineno) == (
        "/src/x.py",
        "serve",
        0,
    )
    assert record.levelno == logging.INFO
    assert record.name == log.name


def test_below_the_level_nothing_is_made(kept) -> None:
    log, handler = kept
    log_at(log, ("f", "g"), logging.DEBUG, "%s", "never")
    assert handler.records == []


def test_the_loggers_filters_still_apply(kept) -> None:
    log, handler = kept
    log.addFilter(lambda record: "secret" not in record.getMessage())
    log_at(log, ("f", "g"), logging.INFO, "%s", "secret")
    log_at(log, ("f", "g"), logging.INFO, "%s", "public")
    assert [r.getMessage() for r in handler.records] == ["public"]


def test_a_disabled_logger_drops_it(kept) -> None:
    log, handler = kept
    log.disabled = True
    try:
        log_at(log, ("f", "g"), logging.INFO, "%s", "x")
    finally:
        log.disabled = False
    assert handler.records == []
