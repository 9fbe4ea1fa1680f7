"""Placeholder command registration until the app lands."""

from __future__ import annotations

import argparse
from typing import Any


def register(
    serve: argparse.ArgumentParser, serve_commands: argparse._SubParsersAction[Any]
) -> None:
    """Register ``awaitkit serve tcp|web`` (not yet)."""
