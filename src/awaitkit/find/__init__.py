"""awaitkit.find (placeholder until the app lands)."""

from __future__ import annotations

import unicodedata

__all__ = ["unicode_version"]


def unicode_version() -> str:
    """The Unicode version of the character data in use."""
    return unicodedata.unidata_version
