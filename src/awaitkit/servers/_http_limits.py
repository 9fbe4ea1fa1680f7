"""Limits on HTTP request heads, and the uvicorn options that enforce them.

Unbounded, uvicorn's httptools protocol buffers whatever a client sends
before the blank line that ends a request head: a 256 MiB header is read,
concatenated chunk by chunk (time quadratic in its size) and answered.
:class:`HeadLimits` bounds the request target, the whole head and the
number of header fields; :func:`uvicorn_options` turns it into uvicorn
settings:

* with httptools (the default whenever it is installed) the protocol is
  :class:`~awaitkit.servers._httptools_bounded.BoundedHttpToolsProtocol`,
  which answers ``414``/``431`` and closes, and also answers a request
  whose client half-closed the connection;
* with h11 (uvicorn's fallback when httptools is missing, or on request)
  h11's own buffer bound is set to ``max_head``: a longer head gets h11's
  ``400`` and the connection closes.

This module imports neither httptools nor uvicorn, so it works without them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any

__all__ = ["HeadLimits", "uvicorn_options"]


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


def uvicorn_options(http: Any, limits: HeadLimits) -> dict[str, Any]:
    """``uvicorn.Config`` keyword arguments enforcing ``limits``.

    ``http`` is uvicorn's option: ``"auto"`` and ``"httptools"`` get the
    bounded httptools protocol (``"auto"`` falls back to h11 when httptools
    is not installed); anything else (``"h11"``, a protocol class) is kept.
    h11 is bounded in every case, since uvicorn may pick it.
    """
    if http == "httptools" or (
        http == "auto" and importlib.util.find_spec("httptools") is not None
    ):
        # Imported here: it needs httptools.  If uvicorn dropped a hook the
        # protocol relies on, this import raises instead of serving unbounded.
        from awaitkit.servers._httptools_bounded import BoundedHttpToolsProtocol

        http = BoundedHttpToolsProtocol.with_limits(limits)
    elif http == "auto":
        http = "h11"
    return {"http": http, "h11_max_incomplete_event_size": limits.max_head}
