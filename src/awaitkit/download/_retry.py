"""What went wrong with one attempt, and what to do about it: retry, give up, or not found.

The fetch path raises what it saw (the client's errors, a timeout, a status
that is not 2xx, a body shorter than announced...) and hands each one, once,
to :func:`judge`.  Every decision about retrying lives in that one pure
function: which failures another attempt may fix, how long to wait first
(the server's ``Retry-After``, capped, or the jittered backoff), when the
retries are used up, and the words that end up in ``DownloadResult.error``.
No I/O, no asyncio: it is tested by table.

Failures the fetch path itself detects are named for what happened, not
for the verdict, so that the verdict is decided here and nowhere else:

=====================  ===========================================  ============
raised                 why                                          verdict
=====================  ===========================================  ============
:class:`BadStatus`     a response that is not 2xx                   by status
:class:`ShortBody`     fewer body bytes than announced              retry
:class:`RangeRefused`  416 to the ``Range`` of a leftover .part     retry now
:class:`EncodedRange`  a 206 with a Content-Encoding (.part gone)   retry now
:class:`BadRange`      a 206 for bytes we did not ask for           final
:class:`OverLimit`     a body over ``max_size`` (decoded, if so)    final
:class:`BadMetadata`   ``metadata.json`` too large, not JSON, ...   final
=====================  ===========================================  ============

Timeouts are recognised as ``TimeoutError`` (the client's own timeouts
subclass it), a file error by :class:`~awaitkit.download._files.FileError`,
any other ``OSError`` is the network's.  A TLS failure (a certificate
refused either way, no TLS version in common) is final: another attempt
would meet the same certificate.  A body that cannot be decoded
(:class:`~awaitkit.http.DecodingError`, :class:`~awaitkit.http.UnsupportedEncoding`)
is final too: the same bytes would fail again.  So is a proxy's refusal of
CONNECT (:class:`~awaitkit.http.ProxyError`: 403, port not allowed; 407,
credentials wanted or wrong; an answer that is not HTTP), except 502, 503
and 504: the proxy could not reach the origin this time, and another
attempt may.  A SOCKS5 proxy's refusal is final too, except its replies 1
(general failure), 3 and 4 (network or host unreachable) and 6 (TTL
expired), its words for the same.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from awaitkit.download._files import FileError
from awaitkit.download._names import UnsafeName
from awaitkit.download._options import (
    DownloadOptions,
    backoff_delay,
    parse_retry_after,
)
from awaitkit.http import (
    BodyTooLarge,
    ConnectError,
    DecodingError,
    HttpClientError,
    InvalidURL,
    ProxyError,
    RedirectError,
    ServerDisconnected,
    TLSError,
    TooManyRedirects,
    TruncatedBody,
)

__all__ = [
    "JUDGED",
    "Action",
    "BadMetadata",
    "BadRange",
    "BadStatus",
    "ChecksumMismatch",
    "EncodedRange",
    "Failure",
    "OverLimit",
    "RangeRefused",
    "ShortBody",
    "Verdict",
    "judge",
]


class Failure(Exception):
    """Something the fetch path saw go wrong; :func:`judge` decides what it means."""


class BadStatus(Failure):
    """The response status is not 2xx (``retry_after``: its raw header, if any)."""

    def __init__(self, status: int, reason: str = "", retry_after: str | None = None):
        super().__init__(f"HTTP {status} {reason}".rstrip())
        self.status = status
        self.retry_after = retry_after


class ShortBody(Failure):
    """The body ended before the length the server announced."""

    def __init__(self, got: int, expected: int) -> None:
        super().__init__(f"body {got} of {expected} bytes")


class RangeRefused(Failure):
    """416 to the ``Range`` of a leftover ``.part``: it does not fit the server's file."""

    status: int | None = 416

    def __init__(self) -> None:
        super().__init__("range not satisfiable")


class EncodedRange(RangeRefused):
    """A 206 to the ``Range`` of a leftover ``.part`` came with a Content-Encoding.

    A range of the encoded body cannot continue the identity bytes a
    ``.part`` holds: the ``.part`` is dropped and the next attempt starts over.
    """

    status = None

    def __init__(self) -> None:
        Failure.__init__(self, "206 with a Content-Encoding to a resume: starting over")


class BadRange(Failure):
    """A 206 whose ``Content-Range`` does not start where the request asked."""

    def __init__(self) -> None:
        super().__init__("206 with a Content-Range that does not match the request")


class OverLimit(Failure):
    """The body (declared or received) is larger than ``max_size`` allows."""


class BadMetadata(Failure):
    """``metadata.json`` is too large, not JSON, or lacks the naming field."""


class ChecksumMismatch(Failure):
    """The body's SHA-256 is not the one expected: the file is not kept (final)."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"sha256 mismatch: expected {expected}, got {got}")


JUDGED = (Failure, HttpClientError, OSError, FileError, UnsafeName)
"""What :func:`judge` takes (``TimeoutError`` is an ``OSError``); anything else is a bug."""


class Action(enum.Enum):
    """What to do after a failed attempt."""

    RETRY = "retry"
    FINAL = "final"  # the item is an ERROR
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision on one failed attempt: ``why`` is the report's text."""

    action: Action
    why: str
    wait: float = 0.0  # seconds before the next attempt (RETRY only)
    status: int | None = None  # the HTTP status behind it, if any


# A proxy's answers to CONNECT that another attempt may change.
_PROXY_RETRYABLE = frozenset({502, 503, 504})
_SOCKS_RETRYABLE = frozenset({1, 3, 4, 6})  # SOCKS5 replies: could not reach it now

# Errors from below, most specific first: (class, retryable, report text).
# The text formats {exc} (the message), {name} (the class) and {reason}
# (what a ConnectError wraps).  Timeouts come before ConnectError: a
# connect timeout reads "timed out", whichever classes it has.
_ERRORS: tuple[tuple[type[BaseException], bool, str], ...] = (
    (TooManyRedirects, False, "too many redirects"),
    (RedirectError, False, "bad redirect or URL: {exc}"),
    (InvalidURL, False, "bad redirect or URL: {exc}"),
    (BodyTooLarge, False, "{exc}"),
    (DecodingError, False, "{exc}"),  # UnsupportedEncoding too
    (TruncatedBody, True, "truncated body: {exc}"),
    (ServerDisconnected, True, "server disconnected"),
    (TimeoutError, True, "timed out"),
    # A refused certificate or handshake: the same again on every attempt.
    (TLSError, False, "{exc}"),
    (ConnectError, True, "cannot connect: {reason}"),
    (HttpClientError, True, "{name}: {exc}"),
    (OSError, True, "{name}: {exc}"),  # the network's: file errors are FileError
)


def judge(
    failure: BaseException,
    attempt: int,
    options: DownloadOptions,
    rng: random.Random | None = None,
    *,
    now: float | None = None,
) -> Verdict:
    """The verdict on attempt number ``attempt`` (1-based) failing with ``failure``.

    A retryable failure is a RETRY while ``attempt`` is within
    ``options.retries`` extra attempts, and FINAL with "(after N attempts)"
    once they are used up.  ``rng`` draws the backoff's jitter; ``now``
    (epoch seconds) dates a ``Retry-After`` given as an HTTP-date.

    >>> judge(BadStatus(503, "Service Unavailable"), 4, DownloadOptions()).why
    'HTTP 503 Service Unavailable (after 4 attempts)'
    >>> judge(TimeoutError(), 1, DownloadOptions(), random.Random(1)).action
    <Action.RETRY: 'retry'>

    Raises ``TypeError`` for anything not in :data:`JUDGED`: an unexpected
    exception is a bug to propagate, not an outcome.
    """
    status: int | None = None
    wait: float | None = None
    if isinstance(failure, BadStatus):
        status = failure.status
        if status == 404:
            # The book's word for it, without the reason phrase.
            return Verdict(Action.NOT_FOUND, "HTTP 404", status=status)
        if status not in options.retry_statuses:
            return Verdict(Action.FINAL, str(failure), status=status)
        wait = parse_retry_after(failure.retry_after, now=now)
        if wait is not None:
            wait = min(wait, options.retry_after_max)
        why = str(failure)
    elif isinstance(failure, ShortBody):
        why = str(failure)
    elif isinstance(failure, RangeRefused):
        # The .part is gone: at once.
        why, wait, status = str(failure), 0.0, failure.status
    elif isinstance(failure, Failure | UnsafeName | FileError):
        return Verdict(Action.FINAL, str(failure))
    elif isinstance(failure, ProxyError):
        why = str(failure)
        if (
            failure.status not in _PROXY_RETRYABLE
            and failure.reply not in _SOCKS_RETRYABLE
        ):
            return Verdict(Action.FINAL, why)
    else:
        rule = next((r for r in _ERRORS if isinstance(failure, r[0])), None)
        if rule is None:
            raise TypeError(f"not a download failure: {failure!r}")
        _, retryable, text = rule
        reason = getattr(failure, "os_error", None) or failure
        why = text.format(exc=failure, name=type(failure).__name__, reason=reason)
        if not retryable:
            return Verdict(Action.FINAL, why)
    if attempt > options.retries:
        return Verdict(Action.FINAL, f"{why} (after {attempt} attempts)", status=status)
    if wait is None:
        wait = backoff_delay(attempt, options, rng)
    return Verdict(Action.RETRY, why, wait, status)
