"""The engine against the real flags server on loopback: every preset and fault."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from awaitkit.download import (
    DownloadOptions,
    DownloadResult,
    DownloadStatus,
    Job,
    download_many,
    iter_downloads,
)
from awaitkit.flags import FlagsServer, build_dataset, country_codes, country_name

pytestmark = pytest.mark.anyio

FAST = {"backoff_base": 0.001, "backoff_max": 0.01}


def gif_urls(base: str, codes: list[str]) -> list[str]:
    return [f"{base}/flags/{cc.lower()}/{cc.lower()}.gif" for cc in codes]


def expected_body(cc: str) -> bytes:
    return build_dataset()[f"flags/{cc.lower()}/{cc.lower()}.gif"].body


async def collect(items: object, dest: Path, **options: object) -> list[DownloadResult]:
    results = []
    async with contextlib.aclosing(
        iter_downloads(items, dest, options=DownloadOptions(**options))  # type: ignore[arg-type]
    ) as stream:
        async for result in stream:
            results.append(result)
    return results


def listdir(path: Path) -> list[Path]:
    return sorted(path.iterdir())


def assert_no_leftovers(dest: Path) -> None:
    assert not [p.name for p in dest.iterdir() if p.name.endswith(".part")]


async def test_local_preset_saves_every_flag_intact(tmp_path: Path) -> None:
    """LOCAL: every flag arrives once, byte for byte, under its URL's name."""
    codes = country_codes()
    async with FlagsServer("LOCAL") as server:
        results = await collect(
            gif_urls(server.base_url, codes), tmp_path, concurrency=20
        )
    assert Counter(r.status for r in results) == {DownloadStatus.OK: len(codes)}
    assert sorted(r.url for r in results) == sorted(gif_urls(server.base_url, codes))
    for cc in codes:
        assert (tmp_path / f"{cc.lower()}.gif").read_bytes() == expected_body(cc)
    assert all(r.attempts == 1 and r.http_status == 200 for r in results)
    assert_no_leftovers(tmp_path)


async def test_missing_codes_are_not_found_at_once(tmp_path: Path) -> None:
    """404 -> NOT_FOUND after one attempt, no file."""
    async with FlagsServer("LOCAL") as server:
        results = await collect(gif_urls(server.base_url, ["ZZ", "XX", "BR"]), tmp_path)
        assert server.stats.requests == 3
    by_url = {Path(r.url).stem: r for r in results}
    assert by_url["zz"].status is DownloadStatus.NOT_FOUND
    assert by_url["zz"].attempts == 1
    assert by_url["zz"].http_status == 404
    assert by_url["zz"].error == "HTTP 404"  # the report's words, no reason phrase
    assert by_url["br"].status is DownloadStatus.OK
    assert sorted(p.name for p in listdir(tmp_path)) == ["br.gif"]


async def test_error_preset_418_is_error_and_does_not_spread(tmp_path: Path) -> None:
    """418 -> ERROR without retry; an error never marks later items (the book's bug)."""
    codes = country_codes()[:120]
    async with FlagsServer("ERROR", seed=3, delay=0) as server:
        results = await collect(
            gif_urls(server.base_url, codes), tmp_path, concurrency=5
        )
        served = server.stats.by_status
    statuses = [r.status for r in results]
    errors = [r for r in results if r.status is DownloadStatus.ERROR]
    assert served[418] == len(errors) > 0
    assert served[200] == statuses.count(DownloadStatus.OK)
    assert all(r.attempts == 1 and r.http_status == 418 for r in errors)
    assert all("418" in (r.error or "") for r in errors)
    first_error = statuses.index(DownloadStatus.ERROR)
    assert DownloadStatus.OK in statuses[first_error + 1 :]
    saved = {p.name for p in listdir(tmp_path)}
    assert saved == {Path(r.url).name for r in results if r.status is DownloadStatus.OK}


async def test_resets_truncations_stalls_503_are_retried_never_short(
    tmp_path: Path,
) -> None:
    """Broken responses are retried until whole; nothing short is ever saved."""
    codes = country_codes()[:80]
    faults: dict[str, Any] = {
        "reset_rate": 0.15,
        "truncate_rate": 0.15,
        "stall_rate": 0.1,
        "unavailable_rate": 0.1,
        "retry_after": 0,
        "stall_timeout": 5.0,
    }
    async with FlagsServer("LOCAL", seed=11, **faults) as server:
        results = await collect(
            gif_urls(server.base_url, codes),
            tmp_path,
            concurrency=10,
            retries=12,
            read_timeout=0.3,
            **FAST,
        )
        requests = server.stats.requests
    assert Counter(r.status for r in results) == {DownloadStatus.OK: len(codes)}
    assert requests > len(codes) + 10  # faults really happened
    assert max(r.attempts for r in results) > 1
    for cc in codes:
        assert (tmp_path / f"{cc.lower()}.gif").read_bytes() == expected_body(cc)
    assert_no_leftovers(tmp_path)


async def test_faults_beyond_the_retry_budget_end_as_error_and_no_file(
    tmp_path: Path,
) -> None:
    """A body that is always cut short ends as ERROR after retries + 1 attempts."""
    async with FlagsServer("LOCAL", truncate_rate=1.0) as server:
        results = await collect(
            gif_urls(server.base_url, ["BR"]), tmp_path, retries=2, **FAST
        )
        assert server.stats.requests == 3
    (result,) = results
    assert result.status is DownloadStatus.ERROR
    assert result.attempts == 3
    assert "after 3 attempts" in (result.error or "")
    assert list(listdir(tmp_path)) == []


async def test_retry_after_is_honoured(tmp_path: Path) -> None:
    """A 429 with Retry-After: 1 makes the retry wait at least a second."""
    codes = country_codes()[:20]
    async with FlagsServer(
        "LOCAL", seed=5, rate_limit_rate=0.3, retry_after=1
    ) as server:
        results = await collect(
            gif_urls(server.base_url, codes), tmp_path, retries=10, backoff_base=0.0
        )
        limited = server.stats.by_status[429]
    assert limited > 0
    assert all(r.status is DownloadStatus.OK for r in results)
    retried = [r for r in results if r.attempts > 1]
    assert retried
    assert all(r.seconds >= 0.95 * (r.attempts - 1) for r in retried)


async def test_retry_after_is_capped(tmp_path: Path) -> None:
    """A server asking for an hour's wait gets retry_after_max instead."""
    async with FlagsServer("LOCAL", rate_limit_rate=1.0, retry_after=3600) as server:
        results = await collect(
            gif_urls(server.base_url, ["BR"]), tmp_path, retries=1, retry_after_max=0.05
        )
        assert server.stats.by_status[429] == 2
    assert results[0].status is DownloadStatus.ERROR
    assert results[0].http_status == 429
    assert results[0].seconds < 60


@pytest.mark.parametrize("metadata", [False, True])
async def test_concurrency_never_exceeds_the_limit(
    tmp_path: Path, metadata: bool
) -> None:
    """Counted server-side: requests in flight never exceed ``concurrency``."""
    codes = country_codes()[:50]
    async with FlagsServer("DELAY", delay=0.03) as server:
        base = f"{server.base_url}/flags"
        jobs = [
            Job(
                url,
                metadata_url=f"{base}/{cc.lower()}/metadata.json" if metadata else None,
            )
            for cc, url in zip(codes, gif_urls(server.base_url, codes), strict=True)
        ]
        counter = await download_many(
            jobs, tmp_path, options=DownloadOptions(concurrency=7)
        )
        peak = server.stats.max_in_flight
        requests = server.stats.requests
    assert counter == {DownloadStatus.OK: len(codes)}
    assert requests == len(codes) * (2 if metadata else 1)
    assert 2 <= peak <= 7


async def test_metadata_mode_names_files_by_country(tmp_path: Path) -> None:
    """flags3: metadata.json first, then the image saved as <Country_Name>.gif."""
    codes = ["BR", "CI", "GB", "US", "BA"]
    async with FlagsServer("LOCAL") as server:
        base = f"{server.base_url}/flags"
        jobs = [
            Job(
                f"{base}/{cc.lower()}/{cc.lower()}.gif",
                metadata_url=f"{base}/{cc.lower()}/metadata.json",
            )
            for cc in [*codes, "ZZ"]
        ]
        results = await collect(jobs, tmp_path)
    by_status = Counter(r.status for r in results)
    assert by_status == {DownloadStatus.OK: 5, DownloadStatus.NOT_FOUND: 1}
    for cc in codes:
        name = country_name(cc).replace(" ", "_") + ".gif"
        assert (tmp_path / name).read_bytes() == expected_body(cc)
    assert all(r.attempts == 2 for r in results if r.status is DownloadStatus.OK)


# Debug mode's own cost: every task and callback records its stack, which
# stretches a worker's step of a large batch to 130-240 ms under load.
# Without debug mode such a batch's loop lag stays near 1 ms (LagMonitor).
@pytest.mark.blocks_loop
async def test_every_item_is_accounted_for_exactly_once(tmp_path: Path) -> None:
    """An async generator of 600 items (duplicates, junk, 404s) gives 600 results."""
    async with FlagsServer("LOCAL") as server:
        urls = gif_urls(server.base_url, country_codes()[:100]) * 2
        urls += gif_urls(server.base_url, ["ZZ"]) * 50
        urls += ["ftp://example/x", "not a url", "http://"] * 50
        urls += gif_urls(server.base_url, ["BR"]) * 200

        async def feed() -> AsyncIterator[str]:  # lazily, like stdin
            for url in urls:
                yield url

        results = await collect(feed(), tmp_path, concurrency=13)
    assert len(results) == len(urls) == 600
    assert Counter(r.url for r in results) == Counter(urls)
    assert (tmp_path / "br.gif").read_bytes() == expected_body("BR")
    assert_no_leftovers(tmp_path)


async def test_closing_the_generator_early_cancels_cleanly(tmp_path: Path) -> None:
    """Stopping after 3 results cancels the workers and leaves no partial final file."""
    codes = country_codes()[:60]
    async with FlagsServer("DELAY", delay=0.2) as server:
        seen = []
        async with contextlib.aclosing(
            iter_downloads(
                gif_urls(server.base_url, codes),
                tmp_path,
                options=DownloadOptions(concurrency=10),
            )
        ) as stream:
            async for result in stream:
                seen.append(result)
                if len(seen) == 3:
                    break
    assert len(seen) == 3
    for path in listdir(tmp_path):
        assert path.read_bytes() == expected_body(path.stem.upper())
