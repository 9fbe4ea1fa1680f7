"""``awaitkit flags``: declare the arguments only.

The work lives in ``_command`` and is imported when the command runs, so
building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import sys

from awaitkit._argtypes import Subcommands
from awaitkit.download.cli import add_common_arguments

__all__ = ["register"]


def _run_flags(args: argparse.Namespace) -> int:
    from awaitkit.book_flags._command import run_flags

    return run_flags(args)


def register(commands: Subcommands) -> None:
    """Register ``awaitkit flags``."""
    parser = commands.add_parser(
        "flags",
        help="download flags (the book's flags2/flags3 client)",
        description="Download flags for country codes (default: top 20 countries by "
        "population). With no -s, an embedded flags server is started on an "
        "ephemeral loopback port, so this works offline.",
    )
    parser.add_argument(
        "cc",
        metavar="CC",
        nargs="*",
        help="country code or 1st letter (eg. B for BA...BZ)",
    )
    parser.add_argument(
        "-a", "--all", action="store_true", help="get all available flags (AD to ZW)"
    )
    parser.add_argument(
        "-e",
        "--every",
        action="store_true",
        help="get flags for every possible code (AA...ZZ)",
    )
    parser.add_argument(
        "-l",
        "--limit",
        metavar="N",
        type=int,
        default=sys.maxsize,
        help="limit to N first codes",
    )
    parser.add_argument(
        "-m",
        "--max-req",
        "--max_req",
        dest="max_req",
        metavar="CONCURRENT",
        type=int,
        default=5,
        help="maximum concurrent requests (default=5, at most 1000)",
    )
    parser.add_argument(
        "-s",
        "--server",
        metavar="LABEL|URL",
        help="LOCAL, DELAY, ERROR, REMOTE (the book's URLs) or a base URL "
        "(default: an embedded server)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="output detailed progress info"
    )
    parser.add_argument(
        "--dest",
        metavar="DIR",
        default="downloaded",
        help="where to save (default: ./downloaded)",
    )
    parser.add_argument(
        "--metadata",
        action="store_true",
        help="flags3: fetch metadata.json too and name each file after the country",
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=_run_flags, print_usage=parser.print_usage)
