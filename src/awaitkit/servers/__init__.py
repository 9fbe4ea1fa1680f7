"""awaitkit.servers (placeholder until the app lands)."""

from __future__ import annotations

__all__: list[str] = []
