"""Proxy mode applies the rules engine to upstream responses (real servers on loopback)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from awaitkit.core.testing import exchange, status_of, statuses_of
from awaitkit.flags import FaultProxy, FlagsServer, RuleError, RuleSet, build_dataset
from tests.flags.loops import both_loops
from tests.flags.upstreams import answer, serving_raw

pytestmark = pytest.mark.anyio

anyio_backend = both_loops

BODY = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture(scope="module", autouse=True)
def _dataset_loaded() -> None:
    build_dataset()


def get(path: bytes, *extra: bytes, close: bool = False) -> bytes:
    return (
        b"GET "
        + path
        + b" HTTP/1.1\r\nHost: x\r\n"
        + b"".join(extra)
        + (b"Connection: close\r\n" if close else b"")
        + b"\r\n"
    )


async def attempt(url: str, path: bytes, client: bytes) -> tuple[int | str, bytes]:
    """One request on its own connection: (status or "reset", body)."""
    try:
        raw = await exchange(
            url, get(path, b"X-Client-Id: " + client + b"\r\n", close=True)
        )
    except ConnectionResetError:
        return "reset", b""
    head, _, body = raw.partition(b"\r\n\r\n")
    return status_of(head), body


async def test_a_schedule_gives_each_client_and_path_the_same_sequence() -> None:
    """503, reset@1000, 200 per (client, path), whatever the interleaving."""
    rules = [{"path": "/data/*", "schedule": ["503", "reset@1000", "200"]}]
    async with (
        serving_raw(answer(200, BODY)) as up,
        FaultProxy(up.url, rules=rules) as px,
    ):

        async def client(name: bytes, path: bytes) -> list[int | str]:
            return [(await attempt(px.base_url, path, name))[0] for _ in range(4)]

        got = await asyncio.gather(
            *(client(n, p) for n in (b"a", b"b") for p in (b"/data/1", b"/data/2"))
        )
        assert got == [[503, "reset", 200, 200]] * 4
        assert px.stats.by_rule["r1"] == 16
        # The 503s never reached the upstream; the resets did (and were cut).
        assert len(up.heads) == 12


async def test_close_at_byte_n_and_stall_rules() -> None:
    rules = [
        {"path": "/close", "close": 1000},
        {"path": "/stall", "stall": 300, "stall_timeout": 0.3},
    ]
    async with (
        serving_raw(answer(200, BODY)) as up,
        FaultProxy(up.url, rules=rules) as px,
    ):
        status, body = await attempt(px.base_url, b"/close", b"c")
        assert status == 200
        assert body == BODY[:1000]
        loop = asyncio.get_running_loop()
        start = loop.time()
        status, body = await attempt(px.base_url, b"/stall", b"c")
        assert loop.time() - start >= 0.28
        assert body == BODY[:300]
        assert px.stats.by_fault == {"truncate": 1, "stall": 1}


async def test_rule_status_body_and_headers() -> None:
    rules = [
        {
            "path": "/teapot",
            "status": 418,
            "body": "short and stout\n",
            "response_headers": {"X-Fault": "teapot"},
        },
        {"path": "/busy", "status": 503, "retry_after": 9},
        {
            "path": "/tagged",
            "response_headers": {"X-Rule": "yes", "Content-Type": "text/x-rule"},
        },
        {
            "path": "/typed",
            "status": 500,
            "response_headers": {"Content-Type": "application/problem+json"},
        },
    ]
    async with (
        serving_raw(answer(200, b"upstream", b"Content-Type: text/plain")) as up,
        FaultProxy(up.url, rules=rules) as px,
    ):
        raw = await exchange(px.base_url, get(b"/teapot", close=True))
        assert status_of(raw) == 418
        assert raw.endswith(b"\r\n\r\nshort and stout\n")
        assert b"X-Fault: teapot" in raw
        raw = await exchange(px.base_url, get(b"/busy", close=True))
        assert status_of(raw) == 503
        assert b"Retry-After: 9" in raw
        raw = await exchange(px.base_url, get(b"/tagged", close=True))
        assert status_of(raw) == 200
        assert b"X-Rule: yes" in raw
        assert raw.count(b"Content-Type") == 1
        assert b"Content-Type: text/x-rule" in raw
        assert raw.endswith(b"upstream")
        raw = await exchange(px.base_url, get(b"/typed", close=True))
        assert status_of(raw) == 500
        assert raw.count(b"Content-Type") == 1
        assert b"Content-Type: application/problem+json" in raw
        assert [h.split(b" ")[1] for h in up.heads] == [b"/tagged"]


async def test_bandwidth_limit_paces_the_upstream_body() -> None:
    """rate: 20000 bytes/s on a 10240-byte body takes about half a second."""
    async with (
        serving_raw(answer(200, BODY)) as up,
        FaultProxy(up.url, rules=[{"rate": 20_000}]) as px,
    ):
        loop = asyncio.get_running_loop()
        start = loop.time()
        raw = await exchange(px.base_url, get(b"/slow") + get(b"/slow", close=True))
        took = loop.time() - start
        assert statuses_of(raw) == [200, 200]
        assert raw.count(BODY) == 2
        assert 0.8 <= took < 5, took  # two bodies, ~0.5 s each
        assert px.stats.by_fault["throttle"] == 2


async def test_paced_chunked_body_with_a_cut() -> None:
    async def chunked(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(10):
            writer.write(b"400\r\n" + b"q" * 1024 + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    rules = [{"close": 3000, "rate": 10_000}]
    async with serving_raw(chunked) as up, FaultProxy(up.url, rules=rules) as px:
        raw = await exchange(px.base_url, get(b"/c"))
        body = raw.partition(b"\r\n\r\n")[2]
        assert b"0\r\n\r\n" not in body[-7:]  # never the last chunk
        assert body.count(b"q") == 3000


async def test_rules_and_rates_repeat_with_a_seed_across_modes() -> None:
    """The same seed and rates give the same faults through the proxy as from flags."""

    async def statuses(base_url: str) -> list[int]:
        out = []
        for cc in ("br", "fr", "jp", "de", "it", "es", "pt", "nl"):
            raw = await exchange(
                base_url, get(f"/flags/{cc}/{cc}.gif".encode(), close=True)
            )
            out.append(status_of(raw))
        return out

    async with FlagsServer(error_rate=0.5, seed=11) as flags:
        direct = await statuses(flags.base_url)
    async with (
        FlagsServer() as upstream,
        FaultProxy(upstream.base_url, error_rate=0.5, seed=11) as px,
    ):
        proxied = await statuses(px.base_url)
    assert set(direct) == {200, 418}
    assert proxied == direct


async def test_rules_from_a_file_and_a_live_rule_set(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([{"path": "/gone", "status": 410}]))
    async with (
        serving_raw(answer(200, b"ok")) as up,
        FaultProxy(up.url, rules=path) as px,
    ):
        assert status_of(await exchange(px.base_url, get(b"/gone", close=True))) == 410
        px.rules.add({"path": "/new", "status": 451})
        assert status_of(await exchange(px.base_url, get(b"/new", close=True))) == 451
        px.rules.clear()
        assert status_of(await exchange(px.base_url, get(b"/gone", close=True))) == 200


async def test_a_bad_rule_file_fails_at_start(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text('[{"status": "x"}]')
    proxy = FaultProxy("http://127.0.0.1:1", rules=path)
    with pytest.raises(RuleError, match="status"):
        await proxy.start()


def test_a_rule_set_is_kept() -> None:
    rules = RuleSet([{"status": 500}])
    assert FaultProxy("http://127.0.0.1:1", rules=rules, seed=3).rules is rules


async def read_until_reset(url: str, request: bytes) -> tuple[bytes, bool]:
    """Every byte the proxy sends before it resets (or closes); True if reset."""
    from awaitkit.core.testing import split_url

    reader, writer = await asyncio.open_connection(*split_url(url))
    got = b""
    try:
        writer.write(request)
        async with asyncio.timeout(10):
            while chunk := await reader.read(65536):
                got += chunk
        return got, False
    except ConnectionResetError:
        return got, True
    finally:
        writer.close()


@pytest.mark.parametrize("at", [0, 1000, 10_000])
async def test_reset_at_byte_n_delivers_n_bytes_first(at: int) -> None:
    """The RST comes after the client has its N bytes (a RST drops queued data)."""
    async with (
        serving_raw(answer(200, BODY)) as up,
        FaultProxy(up.url, rules=[{"reset": at}]) as px,
    ):
        got, was_reset = await read_until_reset(px.base_url, get(b"/r"))
        assert was_reset
        assert got.partition(b"\r\n\r\n")[2] == BODY[:at]
        assert px.stats.by_fault["reset"] == 1


async def test_reset_waits_for_a_slow_reader_to_have_its_bytes() -> None:
    piece = b"r" * (64 * 1024)
    size = 64 * len(piece)  # 4 MB

    async def big(r: Any, writer: asyncio.StreamWriter, head: bytes) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(64):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0)

    at = 3_000_000
    async with (
        serving_raw(big) as up,
        FaultProxy(up.url, rules=[{"reset": at}]) as px,
    ):
        from awaitkit.core.testing import split_url

        reader, writer = await asyncio.open_connection(
            *split_url(px.base_url), limit=16 * 1024
        )
        writer.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024
        )
        writer.write(get(b"/big"))
        await asyncio.sleep(0.5)  # the proxy reaches the cut with bytes queued
        got = 0
        try:
            async with asyncio.timeout(20):
                while chunk := await reader.read(65536):
                    got += len(chunk)
        except ConnectionResetError:
            pass
        finally:
            writer.close()
        assert at < got < at + 1000  # the head and N body bytes: none lost


async def test_a_rule_set_outlives_the_proxy_that_used_it() -> None:
    """Closed, the proxy stops following the set; a new one picks it up."""
    rules = RuleSet()
    async with serving_raw(answer(200, b"ok")) as up:
        async with FaultProxy(up.url, rules=rules):
            pass
        rules.add({"status": 503})
        async with FaultProxy(up.url, rules=rules) as px:
            raw = await exchange(px.base_url, get(b"/", close=True))
            assert status_of(raw) == 503
        assert len(rules._listeners) == 0
