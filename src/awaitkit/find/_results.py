"""What a query returns: matches as plain frozen values, and their line format."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Match", "QueryResult", "format_match"]


@dataclass(frozen=True, slots=True)
class Match:
    """One character found: ``Match(char="🐱", code="U+1F431", name="CAT FACE")``."""

    char: str
    code: str
    name: str

    @classmethod
    def of(cls, char: str, name: str) -> Match:
        """The match for ``char`` whose Unicode name is ``name``."""
        return cls(char, f"U+{ord(char):04X}", name)


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
