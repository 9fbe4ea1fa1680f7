"""``python -m awaitkit``."""

from __future__ import annotations

from awaitkit.cli import entry

entry()
