"""Building the index's tables from their sources (once; the cache keeps the result).

Sources, each a table of its own so that a result knows how it was found:

* ``name``: Unicode names (the character database), the emoji package's
  English short names and aliases of single emoji, and its emoji sequences
  (flags, keycaps, ZWJ sequences, skin-tone and gender variants), numbered
  from :data:`~awaitkit.find._tables.SEQUENCE_BASE`;
* ``alias``: Unicode's name aliases, formal (NameAliases.txt) and
  informative (NamesList.txt), from ``data/name_aliases.txt``;
* ``keyword``: CLDR annotations, from ``data/cldr/en.txt``;
* ``name.LANG`` and ``keyword.LANG``: the emoji package's names and CLDR's
  keywords in another language.

English words are ASCII upper case ("piñata" -> ``PINATA``: queries are
typed in ASCII); other languages keep their letters, case-folded and
without accents (``tête`` -> ``tete``), so a query matches with or without
them.  Only this module imports ``emoji`` and reads the data files: loading
the cached index needs neither.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator
from importlib import resources

from awaitkit.find._tables import COUNT_BITS, COUNT_MASK, SEQUENCE_BASE
from awaitkit.find._ucd import fold_words, strip_marks, tokenize, ucd

__all__ = ["LANGUAGES", "ascii_words", "build_chunks"]

# The languages the emoji package has names in besides English; CLDR
# keywords are shipped for the same ones (tools/cldr_annotations.py).
LANGUAGES = (
    "ar",
    "de",
    "es",
    "fa",
    "fr",
    "id",
    "it",
    "ja",
    "ko",
    "pt",
    "ru",
    "tr",
    "zh",
)
_VS16 = "\ufe0f"
_FULLY_QUALIFIED, _COMPONENT = 2, 1
_REGIONAL = range(0x1F1E6, 0x1F200)
_TAG_FLAG = "\U0001f3f4"
# Which formal alias names a character that has no Unicode name, best first.
_LABEL_TYPES = ("control", "figment", "correction", "alternate", "abbreviation")


def ascii_words(text: str) -> str:
    """English name words: ``"piñata"`` -> ``"PINATA"``."""
    return " ".join(tokenize(strip_marks(text)))


def _short_name(raw: str) -> str:
    """``":thumbs_up:"`` -> ``"thumbs up"``."""
    return raw.strip(":").replace("_", " ").strip()


def _data_lines(*parts: str) -> Iterator[list[str]]:
    """Tab-separated rows of a shipped data file, header comments left out."""
    path = resources.files("awaitkit.find").joinpath("data", *parts)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            yield line.split("\t")


class _Sources:
    """Everything the tables are built from, read once."""

    def __init__(self, start: int, stop: int) -> None:
        import emoji

        self.start, self.stop = start, stop
        data = emoji.EMOJI_DATA
        for lang in LANGUAGES:
            emoji.config.load_language(lang)
        # Sequences: fully qualified ones (and components such as hair
        # styles); the unqualified spellings are the same sequences.
        self.sequences = sorted(
            chars
            for chars, info in data.items()
            if len(chars.replace(_VS16, "")) > 1
            and info["status"] in (_FULLY_QUALIFIED, _COMPONENT)
            # A range's index has the sequences made of its characters only.
            and all(start <= ord(c) < stop for c in chars)
        )
        self.entry_of: dict[str, int] = {}
        for n, chars in enumerate(self.sequences):
            self.entry_of[chars] = SEQUENCE_BASE + n
            self.entry_of.setdefault(chars.replace(_VS16, ""), SEQUENCE_BASE + n)
        self.labels: list[str] = []
        self.names: defaultdict[int, list[str]] = defaultdict(list)
        self.lang_names: dict[str, defaultdict[int, list[str]]] = {
            lang: defaultdict(list) for lang in LANGUAGES
        }
        self.lang_labels: dict[str, dict[int, str]] = {lang: {} for lang in LANGUAGES}
        for chars, info in data.items():
            entry = self.entry(chars)
            if entry is None:
                continue
            is_flag = chars[0] == _TAG_FLAG or ord(chars[0]) in _REGIONAL
            english = [_short_name(info.get("en", ""))]
            english += [_short_name(alias) for alias in info.get("alias", ())]
            if is_flag and entry >= SEQUENCE_BASE:
                # "flag Brazil", not "Brazil": a flag is named as one (and a
                # query for "flag" then ranks ~270 flags by word counts alone).
                english = [
                    name if name.lower().startswith("flag") else "flag " + name
                    for name in english
                ]
            _add(self.names[entry], (ascii_words(name) for name in english))
            for lang in LANGUAGES:
                if raw := info.get(lang):
                    label = _short_name(raw)
                    if entry not in self.lang_labels[lang] or chars == self._text(
                        entry
                    ):
                        self.lang_labels[lang][entry] = label
                    _add(self.lang_names[lang][entry], [" ".join(fold_words(label))])
        for chars in self.sequences:
            label = _short_name(data[chars]["en"]).upper()
            if (chars[0] == _TAG_FLAG or ord(chars[0]) in _REGIONAL) and not (
                label.startswith("FLAG")
            ):
                label = "FLAG " + label
            self.labels.append(label)

    def _text(self, entry: int) -> str:
        return (
            chr(entry)
            if entry < SEQUENCE_BASE
            else self.sequences[entry - SEQUENCE_BASE]
        )

    def entry(self, chars: str) -> int | None:
        """The entry of an emoji or character string, ``None`` outside the index."""
        core = chars.replace(_VS16, "") or chars
        if len(core) == 1:
            return ord(core) if self.start <= ord(core) < self.stop else None
        return self.entry_of.get(chars, self.entry_of.get(core))

    def aliases(self) -> tuple[dict[int, list[str]], dict[int, str]]:
        """Alias words per entry, and the name of entries the UCD leaves unnamed."""
        names: defaultdict[int, list[str]] = defaultdict(list)
        labels: dict[int, tuple[int, str]] = {}
        for code_text, kind, alias in _data_lines("name_aliases.txt"):
            code = int(code_text, 16)
            if not self.start <= code < self.stop:
                continue
            _add(names[code], [ascii_words(alias)])
            if kind in _LABEL_TYPES and not ucd.name(chr(code), ""):
                rank = _LABEL_TYPES.index(kind)
                if code not in labels or rank < labels[code][0]:
                    labels[code] = (rank, alias)
        return names, {code: alias for code, (_, alias) in labels.items()}

    def keywords(self, lang: str) -> tuple[dict[int, list[str]], dict[int, str]]:
        """CLDR keyword names per entry (each keyword, and CLDR's name), and names."""
        words = ascii_words if lang == "en" else (lambda t: " ".join(fold_words(t)))
        names: defaultdict[int, list[str]] = defaultdict(list)
        labels: dict[int, str] = {}
        for chars, tts, keywords in _data_lines("cldr", f"{lang}.txt"):
            entry = self.entry(chars)
            if entry is None:
                continue
            _add(names[entry], (words(k) for k in [*keywords.split("|"), tts]))
            if tts:
                labels.setdefault(entry, tts)
        return names, labels


def _add(names: list[str], new: Iterable[str]) -> None:
    for name in new:
        if name and name not in names:
            names.append(name)


def _table(
    prefix: str,
    texts: dict[int, list[str]],
    *,
    unicode_range: tuple[int, int] | None = None,
) -> dict[str, bytes]:
    """The chunks of one table: words, offsets, postings, ids and their names."""
    texts = {entry: names for entry, names in texts.items() if names}
    table: defaultdict[str, list[int]] = defaultdict(list)
    counts: dict[int, int] = {}
    if unicode_range is not None:
        name_of = ucd.name
        for code in range(*unicode_range):
            name = name_of(chr(code), "")
            if not name:
                continue
            # Unicode names hold only A-Z, 0-9, space and hyphen, so this is
            # tokenize(name) at a fraction of the cost (this loop runs 1.1M times).
            words = name.replace("-", " ").split()
            counts[code] = len(words)
            if name.endswith(f"-{code:04X}"):
                words.pop()  # a generated hex ending, see generated_suffix()
            for word in set(words):
                table[word].append(code)
    for entry, names in texts.items():
        split = [name.split() for name in names]
        shortest = min(len(words) for words in split)
        counts[entry] = min(counts.get(entry, shortest), shortest)
        for word in {w for words in split for w in words}:
            table[word].append(entry)
    vocabulary = sorted(table)
    offsets = array("I", [0])
    postings = array("I")
    for word in vocabulary:
        entries = sorted(set(table[word]))
        postings.extend(e << COUNT_BITS | min(counts[e], COUNT_MASK) for e in entries)
        offsets.append(len(postings))
    ids = sorted(texts)
    return {
        f"{prefix}.words": "\n".join(vocabulary).encode(),
        f"{prefix}.offsets": offsets.tobytes(),
        f"{prefix}.postings": postings.tobytes(),
        f"{prefix}.ids": array("I", ids).tobytes(),
        f"{prefix}.texts": "\n".join("|".join(texts[e]) for e in ids).encode(),
    }


def _labels(prefix: str, labels: dict[int, str]) -> dict[str, bytes]:
    ids = sorted(labels)
    return {
        f"{prefix}.label_ids": array("I", ids).tobytes(),
        f"{prefix}.labels": "\n".join(
            labels[e].replace("\n", " ") for e in ids
        ).encode(),
    }


def build_chunks(start: int, stop: int) -> dict[str, bytes]:
    """Every table of the index over ``range(start, stop)``, as named byte chunks."""
    sources = _Sources(start, stop)
    chunks = {
        "seq.chars": "\n".join(sources.sequences).encode(),
        "seq.labels": "\n".join(sources.labels).encode(),
    }
    chunks |= _table("name", dict(sources.names), unicode_range=(start, stop))
    aliases, alias_labels = sources.aliases()
    chunks |= _table("alias", aliases) | _labels("alias", alias_labels)
    keywords, _ = sources.keywords("en")
    chunks |= _table("keyword", keywords)
    for lang in LANGUAGES:
        chunks |= _table(f"name.{lang}", dict(sources.lang_names[lang]))
        chunks |= _labels(f"name.{lang}", sources.lang_labels[lang])
        lang_keywords, _ = sources.keywords(lang)
        chunks |= _table(f"keyword.{lang}", lang_keywords)
    return chunks
