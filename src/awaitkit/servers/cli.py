"""``awaitkit serve tcp|web`` (and bare ``awaitkit serve``: both in one process).

Only arguments are declared here; the servers are imported when a command
runs, so building the CLI parser stays cheap.
"""

from __future__ import annotations

import argparse
from typing import Any

from awaitkit._argtypes import Subcommands, port, positive_float, positive_int

TCP_PORT = 2323
WEB_PORT = 8000


def _tcp_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("TCP limits")
    group.add_argument(
        "--max-clients",
        type=positive_int,
        default=512,
        help="concurrent clients; more get a 'busy' line (default: 512)",
    )
    group.add_argument(
        "--idle-timeout",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="close a client silent this long (default: 300)",
    )
    group.add_argument(
        "--write-timeout",
        type=positive_float,
        default=10.0,
        metavar="SECONDS",
        help="drop a client not reading its results this long (default: 10)",
    )
    group.add_argument(
        "--page-size",
        type=positive_int,
        default=100,
        help="results per reply; '+' asks for the next page (default: 100)",
    )


def register(serve: argparse.ArgumentParser, serve_commands: Subcommands) -> None:
    """Register ``awaitkit serve tcp``, ``awaitkit serve web`` and bare ``serve``."""
    tcp = serve_commands.add_parser(
        "tcp",
        help="Mojifinder over TCP (nc/telnet): one query per line",
        description="Serve Unicode character search over TCP, one query per line "
        "(try: nc 127.0.0.1 2323). A line holding '+' shows the next page.",
    )
    tcp.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    tcp.add_argument("--port", type=port, default=TCP_PORT, help=f"default: {TCP_PORT}")
    _tcp_options(tcp)
    tcp.set_defaults(handler=_run_tcp, default_log_level="INFO")

    web = serve_commands.add_parser(
        "web",
        help="Mojifinder over HTTP: a search page and a JSON API",
        description="Serve Unicode character search over HTTP: the page at /, "
        "JSON at /search?q=..., the API docs at /docs.",
    )
    web.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    web.add_argument("--port", type=port, default=WEB_PORT, help=f"default: {WEB_PORT}")
    web.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="worker processes (default: 1; each loads the index)",
    )
    web.add_argument(
        "--access-log", action="store_true", help="log every request at INFO"
    )
    web.set_defaults(handler=_run_web, default_log_level="INFO")

    # Bare `awaitkit serve`: both servers, one process, one shared index.
    both = serve.add_argument_group("with no SERVER: tcp and web together")
    both.add_argument(
        "--bind", default="127.0.0.1", help="host for both (default: 127.0.0.1)"
    )
    both.add_argument(
        "--tcp-port", type=port, default=TCP_PORT, help=f"default: {TCP_PORT}"
    )
    both.add_argument(
        "--web-port", type=port, default=WEB_PORT, help=f"default: {WEB_PORT}"
    )
    serve.set_defaults(handler=_run_both, default_log_level="INFO")


def _tcp_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "max_clients": getattr(args, "max_clients", 512),
        "idle_timeout": getattr(args, "idle_timeout", 300.0),
        "write_timeout": getattr(args, "write_timeout", 10.0),
        "page_size": getattr(args, "page_size", 100),
    }


def _run_tcp(args: argparse.Namespace) -> int:
    from awaitkit.core import run
    from awaitkit.find import load_index
    from awaitkit.servers._heap import settle_heap
    from awaitkit.servers._serve import (
        lean_logging,
        listen,
        serve_until_signal,
    )

    lean_logging()
    index = load_index()  # before listening and before the loop: it is synchronous
    settle_heap()
    sock = listen(args.host, args.port)
    run(serve_until_signal(index, tcp=sock, tcp_options=_tcp_kwargs(args)))
    print("Server shut down.")
    return 0


def _run_web(args: argparse.Namespace) -> int:
    if args.workers > 1:
        return _run_web_workers(args)

    from awaitkit.core import run
    from awaitkit.find import load_index
    from awaitkit.servers._heap import settle_heap
    from awaitkit.servers._serve import (
        lean_logging,
        listen,
        serve_until_signal,
    )

    lean_logging()
    index = load_index()
    settle_heap()
    sock = listen(args.host, args.port)
    run(
        serve_until_signal(index, web=sock, web_options={"access_log": args.access_log})
    )
    print("Server shut down.")
    return 0


def _run_web_workers(args: argparse.Namespace) -> int:
    import logging

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from awaitkit.core import format_hostport
    from awaitkit.servers._http_limits import HeadLimits, uvicorn_options
    from awaitkit.servers._serve import listen

    # Bind here (a clear error, and port 0 works); uvicorn's supervisor hands
    # the socket to worker processes, which import the app factory by name
    # and each load the index in their lifespan.
    sock = listen(args.host, args.port)
    host, port = sock.getsockname()[:2]
    logging.getLogger("awaitkit.servers").info(
        "Mojifinder web serving on http://%s (%d workers)",
        format_hostport(host, port),
        args.workers,
    )
    config = uvicorn.Config(
        "awaitkit.servers.web:create_app",
        factory=True,
        workers=args.workers,
        log_config=None,
        access_log=args.access_log,
        server_header=False,
        **uvicorn_options("auto", HeadLimits()),  # the same head limits
    )
    # What uvicorn.run() does for workers, but with our TCP socket: its fd=
    # option would wrap the socket as AF_UNIX, so asyncio would not set
    # TCP_NODELAY and every response would wait on delayed ACKs (~40 ms).
    Multiprocess(config, sockets=[sock]).run()
    sock.close()
    print("Server shut down.")
    return 0


def _run_both(args: argparse.Namespace) -> int:
    from awaitkit.core import run
    from awaitkit.find import load_index
    from awaitkit.servers._heap import settle_heap
    from awaitkit.servers._serve import (
        lean_logging,
        listen,
        serve_until_signal,
    )

    lean_logging()
    index = load_index()
    settle_heap()
    tcp = listen(args.bind, args.tcp_port)
    web = listen(args.bind, args.web_port)
    run(serve_until_signal(index, tcp=tcp, web=web, tcp_options=_tcp_kwargs(args)))
    print("Server shut down.")
    return 0
