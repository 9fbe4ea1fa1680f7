"""The ``awaitkit`` command line: one argparse parser, one subcommand per app.

Each app owns a small ``cli`` module that only declares arguments (so that
building the parser stays cheap) and registers a handler with
``parser.set_defaults(handler=fn)``; ``fn(args) -> int`` does the work and
returns the exit status.  ``default_log_level`` in the same defaults sets the
logging threshold when ``--log-level`` is not given (``None``: leave logging
unconfigured).  This module turns :class:`AwaitkitError` into its
``exit_code``, Ctrl-C into 130 and SIGTERM (where a command stops on it) into 143.

    awaitkit find WORDS...           search Unicode characters by name
    awaitkit serve [tcp|web|flags|faults]   run a server (no argument: tcp and web)
    awaitkit flags [CC...]           download flags (the book's flags2 CLI)
    awaitkit fetch URL... | -i FILE  download any list of URLs
    awaitkit probe TLD | -i FILE     probe DNS names
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from awaitkit import __version__
from awaitkit._argtypes import Subcommands
from awaitkit.core.errors import AwaitkitError, Terminated

__all__ = ["build_parser", "entry", "main"]

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
        from awaitkit.find import data_versions

        v = data_versions()
        print(
            f"awaitkit {__version__} (Unicode {v['unicode']}; find data: name "
            f"aliases of Unicode {v['aliases']}, emoji {v['emoji']}, CLDR {v['cldr']})"
        )
        parser.exit(0)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the parser; with ``argv`` naming a command, only that command's part.

    Declaring every command's arguments costs about 10 ms, a tenth of a
    short download's start-up; the other commands are only needed for the
    top-level help or for an unknown command's error, which get them all.
    """
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
    wanted = _command_in(argv) if argv is not None else None
    for name, register in _REGISTRARS:
        if wanted is None or wanted in name.split():
            register(commands)
    return parser


def _register_find(commands: Subcommands) -> None:
    from awaitkit.find import cli as find_cli

    find_cli.register(commands)


def _register_serve(commands: Subcommands) -> None:
    from awaitkit.flags import cli as flags_cli, proxy_cli
    from awaitkit.servers import cli as servers_cli

    serve = commands.add_parser(
        "serve",
        help="run a server: tcp, web, flags or faults (no argument: tcp and web together)",
        description="Run one of awaitkit's servers. With no server named, "
        "the TCP and web Mojifinder servers run together in one process.",
    )
    serve_commands = serve.add_subparsers(
        title="servers", dest="server", metavar="SERVER"
    )
    servers_cli.register(serve, serve_commands)
    flags_cli.register(serve_commands)
    proxy_cli.register(serve_commands)


def _register_book_flags(commands: Subcommands) -> None:
    from awaitkit.book_flags import cli as book_flags_cli

    book_flags_cli.register(commands)


def _register_download(commands: Subcommands) -> None:
    from awaitkit.download import cli as download_cli

    download_cli.register(commands)


def _register_probe(commands: Subcommands) -> None:
    from awaitkit.probe import cli as probe_cli

    probe_cli.register(commands)


# In the order of the help; each entry's names are the commands it declares.
_REGISTRARS: tuple[tuple[str, Callable[[Subcommands], None]], ...] = (
    ("find", _register_find),
    ("serve", _register_serve),
    ("flags", _register_book_flags),
    ("fetch", _register_download),
    ("probe", _register_probe),
)
_KNOWN = frozenset(" ".join(name for name, _ in _REGISTRARS).split())


def _command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, if it names a known one before any help flag."""
    args = iter(argv)
    for arg in args:
        if arg == "--log-level":
            next(args, None)
        elif arg.startswith("-"):
            if not arg.startswith("--log-level="):
                return None  # -h, --version, a typo: the full parser answers
        else:
            return arg if arg in _KNOWN else None
    return None


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
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    _configure_logging(args)
    try:
        status = _call(handler, args)
    except AwaitkitError as exc:
        print(f"awaitkit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("awaitkit: terminated", file=sys.stderr)
        return 143
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


def _call(
    handler: Callable[[argparse.Namespace], int], args: argparse.Namespace
) -> int:
    """``handler(args)``; a group of nothing but AwaitkitErrors raises its first.

    The commands raise their errors as themselves; this is the last resort
    for one that reaches the CLI inside an ``ExceptionGroup``, so the user
    sees one error line instead of a traceback.  A group holding anything
    else is a bug, and its traceback is shown.
    """
    errors: list[AwaitkitError] = []
    try:
        return handler(args)
    except* AwaitkitError as group:
        first: BaseException = group  # a group of AwaitkitErrors only, nested or not
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        assert isinstance(first, AwaitkitError)
        errors.append(first)
    raise errors[0]


def entry() -> NoReturn:
    """The ``awaitkit`` console script and ``python -m awaitkit``: :func:`main`, then exit.

    The exit skips the interpreter's teardown (freeing every module and
    object: about 15 ms after a bulk download, where curl's whole start
    and exit take 5 ms).  Nothing is lost: the interpreter first joins the
    other threads and runs the ``atexit`` functions registered since this
    call (logging's flush among them), last-registered first, so the one
    registered here runs last; it flushes the standard streams and ends
    the process with ``os._exit``.  Functions registered before this call
    (none, when the console script starts it) would run after it: they are
    skipped.
    """
    ended: list[int] = []  # the status, once main() has returned one

    def exit_now() -> None:
        if not ended:
            return  # main() raised: the ordinary exit reports it
        status = ended[0]
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:  # the reader went away: as main() reports it
            status = 141
        os._exit(status)

    atexit.register(exit_now)
    ended.append(main())
    sys.exit(ended[0])
