"""Mojifinder servers: Unicode character search over TCP and HTTP.

    awaitkit serve tcp     # nc 127.0.0.1 2323, one query per line
    awaitkit serve web     # http://127.0.0.1:8000/ (page), /search?q=, /docs
    awaitkit serve         # both, in one process, sharing one index

In code::

    from awaitkit.find import load_index
    from awaitkit.servers import TcpServer, create_app, serving_web

    async with TcpServer(load_index(), bind_tcp("127.0.0.1", 0)) as server:
        ...
    async with serving_web(create_app()) as base_url:
        ...

Names load on first use: the CLI imports this package to build its parser
and must not pay for FastAPI and uvicorn.
"""

from __future__ import annotations

from awaitkit._lazy import attach

TYPE_CHECKING = False  # see awaitkit._lazy
if TYPE_CHECKING:
    from awaitkit.servers._head_limits import HeadLimits as HeadLimits
    from awaitkit.servers._protocol import (
        Reply as Reply,
        Search as Search,
        Session as Session,
    )
    from awaitkit.servers._search import CachedSearch as CachedSearch
    from awaitkit.servers._serve import (
        serve_until_signal as serve_until_signal,
        serving_web as serving_web,
    )
    from awaitkit.servers.tcp import TcpServer as TcpServer
    from awaitkit.servers.web import CharInfo as CharInfo, create_app as create_app

_LAZY = {
    "CachedSearch": "awaitkit.servers._search",
    "CharInfo": "awaitkit.servers.web",
    "HeadLimits": "awaitkit.servers._head_limits",
    "Reply": "awaitkit.servers._protocol",
    "Search": "awaitkit.servers._protocol",
    "Session": "awaitkit.servers._protocol",
    "TcpServer": "awaitkit.servers.tcp",
    "create_app": "awaitkit.servers.web",
    "serve_until_signal": "awaitkit.servers._serve",
    "serving_web": "awaitkit.servers._serve",
}

__all__ = [
    "CachedSearch",
    "CharInfo",
    "HeadLimits",
    "Reply",
    "Search",
    "Session",
    "TcpServer",
    "create_app",
    "serve_until_signal",
    "serving_web",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
