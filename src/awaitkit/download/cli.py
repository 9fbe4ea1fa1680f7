"""``awaitkit flags`` and ``awaitkit fetch``: declare the arguments only.

The work lives in ``_commands`` and is imported when a command runs, so
building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import sys

from awaitkit._argtypes import Subcommands


def _run_flags(args: argparse.Namespace) -> int:
    from awaitkit.download._commands import run_flags

    return run_flags(args)


def _run_fetch(args: argparse.Namespace) -> int:
    from awaitkit.download._commands import run_fetch

    return run_fetch(args)


def _register_flags(commands: Subcommands) -> None:
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
    _add_common(parser)
    parser.set_defaults(handler=_run_flags, print_usage=parser.print_usage)


def _register_fetch(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "fetch",
        help="download any list of URLs, concurrently, with retries",
        description="Download URLs into --dest. Each body goes to .NAME.part and is "
        "renamed only once complete; an interrupted .part is resumed with a Range "
        "request next time. Exit status 1 if any URL was not downloaded; Ctrl-C "
        "prints the summary, keeps the .part files and exits 130 (SIGTERM: 143).",
    )
    parser.add_argument("urls", metavar="URL", nargs="*", help="URLs to download")
    parser.add_argument(
        "-i",
        "--input",
        metavar="FILE",
        help="read URLs from FILE, one per line ('-': stdin)",
    )
    parser.add_argument(
        "--dest", metavar="DIR", default=".", help="where to save (default: .)"
    )
    parser.add_argument(
        "-m",
        "--max-concurrency",
        dest="max_req",
        metavar="N",
        type=int,
        default=10,
        help="requests in flight in total (default 10)",
    )
    parser.add_argument(
        "--per-host",
        metavar="N",
        type=int,
        default=0,
        help="requests in flight per host (default 0: only -m applies)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print one line per URL"
    )
    parser.add_argument(
        "--content-disposition",
        action="store_true",
        help="name files after the server's Content-Disposition (sanitised)",
    )
    parser.add_argument(
        "--processes",
        metavar="N|auto",
        default="auto",
        help="downloading processes sharing -m and --per-host; auto: one per CPU "
        "(at most 4) for an input file of 128 KiB or more, else 1 (default auto)",
    )
    _add_common(parser)
    parser.set_defaults(handler=_run_fetch, print_usage=parser.print_usage)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retries",
        metavar="N",
        type=int,
        default=3,
        help="retries of connect errors, timeouts, resets, short bodies, 429 and 5xx "
        "(exponential backoff with jitter; Retry-After honoured) (default 3)",
    )
    parser.add_argument(
        "--timeout",
        metavar="CONNECT[,READ]",
        default="10,30",
        help="connect timeout and longest read silence, seconds (default 10,30)",
    )
    parser.add_argument(
        "--skip-existing", action="store_true", help="skip items whose file exists"
    )
    parser.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="never continue .part files (and delete them on failure)",
    )
    parser.add_argument(
        "--max-size", metavar="SIZE", help="refuse bodies larger than SIZE (e.g. 10M)"
    )
    parser.add_argument(
        "--max-redirects", metavar="N", type=int, default=5, help="(default 5)"
    )
    parser.add_argument(
        "--report", metavar="FILE.jsonl", help="write one JSON line per item to FILE"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no opening report",
    )


def register(commands: Subcommands) -> None:
    """Register ``awaitkit flags`` and ``awaitkit fetch``."""
    _register_flags(commands)
    _register_fetch(commands)
