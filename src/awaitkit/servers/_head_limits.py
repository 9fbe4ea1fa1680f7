"""Limits on one HTTP request head (:class:`HeadLimits`), pure data.

Its own module so that both the uvicorn options (:mod:`._http_limits`) and
the bounded protocol that reads the limits (:mod:`._httptools_bounded`)
import it, and neither imports the other at module level.
"""

from __future__ import annotations

import dataclasses

__all__ = ["HeadLimits"]


@dataclasses.dataclass(frozen=True, slots=True)
class HeadLimits:
    """Bounds on one request head, in bytes (and fields).

    The defaults leave wide room for Mojifinder, whose longest valid URL is
    under 3 KiB (a 200-character query, percent-encoded): 16 KiB of target
    is what most servers accept (Apache 8 KiB, nginx 8 KiB per line, Node
    16 KiB for the whole head), and 64 KiB of head fits the cookies that
    pile up on ``localhost`` from other development servers.  100 fields is
    Apache's ``LimitRequestFields``.

    The head is counted as its canonical bytes: request line, each field as
    ``name: value`` plus CRLF, and the closing blank line.  Extra whitespace
    a client adds around values is not counted field by field, but the raw
    bytes received while a head is incomplete are capped at ``max_head``
    too, so no head buffers more than ``max_head`` plus one socket read.
    """

    max_target: int = 16 * 1024
    """Longest request target (path and query) before ``414 URI Too Long``."""
    max_head: int = 64 * 1024
    """Largest request head before ``431 Request Header Fields Too Large``."""
    max_fields: int = 100
    """Most header fields before ``431``."""

    def __post_init__(self) -> None:
        if min(self.max_target, self.max_head, self.max_fields) < 1:
            raise ValueError(f"head limits must be positive: {self}")
        if self.max_target > self.max_head:
            raise ValueError("max_target cannot exceed max_head")
