"""Placeholder command registration until the app lands."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Register this app's subcommands (none yet)."""
