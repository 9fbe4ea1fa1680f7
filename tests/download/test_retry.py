"""The retry classifier, by table: every failure, every status class, Retry-After, the budget.

``judge`` is pure, so these tests feed it failures and read verdicts; the
loopback tests (test_resume, test_flags_server, test_hostile) check that
the fetch path raises these failures where it should.
"""

from __future__ import annotations

import errno
import random

import pytest

from awaitkit.download import DownloadOptions
from awaitkit.download._files import FileError
from awaitkit.download._names import UnsafeName
from awaitkit.download._retry import (
    JUDGED,
    Action,
    BadMetadata,
    BadRange,
    BadStatus,
    EncodedRange,
    OverLimit,
    RangeRefused,
    ShortBody,
    Verdict,
    judge,
)
from awaitkit.http import (
    BodyTooLarge,
    CertificateError,
    ConnectError,
    DecodingError,
    HttpClientError,
    InvalidURL,
    ProtocolError,
    RedirectError,
    ServerDisconnected,
    TLSError,
    TooManyRedirects,
    TruncatedBody,
    UnsupportedEncoding,
)

OPTS = DownloadOptions(retries=3, backoff_base=1.0, backoff_max=8.0)
RETRY, FINAL, NOT_FOUND = Action.RETRY, Action.FINAL, Action.NOT_FOUND


class ConnectTimeout(ConnectError, TimeoutError):
    """The shape the HTTP client's connect timeout takes: both classes at once."""


class ReadTimeout(HttpClientError, TimeoutError):
    """The shape of the HTTP client's read timeout."""


refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")


@pytest.mark.parametrize(
    ("failure", "action", "why"),
    [
        (TooManyRedirects("more than 5 redirects"), FINAL, "too many redirects"),
        (RedirectError("no Location"), FINAL, "bad redirect or URL: no Location"),
        (InvalidURL("bad port in 'h:0'"), FINAL, "bad redirect or URL: bad port in 'h:0'"),
        (BodyTooLarge("body over 65536 bytes"), FINAL, "body over 65536 bytes"),
        (TruncatedBody("3 of 9 bytes"), RETRY, "truncated body: 3 of 9 bytes"),
        (ServerDisconnected("closed"), RETRY, "server disconnected"),
        (TimeoutError("no data for 5 s"), RETRY, "timed out"),
        (ConnectTimeout("connect"), RETRY, "timed out"),
        (ReadTimeout("read"), RETRY, "timed out"),
        (
            ConnectError("cannot connect to h:9: Connection refused", refused),
            RETRY,
            "cannot connect: [Errno 111] Connection refused",
        ),
        (ConnectError("no route"), RETRY, "cannot connect: no route"),
        (
            CertificateError("cannot connect to h:443: certificate verify failed: certificate has expired"),
            FINAL,
            "cannot connect to h:443: certificate verify failed: certificate has expired",
        ),
        (
            TLSError("cannot connect to h:443: the server requires a client certificate"),
            FINAL,
            "cannot connect to h:443: the server requires a client certificate",
        ),
        (ProtocolError("bad status line"), RETRY, "ProtocolError: bad status line"),
        (HttpClientError("the client is closed"), RETRY, "HttpClientError: the client is closed"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), RETRY, "ConnectionResetError: [Errno 104] reset"),
        (OSError(errno.ENETDOWN, "down"), RETRY, "OSError: [Errno 100] down"),
        (FileError("file error: [Errno 28] No space left"), FINAL, "file error: [Errno 28] No space left"),
        (UnsafeName("unsafe file name '..'"), FINAL, "unsafe file name '..'"),
        (ShortBody(3, 9), RETRY, "body 3 of 9 bytes"),
        (RangeRefused(), RETRY, "range not satisfiable"),
        (BadRange(), FINAL, "206 with a Content-Range that does not match the request"),
        (OverLimit("12 bytes is over the 10-byte limit"), FINAL, "12 bytes is over the 10-byte limit"),
        (BadMetadata("metadata too large"), FINAL, "metadata too large"),
        (DecodingError("corrupt gzip body: bad"), FINAL, "corrupt gzip body: bad"),
        (UnsupportedEncoding("unsupported Content-Encoding 'x'"), FINAL, "unsupported Content-Encoding 'x'"),
        (EncodedRange(), RETRY, "206 with a Content-Encoding to a resume: starting over"),
    ],
)  # fmt: skip
def test_every_failure_has_its_verdict_and_text(
    failure: BaseException, action: Action, why: str
) -> None:
    verdict = judge(failure, 1, OPTS, random.Random(1))
    assert (verdict.action, verdict.why) == (action, why)
    assert isinstance(failure, JUDGED)  # the fetch loop hands it over


def test_a_file_error_is_final_though_an_oserror_is_retried() -> None:
    """The same errno from the disk and from the network: final once, retried once."""
    full = OSError(errno.ENOSPC, "No space left on device")
    assert judge(full, 1, OPTS).action is RETRY
    assert judge(FileError(f"file error: {full}"), 1, OPTS).action is FINAL


@pytest.mark.parametrize("failure", [ValueError("x"), KeyError("k"), RuntimeError()])
def test_anything_else_is_a_bug_not_an_outcome(failure: Exception) -> None:
    assert not isinstance(failure, JUDGED)
    with pytest.raises(TypeError, match="not a download failure"):
        judge(failure, 1, OPTS)


@pytest.mark.parametrize(
    ("status", "reason", "action"),
    [
        (100, "Continue", FINAL),
        (301, "Moved Permanently", FINAL),
        (304, "Not Modified", FINAL),
        (400, "Bad Request", FINAL),
        (403, "Forbidden", FINAL),
        (404, "Not Found", NOT_FOUND),
        (408, "Request Timeout", RETRY),
        (410, "Gone", FINAL),
        (416, "Range Not Satisfiable", FINAL),  # without a .part: the server's word
        (418, "I'm a teapot", FINAL),
        (425, "Too Early", RETRY),
        (429, "Too Many Requests", RETRY),
        (500, "Internal Server Error", RETRY),
        (501, "Not Implemented", FINAL),
        (502, "Bad Gateway", RETRY),
        (503, "Service Unavailable", RETRY),
        (504, "Gateway Timeout", RETRY),
        (505, "HTTP Version Not Supported", FINAL),
        (599, "", FINAL),
    ],
)
def test_every_status_class(status: int, reason: str, action: Action) -> None:
    verdict = judge(BadStatus(status, reason), 1, OPTS, random.Random(1))
    assert verdict.action is action
    assert verdict.status == status
    expected = "HTTP 404" if status == 404 else f"HTTP {status} {reason}".rstrip()
    assert verdict.why == expected


def test_404_is_not_found_with_the_books_text() -> None:
    assert judge(BadStatus(404, "Not Found"), 1, OPTS) == Verdict(
        NOT_FOUND, "HTTP 404", status=404
    )


def test_retry_statuses_are_the_options() -> None:
    """418 retried when asked, 503 final when left out."""
    teapots = DownloadOptions(retry_statuses=frozenset({418}))
    assert judge(BadStatus(418, "I'm a teapot"), 1, teapots).action is RETRY
    assert judge(BadStatus(503, "Service Unavailable"), 1, teapots).action is FINAL


NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("3600", 60.0),  # capped at retry_after_max
        ("Tue, 14 Nov 2023 22:13:30 GMT", 10.0),
        ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),  # in the past: at once
        ("Tue, 14 Nov 2023 23:13:20 GMT", 60.0),  # an hour away: capped
    ],
)
def test_retry_after_is_obeyed_and_capped(header: str, wait: float) -> None:
    verdict = judge(BadStatus(503, "Service Unavailable", header), 1, OPTS, now=NOW)
    assert verdict == Verdict(RETRY, "HTTP 503 Service Unavailable", wait, 503)


@pytest.mark.parametrize("header", [None, "", "soon", "-1", "1.5", "Tue, 14 Nov 2023"])
def test_a_missing_or_unreadable_retry_after_means_backoff(header: str | None) -> None:
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0)]:
        verdict = judge(
            BadStatus(429, "Too Many Requests", header), attempt, OPTS, random.Random(5)
        )
        assert verdict.action is RETRY
        assert step / 2 <= verdict.wait <= step


def test_retry_after_is_capped_by_the_option() -> None:
    opts = DownloadOptions(retry_after_max=2.5)
    verdict = judge(BadStatus(503, "", "30"), 1, opts)
    assert verdict.wait == 2.5


def test_backoff_follows_the_attempt_and_the_seed() -> None:
    """Equal jitter, doubling, capped: the same draws as backoff_delay."""
    waits = [judge(TimeoutError(), n, OPTS, random.Random(3)).wait for n in (1, 2, 3)]
    for wait, step in zip(waits, (1.0, 2.0, 4.0), strict=True):
        assert step / 2 <= wait <= step
    again = [judge(TimeoutError(), n, OPTS, random.Random(3)).wait for n in (1, 2, 3)]
    assert waits == again
    capped = DownloadOptions(retries=20, backoff_base=1.0, backoff_max=8.0)
    assert judge(TimeoutError(), 12, capped, random.Random(3)).wait <= 8.0


@pytest.mark.parametrize(
    ("failure", "why"),
    [
        (BadStatus(503, "Service Unavailable"), "HTTP 503 Service Unavailable"),
        (TimeoutError(), "timed out"),
        (ServerDisconnected(), "server disconnected"),
        (ShortBody(1, 2), "body 1 of 2 bytes"),
        (RangeRefused(), "range not satisfiable"),
    ],
)
def test_past_the_retries_a_retryable_failure_is_final(
    failure: BaseException, why: str
) -> None:
    """--retries 3: attempts 1-3 are retried, the 4th failure is the last."""
    for attempt in (1, 2, 3):
        assert judge(failure, attempt, OPTS).action is RETRY
    last = judge(failure, 4, OPTS)
    assert last.action is FINAL
    assert last.why == f"{why} (after 4 attempts)"
    assert judge(failure, 1, DownloadOptions(retries=0)).why == (
        f"{why} (after 1 attempts)"
    )


def test_final_failures_say_nothing_of_attempts() -> None:
    assert judge(BadStatus(418, "I'm a teapot"), 4, OPTS).why == "HTTP 418 I'm a teapot"
    assert judge(BadStatus(404), 9, OPTS).why == "HTTP 404"


def test_a_refused_range_is_retried_at_once_and_keeps_its_status() -> None:
    """416 to a leftover .part's Range: the .part is dropped, the next try is now."""
    assert judge(RangeRefused(), 1, OPTS) == Verdict(
        RETRY, "range not satisfiable", 0.0, 416
    )
    assert judge(RangeRefused(), 4, OPTS).status == 416


def test_an_encoded_206_is_retried_at_once_without_a_status() -> None:
    """A 206 that came back encoded: the .part is dropped, the next try is now, from zero."""
    assert judge(EncodedRange(), 1, OPTS) == Verdict(
        RETRY, "206 with a Content-Encoding to a resume: starting over", 0.0, None
    )


def simulate(failures: list[BaseException], opts: DownloadOptions) -> list[Verdict]:
    """The fetch loop's decisions for attempts failing in turn, until one is not RETRY."""
    verdicts = []
    for attempt, failure in enumerate(failures, 1):
        verdicts.append(judge(failure, attempt, opts, random.Random(attempt)))
        if verdicts[-1].action is not RETRY:
            break
    return verdicts


def test_a_resume_sequence() -> None:
    """Cut body, resumed with a stale .part (416), cut again, then a lying 206: final."""
    seen = simulate(
        [ShortBody(5, 10), RangeRefused(), TruncatedBody("7 of 10"), BadRange()],
        DownloadOptions(retries=5),
    )
    assert [v.action for v in seen] == [RETRY, RETRY, RETRY, FINAL]
    assert seen[1].wait == 0.0
    assert seen[-1].why == "206 with a Content-Range that does not match the request"


def test_a_server_that_stays_down() -> None:
    """Four 503s with --retries 3: three waits, then the report's words."""
    seen = simulate([BadStatus(503, "Service Unavailable", "1")] * 10, OPTS)
    assert [v.wait for v in seen[:-1]] == [1.0, 1.0, 1.0]
    assert seen[-1] == Verdict(
        FINAL, "HTTP 503 Service Unavailable (after 4 attempts)", status=503
    )
