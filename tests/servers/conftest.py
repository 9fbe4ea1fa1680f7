"""Fixtures for the Mojifinder servers: the real index, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from awaitkit.find import CharIndex, load_index
from awaitkit.servers import create_app


@pytest.fixture(scope="session")
def find_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private index cache: built once per run, never a stale user cache."""
    return tmp_path_factory.mktemp("find-cache")


@pytest.fixture(scope="session")
def index(find_cache: Path) -> CharIndex:
    """The full index."""
    return load_index(find_cache)


@pytest.fixture
def web_app(index: CharIndex) -> FastAPI:
    """A web app over the full index, made outside any loop: FastAPI builds its
    routes' models as it is made, which would hold the test's loop."""
    return create_app(index)
