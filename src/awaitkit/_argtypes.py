"""argparse ``type=`` converters shared by every subcommand.

Each raises :class:`argparse.ArgumentTypeError`, so a bad value is a usage
error (exit 2) with the option named, never a traceback later.  Only
:mod:`argparse` is imported: the CLI builds every parser at start-up.
"""

from __future__ import annotations

import argparse
from typing import Any, Protocol

__all__ = [
    "Subcommands",
    "fraction",
    "non_negative_int",
    "port",
    "positive_float",
    "positive_int",
]


class Subcommands(Protocol):
    """What ``ArgumentParser.add_subparsers()`` returns, as the commands use it.

    argparse names that class only privately; this is the part of it a
    ``register(commands)`` function needs.
    """

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Declare the subcommand ``name``; returns its parser."""
        ...


def non_negative_int(text: str) -> int:
    """An ``int`` >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def positive_int(text: str) -> int:
    """An ``int`` >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def positive_float(text: str) -> float:
    """A ``float`` > 0 (NaN refused)."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def fraction(text: str) -> float:
    """A ``float`` in [0, 1]: a share of requests."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1]: {text}")
    return value


def port(text: str) -> int:
    """A TCP port, 0 (the kernel picks one) to 65535."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535: {value}")
    return value
