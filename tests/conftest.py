"""Shared fixtures: the anyio backend (asyncio in debug mode, checked by
``tests.loopdebug``) and peer binaries."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Every loop in debug mode; a slow callback fails its test (see the module).
pytest_plugins = ["tests.loopdebug", "pytester"]


def pytest_configure(config: pytest.Config) -> None:
    """Let SIGINT reach the processes the tests interrupt.

    A shell starts a background job with SIGINT ignored, its children inherit
    that, and a program started so rightly keeps ignoring Ctrl-C; the tests
    that send SIGINT to a real process need it delivered, however pytest was
    started.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    return ("asyncio", {"debug": True})


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """Caches written by any test (the flag images...) go to a session directory,
    never the user's real cache; tests that need another one set their own."""
    folder = tmp_path_factory.mktemp("awaitkit-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWAITKIT_CACHE_DIR", str(folder))
        yield folder


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


def without_root_powers() -> list[str]:
    """argv prefix that runs a command with file permissions enforced.

    Root ignores permission bits, and CI runs as root: dropping the
    CAP_DAC_* capabilities from the bounding set makes root obey them.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux)")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]


def python_in_read_only_dir(
    folder: Path, script: str
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (``sys.argv[1]`` is ``folder``) with ``folder`` read-only.

    The folder is left writable again afterwards, so tmp_path can be removed.
    """
    folder.chmod(0o500)
    try:
        return subprocess.run(
            [*without_root_powers(), sys.executable, "-c", script, str(folder)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        folder.chmod(0o700)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    """A Ray head and two worker nodes on this machine (see tests/raycluster.py)."""
    from tests.raycluster import start_cluster

    yield from start_cluster()


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """The cluster tests last: the Ray cluster they share (three nodes' processes)
    stays up until the session ends, and would slow every test run after it."""
    items.sort(key=lambda item: item.get_closest_marker("cluster") is not None)
