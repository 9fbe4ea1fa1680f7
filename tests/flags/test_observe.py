"""The observer hook on a real server: verdicts and metrics from real requests."""

from __future__ import annotations

import asyncio
import importlib
import socket
import struct
from collections.abc import Mapping

import pytest

from awaitkit.core import HTTPStatusError, UsageError
from awaitkit.core.testing import exchange, split_url, status_of, wait_until
from awaitkit.flags import ControlClient, FlagsServer, build_dataset, serving_flags
from tests.flags.loops import both_loops

pytestmark = pytest.mark.anyio

# The control API imports prometheus-client: at collection, not inside the first
# test, where collecting its garbage would count as a slow callback (tests/loopdebug).
importlib.import_module("awaitkit.flags._control")

anyio_backend = both_loops

GIF = "/flags/br/br.gif"
SIZE = build_dataset()["flags/br/br.gif"].size


def get(path: str = GIF, *headers: str, close: bool = True) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: x", *headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def fetch(base_url: str, *headers: str, path: str = GIF) -> bytes:
    try:
        return await exchange(base_url, get(path, *headers))
    except ConnectionResetError:
        return b""  # a reset fault


def abort(writer: asyncio.StreamWriter) -> None:
    """Drop a connection with a RST, as a client that gives up does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def verdict(control: ControlClient, client: str) -> Mapping[str, object]:
    return (await control.verdicts())[client]


async def test_retry_after_verdicts_from_real_requests() -> None:
    async with serving_flags(
        rate_limit_rate=1.0, retry_after=1, control=True
    ) as base_url:
        assert status_of(await fetch(base_url, "X-Client-Id: eager")) == 429
        assert status_of(await fetch(base_url, "X-Client-Id: eager")) == 429
        assert status_of(await fetch(base_url, "X-Client-Id: patient")) == 429
        await asyncio.sleep(1.05)
        await fetch(base_url, "X-Client-Id: patient")
        eager = await verdict(base_url.control, "eager")
        patient = await verdict(base_url.control, "patient")
    assert eager["retry_after"]["violated"] == 1  # type: ignore[index]
    assert eager["retry_after"]["honoured"] == 0  # type: ignore[index]
    assert eager["retry_after"]["shortest_gap"] < 1  # type: ignore[index]
    assert patient["retry_after"]["honoured"] == 1  # type: ignore[index]
    assert patient["retry_after"]["shortest_gap"] >= 1  # type: ignore[index]


@pytest.mark.parametrize("fault", ["reset_rate", "truncate_rate"])
async def test_a_cut_then_a_range_request_counts_as_resumed(fault: str) -> None:
    async with FlagsServer(control=True, **{fault: 1.0}) as server:
        url = server.base_url
        await fetch(url, "X-Client-Id: good")
        await wait_until(lambda: server.stats.in_flight == 0)
        held = server.verdicts.clients["good"].cut_at[GIF]
        assert held == SIZE // 2  # the fault cut the body in the middle
        await fetch(url, "X-Client-Id: good", f"Range: bytes={held}-")
        await fetch(url, "X-Client-Id: lazy")
        await fetch(url, "X-Client-Id: lazy")  # from 0 again
        await wait_until(lambda: server.stats.in_flight == 0)
        good = await verdict(server.control, "good")
        lazy = await verdict(server.control, "lazy")
    assert good["resume"]["resumed"] == 1  # type: ignore[index]
    assert lazy["resume"]["restarted"] == 1  # type: ignore[index]


async def test_a_stall_is_reported_when_its_partial_body_is_sent() -> None:
    async with FlagsServer(control=True, stall_rate=1.0, stall_timeout=30) as server:
        host, port = split_url(server.base_url)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(get(close=False))
        await reader.readuntil(b"\r\n\r\n")  # the head, then half the body
        await wait_until(lambda: "127.0.0.1" in server.verdicts.clients)
        await wait_until(lambda: server.verdicts.clients["127.0.0.1"].cuts == 1)
        abort(writer)  # the client gives up
        await wait_until(lambda: server.stats.in_flight == 0)
        v = server.verdicts.clients["127.0.0.1"]
        assert v.in_flight == 0  # not reported twice when the connection drops
        assert v.requests == 1


async def test_not_found_rerequests_and_peak_concurrency() -> None:
    async with serving_flags(delay=0.3, control=True) as base_url:
        for _ in range(3):
            await fetch(base_url, "X-Client-Id: c", path="/flags/zz/zz.gif")
        await asyncio.gather(
            *(fetch(base_url, "X-Client-Id: c", path=GIF) for _ in range(5))
        )
        c = await verdict(base_url.control, "c")
    assert c["not_found_rerequests"] == 2
    assert c["peak_concurrency"] == 5
    assert c["requests"] == 8


async def test_a_client_that_leaves_during_a_delay_leaves_no_request_in_flight() -> (
    None
):
    async with FlagsServer(control=True, delay=5) as server:
        host, port = split_url(server.base_url)
        _, writer = await asyncio.open_connection(host, port)
        writer.write(get(close=False) * 3)  # pipelined, all waiting on the first
        await wait_until(lambda: server.stats.in_flight == 3)
        abort(writer)  # a FIN alone would be a half-close, still owed answers
        await wait_until(lambda: server.stats.in_flight == 0)
        v = server.verdicts.clients["127.0.0.1"]
        assert (v.in_flight, v.peak_concurrency) == (0, 3)  # pipelined: outstanding
        metrics = await server.control.metrics()
    assert (
        'awaitkit_flags_responses_total{fault="none",path="/flags/br/br.gif",status="0"} 3.0'
        in metrics
    )


async def test_metrics_count_by_path_status_and_fault() -> None:
    async with FlagsServer(control=True, error_rate=1.0) as server:
        await fetch(server.base_url)
        await fetch(server.base_url, path="/flags/br/br.gif?x=1")  # same path
        await fetch(server.base_url, path="/nope")
        text = await server.control.metrics()
        stats = await server.control.stats()
    assert (
        'awaitkit_flags_responses_total{fault="error",path="/flags/br/br.gif",status="418"} 2.0'
        in text
    )
    assert (
        'awaitkit_flags_responses_total{fault="error",path="/nope",status="418"} 1.0'
        in text
    )
    assert "awaitkit_flags_requests_total 3.0" in text
    assert "awaitkit_flags_connections_total 3.0" in text
    assert "awaitkit_flags_max_in_flight 1.0" in text
    assert "awaitkit_flags_in_flight 0.0" in text
    sent = next(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("awaitkit_flags_sent_bytes_total ")
    )
    assert sent > 3 * len(b"418 I'm a teapot\n")
    assert stats["by_status"] == {"418": 3}
    assert stats["by_fault"] == {"error": 3}


async def test_metrics_paths_are_bounded() -> None:
    async with FlagsServer(control=True) as server:
        assert server._site is not None
        observer = server._site.observer
        counters = observer.observers[0]  # type: ignore[union-attr]
        counters.max_paths = 3
        for i in range(10):
            await fetch(server.base_url, path=f"/x{i}")
        text = await server.control.metrics()
    labels = {
        line.split('path="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("awaitkit_flags_responses_total{")
    }
    assert labels == {"/x0", "/x1", "/x2", "other"}
    assert 'path="other",status="404"} 7.0' in text


async def test_reset_zeroes_stats_metrics_and_verdicts() -> None:
    async with serving_flags(control=True) as base_url:
        await fetch(base_url)
        control = base_url.control
        assert (await control.stats())["requests"] == 1
        await control.reset()
        assert (await control.stats())["requests"] == 0
        assert await control.verdicts() == {}
        assert "awaitkit_flags_responses_total{" not in await control.metrics()


async def test_control_client_errors() -> None:
    async with FlagsServer(control=True) as server:
        wrong = ControlClient(server.control_url, "not-the-token")
        with pytest.raises(HTTPStatusError, match="403 wrong token") as info:
            await wrong.stats()
        assert info.value.status_code == 403
        with pytest.raises(HTTPStatusError, match="404 no rule 'r9'"):
            await server.control.remove_rule("r9")
        closed_url = server.control_url
    from awaitkit.core import ConnectError

    with pytest.raises(ConnectError):
        await ControlClient(closed_url, "x" * 10).stats()
    for bad in ("ftp://h:1", "http://h", "http://h:99999", "nonsense"):
        with pytest.raises(UsageError):
            ControlClient(bad, "x" * 10)


async def test_the_no_observer_path_stays_unobserved() -> None:
    async with FlagsServer() as server:
        assert server._site is not None
        assert server._site.observer is None
        assert status_of(await fetch(server.base_url)) == 200


async def test_odd_bytes_in_paths_do_not_break_metrics() -> None:
    async with FlagsServer(control=True) as server:
        await fetch(server.base_url, path="/%ff%fe/x")
        await fetch(server.base_url, path="/caf%C3%A9")
        text = await server.control.metrics()
    assert 'path="/\\\\xff\\\\xfe/x"' in text
    assert 'path="/caf\u00e9"' in text


@pytest.mark.parametrize("paced", [False, True])
async def test_a_cut_range_reports_its_offset_in_the_file(paced: bool) -> None:
    """A 206 from byte 1000 cut after 500 body bytes: the client holds 1500."""
    rule: dict[str, object] = {"path": GIF, "reset": 500}
    if paced:
        rule["rate"] = 100_000  # the same cut, sent by the paced writer
    async with FlagsServer(control=True, rules=[rule]) as server:
        await fetch(server.base_url, "Range: bytes=1000-")
        await wait_until(lambda: server.stats.in_flight == 0)
        assert server.verdicts.clients["127.0.0.1"].cut_at == {GIF: 1500}


# A stress test by design: 200 clients and the server share one loop, and the
# stdlib accepts the whole burst in one callback (over 100 ms in debug mode).
@pytest.mark.blocks_loop
async def test_every_fault_under_200_clients_loses_no_observation() -> None:
    """Each request is seen once by the verdicts and once by the metrics."""
    options = {
        "delay": "0-0.05",
        "error_rate": 0.1,
        "rate_limit_rate": 0.1,
        "unavailable_rate": 0.1,
        "reset_rate": 0.1,
        "truncate_rate": 0.1,
        "stall_rate": 0.1,
        "stall_timeout": 0.2,
    }
    async with FlagsServer(control=True, seed=1, **options) as server:

        async def client(n: int) -> None:
            for path in (GIF, "/flags/ar/ar.gif", "/nope"):
                await fetch(server.base_url, f"X-Client-Id: c{n}", path=path)

        async with asyncio.timeout(60):
            await asyncio.gather(*(client(n) for n in range(200)))
        await wait_until(lambda: server.stats.in_flight == 0)
        verdicts = await server.control.verdicts()
        text = await server.control.metrics()
    assert len(verdicts) == 200
    assert all(v["requests"] == 3 and v["in_flight"] == 0 for v in verdicts.values())
    answered = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("awaitkit_flags_responses_total{")
    )
    assert answered == server.stats.requests == 600
    assert sum(server.stats.by_status.values()) == 600


async def test_an_observer_attached_mid_request_is_told_of_its_end() -> None:
    """A request that arrived unobserved still ends cleanly under a new observer."""
    from awaitkit.flags._verdicts import Verdicts

    async with FlagsServer(delay=0.3) as server:
        assert server._site is not None
        pending = asyncio.ensure_future(fetch(server.base_url, "X-Client-Id: early"))
        await wait_until(lambda: server.stats.in_flight == 1)
        verdicts = Verdicts()
        server._site.observer = verdicts
        assert status_of(await pending) == 200
    early = verdicts.clients["early"]
    assert (early.requests, early.in_flight) == (0, 0)  # the end only, clamped
