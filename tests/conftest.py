"""Shared fixtures: the anyio backend (asyncio in debug mode) and peer binaries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    return ("asyncio", {"debug": True})


def find_binary(name: str) -> str:
    """Path of a peer binary (nginx, nsd, chromium...).

    Locally a missing peer skips the test; under CI (``CI`` set) it fails,
    because ``.ci/run`` installs every peer and a skip would hide that.
    """
    path = shutil.which(name)
    if path is None:
        for folder in ("/usr/sbin", "/usr/bin"):
            if Path(folder, name).exists():
                path = str(Path(folder, name))
                break
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run must install it")
        pytest.skip(f"{name} is not installed")
    return path
