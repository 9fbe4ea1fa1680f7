"""The book's Mojifinder index, kept with its exact semantics.

``InvertedIndex`` rebuilds itself from the Unicode data on every
construction (about 350 ms for the full range); :func:`awaitkit.find.load_index`
is the fast, cached index for real use.  This class exists so code written
against the book runs unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from awaitkit.find._ucd import STOP_CODE, ucd

__all__ = ["InvertedIndex", "format_results", "tokenize"]


def tokenize(text: str) -> Iterator[str]:
    """Iterator of the uppercase words of ``text``; hyphens split words."""
    yield from text.upper().replace("-", " ").split()


class InvertedIndex:
    """Map each word of the character names in ``range(start, stop)`` to its characters.

    >>> idx = InvertedIndex(32, 128)
    >>> sorted(idx.search("capital a"))
    ['A']
    """

    entries: defaultdict[str, set[str]]

    def __init__(self, start: int = 32, stop: int = STOP_CODE) -> None:
        entries: defaultdict[str, set[str]] = defaultdict(set)
        for char in (chr(i) for i in range(start, stop)):
            name = ucd.name(char, "")
            if name:
                for word in tokenize(name):
                    entries[word].add(char)
        self.entries = entries

    def search(self, query: str) -> set[str]:
        """Characters whose names contain every word of ``query``."""
        if words := list(tokenize(query)):
            found = self.entries[words[0]]
            return found.intersection(*(self.entries[w] for w in words[1:]))
        return set()


def format_results(chars: Iterable[str]) -> Iterator[str]:
    """``U+XXXX<TAB>char<TAB>NAME`` for each character, sorted by code point."""
    for char in sorted(chars):
        name = ucd.name(char)
        code = ord(char)
        yield f"U+{code:04X}\t{char}\t{name}"
