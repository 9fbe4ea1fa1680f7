"""Code point ranges, listings of a block, script or category, and result filters.

Range syntax (one token, no spaces): ``U+2042..U+2044`` or ``U+2042-U+2044``;
``0x`` works for ``U+``, and the second end may drop its prefix
(``U+2042..2044``).  The first end must have one: bare ``2042..2044`` stays
words, since hex digits are also words (``cafe``) and generated-name endings
(``4e00``).  Both ends are inclusive.  A reversed range (``U+2044..U+2042``)
or an end past U+10FFFF is a :class:`~awaitkit.core.QueryError`, not a guess.

Everything here is lazy: a range is a :class:`range`, and a listing is an
iterator, so ``U+0000..U+10FFFF`` with a limit of 10 touches 10 code points.
Property look-ups (fontTools) are imported only when a listing or filter
needs them: :mod:`awaitkit.find._query` imports this module on the path of
every query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from awaitkit.core.errors import QueryError

__all__ = [
    "MAX_CODE",
    "all_codes",
    "block_codes",
    "category_codes",
    "count_codes",
    "in_block",
    "in_category",
    "in_script",
    "iter_codes",
    "parse_ranges",
    "script_codes",
]

MAX_CODE = 0x10FFFF
# Up to 8 hex digits, so that U+110000 is an error and not pasted text.
_TOKEN = re.compile(r"(?:U\+|0X)([0-9A-F]{1,8})(?:(\.\.|-)(?:U\+|0X)?([0-9A-F]{1,8}))?")


def _code(digits: str, token: str) -> int:
    value = int(digits, 16)
    if value > MAX_CODE:
        raise QueryError(
            f"U+{value:04X} in {token!r} is past U+10FFFF, the last code point"
        )
    return value


def parse_ranges(text: str) -> list[range] | None:
    """The ranges of a query made of code points and at least one range, else ``None``.

    >>> parse_ranges("U+2042..U+2044 U+1F431")
    [range(8258, 8261), range(128049, 128050)]
    >>> parse_ranges("U+1F431") is None  # no range: an ordinary code point query
    True
    """
    tokens = text.upper().split()
    if not tokens or not any(".." in t or "-" in t for t in tokens):
        return None
    token_re = re.compile(_TOKEN)  # re caches compiled patterns
    matches = [token_re.fullmatch(token) for token in tokens]
    if not all(matches):
        return None
    ranges = []
    for token, match in zip(tokens, matches, strict=True):
        assert match is not None  # checked by all() above
        first = _code(match.group(1), token)
        last = first if match.group(3) is None else _code(match.group(3), token)
        if last < first:
            raise QueryError(
                f"reversed range {token}: write U+{last:04X}..U+{first:04X}"
            )
        ranges.append(range(first, last + 1))
    return ranges


def count_codes(ranges: Iterable[range]) -> int:
    """How many distinct code points the ranges hold (overlaps counted once)."""
    total, reach = 0, -1
    for r in sorted(ranges, key=lambda r: r.start):
        start = max(r.start, reach + 1)
        if r.stop > start:
            total += r.stop - start
            reach = r.stop - 1
    return total


def iter_codes(ranges: list[range]) -> Iterator[int]:
    """Every code point of the ranges, in the order given, each once."""
    for i, r in enumerate(ranges):
        earlier = ranges[:i]
        for code in r:
            if not any(code in e for e in earlier):
                yield code


# -- listings: assigned code points only (an unassigned one has no block
# member, script or category worth listing) ----------------------------------


def _assigned(codes: Iterable[int]) -> Iterator[int]:
    from awaitkit.find._ucd import ucd

    category = ucd.category
    return (c for c in codes if category(chr(c)) != "Cn")


def block_codes(name: str) -> Iterator[int]:
    """The assigned code points of block ``name`` (any spelling: ``box_drawing``)."""
    from awaitkit.find._props import block_range

    return _assigned(block_range(name))


def script_codes(name: str) -> Iterator[int]:
    """The code points whose Script is ``name`` (``Greek``, ``Grek``), ascending."""
    from awaitkit.find._props import resolve_script, script_ranges

    code = resolve_script(name)
    return _assigned(c for r in script_ranges(code) for c in r)


def category_codes(name: str) -> Iterator[int]:
    """The code points of category ``name`` (``Sm``, ``Math Symbol``, ``L``)."""
    from awaitkit.find._props import resolve_category
    from awaitkit.find._ucd import ucd

    wanted = resolve_category(name)
    category = ucd.category
    return (c for c in range(MAX_CODE + 1) if category(chr(c)) in wanted)


def all_codes() -> Iterator[int]:
    """Every assigned code point, ascending (surrogates and private use included)."""
    return _assigned(range(MAX_CODE + 1))


# -- filters, in the shape CharIndex.query(where=...) takes -----------------
# A result is a string: one code point, or an emoji sequence, which is
# judged by its first code point (the base of a ZWJ sequence or keycap; a
# flag's first regional indicator).


def in_block(name: str) -> Callable[[str], bool]:
    """A test of a result string: is its first code point in block ``name``?

    Raises :class:`~awaitkit.core.QueryError` for an unknown block.
    """
    from awaitkit.find._props import block_range

    members = block_range(name)
    return lambda text: bool(text) and ord(text[0]) in members


def in_script(name: str, *, extensions: bool = False) -> Callable[[str], bool]:
    """A test of a result string: is its first code point's Script ``name``?

    With ``extensions=True`` a character also belongs to the scripts of its
    Script_Extensions (U+0951 DEVANAGARI STRESS SIGN UDATTA is Inherited,
    and used by Bengali, Tamil...).
    """
    from fontTools import unicodedata as fontucd

    from awaitkit.find._props import resolve_script

    code = resolve_script(name)
    if extensions:
        return lambda text: bool(text) and code in fontucd.script_extension(text[0])
    return lambda text: bool(text) and fontucd.script(text[0]) == code


def in_category(name: str) -> Callable[[str], bool]:
    """A test of a result string: is its first code point's category ``name``?"""
    from awaitkit.find._props import resolve_category
    from awaitkit.find._ucd import ucd

    wanted = resolve_category(name)
    return lambda text: bool(text) and ucd.category(text[0]) in wanted
