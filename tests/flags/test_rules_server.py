"""Rules on a real server over loopback: each action does what it says, on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from awaitkit.core.testing import split_url, wait_until
from awaitkit.flags import (
    FlagsServer,
    Rule,
    RuleError,
    RuleSet,
    build_dataset,
    country_codes,
    serving_flags,
)
from awaitkit.http import HttpClient, HttpClientError
from tests.flags.loops import both_loops
from tests.flags.rawhttp import get

pytestmark = pytest.mark.anyio

anyio_backend = both_loops

GIF = "/flags/br/br.gif"


def gif_body(cc: str = "br") -> bytes:
    return build_dataset()[f"flags/{cc}/{cc}.gif"].body


class Raw:
    """One raw exchange: the head, the body bytes, how it ended, and the reads."""

    def __init__(self) -> None:
        self.head = b""
        self.body = b""
        self.ended = ""  # "eof" or "reset"
        self.reads = 0
        self.seconds = 0.0

    @property
    def status(self) -> int:
        return int(self.head.split(b" ", 2)[1])

    def header(self, name: str) -> str | None:
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        return None


async def raw_get(base_url: str, path: str, *extra: bytes, wait: float = 10) -> Raw:
    """GET with Connection: close; read until EOF or reset."""
    reader, writer = await asyncio.open_connection(*split_url(base_url))
    out = Raw()
    start = time.monotonic()
    writer.write(get(path.encode(), *extra))
    data = bytearray()
    try:
        async with asyncio.timeout(wait):
            while chunk := await reader.read(65536):
                data += chunk
                out.reads += 1
        out.ended = "eof"
    except ConnectionResetError:
        out.ended = "reset"
    finally:
        out.seconds = time.monotonic() - start
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    out.head, _, out.body = bytes(data).partition(b"\r\n\r\n")
    return out


async def test_reset_at_byte_n_is_a_tcp_rst_after_n_body_bytes() -> None:
    async with serving_flags(rules=[{"path": GIF, "reset": 1000}]) as base:
        raw = await raw_get(base, GIF)
    assert raw.status == 200
    assert raw.ended == "reset"
    assert int(raw.header("Content-Length") or 0) == len(gif_body())
    assert raw.body == gif_body()[:1000]


async def test_close_at_byte_n_is_a_clean_close_short_of_content_length() -> None:
    async with FlagsServer(rules=[{"path": GIF, "close": 700}]) as server:
        raw = await raw_get(server.base_url, GIF)
        assert server.stats.by_fault["truncate"] == 1
    assert raw.ended == "eof"
    assert raw.body == gif_body()[:700]
    assert int(raw.header("Content-Length") or 0) > 700


async def test_close_past_the_body_sends_it_whole() -> None:
    async with serving_flags(rules=[{"close": 10**9}]) as base:
        raw = await raw_get(base, GIF)
    assert (raw.ended, raw.body) == ("eof", gif_body())


async def test_awaitkit_client_sees_truncation_and_reset() -> None:
    rules = [
        {"path": "/flags/fr/*", "close": 100},
        {"path": "/flags/de/*", "reset": 100},
    ]
    async with serving_flags(rules=rules) as base, HttpClient() as client:
        for cc in ("fr", "de"):
            with pytest.raises(HttpClientError):
                async with client.get(f"{base}/flags/{cc}/{cc}.gif") as resp:
                    await resp.read()
        async with client.get(f"{base}{GIF}") as resp:
            assert await resp.read() == gif_body()


async def test_stall_holds_the_connection_until_the_stall_timeout() -> None:
    rules = [{"path": GIF, "stall": 0, "stall_timeout": 0.4}]
    async with FlagsServer(rules=rules) as server:
        raw = await raw_get(server.base_url, GIF)
        assert server.stats.by_status[200] == 1
    assert raw.status == 200
    assert raw.body == b""  # nothing of the body, then silence
    assert raw.ended == "eof"
    assert raw.seconds >= 0.35


async def test_stall_before_its_timeout_sends_nothing_more() -> None:
    rules = [{"path": GIF, "stall": 50, "stall_timeout": 30}]
    async with serving_flags(rules=rules) as base:
        with pytest.raises(TimeoutError):
            await raw_get(base, GIF, wait=0.5)


async def test_rate_limit_drips_the_body() -> None:
    size = len(gif_body())
    rate = size  # about a second for the body
    async with serving_flags(rules=[{"path": GIF, "rate": rate}]) as base:
        raw = await raw_get(base, GIF)
    assert raw.body == gif_body()
    assert raw.ended == "eof"
    # Paced at about ten writes a second: many reads, and no faster than the rate
    # allows (a lower bound only: a slow machine cannot make it fail).
    assert raw.reads >= 5
    assert raw.seconds >= 0.5


async def test_rate_limit_then_reset() -> None:
    rules = [{"path": GIF, "rate": 20_000, "reset": 3000}]
    async with serving_flags(rules=rules) as base:
        raw = await raw_get(base, GIF)
    assert raw.ended == "reset"
    assert raw.body == gif_body()[:3000]


async def test_429_and_503_carry_retry_after() -> None:
    rules = [
        {"path": "/a", "status": 429, "retry_after": 7},
        {"path": "/b", "status": 503},
        {
            "path": "/c",
            "status": 503,
            "response_headers": {"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"},
        },
    ]
    async with serving_flags(rules=rules, retry_after=2) as base:
        a, b, c = [await raw_get(base, p) for p in ("/a", "/b", "/c")]
    assert (a.status, a.header("Retry-After")) == (429, "7")
    assert (b.status, b.header("Retry-After")) == (503, "2")  # the server's
    assert c.head.count(b"Retry-After") == 1
    assert c.header("Retry-After") == "Fri, 01 Jan 2100 00:00:00 GMT"


async def test_status_with_body_and_headers_and_keep_alive() -> None:
    rules = [
        {
            "path": "/teapot",
            "status": 418,
            "body": "short and stout\n",
            "response_headers": {"X-Fault": "teapot"},
        },
        {"path": "/empty", "status": 204},
    ]
    async with FlagsServer(rules=rules) as server, HttpClient() as client:
        for _ in range(3):
            async with client.get(f"{server.base_url}/teapot") as resp:
                assert resp.status == 418
                assert resp.headers["X-Fault"] == "teapot"
                assert await resp.read() == b"short and stout\n"
        async with client.get(f"{server.base_url}/empty") as resp:
            assert resp.status == 204
            assert await resp.read() == b""
        assert server.stats.connections == 1  # kept alive throughout


async def test_pass_rule_adds_headers_to_the_normal_answer() -> None:
    """A rule's headers join the file's; one of the same name replaces ours."""
    extra = {"X-Seen": "1", "Content-Type": "application/x-test"}
    rules = [{"path": "/flags/*", "response_headers": extra}]
    async with serving_flags(rules=rules) as base, HttpClient() as client:
        for _ in range(2):
            async with client.get(base + GIF) as resp:
                assert resp.headers["X-Seen"] == "1"
                assert resp.headers["Content-Type"] == "application/x-test"
                assert await resp.read() == gif_body()
        async with client.get(base + GIF, headers={"Range": "bytes=0-9"}) as resp:
            assert resp.status == 206
            assert resp.headers["X-Seen"] == "1"
            assert await resp.read() == gif_body()[:10]
        raw = await raw_get(base, GIF)
        assert raw.head.lower().count(b"content-type:") == 1
        missing = await raw_get(base, "/flags/zz/zz.gif")
        assert (missing.status, missing.header("X-Seen")) == (404, "1")


async def test_delay_rule_delays() -> None:
    async with serving_flags(rules=[{"path": GIF, "delay": 0.3}]) as base:
        fast = await raw_get(base, "/flags/fr/fr.gif")
        slow = await raw_get(base, GIF)
    assert slow.seconds >= 0.3 > fast.seconds


async def test_rules_match_method_header_and_attempt() -> None:
    rules = [
        {"method": "HEAD", "status": 405},
        {"headers": {"x-env": "ci-*"}, "status": 500},
        {"path": "/flags/*", "attempts": [2], "status": 502},
    ]
    async with serving_flags(rules=rules) as base:
        head = await raw_get(base, GIF)  # GET, attempt 1
        ci = await raw_get(base, "/flags/fr/fr.gif", b"X-Env: ci-linux\r\n")
        second = await raw_get(base, GIF)  # attempt 2 of this client
        third = await raw_get(base, GIF)
    assert [head.status, ci.status, second.status, third.status] == [200, 500, 502, 200]


async def test_client_id_header_keeps_attempts_apart() -> None:
    rules = [{"path": GIF, "schedule": ["503", "200"]}]
    async with serving_flags(rules=rules) as base:
        statuses = [
            (await raw_get(base, GIF, f"X-Client-Id: {who}\r\n".encode())).status
            for who in ("a", "b", "a", "b", "c")
        ]
    assert statuses == [503, 503, 200, 200, 503]


def outcome(raw: Raw) -> str:
    return f"{raw.status}/{raw.ended}/{len(raw.body)}"


async def schedule_outcomes(concurrency: int, seed: int) -> dict[str, list[str]]:
    """Three attempts at each of 60 paths, ``concurrency`` paths at a time."""
    rules = [{"path": "/flags/*", "schedule": ["503", "reset@500", "close@200", "200"]}]
    ccs = [cc.lower() for cc in country_codes()[:60]]
    gate = asyncio.Semaphore(concurrency)
    out: dict[str, list[str]] = {}
    async with serving_flags(rules=rules, seed=seed) as base:

        async def attempts(cc: str) -> None:
            async with gate:
                path = f"/flags/{cc}/{cc}.gif"
                out[path] = [outcome(await raw_get(base, path)) for _ in range(4)]

        async with asyncio.TaskGroup() as tg:
            for cc in ccs:
                tg.create_task(attempts(cc))
    return out


# A concurrency test by design: 50 clients connect at once, and the stdlib
# accepts the burst in one callback, which can pass 100 ms in debug mode.
@pytest.mark.blocks_loop
async def test_schedule_gives_the_same_outcomes_at_concurrency_1_and_50() -> None:
    one = await schedule_outcomes(1, seed=3)
    fifty = await schedule_outcomes(50, seed=3)
    assert one == fifty
    for path, got in one.items():
        cc = path.split("/")[2]
        size = len(gif_body(cc))
        assert got == ["503/eof/24", "200/reset/500", "200/eof/200", f"200/eof/{size}"]


async def rate_outcomes(concurrency: int, seed: int) -> dict[tuple[str, int], int]:
    """Statuses under global rates, by (path, attempt), ``concurrency`` at a time."""
    ccs = [cc.lower() for cc in country_codes()[:80]]
    gate = asyncio.Semaphore(concurrency)
    out: dict[tuple[str, int], int] = {}
    options = {"error_rate": 0.3, "rate_limit_rate": 0.2, "unavailable_rate": 0.1}
    async with serving_flags(seed=seed, **options) as base, HttpClient() as client:  # type: ignore[arg-type]

        async def attempts(cc: str) -> None:
            async with gate:
                path = f"/flags/{cc}/{cc}.gif"
                for n in (1, 2):
                    async with client.get(base + path) as resp:
                        await resp.read()
                        out[(path, n)] = resp.status

        async with asyncio.TaskGroup() as tg:
            for cc in ccs:
                tg.create_task(attempts(cc))
    return out


# A concurrency test by design: 50 clients connect at once, and the stdlib
# accepts the burst in one callback, which can pass 100 ms in debug mode.
@pytest.mark.blocks_loop
async def test_global_rates_repeat_per_path_and_attempt_under_concurrency() -> None:
    one = await rate_outcomes(1, seed=11)
    fifty = await rate_outcomes(50, seed=11)
    assert one == fifty
    assert set(one.values()) == {200, 418, 429, 503}
    assert await rate_outcomes(50, seed=12) != one


async def test_rules_change_while_serving() -> None:
    rules = RuleSet()
    async with FlagsServer(rules=rules) as server:
        assert server.rules is rules
        base = server.base_url
        assert (await raw_get(base, GIF)).status == 200
        rules.add({"id": "down", "path": GIF, "status": 503})
        assert (await raw_get(base, GIF)).status == 503
        assert server.stats.by_rule == {"down": 1}
        rules.add({"path": "/flags/fr/*", "status": 500})
        assert rules.remove("down")
        assert (await raw_get(base, GIF)).status == 200
        assert (await raw_get(base, "/flags/fr/fr.gif")).status == 500
        rules.clear()
        assert (await raw_get(base, "/flags/fr/fr.gif")).status == 200


async def test_rules_from_a_file_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text('[{"path": "/flags/br/*", "status": 410}]')
    async with FlagsServer(rules=path) as server:
        assert len(server.rules) == 1
        assert (await raw_get(server.base_url, GIF)).status == 410


async def test_streamed_files_obey_at_and_rate(tmp_path: Path) -> None:
    """Directory mode streams from disk: the cut and the pacing apply there too."""
    data = bytes(range(256)) * 400  # 100 KiB
    (tmp_path / "big.bin").write_bytes(data)
    rules = [
        {"path": "/big.bin", "attempts": [1], "close": 5000},
        {"path": "/big.bin", "attempts": [2], "reset": 70_000},
        {"path": "/big.bin", "attempts": [3], "rate": 200_000},
    ]
    async with serving_flags(directory=tmp_path, rules=rules) as base:
        closed = await raw_get(base, "/big.bin")
        reset = await raw_get(base, "/big.bin")
        paced = await raw_get(base, "/big.bin")
        whole = await raw_get(base, "/big.bin")
    assert (closed.ended, closed.body) == ("eof", data[:5000])
    assert (reset.ended, reset.body) == ("reset", data[:70_000])
    assert (paced.ended, paced.body) == ("eof", data)
    assert paced.seconds >= 0.25  # 100 KiB at 200 kB/s: about 0.5 s
    assert whole.body == data


async def test_hostile_paths_with_rules_loaded() -> None:
    """Odd bytes, huge paths and absolute-form targets meet the rules unharmed."""
    rules = [{"path": "re:^/a.*b.*c$", "status": 500}, {"path": "/*é*", "status": 501}]
    async with serving_flags(rules=rules) as base:
        odd = await raw_get(base, "/%FF%FE")
        raw_byte = await raw_get(base, "/\xff")  # sent UTF-8 encoded: not ASCII
        accent = await raw_get(base, "/caf%C3%A9")
        long = await raw_get(base, "/a" + "b" * 5000 + "x")
        absolute = await raw_get(base, "http://x/abc")
        still = await raw_get(base, "/flags/br/br.gif")
    assert odd.status == 404
    assert raw_byte.status in (400, 501)
    assert accent.status == 501
    assert long.status == 404
    assert absolute.status == 500
    assert still.body == gif_body()


async def test_half_closed_client_still_gets_the_dripped_body() -> None:
    """A client that shuts its sending side after asking gets the paced body whole."""
    rules = [{"path": GIF, "rate": 40_000}]
    async with serving_flags(rules=rules) as base:
        reader, writer = await asyncio.open_connection(*split_url(base))
        writer.write(f"GET {GIF} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        writer.write_eof()
        async with asyncio.timeout(10):
            data = await reader.read()
        writer.close()
        await writer.wait_closed()
    assert data.endswith(gif_body())


async def test_client_gone_mid_drip_and_shutdown_mid_drip() -> None:
    """A client that leaves during a paced body, and a server stopped during one."""
    rules = [{"path": GIF, "rate": 100}]  # minutes for the whole GIF
    async with FlagsServer(rules=rules) as server:
        reader, writer = await asyncio.open_connection(*split_url(server.base_url))
        writer.write(f"GET {GIF} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.close()
        await writer.wait_closed()
        await wait_until(lambda: server.stats.in_flight == 0, wait=10)
        # A second one is still dripping when the server stops.
        reader, writer = await asyncio.open_connection(*split_url(server.base_url))
        writer.write(f"GET {GIF} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        start = time.monotonic()
    assert time.monotonic() - start < 5  # close() did not wait for the drip
    with contextlib.suppress(ConnectionError):
        assert len(await reader.read()) < len(gif_body())
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def test_pipelined_requests_wait_behind_a_rule_fault() -> None:
    """Pipelined requests are answered in order, each by its own attempt's action."""
    rules = [{"path": GIF, "schedule": ["503", "delay@0.1+rate@50000", "200"]}]
    async with serving_flags(rules=rules) as base:
        one = f"GET {GIF} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        reader, writer = await asyncio.open_connection(*split_url(base))
        writer.write(one * 2 + get(GIF.encode()))
        async with asyncio.timeout(10):
            data = await reader.read()
        writer.close()
        await writer.wait_closed()
    assert data.count(b"HTTP/1.1 ") == 3
    assert data.startswith(b"HTTP/1.1 503")
    assert data.count(gif_body()) == 2


def test_rules_argument_types() -> None:
    """A RuleSet is kept and reseeded; one bare dict is refused with a clear message."""
    rules = RuleSet(seed=1)
    server = FlagsServer(rules=rules, seed=2)
    assert server.rules is rules
    assert rules.seed == 2
    assert len(FlagsServer(rules=[{"status": 500}, Rule(path="/x")]).rules) == 2
    with pytest.raises(RuleError, match="list of rules"):
        FlagsServer(rules={"path": "/x", "status": 500})
    with pytest.raises(RuleError, match="status"):
        FlagsServer(rules=[{"status": 1}])


# A stress test by design: hundreds of clients and the server share one loop;
# creating their tasks, and the stdlib accepting the whole burst in one
# callback, take over 100 ms in debug mode.
@pytest.mark.blocks_loop
async def test_every_action_under_200_concurrent_clients_keeps_stats_straight() -> None:
    """A short, bounded load with every action on: no request lost, nothing left open."""
    rules = [
        {"path": "/flags/a*", "status": 500},
        {"path": "/flags/b*", "reset": 100},
        {"path": "/flags/c*", "close": 100},
        {"path": "/flags/d*", "stall": 10, "stall_timeout": 0.2},
        {"path": "/flags/e*", "rate": 50_000},
        {"path": "/flags/f*", "delay": "0-0.1"},
        {"path": "/flags/g*", "status": 429},
        {"path": "/flags/*", "schedule": ["503", "reset@10", "200"]},
    ]
    ccs = [cc.lower() for cc in country_codes()]
    gate = asyncio.Semaphore(200)
    async with FlagsServer(rules=rules, seed=1) as server:

        async def one(cc: str, n: int) -> Raw:
            async with gate:
                return await raw_get(
                    server.base_url,
                    f"/flags/{cc}/{cc}.gif",
                    f"X-Client-Id: client-{n % 20}\r\n".encode(),
                )

        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(one(cc, n)) for n in range(3) for cc in ccs]
        stats = server.stats
        await wait_until(lambda: stats.in_flight == 0, wait=10)
        assert stats.requests == len(tasks)
        assert sum(stats.by_status.values()) == len(tasks)
        assert sum(stats.by_rule.values()) == len(tasks)
        assert not server._site.connections  # type: ignore[union-attr]
    ended = {t.result().ended for t in tasks}
    assert ended == {"eof", "reset"}


async def test_reset_waits_for_queued_bytes_of_a_slow_reader(tmp_path: Path) -> None:
    """reset@N with a client that reads late: all N bytes arrive before the RST."""
    data = bytes(range(256)) * (16 * 1024)  # 4 MiB: more than the socket buffers
    (tmp_path / "huge.bin").write_bytes(data)
    n = 3 * 1024 * 1024
    rules = [{"path": "/huge.bin", "reset": n}]
    async with FlagsServer(directory=tmp_path, rules=rules) as server:
        reader, writer = await asyncio.open_connection(*split_url(server.base_url))
        writer.write(get(b"/huge.bin"))
        await wait_until(lambda: server.stats.in_flight == 1)
        await asyncio.sleep(0.3)  # not reading: the server's buffers fill
        received = bytearray()

        async def read_all() -> None:
            async with asyncio.timeout(20):
                while chunk := await reader.read(1 << 16):
                    received.extend(chunk)

        with pytest.raises(ConnectionResetError):
            await read_all()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    body = bytes(received).partition(b"\r\n\r\n")[2]
    assert len(body) == n
    assert body == data[:n]


async def test_one_rule_set_serves_two_servers_in_turn() -> None:
    """A RuleSet outlives its server: the next one follows it, the old one lets go."""
    rules = RuleSet()
    for status in (503, 500):
        async with FlagsServer(rules=rules) as server:
            assert (await raw_get(server.base_url, GIF)).status == 200
            rules.add({"id": "x", "status": status})
            assert (await raw_get(server.base_url, GIF)).status == status
            rules.remove("x")
    assert not rules._listeners
