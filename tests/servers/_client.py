"""An httpx client for the plain-HTTP servers on loopback, cheap to make inside a loop.

``httpx.AsyncClient()`` imports its transport package (httpcore) the first
time and loads the CA bundle into a new TLS context every time: work done in
the test's own loop step, long enough on a slow machine for the debug-mode
check (``tests/loopdebug.py``) to blame the test.  These servers speak plain
HTTP, so the client needs no TLS context, and httpcore is imported here, with
the test module, before any loop runs.
"""

from __future__ import annotations

import httpcore  # noqa: F401  (see above)
import httpx


def plain_client(base_url: str) -> httpx.AsyncClient:
    """A client for ``http://`` URLs only: it holds no CA bundle."""
    if not base_url.startswith("http://"):
        raise ValueError(f"not a plain-HTTP URL: {base_url!r}")
    return httpx.AsyncClient(base_url=base_url, verify=False)
