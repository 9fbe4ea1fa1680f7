"""Reading a query: code points, pasted characters, or name words.

Three shapes of query, tried in this order:

* every token is a code point (``U+1F431``, ``0x1f431``) or a range of them
  (``U+2042..U+2044``, see :mod:`awaitkit.find._ranges`): those characters;
* anything but ASCII letters, digits, spaces and ``- _ : '``: the text was
  pasted, so its characters themselves are the answer (``🐱``, ``é``);
* otherwise name words, matched against names and CLDR emoji names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from awaitkit.core.errors import QueryError
from awaitkit.find._ucd import tokenize

__all__ = ["MAX_QUERY_CHARS", "ParsedQuery", "parse_query"]

# Unicode's longest name has 88 characters; a query 10x longer is a mistake or
# an attack, and refusing it keeps a server's per-request cost bounded.
MAX_QUERY_CHARS = 1000
# A range in a query is expanded (the servers answer from a tuple of codes):
# one plane at most keeps that bounded.  The CLI lists any range lazily.
MAX_QUERY_RANGE = 0x10000

_CODE_POINT = re.compile(r"(?:U\+|0X)([0-9A-F]{1,6})")
_WORD_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 \t\n\r-_:'"
)


class ParsedQuery:
    """A query read: either ``words`` to look up or ``codes`` already identified.

    A plain class, not a dataclass: importing :mod:`dataclasses` costs ~6 ms,
    a tenth of the CLI's start-up budget.
    """

    __slots__ = ("codes", "words")

    def __init__(
        self, words: tuple[str, ...] = (), codes: tuple[int, ...] = ()
    ) -> None:
        self.words = words
        self.codes = codes

    def __repr__(self) -> str:
        return f"ParsedQuery(words={self.words!r}, codes={self.codes!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParsedQuery):
            return NotImplemented
        return (self.words, self.codes) == (other.words, other.codes)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking; never hashed


def parse_query(text: str) -> ParsedQuery:
    """Classify ``text``; raises :class:`QueryError` when it is empty or too long.

    >>> parse_query("U+1F431 0x41")
    ParsedQuery(words=(), codes=(128049, 65))
    >>> parse_query("cat-face")
    ParsedQuery(words=('CAT', 'FACE'), codes=())
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query too long ({len(text)} > {MAX_QUERY_CHARS} characters)")
    stripped = text.strip()
    if not stripped:
        raise QueryError("empty query")
    upper = stripped.upper()
    # Only a query that could hold a range imports the range parser.
    if ("." in upper or "-" in upper) and ("U+" in upper or "0X" in upper):
        from awaitkit.find._ranges import count_codes, iter_codes, parse_ranges

        ranges = parse_ranges(stripped)
    else:
        ranges = None
    if ranges is not None:
        if (size := count_codes(ranges)) > MAX_QUERY_RANGE:
            raise QueryError(
                f"range too large ({size} code points > {MAX_QUERY_RANGE} in one query)"
            )
        return ParsedQuery(codes=tuple(iter_codes(ranges)))
    tokens = upper.split()
    matches = [_CODE_POINT.fullmatch(token) for token in tokens]
    if all(matches):
        values = (int(m.group(1), 16) for m in matches if m)
        return ParsedQuery(codes=_unique(v for v in values if v <= 0x10FFFF))
    if _WORD_CHARS.issuperset(stripped) and (words := tokenize(stripped)):
        return ParsedQuery(words=tuple(words))
    return ParsedQuery(codes=_unique(ord(c) for c in stripped if not c.isspace()))


def _unique(codes: Iterable[int]) -> tuple[int, ...]:
    """Distinct values in first-seen order."""
    return tuple(dict.fromkeys(codes))
