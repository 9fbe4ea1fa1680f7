"""pytest plugin: a ``flags_server`` fixture for the tests of any HTTP client.

Installed with awaitkit, it registers itself (the ``pytest11`` entry point
``awaitkit-flags``); without the entry point, list it in a ``conftest.py``::

    pytest_plugins = ["awaitkit.flags.pytest_plugin"]

The fixture serves the flags data set, control API on, in a thread with an
event loop of its own, so sync tests (``requests``, ``urllib``) and async
tests (anyio, pytest-asyncio, any loop) can use it alike.  It yields the
base URL (a ``str``) with ``.control`` (an async
:class:`~awaitkit.flags.ControlClient`: rules, stats, verdicts, metrics)
and ``.server`` (the :class:`~awaitkit.flags.FlagsServer`; read its
``stats`` but call nothing on it from the test's thread).  Options come
from a marker::

    @pytest.mark.flags_server("ERROR", seed=1, rules=[{"path": "/flags/br/*", "status": 503}])
    async def test_my_client(flags_server):
        await my_client.get(f"{flags_server}/flags/br/br.gif")
        verdicts = await flags_server.control.verdicts()
        assert verdicts["127.0.0.1"]["retry_after"]["violated"] == 0
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from awaitkit.flags._server import FlagsURL

__all__ = ["ThreadedFlagsServer", "flags_server"]

_START_TIMEOUT = 60.0  # the first run in a fresh cache draws the images


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        "flags_server(preset='LOCAL', **options): options of the flags_server "
        "fixture (FlagsServer's: seed, rules, delay, error_rate...)",
    )


class ThreadedFlagsServer:
    """A flags server (control API on) on its own loop in a daemon thread.

    ``with ThreadedFlagsServer("ERROR", seed=1) as base_url: ...``;
    options are :class:`~awaitkit.flags.FlagsServer`'s.
    """

    def __init__(self, preset: str = "LOCAL", **options: Any) -> None:
        self.preset = preset
        self.options = {"control": True, **options}
        self._ready = threading.Event()
        self._url: FlagsURL | None = None
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._run, name="awaitkit-flags-server", daemon=True
        )

    def __enter__(self) -> FlagsURL:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"the flags server did not start in {_START_TIMEOUT} s")
        if self._error is not None:
            raise self._error
        assert self._url is not None
        return self._url

    def __exit__(self, *exc_info: object) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        self._thread.join(_START_TIMEOUT)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to the test's thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        from awaitkit.flags._server import FlagsServer, FlagsURL

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with FlagsServer(self.preset, **self.options) as server:
            self._url = FlagsURL(server)
            self._ready.set()
            await self._stop.wait()


@pytest.fixture
def flags_server(request: pytest.FixtureRequest) -> Iterator[FlagsURL]:
    """A running flags server with its control API; see the module docstring."""
    marker = request.node.get_closest_marker("flags_server")
    args: tuple[Any, ...] = marker.args if marker else ()
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker else {}
    with ThreadedFlagsServer(*args, **kwargs) as url:
        yield url
