"""Socket helpers: bind first, then serve, so the port is known before anyone connects."""

from __future__ import annotations

import socket

__all__ = ["bind_tcp", "format_hostport"]


def bind_tcp(
    host: str = "127.0.0.1", port: int = 0, *, backlog: int = 1024
) -> socket.socket:
    """Create a listening TCP socket on ``host:port`` (port 0: the kernel picks one).

    The socket is listening when this returns, so a server handed it is
    reachable at once and ``sock.getsockname()`` tells the real port.

    Pass the same ``backlog`` to ``loop.create_server(sock=...)``: it calls
    ``listen()`` again with its own default of 100, and a burst of more
    connections than that gets SYNs dropped and 1 s client retries.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server(
        (host, port), family=family, backlog=backlog, reuse_port=False
    )
    sock.setblocking(False)
    return sock


def format_hostport(host: str, port: int) -> str:
    """``host:port``, with brackets around IPv6 literals."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
