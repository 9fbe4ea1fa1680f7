"""Our downloader as the client under test: the flags server's verdicts on its behaviour."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from awaitkit.download import DownloadOptions, DownloadStatus, iter_downloads
from awaitkit.flags import FlagsServer, build_dataset

pytestmark = pytest.mark.anyio

# The control API imports prometheus-client: at collection, not inside the first
# test, where collecting its garbage would count as a slow callback (tests/loopdebug).
importlib.import_module("awaitkit.flags._control")

GIF = "/flags/br/br.gif"
BODY = build_dataset()["flags/br/br.gif"].body
FAST = DownloadOptions(backoff_base=0.001, backoff_max=0.01, retries=3)


async def download(url: str, dest: Path) -> Any:
    results = [r async for r in iter_downloads([url], dest, options=FAST)]
    assert len(results) == 1
    return results[0]


def only_client(verdicts: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    assert list(verdicts) == ["127.0.0.1"], verdicts
    return verdicts["127.0.0.1"]


@pytest.mark.parametrize("status", [429, 503])
async def test_fetch_honours_retry_after(tmp_path: Path, status: int) -> None:
    """429/503 with Retry-After: 1, then 200: the retry waits at least 1 s."""
    rule = {"path": GIF, "schedule": [str(status), "ok"], "retry_after": 1}
    async with FlagsServer(control=True, rules=[rule]) as server:
        result = await download(server.base_url + GIF, tmp_path)
        verdict = only_client(await server.control.verdicts())
    assert result.status is DownloadStatus.OK
    assert (tmp_path / "br.gif").read_bytes() == BODY
    assert verdict["retry_after"]["honoured"] == 1
    assert verdict["retry_after"]["violated"] == 0
    assert verdict["retry_after"]["shortest_gap"] >= 1


BIG = bytes(range(256)) * 4096  # 1 MiB: over memory_limit, so streamed to a .part


@pytest.mark.parametrize("cut", ["reset@300000", "close@300000"])
async def test_fetch_resumes_a_large_body_with_range_after_a_cut(
    tmp_path: Path, cut: str
) -> None:
    """A streamed body cut after 300 kB: the retry asks for the rest with Range."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "big.bin").write_bytes(BIG)
    rule = {"path": "/big.bin", "schedule": [cut, "ok"]}
    async with FlagsServer(control=True, rules=[rule], directory=site) as server:
        result = await download(server.base_url + "/big.bin", tmp_path / "out")
        verdict = only_client(await server.control.verdicts())
    assert result.status is DownloadStatus.OK
    assert (tmp_path / "out" / "big.bin").read_bytes() == BIG
    assert verdict["resume"] == {
        "cuts": 1,
        "resumed": 1,
        "restarted": 0,
        "overshot": 0,
        "waiting": 0,
    }
    assert verdict["requests"] == 2


async def test_fetch_starts_a_small_body_over_after_a_cut(tmp_path: Path) -> None:
    """A body under memory_limit is read whole before it is written: a cut
    leaves no .part, so the retry asks from byte 0 (the verdict says so)."""
    rule = {"path": GIF, "schedule": ["reset@3000", "ok"]}
    async with FlagsServer(control=True, rules=[rule]) as server:
        result = await download(server.base_url + GIF, tmp_path)
        verdict = only_client(await server.control.verdicts())
    assert result.status is DownloadStatus.OK
    assert (tmp_path / "br.gif").read_bytes() == BODY
    assert verdict["resume"]["cuts"] == 1
    assert verdict["resume"]["restarted"] == 1
    assert verdict["resume"]["resumed"] == 0


async def test_fetch_does_not_ask_again_for_a_404(tmp_path: Path) -> None:
    async with FlagsServer(control=True) as server:
        for _ in range(2):  # two runs: each asks once
            result = await download(server.base_url + "/flags/zz/zz.gif", tmp_path)
            assert result.status is DownloadStatus.NOT_FOUND
        verdict = only_client(await server.control.verdicts())
    assert verdict["requests"] == 2
    assert verdict["not_found_rerequests"] == 1  # the second run, not a retry
