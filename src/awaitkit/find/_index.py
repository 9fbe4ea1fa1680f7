"""The fast character index: characters and emoji sequences, by name, alias or keyword.

An entry is a code point, or an emoji sequence (a flag, a keycap, a ZWJ
family, a skin-tone variant) numbered from ``SEQUENCE_BASE``.  Its names
are spread over word tables (see :mod:`awaitkit.find._tables`), one per
source, so that each result says how it was found:

========================  ===========  ====================================
table                     ``via``      rank
========================  ===========  ====================================
``name``                  name         Unicode and emoji names: first
``alias``                 alias        Unicode name aliases: with names
``keyword``               keyword      CLDR keywords: after names
``name.LANG``             name         with ``lang=``: before all the above
``keyword.LANG``          keyword      with ``lang=``: before English keywords
========================  ===========  ====================================

Within a rank: a name that is exactly the query's words first, then fewer
extra words, then names before aliases, then code point order (sequences
after characters).  An entry found in several tables is listed once, for
its best.  The tables are named byte chunks (:mod:`awaitkit.find._cache`
stores them as they are); a table is parsed the first time a query needs it,
so a ``lang=`` table costs nothing until asked for.
"""

from __future__ import annotations

from awaitkit.find._query import parse_query
from awaitkit.find._tables import ENTRY_MASK, SEQUENCE_BASE, WordTable
from awaitkit.find._ucd import STOP_CODE, strip_marks, ucd

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing costs ~2 ms at start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from awaitkit.find._query import ParsedQuery
    from awaitkit.find._results import Match, QueryResult

__all__ = ["CharIndex"]

_VIAS = ("name", "alias", "keyword")
_TABLE_PARTS = ("words", "offsets", "postings", "ids", "texts")
_KINDS = ("char", "sequence")
# Matches kept for reuse (see query): a few MB at most.
_MAX_KEPT_MATCHES = 20_000


class CharIndex:
    """Search Unicode characters and emoji sequences by name words, code point or text.

    Get the full index from :func:`awaitkit.find.load_index` (cached on
    disk); ``CharIndex.build(start, stop)`` builds a range in memory::

        >>> index = CharIndex.build(32, 128)
        >>> index.query("dollar").matches[0].name
        'DOLLAR SIGN'

    ``languages`` lists what ``lang=`` takes (``"en"`` and those the emoji
    data has names in).
    """

    __slots__ = (
        "_chunks",
        "_labels",
        "_matches",
        "_sequence_codes",
        "_sequence_labels",
        "_sequence_of",
        "_sequences",
        "_tables",
        "languages",
        "start",
        "stop",
    )

    def __init__(
        self, chunks: Mapping[str, bytes | memoryview], *, start: int, stop: int
    ) -> None:
        self._chunks = dict(chunks)
        self.start = start
        self.stop = stop
        self._tables: dict[str, WordTable | None] = {}
        self._labels: dict[str, dict[int, str]] = {}
        self._sequence_of: dict[str, int] | None = None
        self._sequence_codes: dict[int, str] = {}
        self._matches: dict[tuple[int, str, str | None], Match] = {}
        for part in ("seq.chars", "seq.labels"):
            if part not in self._chunks:
                raise ValueError(f"index chunk {part} is missing")
        self._sequences = _lines(self._chunks["seq.chars"])
        self._sequence_labels = _lines(self._chunks["seq.labels"])
        if len(self._sequence_labels) != len(self._sequences):
            raise ValueError("index sequence labels do not match the sequences")
        langs = {k.split(".")[1] for k in self._chunks if k.startswith("name.")}
        langs -= {*_TABLE_PARTS, "label_ids", "labels"}
        self.languages = ("en", *sorted(langs))
        # The table every query needs, checked now: a damaged file fails
        # here, and the cache rebuilds it, rather than at query time.
        if self._table("name") is None:
            raise ValueError("index table name is missing")

    @classmethod
    def build(cls, start: int = 32, stop: int = STOP_CODE) -> CharIndex:
        """Index the named characters in ``range(start, stop)`` and the emoji (~2 s for all)."""
        from awaitkit.find._build import build_chunks

        return cls(build_chunks(start, stop), start=start, stop=stop)

    def parts(self) -> dict[str, bytes | memoryview]:
        """The raw tables as named byte chunks, for storage."""
        return dict(self._chunks)

    def __repr__(self) -> str:
        table = self._table("name")
        words, postings = (len(table.words), len(table)) if table else (0, 0)
        return (
            f"<CharIndex U+{self.start:04X}..U+{self.stop - 1:04X} "
            f"words={words} postings={postings} sequences={len(self._sequences)} "
            f"languages={len(self.languages)}>"
        )

    # -- the public queries -----------------------------------------------------

    def query(
        self,
        text: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        types: tuple[str, ...] | None = None,
        lang: str | None = None,
        any_word: bool = False,
        exact: bool = False,
        where: Callable[[str], bool] | None = None,
    ) -> QueryResult:
        """Find characters and sequences for ``text``, best first; ``limit``/``offset`` page them.

        ``types`` keeps kinds of result (``"char"``, ``"sequence"``);
        ``lang`` searches emoji names and keywords in that language too
        (one of :attr:`languages`) and names the results in it;
        ``any_word`` finds entries having any of the words (most first);
        ``exact`` only whole names; ``where`` keeps the results whose
        string it accepts, before paging.

        Raises :class:`~awaitkit.core.QueryError` for an empty, whitespace-only
        or oversized query, an unknown type or language, or a negative
        ``limit``/``offset``.  Nothing found is not an error:
        ``QueryResult(total=0, matches=())``.
        """
        from awaitkit.find._results import Match, QueryResult

        total, found = self.found(
            text,
            limit=limit,
            offset=offset,
            types=types,
            lang=lang,
            any_word=any_word,
            exact=exact,
            where=where,
        )
        # Matches are immutable and the same entries come back query after
        # query (each keystroke of a picker, "flag" and its ~290 results), so
        # they are kept, up to a bound: building one costs more than finding it.
        kept = self._matches
        if len(kept) > _MAX_KEPT_MATCHES:
            kept.clear()
        matches = []
        for entry, via in found:
            match = kept.get((entry, via, lang))
            if match is None:
                match = Match(
                    self.char(entry),
                    self.code(entry),
                    self.name(entry, lang),
                    _kind(entry),
                    via,
                )
                kept[entry, via, lang] = match
            matches.append(match)
        return QueryResult(total, tuple(matches))

    def codes(
        self,
        text: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        **options: object,
    ) -> tuple[int, list[int]]:
        """Like :meth:`query`, as ``(total, entries of the page)``.

        An entry is a code point, or an emoji sequence (``>= 0x110000``):
        :meth:`char`, :meth:`code` and :meth:`name` describe it.  For callers
        that format lines themselves: it skips building :class:`Match`
        values (and importing :mod:`dataclasses`, ~6 ms of a cold CLI start).
        """
        total, found = self.found(text, limit=limit, offset=offset, **options)  # type: ignore[arg-type]
        return total, [entry for entry, _ in found]

    def found(
        self,
        text: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        types: tuple[str, ...] | None = None,
        lang: str | None = None,
        any_word: bool = False,
        exact: bool = False,
        where: Callable[[str], bool] | None = None,
    ) -> tuple[int, list[tuple[int, str]]]:
        """``(total, [(entry, via), ...] of the page)``: :meth:`query` without values."""
        from awaitkit.core.errors import QueryError

        if offset < 0 or (limit is not None and limit < 0):
            raise QueryError("limit and offset must not be negative")
        if types is not None:
            for kind in types:
                if kind not in _KINDS:
                    raise QueryError(f"unknown type {kind!r}; known: char, sequence")
        lang = self._language(lang)
        parsed = parse_query(text)
        folded = None
        if lang is not None:
            folded = parse_query(text, fold=True)
            if parsed.pasted and folded.words:
                parsed = parse_query(strip_marks(text))
        if parsed.words or (folded is not None and folded.words):
            found = self._search(parsed, folded, lang, any_word=any_word, exact=exact)
        elif parsed.pasted:
            found = [(e, "text") for e in self._segment(text.strip())]
        else:
            found = [(c, "code") for c in parsed.codes if self.name(c)]
        if types is not None and set(types) != set(_KINDS):
            wanted_sequences = "sequence" in types
            found = [f for f in found if (f[0] >= SEQUENCE_BASE) == wanted_sequences]
        if where is not None:
            found = [f for f in found if where(self.char(f[0]))]
        end = None if limit is None else offset + limit
        return len(found), found[offset:end]

    # -- entries ------------------------------------------------------------------

    def char(self, entry: int) -> str:
        """The string of ``entry``: one character, or a whole sequence."""
        if entry >= SEQUENCE_BASE:
            return self._sequences[entry - SEQUENCE_BASE]
        return chr(entry)

    def code(self, entry: int) -> str:
        """``"U+1F431"``, or every code point of a sequence: ``"U+1F1E7 U+1F1F7"``."""
        if entry < SEQUENCE_BASE:
            return f"U+{entry:04X}"
        code = self._sequence_codes.get(entry)
        if code is None:
            # Kept: a sequence is spelt out each time it is shown.
            code = " ".join(f"U+{ord(c):04X}" for c in self.char(entry))
            self._sequence_codes[entry] = code
        return code

    def name(self, entry: int, lang: str | None = None) -> str:
        """The name of ``entry`` (in ``lang`` where it has one); ``""`` when unnamed.

        A character's Unicode name, else its name alias (``DELETE`` for
        U+007F); a sequence's emoji name (``FLAG BRAZIL``).
        """
        if lang is not None and lang != "en":
            named = self._label(f"name.{lang}", entry)
            if named:
                return named
        if entry >= SEQUENCE_BASE:
            n = entry - SEQUENCE_BASE
            if n < len(self._sequences):
                return self._sequence_labels[n]
            return ""
        if self.start <= entry < self.stop:
            return str(ucd.name(chr(entry), "")) or self._label("alias", entry)
        return ""

    # -- look-ups -------------------------------------------------------------------

    def _language(self, lang: str | None) -> str | None:
        if lang is None or lang == "en":
            return None
        if lang not in self.languages:
            from awaitkit.core.errors import QueryError

            shown = lang if len(lang) <= 20 else lang[:20] + "..."
            raise QueryError(
                f"unknown language {shown!r}; known: {', '.join(self.languages)}"
            )
        return lang

    def _table(self, name: str) -> WordTable | None:
        if name in self._tables:
            return self._tables[name]
        table = None
        if f"{name}.words" in self._chunks:
            parts = [self._chunks[f"{name}.{p}"] for p in _TABLE_PARTS]
            words = str(parts[0], "utf-8")
            table = WordTable(
                words.split("\n") if words else [],
                _ints(parts[1]),
                _ints(parts[2]),
                _ints(parts[3]),
                str(parts[4], "utf-8"),
                unicode_names=name == "name",
                start=self.start,
                stop=self.stop,
            )
        self._tables[name] = table
        return table

    def _label(self, prefix: str, entry: int) -> str:
        labels = self._labels.get(prefix)
        if labels is None:
            ids = self._chunks.get(f"{prefix}.label_ids")
            names = self._chunks.get(f"{prefix}.labels")
            labels = {}
            if ids is not None and names is not None:
                labels = dict(zip(_ints(ids), _lines(names), strict=True))
            self._labels[prefix] = labels
        return labels.get(entry, "")

    def _segment(self, text: str) -> list[int]:
        """The entries of pasted ``text``: emoji sequences whole, longest first."""
        sequences = self._sequence_of
        if sequences is None:
            sequences = {}
            for n, chars in enumerate(self._sequences):
                sequences[chars] = SEQUENCE_BASE + n
                sequences.setdefault(chars.replace("\ufe0f", ""), SEQUENCE_BASE + n)
            self._sequence_of = sequences
        longest = max(map(len, sequences), default=0)
        found: dict[int, None] = {}
        i = 0
        while i < len(text):
            for size in range(min(longest, len(text) - i), 1, -1):
                entry = sequences.get(text[i : i + size])
                if entry is not None:
                    found[entry] = None
                    i += size
                    break
            else:
                code = ord(text[i])
                if not text[i].isspace() and self.name(code):
                    found[code] = None
                i += 1
        return list(found)

    def _search(
        self,
        parsed: ParsedQuery,
        folded: ParsedQuery | None,
        lang: str | None,
        *,
        any_word: bool,
        exact: bool,
    ) -> list[tuple[int, str]]:
        # (table, via, tier, words): lower tiers rank first.
        plan: list[tuple[str, int, int, ParsedQuery]] = []
        if lang is not None and folded is not None and folded.words:
            plan.append((f"name.{lang}", 0, 0, folded))
            plan.append((f"keyword.{lang}", 2, 2, folded))
        base = 1 if lang is not None else 0
        if parsed.words:
            plan += [("name", 0, base, parsed), ("alias", 1, base, parsed)]
            plan.append(("keyword", 2, base + 1 + (lang is not None), parsed))
        keys: list[int] = []
        for name, via, tier, words in plan:
            table = self._table(name)
            if table is not None:
                keys += _table_keys(table, words, via, tier, any_word, exact)
        keys.sort()
        seen: set[int] = set()
        found = []
        for key in keys:
            entry = key & ENTRY_MASK
            if entry not in seen:
                seen.add(entry)
                found.append((entry, _VIAS[key >> 21 & 3]))
        return found


def _table_keys(
    table: WordTable,
    parsed: ParsedQuery,
    via: int,
    tier: int,
    any_word: bool,
    exact: bool,
) -> list[int]:
    """Sort keys ``tier, words missed, inexact, extra words, via, entry`` of one table."""
    words = parsed.words
    prefix = parsed.prefix and not exact
    keep: Callable[[list[str]], bool] | None = None
    if exact:
        wanted = list(words)

        def keep(name: list[str]) -> bool:
            return name == wanted

    elif parsed.phrases:
        phrases = parsed.phrases

        def keep(name: list[str]) -> bool:
            return all(_has_run(name, phrase) for phrase in phrases)

    if any_word:
        values = table.search_any(words, prefix=prefix)
        missed = [v >> 26 for v in values]
        values = [v & ((1 << 26) - 1) for v in values]
        ranks = table.rank_keys(values, words, prefix=prefix, keep=keep)
    else:
        values = table.search(words, prefix=prefix)
        ranks = table.rank_keys(values, words, prefix=prefix, keep=keep)
        top = tier << 45 | via << 21
        # (rank >> 21) << 23 moves "inexact, extra words" above the via bits.
        return [
            top | (rank >> 21) << 23 | (rank & ENTRY_MASK)
            for rank in ranks
            if rank >= 0
        ]
    top = tier << 45
    return [
        top | miss << 34 | (rank >> 21) << 23 | via << 21 | (rank & ENTRY_MASK)
        for miss, rank in zip(missed, ranks, strict=True)
        if rank >= 0
    ]


def _kind(entry: int) -> str:
    return "sequence" if entry >= SEQUENCE_BASE else "char"


def _has_run(name: list[str], phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` occurs in ``name`` as adjacent words, in order."""
    size = len(phrase)
    first = phrase[0]
    return any(
        word == first and tuple(name[i : i + size]) == phrase
        for i, word in enumerate(name)
    )


def _ints(chunk: bytes | memoryview) -> memoryview:
    """A uint32 table over ``chunk``'s bytes, no copy; ``ValueError`` when cut."""
    if len(chunk) % 4:
        raise ValueError("index table has the wrong size")
    # ("I" items are read with memcpy, so an unaligned start is fine.)
    return memoryview(chunk).cast("B").cast("I")


def _lines(chunk: bytes | memoryview) -> list[str]:
    text = str(chunk, "utf-8")
    return text.split("\n") if text else []
