"""Each package's ``__all__`` names exactly what it exports, and all of it imports."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "awaitkit",
    "awaitkit.core",
    "awaitkit.find",
    "awaitkit.servers",
    "awaitkit.flags",
    "awaitkit.download",
    "awaitkit.http",
    "awaitkit.probe",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_unique(name: str) -> None:
    exported = list(importlib.import_module(name).__all__)
    assert exported == sorted(set(exported))
