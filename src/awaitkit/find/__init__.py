"""Mojifinder: search Unicode characters by name, code point or pasted text.

The front door is :func:`load_index` (the cached full index) and
:meth:`CharIndex.query`::

    >>> from awaitkit.find import format_match, load_index
    >>> for match in load_index().query("cat face", limit=1).matches:
    ...     print(format_match(match))
    U+1F431	🐱	CAT FACE

The book's ``InvertedIndex`` and ``format_results`` are kept with their
original semantics.  Names load on first use: the ``awaitkit`` CLI imports
this package to build its parser, and must start in milliseconds.
"""

from __future__ import annotations

from awaitkit._lazy import attach

# Not ``from typing import TYPE_CHECKING``: importing typing costs ~2 ms of the
# CLI's start-up, and type checkers honour any constant of this name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from awaitkit.find._book import (
        InvertedIndex as InvertedIndex,
        format_results as format_results,
    )
    from awaitkit.find._cache import (
        CACHE_ENV as CACHE_ENV,
        cache_file as cache_file,
        load_index as load_index,
    )
    from awaitkit.find._index import CharIndex as CharIndex
    from awaitkit.find._query import MAX_QUERY_CHARS as MAX_QUERY_CHARS
    from awaitkit.find._results import (
        Match as Match,
        QueryResult as QueryResult,
        format_match as format_match,
    )
    from awaitkit.find._ucd import unicode_version as unicode_version

_LAZY = {
    "CACHE_ENV": "awaitkit.find._cache",
    "CharIndex": "awaitkit.find._index",
    "InvertedIndex": "awaitkit.find._book",
    "MAX_QUERY_CHARS": "awaitkit.find._query",
    "Match": "awaitkit.find._results",
    "QueryResult": "awaitkit.find._results",
    "cache_file": "awaitkit.find._cache",
    "format_match": "awaitkit.find._results",
    "format_results": "awaitkit.find._book",
    "load_index": "awaitkit.find._cache",
    "unicode_version": "awaitkit.find._ucd",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = attach(__name__, _LAZY)
