"""Fixtures for find: one full index per session, cached in a private directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from awaitkit.find import CharIndex, load_index


@pytest.fixture(scope="session")
def index_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding a valid full index (never the user's real cache)."""
    folder = tmp_path_factory.mktemp("find-cache")
    load_index(folder)
    return folder


@pytest.fixture(scope="session")
def full_index(index_cache_dir: Path) -> CharIndex:
    """The full index, loaded from the session cache."""
    return load_index(index_cache_dir)


@pytest.fixture(scope="session")
def ascii_index() -> CharIndex:
    """A tiny in-memory index over range(32, 128)."""
    return CharIndex.build(32, 128)


def name_table(index: CharIndex) -> tuple[list[str], memoryview, memoryview]:
    """The words, offsets and postings of the index's table of Unicode names."""
    parts = index.parts()
    words = bytes(parts["name.words"]).decode().split("\n")
    offsets = memoryview(bytes(parts["name.offsets"])).cast("I")
    postings = memoryview(bytes(parts["name.postings"])).cast("I")
    return words, offsets, postings
