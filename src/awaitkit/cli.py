"""The ``awaitkit`` command line: one argparse parser, one subcommand per app.

Each app owns a small ``cli`` module that only declares arguments (so that
building the parser stays cheap) and registers a handler with
``parser.set_defaults(handler=fn)``; ``fn(args) -> int`` does the work and
returns the exit status.  ``default_log_level`` in the same defaults sets the
logging threshold when ``--log-level`` is not given (``None``: leave logging
unconfigured).  This module turns :class:`AwaitkitError` into its
``exit_code`` and Ctrl-C into 130.

    awaitkit find WORDS...           search Unicode characters by name
    awaitkit serve [tcp|web|flags]   run a server (no argument: tcp and web)
    awaitkit flags [CC...]           download flags (the book's flags2 CLI)
    awaitkit fetch URL... | -i FILE  download any list of URLs
    awaitkit probe TLD | -i FILE     probe DNS names
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from awaitkit import __version__
from awaitkit.core.errors import AwaitkitError

__all__ = ["build_parser", "main"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class _VersionAction(argparse.Action):
    """``--version``: the package version and the Unicode version ``find`` uses."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, **kwargs: object
    ) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show versions and exit")

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from awaitkit.find import unicode_version

        print(f"awaitkit {__version__} (Unicode {unicode_version()})")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    """Build the full parser; cheap, because app ``cli`` modules import nothing heavy."""
    from awaitkit.download import cli as download_cli
    from awaitkit.find import cli as find_cli
    from awaitkit.flags import cli as flags_cli
    from awaitkit.probe import cli as probe_cli
    from awaitkit.servers import cli as servers_cli

    parser = argparse.ArgumentParser(
        prog="awaitkit",
        description="Concurrent network I/O on asyncio.",
        epilog="Run 'awaitkit COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.upper,
        help="logging threshold on stderr (default: WARNING; servers: INFO)",
    )
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND"
    )
    find_cli.register(commands)
    serve = commands.add_parser(
        "serve",
        help="run a server: tcp, web or flags (no argument: tcp and web together)",
        description="Run one of awaitkit's servers. With no server named, "
        "the TCP and web Mojifinder servers run together in one process.",
    )
    serve_commands = serve.add_subparsers(
        title="servers", dest="server", metavar="SERVER"
    )
    servers_cli.register(serve, serve_commands)
    flags_cli.register(serve_commands)
    download_cli.register(commands)
    probe_cli.register(commands)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = args.log_level or getattr(args, "default_log_level", "WARNING")
    if level is None:
        # The command opted out (``find``: importing logging is ~5 ms of its
        # start-up); a warning it logs still reaches stderr through logging's
        # last-resort handler.
        return
    import logging

    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``awaitkit`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    _configure_logging(args)
    try:
        status: int = handler(args)
    except AwaitkitError as exc:
        print(f"awaitkit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("awaitkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`awaitkit find sign | head`): not an error of ours.
        # Point stdout at devnull so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return status
