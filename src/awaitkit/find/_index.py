"""The fast character index: sorted words over packed, sorted posting lists.

Layout (chosen so that loading from the cache is a few ``memcpy``-like
steps instead of rebuilding ~120,000 Python sets):

* ``words``: the sorted vocabulary.  Binary search finds a word, and the
  words sharing a prefix are one contiguous run, so prefix matching needs
  no extra structure.
* ``postings``: one table of uint32 (``array('I')`` when built, a
  ``memoryview`` over the cache file's bytes when loaded); word ``i`` owns
  ``postings[offsets[i]:offsets[i + 1]]``, sorted.  Each value packs
  ``code << 5 | words_in_name`` so ranking ("fewer extra words first")
  needs no name look-ups; the same character always packs to the same value,
  so intersections compare plain ints.
* Hex endings of generated names (``CJK UNIFIED IDEOGRAPH-4E00``) are not
  indexed: they were 82 % of the book's keys.  A query word that looks like
  hex is checked against the name of that one code point instead.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence

from awaitkit.find._query import parse_query
from awaitkit.find._ucd import STOP_CODE, generated_suffix, tokenize, ucd

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing costs ~2 ms at start-up
if TYPE_CHECKING:
    from typing import TypeAlias

    from awaitkit.find._results import QueryResult

    # An array('I') when built, a zero-copy view of the file's bytes when loaded.
    IntTable: TypeAlias = array[int] | memoryview

__all__ = ["CharIndex"]

_COUNT_BITS = 5
_COUNT_MASK = (1 << _COUNT_BITS) - 1
_CODE_MASK = 0x1FFFFF  # 21 bits hold any code point
_HEX = frozenset("0123456789ABCDEF")
# Checking the last (prefix) word against one candidate's own name costs about
# as much as adding this many postings to a set: whichever is cheaper is used.
_SET_COST_RATIO = 64


class CharIndex:
    """Search Unicode characters by name words, code point or pasted text.

    Get the full index from :func:`awaitkit.find.load_index` (cached on
    disk); ``CharIndex.build(start, stop)`` builds a range in memory::

        >>> index = CharIndex.build(32, 128)
        >>> index.query("dollar").matches[0].name
        'DOLLAR SIGN'
    """

    __slots__ = (
        "_emoji",
        "_emoji_text",
        "_offsets",
        "_postings",
        "_words",
        "start",
        "stop",
    )

    def __init__(
        self,
        words: list[str],
        offsets: IntTable,
        postings: IntTable,
        emoji_text: str,
        *,
        start: int,
        stop: int,
    ) -> None:
        # Cheap consistency checks, so a damaged table fails here (and the
        # cache is rebuilt) rather than at query time.
        if len(offsets) != len(words) + 1 or offsets[-1] != len(postings):
            raise ValueError("index offsets do not match words and postings")
        emoji_chars = emoji_text.partition("\n")[0]
        if emoji_text and emoji_text.count("\n") != len(emoji_chars):
            raise ValueError("index emoji table is inconsistent")
        self._words = words
        self._offsets = offsets
        self._postings = postings
        self._emoji_text = emoji_text
        self._emoji: dict[int, str] | None = None
        self.start = start
        self.stop = stop

    @classmethod
    def build(cls, start: int = 32, stop: int = STOP_CODE) -> CharIndex:
        """Index the named characters in ``range(start, stop)`` (~0.5 s for all)."""
        emoji = _emoji_names(start, stop)
        table: defaultdict[str, list[int]] = defaultdict(list)
        name_of = ucd.name
        for code in range(start, stop):
            name = name_of(chr(code), "")
            if not name:
                continue
            # Unicode names hold only A-Z, 0-9, space and hyphen, so this is
            # tokenize(name) at a fraction of the cost (this loop runs 1.1M times).
            words = name.replace("-", " ").split()
            value = code << _COUNT_BITS | min(len(words), _COUNT_MASK)
            if name.endswith(f"-{code:04X}"):
                words.pop()  # a generated hex ending, see generated_suffix()
            unique = set(words)
            for alt in emoji.get(code, ()):
                unique.update(alt.split())
            for word in unique:
                table[word].append(value)  # codes ascend, so each list is sorted
        vocabulary = sorted(table)
        offsets = array("I", [0])
        postings = array("I")
        for word in vocabulary:
            postings.extend(table[word])
            offsets.append(len(postings))
        # First line: the emoji themselves; then one line of names per emoji,
        # so loading is one zip() instead of parsing 1,600 lines.
        codes = sorted(emoji)
        emoji_text = "\n".join(
            ["".join(map(chr, codes)), *("|".join(emoji[code]) for code in codes)]
        )
        return cls(vocabulary, offsets, postings, emoji_text, start=start, stop=stop)

    def parts(self) -> tuple[list[str], IntTable, IntTable, str]:
        """The raw tables (words, offsets, postings, emoji names), for storage."""
        return self._words, self._offsets, self._postings, self._emoji_text

    def __repr__(self) -> str:
        return (
            f"<CharIndex U+{self.start:04X}..U+{self.stop - 1:04X} "
            f"words={len(self._words)} postings={len(self._postings)}>"
        )

    def query(
        self, text: str, *, limit: int | None = None, offset: int = 0
    ) -> QueryResult:
        """Find characters for ``text``, best first; ``limit``/``offset`` page them.

        Raises :class:`~awaitkit.core.QueryError` for an empty, whitespace-only
        or oversized query, or a negative ``limit``/``offset``.  Nothing found
        is not an error: ``QueryResult(total=0, matches=())``.
        """
        from awaitkit.find._results import Match, QueryResult

        total, codes = self.codes(text, limit=limit, offset=offset)
        matches = tuple(Match.of(chr(c), self._name(c)) for c in codes)
        return QueryResult(total, matches)

    def codes(
        self, text: str, *, limit: int | None = None, offset: int = 0
    ) -> tuple[int, list[int]]:
        """Like :meth:`query`, as ``(total, code points of the page)``.

        For callers that format lines themselves: it skips building
        :class:`Match` values (and importing :mod:`dataclasses`, ~6 ms of a
        cold CLI start).
        """
        from awaitkit.core.errors import QueryError

        if offset < 0 or (limit is not None and limit < 0):
            raise QueryError("limit and offset must not be negative")
        parsed = parse_query(text)
        if parsed.words:
            found = self._search(parsed.words)
        else:
            found = [c for c in parsed.codes if self._name(c)]
        end = None if limit is None else offset + limit
        return len(found), found[offset:end]

    def name(self, code: int) -> str:
        """The Unicode name of ``code``, ``""`` when unnamed or outside this index."""
        return self._name(code)

    # -- look-ups -----------------------------------------------------------

    def _name(self, code: int) -> str:
        if self.start <= code < self.stop:
            return str(ucd.name(chr(code), ""))
        return ""

    def _generated(self, word: str) -> int | None:
        """The packed value of the character whose generated name ends in ``word``."""
        if 4 <= len(word) <= 6 and _HEX.issuperset(word):
            code = int(word, 16)
            name = self._name(code) if code <= _CODE_MASK else ""
            if name and generated_suffix(code, name) == word:
                return code << _COUNT_BITS | min(len(_name_tokens(name)), _COUNT_MASK)
        return None

    def _exact(self, word: str) -> Sequence[int]:
        """Sorted packed values of the characters whose names contain ``word``."""
        words = self._words
        i = bisect_left(words, word)
        found: Sequence[int] = ()
        if i < len(words) and words[i] == word:
            found = self._postings[self._offsets[i] : self._offsets[i + 1]]
        extra = self._generated(word)
        if extra is not None:
            merged = list(found)
            merged.insert(bisect_left(merged, extra), extra)
            found = merged
        return found

    def _prefixed(self, prefix: str) -> set[int]:
        """Packed values of characters having a name word that starts with ``prefix``."""
        lo, hi = self._prefix_run(prefix)
        found = set(self._postings[lo:hi])
        extra = self._generated(prefix)
        if extra is not None:
            found.add(extra)
        return found

    def _has_prefix(self, code: int, prefix: str) -> bool:
        name = self._name(code)
        words = _name_tokens(name)
        # A generated hex ending matches only whole (see _generated).
        if generated_suffix(code, name) and words.pop() == prefix:
            return True
        for alt in self._emoji_names(code):
            words.extend(alt)
        return any(w.startswith(prefix) for w in words)

    def _prefix_run(self, prefix: str) -> tuple[int, int]:
        """Posting bounds of the words starting with ``prefix`` (one run: they sort together)."""
        words = self._words
        lo = bisect_left(words, prefix)
        hi = bisect_left(words, prefix + "\uffff", lo)
        return self._offsets[lo], self._offsets[hi]

    def _search(self, words: tuple[str, ...]) -> list[int]:
        *full, last = words
        lists = sorted((self._exact(w) for w in set(full)), key=len)
        lo, hi = self._prefix_run(last)
        if not lists or hi - lo < len(lists[0]):
            # The prefix is the rarest word: start from it.
            candidates = sorted(self._prefixed(last))
            candidates = [v for v in candidates if all(_contains(r, v) for r in lists)]
        else:
            first, rest = lists[0], lists[1:]
            candidates = [v for v in first if all(_contains(r, v) for r in rest)]
            if hi - lo > _SET_COST_RATIO * len(candidates):
                complete = self._exact(last)
                candidates = [
                    v
                    for v in candidates
                    if _contains(complete, v)
                    or self._has_prefix(v >> _COUNT_BITS, last)
                ]
            else:
                prefixed = self._prefixed(last)
                candidates = [v for v in candidates if v in prefixed]
        return self._rank(candidates, words)

    def _rank(self, values: list[int], words: tuple[str, ...]) -> list[int]:
        """Codes ordered by: exact name first, then fewer extra words, then code point."""
        wanted = sorted(words)
        need, last = set(words[:-1]), words[-1]
        emoji = self._emoji_table()
        keys = []
        for value in values:
            code = value >> _COUNT_BITS
            extra = (value & _COUNT_MASK) - len(words)
            inexact = 1
            if code in emoji:
                inexact, extra = self._best_name(code, need, last, wanted)
            elif extra <= 0:
                extra = 0
                if sorted(_name_tokens(self._name(code))) == wanted:
                    inexact = 0
            keys.append(inexact << 26 | min(extra, _COUNT_MASK) << 21 | code)
        keys.sort()
        return [key & _CODE_MASK for key in keys]

    def _best_name(
        self, code: int, need: set[str], last: str, wanted: list[str]
    ) -> tuple[int, int]:
        """Best (inexact, extra words) over the names of an emoji that match.

        An emoji has its Unicode name and CLDR names; it ranks by whichever
        single name matches best.  When the words matched only across names,
        the Unicode name's length decides.
        """
        name = _name_tokens(self._name(code))
        best = (1, max(len(name) - len(wanted), 0))
        matched = False
        for alt in (name, *self._emoji_names(code)):
            if need.issubset(alt) and (
                last in alt or any(w.startswith(last) for w in alt)
            ):
                extra = len(alt) - len(wanted)
                exact = extra == 0 and sorted(alt) == wanted
                rank = (0 if exact else 1, max(extra, 0))
                if not matched or rank < best:
                    best, matched = rank, True
        return best

    def _emoji_table(self) -> dict[int, str]:
        # Parsed on first use: most queries never touch it, loading stays fast.
        if self._emoji is None:
            chars, _, names = self._emoji_text.partition("\n")
            lines = names.split("\n") if chars else []
            self._emoji = dict(zip(map(ord, chars), lines, strict=True))
        return self._emoji

    def _emoji_names(self, code: int) -> list[list[str]]:
        """The CLDR names of emoji ``code`` as word lists (none for other characters)."""
        names = self._emoji_table().get(code)
        return [name.split() for name in names.split("|")] if names else []


def _name_tokens(name: str) -> list[str]:
    """``tokenize(name)`` for a Unicode name (only A-Z, 0-9, space, hyphen), faster."""
    return name.replace("-", " ").split()


def _contains(values: Sequence[int], value: int) -> bool:
    i = bisect_left(values, value)
    return i < len(values) and values[i] == value


def _emoji_names(start: int, stop: int) -> dict[int, list[str]]:
    """CLDR short names and common aliases of single-code-point emoji, as word strings."""
    try:
        import emoji
    except ImportError:  # pragma: no cover - emoji is a declared dependency
        return {}
    names: dict[int, list[str]] = {}
    for sequence, data in emoji.EMOJI_DATA.items():
        core = sequence.replace("\ufe0f", "")  # drop the emoji-style selector
        if len(core) != 1 or not start <= ord(core) < stop:
            continue
        alts = names.setdefault(ord(core), [])
        for raw in [data.get("en", ""), *data.get("alias", [])]:
            # "piñata" -> "PINATA": queries are typed in ASCII.
            plain = "".join(
                c for c in ucd.normalize("NFKD", raw) if not ucd.combining(c)
            )
            words = " ".join(tokenize(plain))
            if words and words not in alts:
                alts.append(words)
    return {code: alts for code, alts in names.items() if alts}
