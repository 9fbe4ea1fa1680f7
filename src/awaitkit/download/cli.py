"""``awaitkit fetch``: declare the arguments only.

The work lives in ``_commands`` and is imported when the command runs, so
building the parser stays cheap.  :func:`add_common_arguments` is shared
with the book's ``awaitkit flags`` (:mod:`awaitkit.book_flags`).
"""

from __future__ import annotations

import argparse

from awaitkit._argtypes import Subcommands


def _run_fetch(args: argparse.Namespace) -> int:
    from awaitkit.download._commands import run_fetch

    return run_fetch(args)


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
        "-j",
        "--jobs",
        "-m",
        "--max-concurrency",
        dest="max_req",
        metavar="N",
        type=int,
        default=10,
        help="requests in flight in total (default 10); -j/--jobs, as aria2c and GNU "
        "parallel name it, is the canonical spelling, -m/--max-concurrency the older one",
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
        "--checksum",
        metavar="sha256=HEX",
        help="check the one URL's body against this SHA-256 (as aria2c's "
        "--checksum): a mismatch is an ERROR and no file is kept",
    )
    parser.add_argument(
        "--compressed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ask for gzip, deflate, br or zstd and save bodies decoded, as curl's "
        "--compressed; --max-size then limits the decoded size, and a resumed "
        ".part is continued as identity bytes (default on; --no-compressed: ask "
        "for identity and save bodies as sent)",
    )
    parser.add_argument(
        "--naming",
        choices=("basename", "path", "hash"),  # _naming.NAMINGS, not imported here
        default="basename",
        help="file names: the URL's last path segment (basename), its host and path "
        "as folders, like wget -x (path), or a hash of the URL plus its extension "
        "(hash); a name already taken gets .1, .2... before its extension "
        "(default basename)",
    )
    parser.add_argument(
        "--processes",
        metavar="N|auto",
        default="auto",
        help="downloading processes sharing -m and --per-host; auto: one per CPU "
        "(at most 4) for an input file of 128 KiB or more, else 1 (default auto)",
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=_run_fetch, print_usage=parser.print_usage)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options every download command shares (retries, timeouts, ...)."""
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
        "--skip-existing",
        action="store_true",
        help="skip items whose file was there before the run",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files that were there before the run (default: save under "
        "the next free name, NAME.1.EXT; two items of one run never share a file)",
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
        "--max-time",
        metavar="SECONDS",
        type=float,
        help="give up an item after SECONDS, its retries included (an ERROR; its "
        ".part is kept for a resume)",
    )
    parser.add_argument(
        "--deadline",
        metavar="SECONDS",
        type=float,
        help="end the whole run after SECONDS: no item starts later, those still "
        "running end as ERROR, the rest of the input is not read (exit 1)",
    )
    parser.add_argument(
        "--limit-rate",
        metavar="RATE",
        help="at most RATE bytes per second in all (e.g. 500K, 2M), as curl's",
    )
    parser.add_argument(
        "--max-redirects", metavar="N", type=int, default=5, help="(default 5)"
    )
    parser.add_argument(
        "--report",
        metavar="FILE.jsonl",
        help="write one JSON line per item to FILE ('-': stdout, the summary then "
        "goes to stderr): status, path, bytes, attempts, error, HTTP status, final "
        "URL, ETag, Last-Modified and the SHA-256 of the file",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no opening report",
    )


def register(commands: Subcommands) -> None:
    """Register ``awaitkit fetch``."""
    _register_fetch(commands)
