"""Reading a query: code points, pasted characters, or name words.

Three shapes of query, tried in this order:

* every token is a code point (``U+1F431``, ``0x1f431``) or a range of them
  (``U+2042..U+2044``, see :mod:`awaitkit.find._ranges`): those characters;
* anything but ASCII letters, digits, spaces and ``- _ : '``: the text was
  pasted, so its characters themselves are the answer (``🐱``, ``é``);
* otherwise name words, matched against names, aliases and keywords.
  ``"thumbs up"`` in double quotes is a phrase: those words, adjacent and in
  that order, in one name.  The last word is a prefix unless it is quoted.

``fold=True`` reads words of any script for names in other languages
(case-folded, accents dropped: ``tête`` matches ``tete``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from awaitkit.core.errors import QueryError
from awaitkit.find._ucd import fold_words, tokenize

__all__ = ["MAX_QUERY_CHARS", "ParsedQuery", "parse_query"]

# Unicode's longest name has 88 characters; a query 10x longer is a mistake or
# an attack, and refusing it keeps a server's per-request cost bounded.
MAX_QUERY_CHARS = 1000
# A range in a query is expanded (the servers answer from a tuple of codes):
# one plane at most keeps that bounded.  The CLI lists any range lazily.
MAX_QUERY_RANGE = 0x10000

_CODE_POINT = re.compile(r"(?:U\+|0X)([0-9A-F]{1,6})")
_WORD_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 \t\n\r-_:'\""
)
_QUOTED = re.compile(r'"([^"]*)"|([^"\s]+)')


class ParsedQuery:
    """A query read: either ``words`` to look up or ``codes`` already identified.

    A plain class, not a dataclass: importing :mod:`dataclasses` costs ~6 ms,
    a tenth of the CLI's start-up budget.
    """

    __slots__ = ("codes", "pasted", "phrases", "prefix", "words")

    def __init__(
        self,
        words: tuple[str, ...] = (),
        codes: tuple[int, ...] = (),
        *,
        phrases: tuple[tuple[str, ...], ...] = (),
        prefix: bool = True,
        pasted: bool = False,
    ) -> None:
        self.words = words
        self.codes = codes
        # Quoted runs of two words or more, each to be found adjacent.
        self.phrases = phrases
        # Whether the last word may be a prefix (not when it was quoted).
        self.prefix = prefix
        # Whether ``codes`` are characters pasted (not code points typed).
        self.pasted = pasted

    def _key(self) -> tuple[object, ...]:
        return (self.words, self.codes, self.phrases, self.prefix, self.pasted)

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={value!r}"
            for name, value, default in (
                ("phrases", self.phrases, ()),
                ("prefix", self.prefix, True),
                ("pasted", self.pasted, False),
            )
            if value != default
        )
        return f"ParsedQuery(words={self.words!r}, codes={self.codes!r}{extra})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParsedQuery):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable-looking; never hashed


def parse_query(text: str, *, fold: bool = False) -> ParsedQuery:
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
    if fold or _WORD_CHARS.issuperset(stripped):
        split = fold_words if fold else tokenize
        if '"' not in stripped:
            if words := split(stripped):
                return ParsedQuery(words=tuple(words))
        else:
            parsed = _phrases(stripped, split)
            if parsed.words:
                return parsed
    return ParsedQuery(
        codes=_unique(ord(c) for c in stripped if not c.isspace()), pasted=True
    )


def _phrases(text: str, split: Callable[[str], list[str]]) -> ParsedQuery:
    """Words of a query with double-quoted phrases (an unclosed quote is ignored)."""
    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    prefix = True
    for quoted, plain in _QUOTED.findall(text):
        found = split(quoted or plain)
        words += found
        if quoted and len(found) > 1:
            phrases.append(tuple(found))
        if found:
            prefix = not quoted
    return ParsedQuery(
        words=tuple(words), phrases=tuple(dict.fromkeys(phrases)), prefix=prefix
    )


def _unique(codes: Iterable[int]) -> tuple[int, ...]:
    """Distinct values in first-seen order."""
    return tuple(dict.fromkeys(codes))
