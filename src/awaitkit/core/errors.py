"""The awaitkit exception tree.

Every error awaitkit raises on purpose derives from :class:`AwaitkitError`;
foreign exceptions (``OSError``, ``socket.gaierror``)
are translated at one boundary per app, with the original chained::

    AwaitkitError                      exit_code = 1
    ├── UsageError(ValueError)         bad arguments or config; exit_code = 2
    ├── ClusterError                   --cluster: Ray cannot be reached or joined; exit_code = 3
    ├── TransportError                 network failures; the HTTP client's errors
    │   ├── ConnectError
    │   │   └── TLSError               the TLS handshake failed for good (not retried)
    │   ├── TimeoutExpired(TimeoutError)
    │   └── DecodingError              a body's Content-Encoding is corrupt or truncated
    │       └── UnsupportedEncoding    ... or names a coding we cannot decode
    ├── ResolveError                   DNS failed for a reason other than "no such name"
    ├── HTTPStatusError                .status_code, .url; only when the caller asks
    └── QueryError(ValueError)         find: empty or invalid query

Apart from the tree, :class:`Terminated` (a ``KeyboardInterrupt``) says that
SIGTERM, not Ctrl-C, stopped a command (``run(..., stop_on_sigterm=True)``).

Expected outcomes are values, not exceptions: a 404 inside a batch or a name
that does not resolve is a per-item result.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing costs ~2 ms of CLI start-up
if TYPE_CHECKING:
    from typing import ClassVar

__all__ = [
    "AwaitkitError",
    "ClusterError",
    "ConnectError",
    "DecodingError",
    "HTTPStatusError",
    "QueryError",
    "ResolveError",
    "TLSError",
    "Terminated",
    "TimeoutExpired",
    "TransportError",
    "UnsupportedEncoding",
    "UsageError",
]


class AwaitkitError(Exception):
    """Root of every error awaitkit raises on purpose."""

    exit_code: ClassVar[int] = 1


class UsageError(AwaitkitError, ValueError):
    """Bad arguments or configuration; the CLI exits with status 2."""

    exit_code: ClassVar[int] = 2


class ClusterError(AwaitkitError):
    """``--cluster``: the Ray cluster cannot be reached or joined; exit status 3."""

    exit_code: ClassVar[int] = 3


class TransportError(AwaitkitError):
    """A network operation failed (wraps ``OSError`` and client errors)."""


class ConnectError(TransportError):
    """The connection could not be established."""


class TLSError(ConnectError):
    """The TLS handshake failed in a way another attempt cannot fix.

    A certificate refused by either side (unknown CA, wrong host name,
    expired, a client certificate missing or refused), or no TLS version or
    cipher in common.  A connection dropped during the handshake is a plain
    :class:`ConnectError`: that one may be worth retrying.
    """


class TimeoutExpired(TransportError, TimeoutError):
    """An operation did not finish within its timeout."""


class DecodingError(TransportError):
    """A response body could not be decoded from its Content-Encoding.

    Corrupt or truncated data: the same bytes would fail again, so the
    downloader does not retry it.
    """


class UnsupportedEncoding(DecodingError):
    """A response's Content-Encoding names a coding that cannot be decoded."""


class ResolveError(AwaitkitError):
    """DNS resolution failed for a reason other than "no such name"."""


class HTTPStatusError(AwaitkitError):
    """An HTTP response had an error status and the caller asked to raise."""

    def __init__(self, message: str, *, status_code: int, url: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.url = url


class QueryError(AwaitkitError, ValueError):
    """A find query was empty or invalid."""


class Terminated(KeyboardInterrupt):
    """SIGTERM stopped a run the way Ctrl-C does (``run(..., stop_on_sigterm=True)``).

    A ``KeyboardInterrupt``, so code that ends cleanly on Ctrl-C ends the same
    way on ``kill``, ``timeout`` or a service manager; the CLI tells the two
    apart by exit status (143 rather than 130).
    """
