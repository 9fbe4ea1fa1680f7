"""``awaitkit serve flags``: declare the arguments only (the work is in ``_run``)."""

from __future__ import annotations

import argparse
import contextlib
from typing import TYPE_CHECKING, Any

from awaitkit._argtypes import Subcommands, fraction, port

if TYPE_CHECKING:
    import socket
    import ssl
    from pathlib import Path

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


def add_fault_options(parser: argparse.ArgumentParser) -> None:
    """The preset and fault options (``serve flags`` and ``serve faults`` share them)."""
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
        "that path: with --seed a run repeats exactly, whatever the concurrency. "
        "httpbin-style paths need no option: /status/CODE, /delay/S, "
        "/drip?numbytes=N&duration=S&delay=S&code=C, /bytes/N?seed=K, /redirect/N, "
        "/gzip, /headers, /response-headers?K=V (see the README for the bounds).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument(
        "--port", type=port, default=8000, help="default: 8000 (0: any)"
    )
    parser.add_argument("--directory", metavar="DIR", help="serve DIR instead")
    add_fault_options(parser)
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
    https = parser.add_argument_group(
        "HTTPS",
        "--tls self-signed makes a CA and a certificate for localhost, 127.0.0.1, "
        "::1 and --host, and prints the path of the CA certificate to give "
        "clients (curl --cacert PATH, awaitkit fetch --cacert PATH); or give "
        "your own with --tls-cert and --tls-key.",
    )
    https.add_argument(
        "--tls",
        choices=("self-signed",),
        help="serve HTTPS under a CA made for this run (needs awaitkit[tls])",
    )
    https.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="serve HTTPS with this PEM certificate chain (its key too, unless --tls-key)",
    )
    https.add_argument("--tls-key", metavar="FILE", help="the PEM key of --tls-cert")
    https.add_argument(
        "--tls-dir",
        metavar="DIR",
        help="with --tls self-signed: write ca.pem under DIR and keep it "
        "(default: a new temporary folder, removed on exit)",
    )
    control = parser.add_argument_group(
        "control API",
        "change rules, read stats, verdicts and /metrics at runtime, over JSON "
        "on a port of its own (see README 'Control API'); every request needs "
        "'Authorization: Bearer TOKEN'",
    )
    control.add_argument(
        "--control-port",
        type=port,
        metavar="PORT",
        help="serve the control API on PORT (0: any); off without this option",
    )
    control.add_argument(
        "--control-host",
        metavar="HOST",
        help="address of the control API (127.0.0.1; others can then change "
        "the faults: keep it on loopback unless the network is yours)",
    )
    control.add_argument(
        "--control-token",
        metavar="TOKEN",
        help="the token it wants (8-512 visible ASCII characters); default: "
        "$AWAITKIT_CONTROL_TOKEN, else a random one, printed at start",
    )
    control.add_argument(
        "--metrics-public",
        action="store_true",
        help="let GET /metrics through without the token (for a Prometheus scraper)",
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
    import contextlib
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
    token = _control_token(args)
    with contextlib.ExitStack() as stack:
        # Certificates before binding: a bad file is a usage error, port untouched.
        context, ca_path = _tls(args, stack)
        sock = stack.enter_context(bind_tcp(args.host, args.port, backlog=4096))
        control_sock = None
        if args.control_port is not None:
            control_host = args.control_host or "127.0.0.1"
            control_sock = stack.enter_context(
                bind_tcp(control_host, args.control_port)
            )
        if args.directory is None:
            build_dataset()  # synchronous (cache read or drawing): before the loop
        if control_sock is not None:
            _import_control()  # prometheus-client: before the loop, too
        return run(
            _serve(args, options, sock, rules, context, ca_path, control_sock, token)
        )


def _tls(
    args: argparse.Namespace, stack: contextlib.ExitStack
) -> tuple[ssl.SSLContext | None, Path | None]:
    """The server context the HTTPS options ask for, and the CA file written, if any."""
    import tempfile
    from pathlib import Path

    from awaitkit.core import UsageError

    if args.tls_key is not None and args.tls_cert is None:
        raise UsageError("--tls-key needs --tls-cert")
    if args.tls is not None and args.tls_cert is not None:
        raise UsageError("give --tls self-signed or --tls-cert, not both")
    if args.tls_dir is not None and args.tls is None:
        raise UsageError("--tls-dir goes with --tls self-signed")
    if args.tls_cert is not None:
        from awaitkit.flags._tls import server_context

        return server_context(args.tls_cert, args.tls_key), None
    if args.tls is None:
        return None, None
    from awaitkit.flags._tls import self_signed_tls

    made = self_signed_tls([args.host])
    folder = args.tls_dir
    if folder is None:
        folder = stack.enter_context(
            tempfile.TemporaryDirectory(prefix="awaitkit-tls-")
        )
    return made.server_context, made.write_ca(Path(folder).absolute())


def _control_token(args: argparse.Namespace) -> str | None:
    """The control token given (option, then environment), checked; None: make one."""
    import os

    from awaitkit.core import UsageError
    from awaitkit.flags._token import check_token

    if args.control_port is None:
        given = [
            option
            for option, value in (
                ("--control-host", args.control_host),
                ("--control-token", args.control_token),
                ("--metrics-public", args.metrics_public or None),
            )
            if value is not None
        ]
        if given:
            raise UsageError(f"{', '.join(given)} needs --control-port")
        return None
    token = args.control_token
    if token is None:
        token = os.environ.get("AWAITKIT_CONTROL_TOKEN") or None
    return None if token is None else check_token(token)


def _import_control() -> None:
    import awaitkit.flags._control  # noqa: F401


async def _serve(
    args: argparse.Namespace,
    options: dict[str, Any],
    sock: socket.socket,
    rules: RuleSet | None,
    context: ssl.SSLContext | None = None,
    ca_path: Path | None = None,
    control_sock: socket.socket | None = None,
    token: str | None = None,
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
            ssl=context,
            control=control_sock is not None,
            control_sock=control_sock,
            control_token=token,
            metrics_public=args.metrics_public,
            **options,
        ) as server:
            what = args.directory or "the flags data set"
            with_rules = f", {len(server.rules)} rules" if rules else ""
            print(
                f"serving {what} on {server.base_url} "
                f"(preset {args.preset}{with_rules})",
                flush=True,
            )
            if ca_path is not None:
                print(
                    f"CA certificate: {ca_path} (curl --cacert {ca_path}; "
                    f"awaitkit fetch --cacert {ca_path})",
                    flush=True,
                )
            if control_sock is not None:
                shown = "given" if token is not None else server.control_token
                print(
                    f"control API on {server.control_url} (token {shown})", flush=True
                )
            await stop.wait()
    print("stopped", flush=True)
    return 0
