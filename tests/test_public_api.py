"""Each package's ``__all__`` names exactly what it exports, both ways.

A name is exported when it has no leading underscore and the package defines
or imports it at top level, or resolves it lazily (``awaitkit._lazy``: such a
package's ``dir()`` lists its lazy names).  Submodules are not exports, nor is
the lazy-loading plumbing (``attach`` and the ``TYPE_CHECKING = False``
switch).  Every package under ``awaitkit`` is
checked, and every public ``testing`` module, so a new one is checked without
editing this file.
"""

from __future__ import annotations
import __future__

import importlib
import pkgutil
import types

import pytest

import awaitkit
from awaitkit._lazy import attach

# Dunder names a package may list in __all__.
EXPORTED_DUNDERS = {"__version__"}


def _public_modules() -> list[str]:
    found = ["awaitkit"]
    for info in pkgutil.walk_packages(awaitkit.__path__, "awaitkit."):
        last = info.name.rsplit(".", 1)[1]
        if last.startswith("_"):
            continue
        if info.ispkg or last == "testing":
            found.append(info.name)
    return sorted(found)


MODULES = _public_modules()


def test_discovery_finds_every_package_and_the_testing_modules() -> None:
    assert set(MODULES) >= {
        "awaitkit",
        "awaitkit.core",
        "awaitkit.core.testing",
        "awaitkit.download",
        "awaitkit.find",
        "awaitkit.flags",
        "awaitkit.probe",
        "awaitkit.probe.testing",
        "awaitkit.servers",
    }
    assert not [m for m in MODULES if "._" in m]


def exported_names(module: types.ModuleType) -> set[str]:
    """What ``module`` really exports, by the rule in the module docstring."""
    names = set(vars(module)) | set(dir(module))  # dir(): the lazy names
    exported = set()
    for name in names:
        if name.startswith("_"):
            continue
        value = getattr(module, name)
        if isinstance(value, types.ModuleType) or value is __future__.annotations:
            continue  # a submodule, or `from __future__ import annotations`
        if name == "TYPE_CHECKING" or value is attach:
            continue  # the awaitkit._lazy plumbing every package __init__ uses
        exported.add(name)
    return exported | (EXPORTED_DUNDERS & names)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_exactly_what_is_exported(name: str) -> None:
    module = importlib.import_module(name)
    declared = set(module.__all__)
    exported = exported_names(module)
    unexported = sorted(declared - exported)
    unlisted = sorted(exported - declared)
    assert not unexported, (
        f"{name}.__all__ lists names it does not export: {unexported}"
    )
    assert not unlisted, f"{name} exports names missing from __all__: {unlisted}"


@pytest.mark.parametrize("name", MODULES)
def test_all_names_resolve(name: str) -> None:
    """Lazy names too: each one's module imports and defines it."""
    module = importlib.import_module(name)
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_unique(name: str) -> None:
    exported = list(importlib.import_module(name).__all__)
    assert exported == sorted(set(exported))


def test_the_check_sees_a_stray_name_and_a_missing_one() -> None:
    module = types.ModuleType("example")
    exec(
        "from __future__ import annotations\n"
        "import os\n"
        "from os.path import join\n"
        "TYPE_CHECKING = False\n"
        "_private = 1\n"
        "def public(): ...\n"
        "__all__ = ['public']\n",
        vars(module),
    )
    assert exported_names(module) == {"join", "public"}  # `join` leaked
    module.__dir__ = lambda: ["lazy"]  # type: ignore[method-assign]
    module.lazy = object()  # type: ignore[attr-defined]
    assert exported_names(module) == {"join", "lazy", "public"}
