"""``awaitkit serve flags``: declare the arguments only (the work is in ``_run``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from awaitkit._argtypes import Subcommands, fraction, port

if TYPE_CHECKING:
    import socket

    from awaitkit.flags._rules import RuleSet

PRESET_NAMES = ("LOCAL", "DELAY", "ERROR")

# (option, Policy field, help) for the per-fault rates.
_RATES = (
    ("--error-rate", "error_rate", "share of requests answered with --error-status"),
    ("--rate-limit-rate", "rate_limit_rate", "share answered 429 with Retry-After"),
    ("--unavailable-rate", "unavailable_rate", "share answered 503 with Retry-After"),
    ("--reset-rate", "reset_rate", "share reset (TCP RST) in the middle of the body"),
    (
        "--truncate-rate",
        "truncate_rate",
        "share closed after half the body (short of Content-Length)",
    ),
    ("--stall-rate", "stall_rate", "share that send half the body, then stall"),
)


def register(serve_commands: Subcommands) -> None:
    """Register ``awaitkit serve flags``."""
    parser = serve_commands.add_parser(
        "flags",
        help="serve the flags data set (or a directory) with delays and faults",
        description="Serve the flags data set from memory (or any directory) over "
        "HTTP/1.1, injecting delays and faults. Presets: LOCAL (no faults), DELAY "
        "(0.5-5 s delays), ERROR (25 percent 418, 0.5 s delay); options override them. "
        "--rules FILE adds per-path rules (match method, path, headers, attempt "
        "number; give a status, delay, reset/close/stall at byte N, bytes/s limit or "
        "a schedule by attempt); the first matching rule wins, other requests get "
        "the rates. Rates and jitter are drawn per (path, attempt), the attempt "
        "being the Nth request of one client (X-Client-Id, else its address) for "
        "that path: with --seed a run repeats exactly, whatever the concurrency.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument(
        "--port", type=port, default=8000, help="default: 8000 (0: any)"
    )
    parser.add_argument("--directory", metavar="DIR", help="serve DIR instead")
    parser.add_argument(
        "--preset", type=str.upper, choices=PRESET_NAMES, default="LOCAL"
    )
    parser.add_argument(
        "--delay", metavar="MIN[-MAX]", help="delay every response (seconds, uniform)"
    )
    parser.add_argument(
        "--error-status", type=int, metavar="CODE", help="status of --error-rate"
    )
    for option, dest, text in _RATES:
        parser.add_argument(option, dest=dest, type=fraction, metavar="P", help=text)
    parser.add_argument(
        "--retry-after", type=int, metavar="S", help="Retry-After of 429/503 (1)"
    )
    parser.add_argument(
        "--stall-timeout",
        type=float,
        metavar="S",
        help="how long a stalled response holds its connection (30)",
    )
    parser.add_argument(
        "--rules",
        metavar="FILE",
        help="fault rules from FILE: TOML ([[rule]] tables) or JSON (a list), "
        "by extension; see README 'Fault rules'",
    )
    parser.add_argument(
        "--seed", type=int, help="make the faults repeatable (per path and attempt)"
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=10_000,
        metavar="N",
        help="answer 503 to connections past N open ones (10000)",
    )
    parser.add_argument(
        "--keepalive-timeout",
        type=float,
        default=15.0,
        metavar="S",
        help="close idle keep-alive connections after S seconds (15)",
    )
    parser.add_argument(
        "--export",
        metavar="DIR",
        help="write the data set under DIR and exit (to serve it with another server)",
    )
    parser.set_defaults(handler=_run, default_log_level="INFO")


_OPTION_FIELDS = (
    "delay",
    "error_status",
    "retry_after",
    "stall_timeout",
    *(dest for _, dest, _ in _RATES),
)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from awaitkit.core import UsageError, bind_tcp, run
    from awaitkit.flags._dataset import build_dataset, export_dataset
    from awaitkit.flags._policy import Policy
    from awaitkit.flags._rulefile import load_rules

    if args.export:
        root = export_dataset(args.export)
        print(f"wrote {len(build_dataset())} files under {root}")
        return 0
    options = {
        name: getattr(args, name)
        for name in _OPTION_FIELDS
        if getattr(args, name) is not None
    }
    # Check everything cheap before loading (or, on a first run, drawing) images.
    Policy.preset(args.preset, **options)
    # Before the loop starts, so a bad file exits 2 with its line named.
    rules = load_rules(args.rules, seed=args.seed) if args.rules else None
    if args.directory is not None and not Path(args.directory).is_dir():
        raise UsageError(f"not a directory: {args.directory}")
    sock = bind_tcp(args.host, args.port, backlog=4096)  # bind first
    with sock:
        if args.directory is None:
            build_dataset()  # synchronous (cache read or drawing): before the loop
        return run(_serve(args, options, sock, rules))


async def _serve(
    args: argparse.Namespace,
    options: dict[str, Any],
    sock: socket.socket,
    rules: RuleSet | None,
) -> int:
    import asyncio

    from awaitkit.core import stop_on_signals
    from awaitkit.flags._server import FlagsServer

    stop = asyncio.Event()
    with stop_on_signals(stop.set):
        async with FlagsServer(
            args.preset,
            host=args.host,
            port=args.port,
            directory=args.directory,
            seed=args.seed,
            max_connections=args.max_connections,
            keepalive_timeout=args.keepalive_timeout,
            sock=sock,
            rules=rules,
            **options,
        ) as server:
            what = args.directory or "the flags data set"
            with_rules = f", {len(server.rules)} rules" if rules else ""
            print(
                f"serving {what} on {server.base_url} "
                f"(preset {args.preset}{with_rules})",
                flush=True,
            )
            await stop.wait()
    print("stopped", flush=True)
    return 0
