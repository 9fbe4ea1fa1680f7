"""``awaitkit find WORDS...``: search Unicode characters from the command line.

Only argument declarations live at module level: the main CLI imports this
module to build its parser, and ``find`` must start in a few milliseconds.
"""

from __future__ import annotations

import argparse
import sys

from awaitkit._argtypes import Subcommands, non_negative_int, positive_int

TYPE_CHECKING = False  # typing costs ~2 ms at start-up; type checkers know this name
if TYPE_CHECKING:
    pass

# ASCII only: help must print on any terminal, even LANG=C.
_EPILOG = """\
examples:
  awaitkit find cat face          names containing CAT and FACE
  awaitkit find cat fa            the last word is a prefix: CAT FACE...
  awaitkit find thumbs up         emoji short names work too
  awaitkit find U+1F431           a code point (also 0x1F431)
  awaitkit find CHARS             pasted characters: each one's name

exit status: 0 found, 1 nothing found, 2 usage error.
The index is cached in $AWAITKIT_CACHE_DIR or the user cache directory."""


def register(commands: Subcommands) -> None:
    """Register ``awaitkit find``."""
    parser = commands.add_parser(
        "find",
        help="search Unicode characters by name, code point or pasted text",
        description="Search Unicode characters by name words (the last word may "
        "be a prefix), emoji short names, code points or pasted characters.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("words", nargs="+", metavar="WORD", help="query words")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON array of {char, code, name}"
    )
    parser.add_argument(
        "--limit", type=positive_int, default=None, help="print at most N results"
    )
    parser.add_argument(
        "--offset", type=non_negative_int, default=0, help="skip the first N results"
    )
    parser.set_defaults(handler=_run, default_log_level=None)


def _rule(out: object) -> str:
    """The book's box-drawing rule, or ``-`` where the stream cannot encode it."""
    try:
        "─".encode(getattr(out, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return "-"
    return "─"


def _run(args: argparse.Namespace) -> int:
    from awaitkit.core.errors import QueryError, UsageError
    from awaitkit.find._cache import load_index

    # A terminal or pipe that cannot encode a character (LANG=C, ascii)
    # gets a \U0001f431 escape instead of a UnicodeEncodeError.
    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(errors="backslashreplace")
    index = load_index()
    try:
        total, codes = index.codes(
            " ".join(args.words), limit=args.limit, offset=args.offset
        )
    except QueryError as exc:
        raise UsageError(str(exc)) from exc
    # The lines of format_match(), without building Match values (see codes()).
    rows = [(f"U+{c:04X}", chr(c), index.name(c)) for c in codes]
    if args.json:
        import json

        encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
        matches = [{"char": ch, "code": code, "name": name} for code, ch, name in rows]
        # Escaped JSON stays valid JSON where the stream cannot carry UTF-8.
        print(json.dumps(matches, ensure_ascii=encoding != "utf8"))
    else:
        for row in rows:
            print("\t".join(row))
        print(_rule(out) * 66, f"{total} found")
    return 0 if total else 1
