"""``--per-host`` / ``DownloadOptions.per_host``: each host's share of -m, end to end.

Two real flags servers on loopback (two ports, so two origins to the
client pool) delay every answer, so requests overlap; each server counts the
requests it holds at once, which is what the limit is about.
"""

from __future__ import annotations

import asyncio
from itertools import chain
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.download import DownloadOptions, DownloadStatus, download_many
from awaitkit.flags import FlagsServer, ServerStats, country_codes
from tests.download._servers import flags_servers_in_thread

pytestmark = pytest.mark.anyio

PER_SERVER = 30
TOTAL = 20  # -m
PER_HOST = 3
DELAY = 0.2  # long enough for a batch's requests to pile up on each server


def _urls(first: str, second: str) -> list[str]:
    """30 URLs per server, alternating, with distinct file names across both."""
    codes = [cc.lower() for cc in country_codes()[: 2 * PER_SERVER]]
    a = [f"{first}/flags/{cc}/{cc}.gif" for cc in codes[:PER_SERVER]]
    b = [f"{second}/flags/{cc}/{cc}.gif" for cc in codes[PER_SERVER:]]
    return list(chain.from_iterable(zip(a, b, strict=True)))


class _Tally:
    """Requests held at once across servers, and the peak of that total."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def add(self, delta: int) -> None:
        self.now += delta
        self.peak = max(self.peak, self.now)


class _TalliedStats(ServerStats):
    """A server's own counters, whose in-flight changes also go to a shared tally."""

    def __init__(self, tally: _Tally) -> None:
        self._tally = tally
        super().__init__()

    def __setattr__(self, name: str, value: object) -> None:
        if name == "in_flight":
            assert isinstance(value, int)
            self._tally.add(value - getattr(self, "in_flight", 0))
        super().__setattr__(name, value)


def _tally(servers: list[FlagsServer]) -> _Tally:
    """Count the servers' in-flight requests together (before any request)."""
    tally = _Tally()
    for server in servers:
        assert server.stats.requests == 0
        server._site.stats = _TalliedStats(tally)  # type: ignore[union-attr]
    return tally


def _file_count(folder: Path) -> int:
    return sum(1 for _ in folder.iterdir())


def _check_limited(maxima: list[int], peak: int) -> None:
    assert all(1 < one <= PER_HOST for one in maxima), maxima
    # Both hosts were served at once: the total went past one host's share.
    assert PER_HOST < peak <= sum(maxima), (peak, maxima)


def _check_unlimited(maxima: list[int], peak: int) -> None:
    assert max(maxima) > PER_HOST, maxima
    assert max(maxima) < peak <= TOTAL, (peak, maxima)


@pytest.mark.parametrize("per_host", [PER_HOST, 0])
async def test_library_limits_requests_per_host(tmp_path: Path, per_host: int) -> None:
    async with (
        FlagsServer("LOCAL", delay=DELAY) as one,
        FlagsServer("LOCAL", delay=DELAY) as two,
    ):
        tally = _tally([one, two])
        options = DownloadOptions(concurrency=TOTAL, per_host=per_host, retries=0)
        urls = _urls(one.base_url, two.base_url)
        counter = await download_many(urls, tmp_path, options=options)
        maxima = [one.stats.max_in_flight, two.stats.max_in_flight]
        assert [one.stats.requests, two.stats.requests] == [PER_SERVER, PER_SERVER]
    assert counter == {DownloadStatus.OK: 2 * PER_SERVER}
    assert await asyncio.to_thread(_file_count, tmp_path) == 2 * PER_SERVER
    if per_host:
        _check_limited(maxima, tally.peak)
    else:
        _check_unlimited(maxima, tally.peak)


@pytest.mark.parametrize("per_host", [PER_HOST, 0])
def test_cli_fetch_per_host(tmp_path: Path, per_host: int) -> None:
    extra = ["--per-host", str(per_host)] if per_host else []
    with flags_servers_in_thread(2, delay=DELAY) as servers:
        tally = _tally(servers)
        urls = _urls(servers[0].base_url, servers[1].base_url)
        argv = ["fetch", "-q", "-m", str(TOTAL), *extra, "--dest", str(tmp_path)]
        assert main([*argv, *urls]) == 0
        maxima = [server.stats.max_in_flight for server in servers]
        assert [server.stats.requests for server in servers] == [PER_SERVER] * 2
    assert _file_count(tmp_path) == 2 * PER_SERVER
    if per_host:
        _check_limited(maxima, tally.peak)
    else:
        _check_unlimited(maxima, tally.peak)
