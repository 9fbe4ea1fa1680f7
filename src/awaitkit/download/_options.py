"""Download options and the retry policy: what to retry, and how long to wait (sans-I/O)."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from awaitkit import __version__
from awaitkit.core.errors import UsageError
from awaitkit.download._naming import NAMINGS, Naming

if TYPE_CHECKING:  # ssl and http.cookiejar cost start-up time; only types are named
    import ssl
    from http.cookiejar import CookieJar

    from awaitkit.http import ProxySettings

__all__ = [
    "DEFAULT_USER_AGENT",
    "RETRYABLE_STATUSES",
    "DownloadOptions",
    "backoff_delay",
    "parse_retry_after",
]

# 408 Request Timeout, 425 Too Early, 429 Too Many Requests and the 5xx that
# mean "try again later".  Any other 4xx (418 included) is the server's final
# word about this URL: retrying cannot change it, so it is ERROR at once.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

DEFAULT_USER_AGENT = f"awaitkit/{__version__}"
"""``awaitkit/VERSION``.  ``awaitkit.__version__`` is the installed
distribution's version (a test holds them equal): asking
``importlib.metadata`` instead costs about 40 ms of start-up, for a string
known when the package is built."""


@dataclass(frozen=True, slots=True)
class DownloadOptions:
    """Everything that shapes a batch; the defaults suit a polite bulk download.

    >>> DownloadOptions(concurrency=100, retries=5).per_host
    0
    """

    concurrency: int = 5  # total requests in flight (the connector's limit)
    per_host: int = 0  # requests in flight per host; 0: only the total applies
    retries: int = 3  # extra attempts after the first, for retryable failures
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # longest silence while waiting for headers or body
    backoff_base: float = 0.25  # first retry waits about this long, doubling after
    backoff_max: float = 10.0
    retry_after_max: float = 60.0  # never wait longer than this for Retry-After
    max_size: int | None = None  # bytes; larger bodies are refused (ERROR)
    max_redirects: int = 5
    skip_existing: bool = False  # skip an item whose file was there before the run
    # How URLs name files (see _naming): "basename", "path" (host and path as
    # folders) or "hash".  A name taken gets a suffix: metadata.1.json.
    naming: Naming = "basename"
    overwrite: bool = False  # replace files there before the run, not suffix
    # The run's start on the file system's clock (st_ctime_ns): files changed
    # since are the run's own, never replaced nor skipped.  None: taken when
    # the batch opens (every process of a spread run gets the parent's).
    started_ns: int | None = None
    resume: bool = True  # continue a leftover ``.part`` file with a Range request
    content_disposition: bool = False  # name files after Content-Disposition
    memory_limit: int = 256 * 1024  # bodies up to this size are written in one go
    max_time: float | None = None  # seconds per item, retries and waits included
    # When the whole run ends, on time.monotonic()'s clock (one clock for every
    # process): nothing starts after it, and what runs then ends as ERROR.
    deadline: float | None = None
    rate_limit: float | None = None  # bytes per second, all workers together
    # Results carry the final URL, ETag, Last-Modified and the SHA-256 of the
    # file (hashed as it is written, in the file thread): what a report holds.
    hash_files: bool = False
    user_agent: str = DEFAULT_USER_AGENT
    # For https:// (awaitkit.http.tls_context builds one from --cacert, -k,
    # --cert...); None: the system's CA certificates, loaded in a thread.
    ssl_context: ssl.SSLContext | None = None
    # Proxies (-x, --noproxy, http_proxy...): None, or what awaitkit.http.proxy_settings
    # made of them before the loop started.
    proxies: ProxySettings | None = None
    # Fields on every request (-H, --referer): (name, value) pairs; a None
    # value removes the client's own field (curl's -H 'Name:').
    headers: tuple[tuple[str, str | None], ...] = ()
    # HTTP Basic (-u): sent to each item's first origin only.
    credentials: tuple[str, str] | None = field(default=None, repr=False)
    # A netrc's credentials, (host, (user, password)) sorted; host "" is its
    # default entry, which is sent as -u's are.
    netrc: tuple[tuple[str, tuple[str, str]], ...] = field(default=(), repr=False)
    # Cookies (-b/-c): the jar of the one downloading process.
    cookie_jar: CookieJar | None = field(default=None, repr=False, compare=False)
    # -b 'name=value; ...': sent to each item's own origin, with the jar's.
    cookie_string: str | None = field(default=None, repr=False)
    # Offer gzip, deflate, br and zstd and save bodies decoded (curl's
    # --compressed); False: ask for identity and save bodies as sent.
    compressed: bool = True
    # Statuses worth another attempt; add 418 here to retry teapots too.
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 10_000:
            raise UsageError("concurrency must be between 1 and 10000")
        if self.per_host < 0:
            raise UsageError("per-host concurrency must be >= 0")
        if self.retries < 0:
            raise UsageError("retries must be >= 0")
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise UsageError(f"{name.replace('_', ' ')} must be > 0")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.retry_after_max < 0:
            raise UsageError("backoff and retry-after limits must be >= 0")
        if self.max_size is not None and self.max_size < 0:
            raise UsageError("max size must be >= 0")
        if self.max_redirects < 0:
            raise UsageError("max redirects must be >= 0")
        if self.max_time is not None and not (
            math.isfinite(self.max_time) and self.max_time > 0
        ):
            raise UsageError("max time must be > 0 seconds")
        if self.rate_limit is not None and not (
            math.isfinite(self.rate_limit) and self.rate_limit > 0
        ):
            raise UsageError("rate limit must be > 0 bytes/s")
        if self.naming not in NAMINGS:
            raise UsageError(f"naming must be one of {', '.join(NAMINGS)}")


def backoff_delay(
    attempt: int, options: DownloadOptions, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based).

    Exponential with "equal jitter": half the step is fixed, half random, so
    retries spread out (no thundering herd) yet never retry at once.
    """
    step = min(options.backoff_max, options.backoff_base * 2.0 ** (attempt - 1))
    draw = (rng or random).random()
    return step / 2 + step / 2 * draw


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), else None.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    import email.utils  # 4 ms to import at startup; an HTTP-date is rare

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
