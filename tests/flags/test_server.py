"""The server against a real client (aiohttp) on loopback: presets, faults, HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest

from awaitkit.core.testing import split_url
from awaitkit.flags import FlagsServer, build_dataset, country_codes, serving_flags
from tests.flags.loops import both_loops

pytestmark = pytest.mark.anyio


anyio_backend = both_loops


GIF = "/flags/br/br.gif"


def gif_body(cc: str = "br") -> bytes:
    return build_dataset()[f"flags/{cc}/{cc}.gif"].body


async def fetch(
    session: aiohttp.ClientSession, url: str, **kwargs: object
) -> tuple[int, Mapping[str, str], bytes]:
    async with session.get(url, **kwargs) as resp:  # type: ignore[arg-type]
        return resp.status, resp.headers.copy(), await resp.read()


async def test_local_serves_every_flag_and_metadata() -> None:
    """LOCAL: 200 for every GIF and metadata.json, right bytes and types."""
    files = build_dataset()
    async with serving_flags(port=0) as base_url, aiohttp.ClientSession() as session:
        assert base_url.startswith("http://127.0.0.1:")
        for cc in country_codes()[:40]:
            low = cc.lower()
            status, headers, body = await fetch(
                session, f"{base_url}/flags/{low}/{low}.gif"
            )
            assert status == 200
            assert headers["Content-Type"] == "image/gif"
            assert body == files[f"flags/{low}/{low}.gif"].body
            status, headers, body = await fetch(
                session, f"{base_url}/flags/{low}/metadata.json"
            )
            assert headers["Content-Type"] == "application/json"
            assert json.loads(body)["iso_cc"] == cc


async def test_stats_count_requests_statuses_and_concurrency() -> None:
    """stats.requests, by_status and max_in_flight reflect what clients did."""
    async with FlagsServer(delay=0.2) as server, aiohttp.ClientSession() as session:
        urls = [f"{server.base_url}{GIF}"] * 20 + [f"{server.base_url}/nope"] * 5
        results = await asyncio.gather(*(fetch(session, u) for u in urls))
        assert Counter(status for status, _, _ in results) == {200: 20, 404: 5}
        stats = server.stats
        assert stats.requests == 25
        assert stats.in_flight == 0
        assert stats.by_status == Counter({200: 20, 404: 5})
        assert stats.max_in_flight == 25  # all were waiting on their delay together
    assert "FlagsServer" in repr(server)


async def test_delay_preset_delays_between_bounds() -> None:
    """DELAY with a narrowed range: every response waits at least the minimum."""
    async with (
        FlagsServer("DELAY", delay="0.3-0.4") as server,
        aiohttp.ClientSession() as session,
    ):
        start = time.monotonic()
        statuses = await asyncio.gather(
            *(fetch(session, server.base_url + GIF) for _ in range(10))
        )
        elapsed = time.monotonic() - start
        assert server.stats.max_in_flight == 10
    assert all(s == 200 for s, _, _ in statuses)
    assert elapsed >= 0.3


# A stress test by design: hundreds of clients and the server share one loop;
# creating their tasks, and the stdlib accepting the whole burst in one
# callback, take over 100 ms in debug mode.
@pytest.mark.blocks_loop
async def test_concurrent_delays_do_not_add_up(
    anyio_backend: tuple[str, dict[str, object]],
) -> None:
    """200 requests delayed 0.5 s each are all pending at once and finish together."""
    connector = aiohttp.TCPConnector(limit=200)
    async with (
        FlagsServer(delay=0.5) as server,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        start = time.monotonic()
        results = await asyncio.gather(
            *(fetch(session, server.base_url + GIF) for _ in range(200))
        )
        elapsed = time.monotonic() - start
        # The real evidence: every delay overlapped every other one.
        assert server.stats.max_in_flight == 200
    assert all(status == 200 for status, _, _ in results)
    # Not serial (that would take 100 s); no tighter bound, which would time
    # the machine: the overlap is proven by max_in_flight above.
    assert 0.5 <= elapsed < 50


# A stress test by design: hundreds of clients and the server share one loop;
# creating their tasks, and the stdlib accepting the whole burst in one
# callback, take over 100 ms in debug mode.
@pytest.mark.blocks_loop
async def test_error_preset_sends_teapots_at_its_rate() -> None:
    """ERROR: about a quarter of requests get 418, each after 0.5 s."""
    connector = aiohttp.TCPConnector(limit=400)
    async with (
        FlagsServer("ERROR", seed=5) as server,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        start = time.monotonic()
        results = await asyncio.gather(
            *(fetch(session, server.base_url + GIF) for _ in range(400))
        )
        elapsed = time.monotonic() - start
    counts = Counter(status for status, _, _ in results)
    assert set(counts) == {200, 418}
    assert 60 <= counts[418] <= 140  # 25 % of 400 = 100
    assert elapsed >= 0.5
    teapot = next(body for status, _, body in results if status == 418)
    assert b"418" in teapot


@pytest.mark.parametrize(
    ("option", "status", "retry"),
    [("rate_limit_rate", 429, "7"), ("unavailable_rate", 503, "7")],
)
async def test_retry_after_statuses(option: str, status: int, retry: str) -> None:
    """429 and 503 faults carry Retry-After."""
    options: dict[str, Any] = {option: 1.0}
    async with (
        serving_flags("LOCAL", retry_after=7, **options) as base_url,
        aiohttp.ClientSession() as session,
    ):
        got, headers, _ = await fetch(session, base_url + GIF)
    assert got == status
    assert headers["Retry-After"] == retry


async def test_error_status_option() -> None:
    """--error-status picks the status of --error-rate."""
    async with (
        serving_flags(error_rate=1.0, error_status=500) as base_url,
        aiohttp.ClientSession() as session,
    ):
        status, _, _ = await fetch(session, base_url + GIF)
    assert status == 500


async def test_reset_fault_breaks_the_body() -> None:
    """A reset sends part of the body and then kills the connection."""
    async with (
        serving_flags(reset_rate=1.0) as base_url,
        aiohttp.ClientSession() as session,
    ):
        with pytest.raises(aiohttp.ClientError):
            await fetch(session, base_url + GIF)


async def test_reset_is_a_tcp_rst_after_part_of_the_body() -> None:
    """Raw view of a reset: some bytes of the body arrive, then ECONNRESET."""
    async with FlagsServer(reset_rate=1.0) as server:
        reader, writer = await asyncio.open_connection(*split_url(server.base_url))
        writer.write(f"GET {GIF} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = bytearray()

        async def read_all() -> None:
            while chunk := await asyncio.wait_for(reader.read(65536), 5):
                received.extend(chunk)

        with pytest.raises(ConnectionResetError):
            await read_all()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        assert server.stats.by_fault == Counter({"reset": 1})
    assert len(received) < len(gif_body())


async def test_truncate_fault_is_short_of_content_length() -> None:
    """A truncated body ends early; the client sees fewer bytes than announced."""
    async with serving_flags(truncate_rate=1.0) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET {GIF} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(-1), 5)  # read to EOF: a clean close
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
    )
    assert length == len(gif_body())
    assert 0 < len(body) < length
    assert gif_body().startswith(body)
    async with (
        serving_flags(truncate_rate=1.0) as base_url,
        aiohttp.ClientSession() as session,
    ):
        with pytest.raises(aiohttp.ClientPayloadError):
            await fetch(session, base_url + GIF)


async def test_stall_fault_hangs_until_client_timeout() -> None:
    """A stalled body never finishes: the client's own timeout fires."""
    async with (
        FlagsServer(stall_rate=1.0) as server,
        aiohttp.ClientSession() as session,
    ):
        timeout = aiohttp.ClientTimeout(sock_read=0.3)
        start = time.monotonic()
        with pytest.raises((asyncio.TimeoutError, aiohttp.ClientError)):
            await fetch(session, server.base_url + GIF, timeout=timeout)
        assert time.monotonic() - start >= 0.3
        assert server.stats.by_status[200] == 0  # not finished while stalled


async def test_stall_ends_at_stall_timeout() -> None:
    """After stall_timeout the server closes the stalled connection."""
    async with serving_flags(stall_rate=1.0, stall_timeout=0.2) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET {GIF} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(-1), 5)
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert len(data) < len(gif_body())


async def test_seeded_sequence_repeats_over_http() -> None:
    """The same seed gives the same statuses for the same sequence of requests."""

    async def statuses(seed: int) -> list[int]:
        async with (
            serving_flags(
                seed=seed, error_rate=0.3, rate_limit_rate=0.2, unavailable_rate=0.1
            ) as base_url,
            aiohttp.ClientSession() as session,
        ):
            return [(await fetch(session, base_url + GIF))[0] for _ in range(80)]

    first, again, other = await statuses(3), await statuses(3), await statuses(4)
    assert first == again != other
    assert {200, 418, 429, 503} <= set(first)


async def test_head_has_headers_and_no_body() -> None:
    """HEAD sends the GET headers with an empty body."""
    async with (
        serving_flags() as base_url,
        aiohttp.ClientSession() as session,
        session.head(base_url + GIF) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Length"] == str(len(gif_body()))
        assert await resp.read() == b""


async def test_etag_and_last_modified_give_304() -> None:
    """If-None-Match and If-Modified-Since revalidate to 304 with no body."""
    async with serving_flags() as base_url, aiohttp.ClientSession() as session:
        status, headers, _ = await fetch(session, base_url + GIF)
        etag, modified = headers["ETag"], headers["Last-Modified"]
        status, headers, body = await fetch(
            session, base_url + GIF, headers={"If-None-Match": etag}
        )
        assert (status, body, headers["ETag"]) == (304, b"", etag)
        status, _, body = await fetch(
            session, base_url + GIF, headers={"If-Modified-Since": modified}
        )
        assert (status, body) == (304, b"")
        status, _, _ = await fetch(
            session, base_url + GIF, headers={"If-None-Match": '"stale"'}
        )
        assert status == 200


async def test_range_requests_resume() -> None:
    """206 with Content-Range for a byte range; 416 beyond the end."""
    full = gif_body()
    async with serving_flags() as base_url, aiohttp.ClientSession() as session:
        status, headers, body = await fetch(
            session, base_url + GIF, headers={"Range": "bytes=100-"}
        )
        assert status == 206
        assert body == full[100:]
        assert headers["Content-Range"] == f"bytes 100-{len(full) - 1}/{len(full)}"
        status, _, body = await fetch(
            session, base_url + GIF, headers={"Range": "bytes=-10"}
        )
        assert (status, body) == (206, full[-10:])
        status, headers, _ = await fetch(
            session, base_url + GIF, headers={"Range": f"bytes={len(full)}-"}
        )
        assert status == 416
        assert headers["Content-Range"] == f"bytes */{len(full)}"


async def test_keep_alive_reuses_one_connection() -> None:
    """Many requests over one client connection: the server keeps it open."""
    connector = aiohttp.TCPConnector(limit=1)
    async with (
        FlagsServer() as server,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        for _ in range(20):
            status, _, _ = await fetch(session, server.base_url + GIF)
            assert status == 200
        assert server.stats.connections == 1
        assert server.stats.requests == 20


async def test_index_page_lists_flags() -> None:
    """/ serves an HTML index of the data set."""
    async with serving_flags() as base_url, aiohttp.ClientSession() as session:
        status, headers, body = await fetch(session, base_url + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b"/flags/br/br.gif" in body


async def test_access_log_names_the_fault(caplog: pytest.LogCaptureFixture) -> None:
    """One INFO access line per request, with the fault and delay applied."""
    caplog.set_level("INFO", logger="awaitkit.flags")
    async with (
        serving_flags(error_rate=1.0, delay=0.01) as base_url,
        aiohttp.ClientSession() as session,
    ):
        await fetch(session, base_url + GIF)
        await fetch(session, base_url + "/flags/ar/ar.gif")
    lines = [r.getMessage() for r in caplog.records if r.name == "awaitkit.flags"]
    assert len(lines) == 2
    assert f'"GET {GIF}" 418' in lines[0]
    assert "fault=error delay=0.010" in lines[0]


async def test_ipv6_loopback() -> None:
    """An IPv6 host gets a bracketed base URL and serves as well."""
    try:
        server = FlagsServer(host="::1")
        await server.start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert server.base_url.startswith("http://[::1]:")
        async with aiohttp.ClientSession() as session:
            status, _, _ = await fetch(session, server.base_url + GIF)
        assert status == 200
    finally:
        await server.close()


async def test_stats_need_a_running_server() -> None:
    """Reading stats before start is an error, not zeros that look real."""
    server = FlagsServer()
    assert "not started" in repr(server)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.stats
