"""Pure pieces: retry timing, Retry-After, sizes, the book's code expansion and reports."""

from __future__ import annotations

import io
import random
from collections import Counter

import pytest

from awaitkit.book_flags._vocab import (
    CCUsageError,
    expand_cc_args,
    initial_report,
    resolve_server,
)
from awaitkit.core import UsageError
from awaitkit.download import DownloadOptions, DownloadStatus
from awaitkit.download._batch import final_report
from awaitkit.download._options import backoff_delay, parse_retry_after
from awaitkit.download._plan import parse_size, parse_timeout


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    opts = DownloadOptions(backoff_base=1.0, backoff_max=5.0)
    rng = random.Random(7)
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delays = [backoff_delay(attempt, opts, rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4  # jitter really spreads them


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), (" 0 ", 0.0), ("soon", None), ("-1", None), ("", None), (None, None)],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now=now) == 10.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now=now) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"concurrency": 0},
        {"per_host": -1},
        {"retries": -1},
        {"connect_timeout": 0},
        {"read_timeout": float("nan")},
        {"max_size": -5},
        {"max_redirects": -1},
    ],
)
def test_bad_options_are_usage_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        DownloadOptions(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512", 512),
        ("64K", 65536),
        ("10M", 10 << 20),
        ("1.5GiB", 3 << 29),
        ("2kb", 2048),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "ten", "5X", "-1"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_size(text)


def test_parse_timeout() -> None:
    assert parse_timeout("10") == (10.0, 10.0)
    assert parse_timeout("2.5,30") == (2.5, 30.0)
    with pytest.raises(UsageError):
        parse_timeout("fast")


def test_expand_cc_args_like_the_book() -> None:
    assert expand_cc_args(False, False, ["b"], 100)[:3] == ["BA", "BB", "BC"]
    assert len(expand_cc_args(False, False, ["b"], 100)) == 26
    assert expand_cc_args(False, False, ["br", "CN", "br"], 100) == ["BR", "CN"]
    assert len(expand_cc_args(True, False, [], 10_000)) == 26 * 26
    assert expand_cc_args(True, False, [], 3) == ["AA", "AB", "AC"]
    assert expand_cc_args(False, True, [], 2, ["zw", "ad", "br"]) == ["AD", "BR"]
    for bad in ["1", "BRA", "é", "B1"]:
        with pytest.raises(CCUsageError, match="must be A to Z or AA to ZZ"):
            expand_cc_args(False, False, [bad], 10)


def test_resolve_server() -> None:
    assert resolve_server("local") == ("LOCAL", "http://localhost:8000/flags")
    assert resolve_server("REMOTE") == (
        "REMOTE",
        "https://www.fluentpython.com/data/flags",
    )
    assert resolve_server("http://127.0.0.1:9") == ("URL", "http://127.0.0.1:9/flags")
    assert resolve_server("http://h:9/data/flags/") == ("URL", "http://h:9/data/flags")
    assert resolve_server("ftp://h/flags") is None
    assert resolve_server("nowhere") is None


def test_reports_follow_the_book() -> None:
    out = io.StringIO()
    initial_report(["BR"], 1, "LOCAL", "http://x/flags", file=out)
    initial_report([f"A{c}" for c in "ABCDEFGHIJKL"], 5, "LOCAL", "u", file=out)
    counter = Counter(
        {DownloadStatus.OK: 1, DownloadStatus.NOT_FOUND: 2, DownloadStatus.ERROR: 1}
    )
    final_report(counter, 1.234, file=out)
    assert out.getvalue().splitlines() == [
        "LOCAL site: http://x/flags",
        "Searching for 1 flag: BR",
        "1 connection will be used.",
        "LOCAL site: u",
        "Searching for 12 flags: from AA to AL",
        "5 concurrent connections will be used.",
        "--------------------",
        "  1 flag downloaded.",
        "  2 not found.",
        "  1 error.",
        "Elapsed time: 1.23s",
    ]
