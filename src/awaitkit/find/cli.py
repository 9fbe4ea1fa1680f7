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
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any, TextIO

    from awaitkit.find._index import CharIndex

# ASCII only: help must print on any terminal, even LANG=C.
_EPILOG = """\
examples:
  awaitkit find cat face          names containing CAT and FACE
  awaitkit find cat fa            the last word is a prefix: CAT FACE...
  awaitkit find thumbs up         emoji short names work too
  awaitkit find flag brazil       emoji sequences: flags, keycaps, families,
                                  skin tones (their code points, space-separated)
  awaitkit find nbsp              name aliases: nbsp, bom, zwj, factorial
  awaitkit find sad               CLDR keywords, listed after name matches
  awaitkit find --lang fr chat    emoji names and keywords in French too
  awaitkit find -o cat dog        any of the words (the most words first)
  awaitkit find -x red heart      whole names only
  awaitkit find '"thumbs up"'     a phrase: these words, adjacent, in order
  awaitkit find U+1F431           a code point (also 0x1F431)
  awaitkit find U+2042..U+2044    a range (also U+2042-2044): every code point,
                                  unnamed ones as <reserved-0378>, <surrogate-D800>
  awaitkit find CHARS             pasted characters: each one's name
  awaitkit find --block "Box Drawing"   list a block (any spelling: box_drawing)
  awaitkit find --script Greek    list a script (also its code: Grek)
  awaitkit find --category Sm     list a category (Sm, "math symbol", L for letters)
  awaitkit find --script Greek alpha    a query, filtered by script
  awaitkit find --all --limit 20  every assigned code point, paged
  awaitkit find --identify TEXT  code points, name, category, block, script,
                                  age, UTF-8, UTF-16, HTML of each character
  echo hi | awaitkit find --identify -    the same for standard input
  awaitkit find --from-bytes utf8:e282ac  decode bytes (utf8, utf16le/be, utf32le/be)
  awaitkit find --list-blocks     also --list-scripts, --list-categories
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
    how = parser.add_argument_group("query")
    how.add_argument(
        "-o",
        "--or",
        dest="any_word",
        action="store_true",
        help="match names having any of the words (most words first)",
    )
    how.add_argument(
        "-x",
        "--exact",
        action="store_true",
        help="match whole names only (no prefix, no extra words)",
    )
    how.add_argument(
        "--lang",
        metavar="LANG",
        help="search emoji names and keywords in LANG too (fr, de, es, ja, ...)",
    )
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument(
        "--json",
        action="store_true",
        help="print one JSON array of {char, code, name, kind, via} "
        "(identify: every field)",
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
    what = parser.add_argument_group("properties and listings")
    what.add_argument(
        "--identify",
        metavar="TEXT",
        help="describe each character or emoji sequence of TEXT ('-': stdin)",
    )
    what.add_argument(
        "--from-bytes",
        metavar="ENC:HEX",
        help="decode hex bytes, then identify them: utf8:e282ac",
    )
    what.add_argument("--block", metavar="NAME", help="list, or filter by, a block")
    what.add_argument("--script", metavar="NAME", help="list, or filter by, a script")
    what.add_argument(
        "--category", metavar="CAT", help="list, or filter by, a general category"
    )
    what.add_argument(
        "--all", action="store_true", help="list every assigned code point"
    )
    for kind in ("blocks", "scripts", "categories"):
        what.add_argument(
            f"--list-{kind}", action="store_true", help=f"print the {kind} and exit"
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

    # A terminal or pipe that cannot encode a character (LANG=C, ascii)
    # gets a \U0001f431 escape instead of a UnicodeEncodeError.
    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(errors="backslashreplace")
    listing = args.list_blocks or args.list_scripts or args.list_categories
    inputs = args.identify is not None or args.from_bytes is not None
    filters = args.block or args.script or args.category
    if args.stdin_queries:
        if args.words or listing or inputs or filters or args.all:
            args.find_parser.error(
                "--stdin-queries reads its queries from stdin only: "
                "no query words, filters, listings or --identify"
            )
    elif not (args.words or listing or inputs or filters or args.all):
        args.find_parser.error(
            "give query words, a listing or --identify option, or --stdin-queries"
        )
    if (listing or inputs) and (args.words or filters or args.all):
        args.find_parser.error(
            "--identify, --from-bytes and --list-* take no query words or filters"
        )
    if (listing or inputs) and args.format is not None:
        args.find_parser.error("--format prints matches: not --identify or --list-*")
    if args.identify is not None and args.from_bytes is not None:
        args.find_parser.error("--identify and --from-bytes exclude each other")
    if args.all and args.words:
        args.find_parser.error("--all lists everything: give it no query words")
    args.template = None
    if args.format is not None:
        from awaitkit.find._output import parse_template

        args.template = parse_template(args.format)
    if args.stdin_queries:
        from awaitkit.find._picker import PICKER_LIMIT, serve_queries

        limit = PICKER_LIMIT if args.limit is None else args.limit
        index = load_checked(args)
        return serve_queries(
            index,
            sys.stdin.buffer,
            out.buffer,
            limit=limit,
            offset=args.offset,
            options=query_options(args),
        )
    try:
        if listing:
            return _print_listing(args, out)
        if inputs:
            return _run_identify(args, out)
        return _run_codes(args, out)
    except QueryError as exc:
        raise UsageError(str(exc)) from exc


def _run_codes(args: argparse.Namespace, out: TextIO) -> int:
    """Query words, ranges, listings of a block/script/category, with filters."""
    text = " ".join(args.words)
    upper = text.upper()
    maybe_range = ("." in upper or "-" in upper) and ("U+" in upper or "0X" in upper)
    if not (maybe_range or args.all or args.block or args.script or args.category):
        return _run_index(args, out, text, [])  # the common path imports no more

    from awaitkit.find import _ranges

    predicates: list[Callable[[str], bool]] = []
    if args.block:
        predicates.append(_ranges.in_block(args.block))
    if args.script:
        predicates.append(_ranges.in_script(args.script))
    if args.category:
        predicates.append(_ranges.in_category(args.category))
    ranges = _ranges.parse_ranges(text) if maybe_range else None
    codes: Iterator[int]
    total: int | None = None
    if args.all:
        codes = _ranges.all_codes()
    elif ranges is not None:
        codes = _ranges.iter_codes(ranges)
        total = None if predicates else _ranges.count_codes(ranges)
    elif not args.words:
        # A listing: the first filter is the source, the others filter it.
        if args.block:
            codes = _ranges.block_codes(args.block)
        elif args.script:
            codes = _ranges.script_codes(args.script)
        else:
            codes = _ranges.category_codes(args.category)
        if len(predicates) == 1:
            predicates = []
    else:
        return _run_index(args, out, text, predicates)
    if predicates:
        codes = (c for c in codes if all(p(chr(c)) for p in predicates))
    return _print_codes(args, out, codes, total)


def load_checked(args: argparse.Namespace) -> CharIndex:
    """The index, after checking ``--lang`` against what it has (a usage error)."""
    from awaitkit.core.errors import UsageError
    from awaitkit.find._cache import load_index

    index = load_index()
    if args.lang is not None and args.lang.lower() not in index.languages:
        raise UsageError(
            f"--lang: unknown language {args.lang[:20]!r}; known: "
            + ", ".join(index.languages)
        )
    return index


def query_options(
    args: argparse.Namespace, predicates: Sequence[Callable[[str], bool]] = ()
) -> dict[str, Any]:
    """The keyword arguments of ``CharIndex.query`` that the options ask for."""
    options: dict[str, Any] = {}
    if args.lang is not None:
        options["lang"] = args.lang.lower()
    if args.any_word:
        options["any_word"] = True
    if args.exact:
        options["exact"] = True
    if predicates:
        options["where"] = lambda s: all(p(s) for p in predicates)
    return options


def _run_index(
    args: argparse.Namespace,
    out: TextIO,
    text: str,
    predicates: list[Callable[[str], bool]],
) -> int:
    index = load_checked(args)
    options = query_options(args, predicates)
    if args.template is not None or args.json or args.jsonl:
        from awaitkit.find._output import print_matches

        return print_matches(
            args, index, args.template, _rule(out) * 66, predicates, options=options
        )
    # where= filters before paging, so the total counts filtered matches.
    total, found = index.codes(text, limit=args.limit, offset=args.offset, **options)
    return _print_rows(args, out, total, found, index)


def _print_rows(
    args: argparse.Namespace,
    out: TextIO,
    total: int,
    entries: list[int],
    index: CharIndex,
) -> int:
    # The lines of format_match(), without building Match values (see codes()).
    lang = args.lang.lower() if args.lang else None
    for e in entries:
        print(index.code(e), index.char(e), index.name(e, lang), sep="\t")
    if not args.compact:
        print(_rule(out) * 66, f"{total} found")
    return 0 if total else 1


# Characters printed as an empty column: they would break the line or the
# terminal (controls, separators) or cannot be encoded (surrogates).
_HIDDEN = frozenset({"Cc", "Cs", "Cn", "Zl", "Zp"})


def _display(char: str) -> str:
    """How a code point shows in a text column: marks on a dotted circle."""
    from awaitkit.find._ucd import ucd

    category = ucd.category(char)
    if category in _HIDDEN:
        return ""
    return "\u25cc" + char if category in ("Mn", "Me", "Mc") else char


class _Batch:
    """Text written in blocks: a write per row was most of a long listing's cost."""

    __slots__ = ("out", "parts")

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        if len(self.parts) >= 1024:
            self.flush()

    def flush(self) -> None:
        self.out.write("".join(self.parts))
        self.parts.clear()


def _json_dump(value: object, out: TextIO) -> str:
    import json

    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
    # Escaped JSON stays valid JSON where the stream cannot carry UTF-8 (and
    # where a lone surrogate would otherwise be written raw).
    text = json.dumps(value, ensure_ascii=False)
    if encoding != "utf8" or any("\ud800" <= c <= "\udfff" for c in text):
        text = json.dumps(value)
    return text


def _print_codes(
    args: argparse.Namespace, out: TextIO, codes: Iterator[int], total: int | None
) -> int:
    """Stream a page of ``codes`` as result lines; count the rest when ``total`` is unknown.

    Never holds more than one row: a range of a million code points with
    ``--limit 10`` reads 10 of them (and counts by arithmetic).
    """
    from itertools import islice

    from awaitkit.find._labels import code_label

    seen = 0

    def counted() -> Iterator[int]:
        nonlocal seen
        for code in codes:
            seen += 1
            yield code

    source = counted()
    end = None if args.limit is None else args.offset + args.limit
    batch = _Batch(out)
    if args.json:
        batch.add("[")
    for n, code in enumerate(islice(source, args.offset, end)):
        char, name, label = chr(code), code_label(code), f"U+{code:04X}"
        if args.json or args.jsonl:
            row = {"char": char, "code": label, "name": name}
            row |= {"kind": "char", "via": "code"}
            if args.jsonl:
                batch.add(_json_dump(row, out) + "\n")
            else:
                batch.add((", " if n else "") + _json_dump(row, out))
        elif args.template is not None:
            batch.add(
                args.template.render_fields(
                    char=char, code=label, name=name, kind="char", via="code"
                )
                + "\n"
            )
        else:
            batch.add(f"{label}\t{_display(char)}\t{name}\n")
    batch.flush()
    if total is None:
        total = seen + sum(1 for _ in source)
    if args.json:
        out.write("]\n")
    elif not (args.jsonl or args.compact):
        print(_rule(out) * 66, f"{total} found")
    return 0 if total else 1


def _print_listing(args: argparse.Namespace, out: TextIO) -> int:
    """``--list-blocks``, ``--list-scripts``, ``--list-categories``: one per line."""
    from awaitkit.find import _props

    rows: list[tuple[str, ...]]
    if args.list_blocks:
        rows = [
            (f"U+{first:04X}..U+{last:04X}", name)
            for name, first, last in _props.blocks()
        ]
    elif args.list_scripts:
        rows = list(_props.scripts())
    else:
        rows = list(_props.CATEGORIES.items())
    if args.json or args.jsonl:
        keys = ("range", "name") if args.list_blocks else ("code", "name")
        objects = [dict(zip(keys, row, strict=True)) for row in rows]
        if args.jsonl:
            out.write("".join(_json_dump(o, out) + "\n" for o in objects))
        else:
            print(_json_dump(objects, out))
    else:
        for row in rows:
            print("\t".join(row))
    return 0


# Stdin for --identify is a paste, not a file: past this, a usage error.
_MAX_STDIN = 64 * 1024 * 1024


def _read_stdin() -> str:
    from awaitkit.core.errors import UsageError

    data = sys.stdin.buffer.read(_MAX_STDIN + 1)
    if len(data) > _MAX_STDIN:
        raise UsageError(
            f"standard input is over {_MAX_STDIN} bytes: too large to identify"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Identify it anyway: each invalid byte becomes the lone surrogate
        # U+DC80..U+DCFF (Python's surrogateescape), shown as such.
        print(
            f"awaitkit: warning: standard input is not UTF-8 (byte {exc.start}: "
            f"{data[exc.start : exc.end].hex()}); invalid bytes show as "
            "<surrogate-DCxx>, xx being the byte",
            file=sys.stderr,
        )
        return data.decode("utf-8", "surrogateescape")


_IDENTIFY_HEADER = "char\tcode\tname\tcat\tblock\tscript\tage\tutf8\tutf16\thtml"


def _run_identify(args: argparse.Namespace, out: TextIO) -> int:
    """``--identify TEXT`` / ``--from-bytes ENC:HEX``: one row per unit, streamed."""
    from itertools import islice

    from awaitkit.find._identify import from_bytes, identify

    if args.from_bytes is not None:
        text = from_bytes(args.from_bytes)
    elif args.identify == "-":
        text = _read_stdin()
    else:
        text = args.identify
    end = None if args.limit is None else args.offset + args.limit
    shown = 0
    batch = _Batch(out)
    if args.json:
        batch.add("[")
    elif text and not (args.jsonl or args.compact):
        batch.add(_IDENTIFY_HEADER + "\n")
    for info in islice(identify(text), args.offset, end):
        if args.jsonl:
            batch.add(_json_dump(info.as_dict(), out) + "\n")
        elif args.json:
            batch.add((", " if shown else "") + _json_dump(info.as_dict(), out))
        else:
            units = (info,) if not info.parts else (info, *info.parts)
            for n, unit in enumerate(units):
                char = unit.char if unit.parts else _display(unit.char)
                prefix = "  " if n else ""
                cells = [prefix + char, unit.code, unit.name, unit.category]
                cells += [unit.block, unit.script, unit.age, unit.utf8]
                batch.add("\t".join([*cells, unit.utf16, unit.html]) + "\n")
        shown += 1
    batch.flush()
    if args.json:
        out.write("]\n")
    elif not (args.jsonl or args.compact):
        print(_rule(out) * 66, f"{shown} found")
    return 0 if shown else 1
