"""``awaitkit serve faults --upstream URL``: declare the arguments only (the work is in ``_run``).

The fault options are those of ``serve flags`` (same names, same meaning), so
one set of flags tests a client of the flags server or of anything else.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from awaitkit._argtypes import Subcommands, port
from awaitkit.flags.cli import _OPTION_FIELDS, add_fault_options

if TYPE_CHECKING:
    import socket

    from awaitkit.flags._rules import RuleSet


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be in (0, 86400], not {text}")
    return value


def register(serve_commands: Subcommands) -> None:
    """Register ``awaitkit serve faults``."""
    parser = serve_commands.add_parser(
        "faults",
        help="a reverse proxy that injects the flags server's faults in front of any "
        "HTTP server",
        description="Forward HTTP/1.1 requests to --upstream (keep-alive, bodies "
        "streamed through) and inject the faults of `serve flags` into the answers: "
        "delays, error statuses, 429/503 with Retry-After (answered without asking "
        "the upstream), and resets, truncations and stalls cut at half the "
        "upstream's Content-Length (or after --cut-after bytes of a body without "
        "one). Host is set to the upstream's; the client's goes in "
        "X-Forwarded-Host, its address in X-Forwarded-For. An upstream that "
        "refuses, resets or answers garbage gets the client a 502, one silent "
        "for --upstream-timeout a 504.",
    )
    parser.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="the server to forward to: http://HOST[:PORT] (no path)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument(
        "--port", type=port, default=8001, help="default: 8001 (0: any)"
    )
    add_fault_options(parser)
    parser.add_argument(
        "--rules",
        metavar="FILE",
        help="fault rules from FILE, as for `serve flags --rules` (TOML or JSON): "
        "statuses are answered by the proxy; delays, cuts, stalls, bytes/s limits "
        "and headers apply to the upstream's responses",
    )
    parser.add_argument(
        "--seed", type=int, help="make the faults repeatable (per path and attempt)"
    )
    parser.add_argument(
        "--cut-after",
        type=_positive_int,
        default=1024,
        metavar="N",
        help="body bytes before a reset/truncate/stall cuts a response that has "
        "no Content-Length (1024)",
    )
    parser.add_argument(
        "--upstream-connections",
        type=_positive_int,
        default=100,
        metavar="N",
        help="keep-alive connections to the upstream, at most (100)",
    )
    parser.add_argument(
        "--upstream-timeout",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="answer 504 when the upstream sends nothing for S seconds (30)",
    )
    parser.add_argument(
        "--max-connections",
        type=_positive_int,
        default=10_000,
        metavar="N",
        help="answer 503 to client connections past N open ones (10000)",
    )
    parser.add_argument(
        "--keepalive-timeout",
        type=_seconds,
        default=15.0,
        metavar="S",
        help="close idle keep-alive connections after S seconds (15)",
    )
    parser.set_defaults(handler=_run, default_log_level="INFO")


def _run(args: argparse.Namespace) -> int:
    from awaitkit.core import bind_tcp, run
    from awaitkit.flags._forward import parse_upstream
    from awaitkit.flags._policy import Policy
    from awaitkit.flags._rulefile import load_rules

    options = {
        name: getattr(args, name)
        for name in _OPTION_FIELDS
        if getattr(args, name) is not None
    }
    Policy.preset(args.preset, **options)  # check before binding
    parse_upstream(args.upstream)
    # Before the loop starts, so a bad file exits 2 with its line named.
    rules = load_rules(args.rules, seed=args.seed) if args.rules else None
    sock = bind_tcp(args.host, args.port, backlog=4096)
    with sock:
        return run(_serve(args, options, sock, rules))


async def _serve(
    args: argparse.Namespace,
    options: dict[str, Any],
    sock: socket.socket,
    rules: RuleSet | None,
) -> int:
    import asyncio

    from awaitkit.core import stop_on_signals
    from awaitkit.flags._proxy_server import FaultProxy

    stop = asyncio.Event()
    with stop_on_signals(stop.set):
        async with FaultProxy(
            args.upstream,
            args.preset,
            host=args.host,
            port=args.port,
            seed=args.seed,
            max_connections=args.max_connections,
            keepalive_timeout=args.keepalive_timeout,
            upstream_connections=args.upstream_connections,
            upstream_timeout=args.upstream_timeout,
            cut_after=args.cut_after,
            sock=sock,
            rules=rules,
            **options,
        ) as proxy:
            with_rules = f", {len(proxy.rules)} rules" if rules else ""
            print(
                f"proxying {proxy.base_url} -> {proxy.upstream.url} "
                f"(preset {args.preset}{with_rules})",
                flush=True,
            )
            await stop.wait()
    print("stopped", flush=True)
    return 0
