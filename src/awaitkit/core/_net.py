"""Socket helpers: bind first, then serve, so the port is known before anyone connects."""

from __future__ import annotations

import socket

from awaitkit.core.errors import AwaitkitError, UsageError

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
    if not 0 <= port <= 65535:
        raise UsageError(f"port must be 0-65535, not {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server(
            (host, port), family=family, backlog=backlog, reuse_port=False
        )
    except (OSError, OverflowError) as exc:
        # "Address already in use" and friends: a message, not a traceback.
        reason = getattr(exc, "strerror", None) or str(exc)
        where = format_hostport(host, port)
        raise AwaitkitError(f"cannot listen on {where}: {reason}") from exc
    sock.setblocking(False)
    return sock


def format_hostport(host: str, port: int) -> str:
    """``host:port``, with brackets around IPv6 literals."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
