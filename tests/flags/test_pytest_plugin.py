"""The ``flags_server`` fixture as another project's suite uses it (pytester, a subprocess)."""

from __future__ import annotations

import pytest

SUITE = '''
import json
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_sync_client(flags_server):
    """A blocking client (urllib) in a sync test: the server runs in its own thread."""
    with urllib.request.urlopen(f"{flags_server}/flags/br/metadata.json") as resp:
        assert json.load(resp)["iso_cc"] == "BR"
    assert flags_server.server.stats.requests == 1
    assert isinstance(flags_server, str)


@pytest.mark.flags_server(rules=[{"path": "/flags/br/*", "status": 503, "retry_after": 7}])
def test_marker_options(flags_server):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{flags_server}/flags/br/br.gif")
    assert info.value.code == 503
    assert info.value.headers["Retry-After"] == "7"


@pytest.mark.flags_server("ERROR", error_rate=1.0, delay=0)
async def test_async_control(flags_server):
    """The async control client works from the test's own loop."""
    await flags_server.control.add_rule({"path": "/x", "status": 204})
    rules = await flags_server.control.rules()
    assert [r["path"] for r in rules] == ["/x"]
    assert (await flags_server.control.stats())["requests"] == 0
'''


def test_flags_server_fixture_in_a_foreign_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_foreign=SUITE)
    # Loaded by its pytest11 entry point: nothing in the suite names it.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=3)


def test_flags_server_fixture_by_pytest_plugins(pytester: pytest.Pytester) -> None:
    """Without entry points, ``pytest_plugins`` in a conftest loads it."""
    pytester.makeconftest('pytest_plugins = ["awaitkit.flags.pytest_plugin"]\n')
    pytester.makepyfile(test_foreign=SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--strict-markers", "-p", "no:awaitkit-flags"
    )
    result.assert_outcomes(passed=3)
