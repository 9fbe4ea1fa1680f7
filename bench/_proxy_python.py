"""The proxy's Python work per request, without sockets or an event loop running.

One client connection and one warm upstream connection, each given a
transport that counts writes and sends nothing; a GET and nginx's answer
(its real head fields, an 11 KB body) are fed to them as the loop would.
What remains is the proxy's own code and httptools: the figure that moves
when the per-request Python work does, whatever the neighbours' load (the
wrk rows also pay for syscalls, the kernel's TCP and the scheduler).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from awaitkit.flags._forward import parse_upstream
from awaitkit.flags._policy import Policy
from awaitkit.flags._proxy import ProxyConnection
from awaitkit.flags._proxy_site import ProxySite
from awaitkit.flags._rules import RuleSet
from awaitkit.flags._upstream import UpstreamConnection, UpstreamPool

_REQUEST = b"GET /flags/tc/tc.gif HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
    b"Date: Fri, 04 Dec 2026 19:50:58 GMT\r\nContent-Type: image/gif\r\n"
    b"Content-Length: 11031\r\nLast-Modified: Fri, 04 Dec 2026 19:49:58 GMT\r\n"
    b'Connection: keep-alive\r\nETag: "6b131966-2b17"\r\nAccept-Ranges: bytes\r\n'
    b"\r\n" + b"G" * 11031
)


class _CountingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: Any) -> None:
        self.writes += 1

    def writelines(self, list_of_data: Any) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def python_us_per_request(requests: int, repeats: int = 5) -> float:
    """Best of ``repeats`` runs of ``requests`` exchanges, in µs per request."""
    loop = asyncio.new_event_loop()
    try:
        pool = UpstreamPool(
            loop,
            parse_upstream("http://127.0.0.1:8080"),
            limit=1,
            connect_timeout=1,
            read_timeout=30,
            idle_timeout=15,
        )
        site = ProxySite(
            loop,
            pool,
            Policy.preset("LOCAL"),
            RuleSet(),
            max_connections=10,
            keepalive_timeout=15,
            request_timeout=30,
            cut_after=1024,
        )
        upstream = UpstreamConnection(loop, 30, lambda conn: None)
        upstream.connection_made(_CountingTransport())
        pool.count = 1
        pool.idle.append(upstream)
        client = ProxyConnection(site)
        transport = _CountingTransport()
        client.connection_made(transport)

        def exchange(n: int) -> None:
            for _ in range(n):
                client.data_received(_REQUEST)
                upstream.data_received(_RESPONSE)

        exchange(1000)  # warm up; then check the exchanges really happen
        if transport.writes != 1000 or site.stats.by_status[200] != 1000:
            raise RuntimeError(f"proxy did not answer: {site.stats.to_dict()}")
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            exchange(requests)
            best = min(best, (time.perf_counter() - start) / requests * 1e6)
        site.close()
        return best
    finally:
        loop.close()
