"""What a query returns: matches as plain frozen values, and their line format."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "VIAS", "Match", "QueryResult", "format_match"]

# What a result is: one code point, or an emoji sequence of several
# (a flag, a ZWJ family, a keycap, a skin-tone variant).
KINDS = ("char", "sequence")
# How it was found: by its Unicode or emoji name, a formal name alias
# (NameAliases.txt), a CLDR keyword, a code point or range, or pasted text.
VIAS = ("name", "alias", "keyword", "code", "text")


@dataclass(frozen=True, slots=True)
class Match:
    """One result: ``Match(char="🐱", code="U+1F431", name="CAT FACE")``.

    ``char`` is the whole string found: one code point, or every code point
    of an emoji sequence (``code`` then lists them, space-separated:
    ``"U+1F1E7 U+1F1F7"``).  ``kind`` is one of :data:`KINDS`, ``via`` one
    of :data:`VIAS`.
    """

    char: str
    code: str
    name: str
    kind: str = "char"
    via: str = "name"

    @classmethod
    def of(cls, char: str, name: str, *, via: str = "name") -> Match:
        """The match for ``char`` (one code point or a sequence) named ``name``."""
        code = " ".join(f"U+{ord(c):04X}" for c in char)
        return cls(char, code, name, "char" if len(char) == 1 else "sequence", via)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The page of matches asked for, and how many matched in all.

    ``total`` counts every match, so ``total > len(matches)`` means that
    ``limit``/``offset`` cut the list.
    """

    total: int
    matches: tuple[Match, ...]


def format_match(match: Match) -> str:
    """The book's result line: ``U+1F431<TAB>🐱<TAB>CAT FACE``."""
    return f"{match.code}\t{match.char}\t{match.name}"
