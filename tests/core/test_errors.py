"""The error tree: exit codes and the stdlib bases callers catch."""

from __future__ import annotations

import awaitkit.core as core
from awaitkit.core import (
    AwaitkitError,
    HTTPStatusError,
    QueryError,
    TimeoutExpired,
    TransportError,
    UsageError,
)


def test_exit_codes() -> None:
    assert AwaitkitError.exit_code == 1
    assert UsageError.exit_code == 2
    assert TransportError("x").exit_code == 1


def test_stdlib_bases() -> None:
    assert issubclass(UsageError, ValueError)
    assert issubclass(QueryError, ValueError)
    assert issubclass(TimeoutExpired, TimeoutError)
    assert issubclass(TimeoutExpired, TransportError)


def test_http_status_error_carries_details() -> None:
    err = HTTPStatusError("boom", status_code=503, url="http://x/")
    assert (err.status_code, err.url, str(err)) == (503, "http://x/", "boom")


def test_core_all_is_importable() -> None:
    for name in core.__all__:
        assert getattr(core, name) is not None
