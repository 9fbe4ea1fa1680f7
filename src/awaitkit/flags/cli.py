"""Placeholder command registration until the app lands."""

from __future__ import annotations

import argparse
from typing import Any


def register(serve_commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``awaitkit serve flags`` (not yet)."""
