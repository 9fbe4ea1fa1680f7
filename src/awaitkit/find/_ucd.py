"""The Unicode character database in use, and the word rules shared by index and query.

``unicodedata2`` tracks the newest Unicode release; the stdlib module lags
behind the interpreter's release date, so it is only the fallback.
"""

from __future__ import annotations

import re
import sys

try:
    import unicodedata2 as ucd
except ImportError:  # pragma: no cover - unicodedata2 is a declared dependency
    import unicodedata as ucd

__all__ = [
    "STOP_CODE",
    "fold_words",
    "generated_suffix",
    "strip_marks",
    "tokenize",
    "ucd",
    "unicode_version",
]

STOP_CODE = sys.maxunicode + 1

# A name word is a run of ASCII letters and digits: Unicode names use only
# those, a space and a hyphen; CLDR emoji names add apostrophes and a few
# signs ("o\u2019clock", "+1") that queries need not reproduce.
_WORD = re.compile(r"[A-Z0-9]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019")


def unicode_version() -> str:
    """The version of the Unicode data ``find`` uses, e.g. ``"16.0.0"``."""
    return str(ucd.unidata_version)


def tokenize(text: str) -> list[str]:
    """Uppercase words of ``text``; hyphens, underscores and punctuation split words.

    >>> tokenize("cat-face :smile:")
    ['CAT', 'FACE', 'SMILE']
    """
    return _WORD.findall(text.upper().translate(_APOSTROPHES))


def strip_marks(text: str) -> str:
    """``text`` without accents and other combining marks: ``tête`` -> ``tete``."""
    return "".join(c for c in ucd.normalize("NFKD", text) if not ucd.combining(c))


_FOLD_SPLIT = re.compile(r"[\W_]+")


def fold_words(text: str) -> list[str]:
    """Words in any script, case-folded, without accents (names in other languages).

    >>> fold_words("Tête de chat")
    ['tete', 'de', 'chat']
    """
    return [w for w in _FOLD_SPLIT.split(strip_marks(text).casefold()) if w]


def generated_suffix(code: int, name: str) -> str:
    """The hex ending of an algorithmically generated name, or ``""``.

    ``CJK UNIFIED IDEOGRAPH-4E00`` (and Tangut, Khitan, Nushu, Egyptian,
    CJK compatibility ideographs) end with their own code point: indexing
    those endings would add one useless word per character, so the index
    leaves them out and the query side recognises them instead.
    """
    suffix = f"{code:04X}"
    return suffix if name.endswith("-" + suffix) else ""
