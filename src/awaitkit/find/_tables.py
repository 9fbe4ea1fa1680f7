"""One searchable word table: sorted words over packed, sorted posting lists.

The index holds several (Unicode and emoji names, name aliases, CLDR
keywords, and the same per language); each answers "which entries have
every one of these words" and ranks what it finds, the same way.

Layout (chosen so that loading from the cache is a few ``memcpy``-like
steps instead of rebuilding ~120,000 Python sets):

* ``words``: the sorted vocabulary.  Binary search finds a word, and the
  words sharing a prefix are one contiguous run, so prefix matching needs
  no extra structure.
* ``postings``: one table of uint32 (``array('I')`` when built, a
  ``memoryview`` over the cache file's bytes when loaded); word ``i`` owns
  ``postings[offsets[i]:offsets[i + 1]]``, sorted.  Each value packs
  ``entry << 5 | words`` -- an entry is a code point, or an emoji sequence
  numbered from ``SEQUENCE_BASE`` -- where ``words`` is the word count of the
  entry's shortest name, so ranking ("fewer extra words first") needs no name
  look-ups for most results; the same entry always packs to the same value,
  so intersections compare plain ints.
* ``texts``: for the entries with names other than their Unicode name (emoji
  names, aliases, keywords), those names as word strings, ``|``-separated,
  one line per entry of ``ids``; parsed on first use.
* Hex endings of generated names (``CJK UNIFIED IDEOGRAPH-4E00``) are not
  indexed: they were 82 % of the book's keys.  A query word that looks like
  hex is checked against the name of that one code point instead (only in
  the table of Unicode names).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence

from awaitkit.find._ucd import generated_suffix, ucd

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing costs ~2 ms at start-up
if TYPE_CHECKING:
    from array import array
    from typing import TypeAlias

    # An array('I') when built, a zero-copy view of the file's bytes when loaded.
    IntTable: TypeAlias = array[int] | memoryview

__all__ = ["COUNT_BITS", "COUNT_MASK", "ENTRY_MASK", "SEQUENCE_BASE", "WordTable"]

COUNT_BITS = 5
COUNT_MASK = (1 << COUNT_BITS) - 1
ENTRY_MASK = 0x1FFFFF  # 21 bits: any code point, and the sequences after them
SEQUENCE_BASE = 0x110000  # entry numbers from here on are emoji sequences
_HEX = frozenset("0123456789ABCDEF")
# Checking the last (prefix) word against one candidate's own names costs
# about as much as adding this many postings to a set: whichever is cheaper
# is used.
_SET_COST_RATIO = 64
# Sorts after every word: the end of a prefix's run of words.
_LAST = "\U0010ffff"


class WordTable:
    """Words of one kind of name, and the entries having them.

    ``unicode_names`` marks the table of Unicode names: its entries' names
    come from the character database; the others keep every name in ``texts``.
    """

    __slots__ = (
        "_ids",
        "_lines",
        "_offsets",
        "_postings",
        "_texts",
        "_texts_raw",
        "start",
        "stop",
        "unicode_names",
        "words",
    )

    def __init__(
        self,
        words: list[str],
        offsets: IntTable,
        postings: IntTable,
        ids: IntTable,
        texts: str,
        *,
        unicode_names: bool,
        start: int,
        stop: int,
    ) -> None:
        # Cheap consistency checks, so a damaged table fails here (and the
        # cache is rebuilt) rather than at query time.
        if len(offsets) != len(words) + 1 or offsets[-1] != len(postings):
            raise ValueError("index offsets do not match words and postings")
        if (texts.count("\n") + 1 if texts else 0) != len(ids):
            raise ValueError("index names table is inconsistent")
        self.words = words
        self._offsets = offsets
        self._postings = postings
        self._ids = ids
        self._texts_raw = texts
        self._texts: dict[int, list[list[str]]] = {}
        self._lines: list[str] | None = None
        self.unicode_names = unicode_names
        self.start = start
        self.stop = stop

    def __len__(self) -> int:
        return len(self._postings)

    # -- look-ups -----------------------------------------------------------

    def unicode_words(self, entry: int) -> list[str]:
        """The words of ``entry``'s Unicode name (none outside the Unicode table)."""
        if self.unicode_names and self.start <= entry < min(self.stop, SEQUENCE_BASE):
            return _name_tokens(ucd.name(chr(entry), ""))
        return []

    def names(self, entry: int) -> list[list[str]]:
        """Every name of ``entry`` in this table, as word lists."""
        found = self._texts.get(entry)
        if found is None:
            # Split on first use, one entry at a time: a query looks at a
            # few dozen entries, and parsing all ~10,000 would cost a cold
            # start ~10 ms.
            if self._lines is None:
                self._lines = self._texts_raw.split("\n") if self._texts_raw else []
            i = bisect_left(self._ids, entry)
            found = []
            if i < len(self._ids) and self._ids[i] == entry:
                found = [name.split() for name in self._lines[i].split("|")]
            self._texts[entry] = found
        own = self.unicode_words(entry)
        return [own, *found] if own else found

    def _generated(self, word: str) -> int | None:
        """The packed value of the character whose generated name ends in ``word``."""
        if self.unicode_names and 4 <= len(word) <= 6 and _HEX.issuperset(word):
            code = int(word, 16)
            if self.start <= code < min(self.stop, SEQUENCE_BASE):
                name = ucd.name(chr(code), "")
                if name and generated_suffix(code, name) == word:
                    count = min(len(_name_tokens(name)), COUNT_MASK)
                    return code << COUNT_BITS | count
        return None

    def exact(self, word: str) -> Sequence[int]:
        """Sorted packed values of the entries having the name word ``word``."""
        words = self.words
        i = bisect_left(words, word)
        found: Sequence[int] = ()
        if i < len(words) and words[i] == word:
            found = self._postings[self._offsets[i] : self._offsets[i + 1]]
        extra = self._generated(word)
        if extra is not None and not _contains(found, extra):
            merged = list(found)
            merged.insert(bisect_left(merged, extra), extra)
            found = merged
        return found

    def prefixed(self, prefix: str) -> set[int]:
        """Packed values of entries having a name word that starts with ``prefix``."""
        lo, hi = self._prefix_run(prefix)
        found = set(self._postings[lo:hi])
        extra = self._generated(prefix)
        if extra is not None:
            found.add(extra)
        return found

    def _has_prefix(self, entry: int, prefix: str) -> bool:
        words = self.unicode_words(entry)
        if words:
            name = ucd.name(chr(entry), "")
            # A generated hex ending matches only whole (see _generated).
            if generated_suffix(entry, name) and words.pop() == prefix:
                return True
        for alt in self.names(entry):
            words = words + alt
        return any(w.startswith(prefix) for w in words)

    def _prefix_run(self, prefix: str) -> tuple[int, int]:
        """Posting bounds of the words starting with ``prefix`` (one run: they sort together)."""
        words = self.words
        lo = bisect_left(words, prefix)
        hi = bisect_left(words, prefix + _LAST, lo)
        return self._offsets[lo], self._offsets[hi]

    # -- searching ------------------------------------------------------------

    def search(self, words: tuple[str, ...], *, prefix: bool = True) -> list[int]:
        """Packed values of the entries having every word (the last as a prefix)."""
        *full, last = words
        if not prefix:
            full, last = list(words), ""
        lists = sorted((self.exact(w) for w in set(full)), key=len)
        if lists and not lists[0]:
            return []
        if not last:
            return _having_all(lists[0], lists[1:])
        lo, hi = self._prefix_run(last)
        if not lists or hi - lo < len(lists[0]):
            # The prefix is the rarest word: start from it.
            return _having_all(sorted(self.prefixed(last)), lists)
        candidates = _having_all(lists[0], lists[1:])
        if hi - lo > _SET_COST_RATIO * len(candidates):
            complete = self.exact(last)
            return [
                v
                for v in candidates
                if _contains(complete, v) or self._has_prefix(v >> COUNT_BITS, last)
            ]
        prefixed = self.prefixed(last)
        return [v for v in candidates if v in prefixed]

    def search_any(self, words: tuple[str, ...], *, prefix: bool = True) -> list[int]:
        """``missed words << 26 | packed value`` of the entries having any of the words."""
        hits: dict[int, int] = {}
        *full, last = words
        groups: list[Sequence[int] | set[int]] = [self.exact(w) for w in set(full)]
        groups.append(self.prefixed(last) if prefix else self.exact(last))
        for group in groups:
            for value in group:
                hits[value] = hits.get(value, 0) + 1
        # Packed values are below 2**26: the count of words matched goes above.
        return sorted((len(groups) - n) << 26 | v for v, n in hits.items())

    def rank_keys(
        self,
        values: list[int],
        words: tuple[str, ...],
        *,
        prefix: bool = True,
        keep: Callable[[list[str]], bool] | None = None,
    ) -> list[int]:
        """A sort key per value: ``inexact << 26 | extra words << 21 | entry``.

        Exact means a name whose words are the query's; extra counts the
        words of the entry's shortest name beyond the query's (of the
        best-matching name with ``keep``).  ``keep`` (for
        phrases and ``--exact``) drops the entries none of whose names it
        accepts: those come back as ``-1``.
        """
        wanted = sorted(words)
        n = len(words)
        need, last = set(words[:-1] if prefix else words), words[-1] if prefix else ""
        if keep is None:
            return self._rank_shortest(values, n, wanted)
        keys = []
        for value in values:
            entry = value >> COUNT_BITS
            inexact, extra = self._best_name(entry, need, last, wanted, keep)
            if inexact < 0:
                keys.append(-1)
            else:
                keys.append(inexact << 26 | min(extra, COUNT_MASK) << 21 | entry)
        return keys

    def _rank_shortest(self, values: list[int], n: int, wanted: list[str]) -> list[int]:
        """:meth:`rank_keys` without ``keep``: the shortest name decides."""
        inexact = 1 << 26
        keys: list[int] = []
        append = keys.append
        for value in values:
            count = value & COUNT_MASK  # < 32: the extra words fit their field
            if count > n:
                append(inexact | (count - n) << 21 | value >> COUNT_BITS)
                continue
            # Only an entry with a name as short as the query can be exact, so
            # only those are looked up (most results are not).
            entry = value >> COUNT_BITS
            key = inexact | entry
            for alt in self.names(entry):  # a loop, not any(): this is the hot spot
                if len(alt) == n and sorted(alt) == wanted:
                    key = entry
                    break
            append(key)
        return keys

    def _best_name(
        self,
        entry: int,
        need: set[str],
        last: str,
        wanted: list[str],
        keep: Callable[[list[str]], bool] | None,
    ) -> tuple[int, int]:
        """Best ``(inexact, extra words)`` over the names of ``entry`` that match.

        When the words matched only across names, the shortest name decides;
        ``(-1, 0)`` when ``keep`` accepts none of them.
        """
        names = self.names(entry)
        shortest = min((len(alt) for alt in names), default=len(wanted))
        best = (1, max(shortest - len(wanted), 0))
        matched = False
        for alt in names:
            if keep is not None and not keep(alt):
                continue
            if need.issubset(alt) and (
                not last or last in alt or any(w.startswith(last) for w in alt)
            ):
                extra = len(alt) - len(wanted)
                exact = extra == 0 and sorted(alt) == wanted
                rank = (0 if exact else 1, max(extra, 0))
                if not matched or rank < best:
                    best, matched = rank, True
        if keep is not None and not matched:
            return -1, 0
        return best


def _name_tokens(name: str) -> list[str]:
    """``tokenize(name)`` for a Unicode name (only A-Z, 0-9, space, hyphen), faster."""
    return name.replace("-", " ").split()


def _having_all(first: Sequence[int], rest: list[Sequence[int]]) -> list[int]:
    """The values of ``first`` found in every list of ``rest`` (all sorted)."""
    if not rest:
        return list(first)
    if len(rest) == 1:
        (other,) = rest
        return [v for v in first if _contains(other, v)]
    return [v for v in first if all(_contains(r, v) for r in rest)]


def _contains(values: Sequence[int], value: int) -> bool:
    i = bisect_left(values, value)
    return i < len(values) and values[i] == value
