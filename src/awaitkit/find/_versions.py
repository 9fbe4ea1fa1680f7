"""The versions of the data ``find`` searches, for ``awaitkit --version`` and the README.

Unicode (the character database in use), the name aliases and CLDR
annotations shipped in ``data/`` (read from their files' headers) and the
``emoji`` package.
"""

from __future__ import annotations

import re
from importlib import resources

from awaitkit.find._cache import emoji_version
from awaitkit.find._ucd import unicode_version

__all__ = ["data_versions"]


def data_versions() -> dict[str, str]:
    """The versions of find's data: Unicode, name aliases, emoji package, CLDR.

    >>> sorted(data_versions())
    ['aliases', 'cldr', 'emoji', 'unicode']
    """
    found = {"unicode": unicode_version(), "emoji": emoji_version()}
    for key, parts, pattern in (
        ("aliases", ("name_aliases.txt",), r"# Unicode (\S+):"),
        ("cldr", ("cldr", "en.txt"), r"# CLDR (\S+) "),
    ):
        path = resources.files("awaitkit.find").joinpath("data", *parts)
        with path.open(encoding="utf-8") as f:
            match = re.match(pattern, f.readline())
        found[key] = match.group(1) if match else "unknown"
    return found
