"""``python -m awaitkit``."""

from __future__ import annotations

from awaitkit.cli import main

raise SystemExit(main())
