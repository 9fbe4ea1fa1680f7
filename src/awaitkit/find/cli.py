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
  awaitkit find --format '{char}\\t{code}\\t{name}' flag
  awaitkit find --compact arrow | wc -l     one line per match, no rule/count
  awaitkit find --jsonl cat       one JSON object per line, for pickers
  printf 'cat\\ncat face\\n' | awaitkit find --stdin-queries

output: the book's lines (U+1F431, TAB, the character, TAB, its name), then a
rule and "N found" -- on a terminal and in a pipe alike, so a script sees what
a person sees; --compact leaves the rule and count out.  --format fields:
{char} {code} {name} {kind} {via}; escapes \\t \\n \\r \\0 \\\\; {{ and }} for
braces.  --stdin-queries reads one query per line and answers each with one
JSON line {"query", "total", "matches"} (or {"query", "error"}), flushed at
once; at most --limit matches each (default 100).

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
    parser.add_argument("words", nargs="*", metavar="WORD", help="query words")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument(
        "--json",
        action="store_true",
        help="print one JSON array of {char, code, name, kind, via}",
    )
    shape.add_argument(
        "--jsonl", action="store_true", help="print one JSON object per match and line"
    )
    shape.add_argument(
        "--format",
        metavar="TEMPLATE",
        help="print each match as TEMPLATE, e.g. '{char} {code} {name}'",
    )
    parser.add_argument(
        "--compact", action="store_true", help="leave out the rule and count line"
    )
    shape.add_argument(
        "--stdin-queries",
        action="store_true",
        help="answer each line of stdin with one JSON line (a picker backend)",
    )
    parser.add_argument(
        "--limit", type=positive_int, default=None, help="print at most N results"
    )
    parser.add_argument(
        "--offset", type=non_negative_int, default=0, help="skip the first N results"
    )
    parser.set_defaults(handler=_run, default_log_level=None, find_parser=parser)


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
    if not args.words and not args.stdin_queries:
        args.find_parser.error("give query words, or --stdin-queries")
    if args.words and args.stdin_queries:
        args.find_parser.error("--stdin-queries reads its queries from stdin only")
    template = None
    if args.format is not None:
        from awaitkit.find._output import parse_template

        template = parse_template(args.format)
    index = load_index()
    if args.stdin_queries:
        from awaitkit.find._picker import PICKER_LIMIT, serve_queries

        limit = PICKER_LIMIT if args.limit is None else args.limit
        return serve_queries(
            index, sys.stdin.buffer, out.buffer, limit=limit, offset=args.offset
        )
    if template is not None or args.json or args.jsonl:
        from awaitkit.find._output import print_matches

        return print_matches(args, index, template, _rule(out) * 66)
    try:
        total, codes = index.codes(
            " ".join(args.words), limit=args.limit, offset=args.offset
        )
    except QueryError as exc:
        raise UsageError(str(exc)) from exc
    # The lines of format_match(), without building Match values (see codes()).
    for c in codes:
        print(f"U+{c:04X}", chr(c), index.name(c), sep="\t")
    if not args.compact:
        print(_rule(out) * 66, f"{total} found")
    return 0 if total else 1
