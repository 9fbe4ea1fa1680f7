"""Lazy package attributes (PEP 562), so that importing a package costs nothing.

The ``awaitkit`` CLI imports every app's package to build its parser; an app
whose ``__init__`` pulled in asyncio or an HTTP stack would add tens of
milliseconds to ``awaitkit find``.  A package declares which module each
public name lives in and resolves it on first access::

    _LAZY = {"load_index": "awaitkit.find._cache"}
    __getattr__, __dir__ = attach(__name__, _LAZY)

It imports only :mod:`importlib`, which the interpreter has loaded already.
"""

from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

__all__ = ["attach"]


def attach(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` resolving ``names[attr]`` modules on demand."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
