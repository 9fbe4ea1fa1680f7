"""The uvicorn options that enforce the limits on HTTP request heads.

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

import importlib.util
from typing import Any

from awaitkit.servers._head_limits import HeadLimits

__all__ = ["HeadLimits", "uvicorn_options"]


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
