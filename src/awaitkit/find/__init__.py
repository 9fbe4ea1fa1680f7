"""Mojifinder: search Unicode characters by name, code point or pasted text.

The front door is :func:`load_index` (the cached full index) and
:meth:`CharIndex.query`::

    >>> from awaitkit.find import format_match, load_index
    >>> for match in load_index().query("cat face", limit=1).matches:
    ...     print(format_match(match))
    U+1F431	🐱	CAT FACE

Properties and listings: :func:`identify` describes each character of a
text (block, script, category, age, encodings), :func:`from_bytes` decodes
``"utf8:e282ac"``, ``block_of``/``script_of``/``category_of``/``age_of`` read
one property, ``block_codes``/``script_codes``/``category_codes`` list
code points lazily, and ``in_block``/``in_script``/``in_category`` make
filters of result strings::

    >>> from awaitkit.find import block_of, identify
    >>> block_of("─"), next(identify("€")).age
    ('Box Drawing', '2.1')

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
    from awaitkit.find._identify import (
        CharProperties as CharProperties,
        from_bytes as from_bytes,
        identify as identify,
    )
    from awaitkit.find._index import CharIndex as CharIndex
    from awaitkit.find._labels import code_label as code_label
    from awaitkit.find._props import (
        age_of as age_of,
        block_of as block_of,
        blocks as blocks,
        category_name as category_name,
        category_of as category_of,
        property_versions as property_versions,
        resolve_block as resolve_block,
        resolve_category as resolve_category,
        resolve_script as resolve_script,
        script_extensions_of as script_extensions_of,
        script_of as script_of,
        scripts as scripts,
    )
    from awaitkit.find._query import MAX_QUERY_CHARS as MAX_QUERY_CHARS
    from awaitkit.find._ranges import (
        all_codes as all_codes,
        block_codes as block_codes,
        category_codes as category_codes,
        in_block as in_block,
        in_category as in_category,
        in_script as in_script,
        parse_ranges as parse_ranges,
        script_codes as script_codes,
    )
    from awaitkit.find._results import (
        Match as Match,
        QueryResult as QueryResult,
        format_match as format_match,
    )
    from awaitkit.find._ucd import unicode_version as unicode_version
    from awaitkit.find._versions import data_versions as data_versions

_PROPS = (
    "age_of block_of blocks category_name category_of property_versions "
    "resolve_block resolve_category resolve_script script_extensions_of "
    "script_of scripts"
)
_RANGES = (
    "all_codes block_codes category_codes in_block in_category "
    "in_script parse_ranges script_codes"
)
_LAZY = {
    **dict.fromkeys(_PROPS.split(), "awaitkit.find._props"),
    **dict.fromkeys(_RANGES.split(), "awaitkit.find._ranges"),
    **dict.fromkeys(
        ("CharProperties", "from_bytes", "identify"), "awaitkit.find._identify"
    ),
    "CACHE_ENV": "awaitkit.find._cache",
    "data_versions": "awaitkit.find._versions",
    "CharIndex": "awaitkit.find._index",
    "code_label": "awaitkit.find._labels",
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
