"""DirectResolver against a misbehaving server: each fault maps to the right status.

The point of these tests: no timeout, failure or hostile packet is ever
reported as NXDOMAIN, and none of them raises.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from awaitkit.probe import DirectResolver, Status, multi_probe, probe
from tests.probe._servers import FaultServer

pytestmark = pytest.mark.anyio

FAST = {"timeout": 0.2, "retries": 1}


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("ok", Status.FOUND),
        ("nx", Status.NXDOMAIN),
        ("nodata", Status.NODATA),
        ("drop", Status.TIMEOUT),
        ("servfail", Status.SERVFAIL),
        ("refused", Status.REFUSED),
        ("formerr", Status.SERVFAIL),
        ("wrongid", Status.TIMEOUT),
        ("mismatch", Status.TIMEOUT),
        ("garbage", Status.TIMEOUT),
        ("short", Status.TIMEOUT),
        ("noqr", Status.TIMEOUT),
        ("spoof", Status.TIMEOUT),
        ("pointerloop", Status.TIMEOUT),
        ("forwardptr", Status.TIMEOUT),
        ("badaddr", Status.TIMEOUT),
        ("overcount", Status.TIMEOUT),
        ("cnameloop", Status.SERVFAIL),
        ("chain", Status.FOUND),
        ("tcgarbage", Status.SERVFAIL),
        ("tcdrop", Status.SERVFAIL),
    ],
)
async def test_fault_maps_to_status(faults, kind, status) -> None:
    async with DirectResolver([faults.address], **FAST) as resolver:
        result = await probe(f"{kind}.example", resolver=resolver)
    assert result.status is status
    assert result.found is (status is Status.FOUND)


async def test_failures_are_retried_then_reported(faults) -> None:
    """A dropped, SERVFAIL or REFUSED try is retried ``retries`` more times."""
    async with DirectResolver([faults.address], timeout=0.2, retries=2) as resolver:
        for kind in ("drop", "servfail", "refused"):
            await probe(f"{kind}.example", resolver=resolver)
        assert resolver.stats.retries == 6
    assert faults.queries["drop"] == 3
    assert faults.queries["servfail"] == 3
    assert faults.queries["refused"] == 3


async def test_nxdomain_is_final_and_not_retried(faults) -> None:
    async with DirectResolver([faults.address], timeout=0.2, retries=2) as resolver:
        assert (await probe("nx.example", resolver=resolver)).status is Status.NXDOMAIN
    assert faults.queries["nx"] == 1


@pytest.mark.parametrize("kind", ["wrongidthenok", "mismatchthenok", "garbagethenok"])
async def test_bad_packet_before_the_answer_is_skipped(faults, kind) -> None:
    """A reply with a wrong id, another question or garbage does not end the query."""
    async with DirectResolver([faults.address], timeout=1, retries=0) as resolver:
        result = await probe(f"{kind}.example", resolver=resolver)
        assert resolver.stats.ignored + resolver.stats.malformed == 1
    assert result.status is Status.FOUND
    assert result.addresses == ("192.0.2.77",)


async def test_late_duplicate_is_ignored(faults) -> None:
    """The first answer wins; a contradicting duplicate after it is dropped."""
    async with DirectResolver([faults.address], timeout=1) as resolver:
        result = await probe("dupe.example", resolver=resolver)
        # The duplicate was sent before the next reply: once that reply is
        # in, the duplicate has been seen and dropped.
        again = await probe("ok.example", resolver=resolver)
        assert resolver.stats.ignored == 1
        assert resolver.stats.answered == 2
    assert result.status is Status.FOUND
    assert again.status is Status.FOUND


async def test_late_answer_to_an_earlier_try_is_ignored(faults) -> None:
    """Try 1 times out; its late NXDOMAIN, arriving while try 2 waits, is not taken."""
    async with DirectResolver([faults.address], timeout=0.5, retries=2) as resolver:
        result = await probe("slowfirst.example", resolver=resolver)
        assert resolver.stats.ignored == 1
        assert resolver.stats.timeouts == 1
    assert result.status is Status.FOUND
    assert faults.queries["slowfirst"] == 2


async def test_truncated_udp_falls_back_to_tcp(faults) -> None:
    async with DirectResolver([faults.address], **FAST) as resolver:
        result = await probe("tc.example", resolver=resolver)
        assert resolver.stats.tcp == 1
    assert result.status is Status.FOUND
    assert result.addresses == ("192.0.2.88",)
    assert faults.tcp_queries["tc"] == 1


async def test_retries_rotate_nameservers(faults) -> None:
    """A mute first server costs one timeout; the retry goes to the second."""
    faults.mute = True
    async with (
        FaultServer() as good,
        DirectResolver(
            [faults.address, good.address], timeout=0.2, retries=1
        ) as resolver,
    ):
        first = await probe("ok.example", resolver=resolver)
        second = await probe("ok2.example", resolver=resolver)
    assert first.status is second.status is Status.FOUND
    # Round-robin start: one name started on each server; the mute one
    # cost one retry, so the mute server saw exactly one query.
    assert faults.queries["ok"] + faults.queries["ok2"] == 1
    assert good.queries["ok"] == 1
    assert good.queries["ok2"] == 1


async def test_many_faults_at_once_none_is_nxdomain(faults) -> None:
    """Mixed faults through multi_probe: statuses stay right under concurrency."""
    kinds = ["ok", "drop", "servfail", "refused", "garbage", "wrongid", "tc", "nx"] * 10
    names = [f"{kind}.n{i}.example" for i, kind in enumerate(kinds)]
    async with DirectResolver([faults.address], timeout=0.3, retries=0) as resolver:
        results = {
            r.domain: r.status
            async for r in multi_probe(names, concurrency=50, resolver=resolver)
        }
    assert len(results) == len(names)
    for name, status in results.items():
        kind = name.split(".")[0]
        assert (status is Status.NXDOMAIN) is (kind == "nx"), name
        assert (status is Status.FOUND) is (kind in ("ok", "tc")), name


async def test_rate_limit_paces_queries(faults) -> None:
    """--rate 50 q/s: 10 queries take at least ~0.18 s (a loose lower bound)."""
    async with DirectResolver([faults.address], rate=50) as resolver:
        start = time.perf_counter()
        results = [
            r
            async for r in multi_probe(
                [f"ok.r{i}.example" for i in range(10)],
                concurrency=10,
                resolver=resolver,
            )
        ]
        elapsed = time.perf_counter() - start
    assert all(r.found for r in results)
    assert elapsed >= 0.17


async def test_in_flight_limit(faults) -> None:
    """max_in_flight bounds the queries awaiting replies, whatever the concurrency."""
    async with DirectResolver(
        [faults.address], timeout=0.2, retries=0, max_in_flight=3
    ) as resolver:
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(
                    peak, sum(len(p.pending) for p in resolver._protocols.values())
                )
                await asyncio.sleep(0.01)

        task = asyncio.create_task(watch())
        results = [
            r
            async for r in multi_probe(
                [f"drop.d{i}.example" for i in range(9)],
                concurrency=9,
                resolver=resolver,
            )
        ]
        task.cancel()
    assert all(r.status is Status.TIMEOUT for r in results)
    assert peak == 3


async def test_closing_ends_queries_waiting_for_a_slot(faults) -> None:
    """Queries past max_in_flight wait; a cancelled one frees its place; closing ends all."""
    resolver = DirectResolver([faults.address], timeout=30, retries=0, max_in_flight=2)
    await resolver.open()
    tasks = [
        asyncio.create_task(resolver.lookup(f"drop.w{i}.example")) for i in range(6)
    ]
    protocol = resolver._protocols[socket.AF_INET]
    for _ in range(500):
        if len(protocol.pending) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(protocol.pending) == 2  # the other four wait for a slot
    tasks[3].cancel()
    await asyncio.sleep(0.05)
    assert len(protocol.pending) == 2
    await resolver.aclose()
    async with asyncio.timeout(5):
        answers = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(answers.pop(3), asyncio.CancelledError)
    assert [a.status for a in answers] == [Status.TIMEOUT] * 5


async def test_receive_buffer_is_raised(faults) -> None:
    """1,000 replies in flight overflow the default ~208 KiB buffer; ours asks for 4 MiB."""
    async with DirectResolver([faults.address]) as resolver:
        transport = resolver._protocols[socket.AF_INET].transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        # Linux doubles the request for bookkeeping; rmem_max may cap it lower.
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 1024 * 1024


async def test_repr_shows_state(faults) -> None:
    resolver = DirectResolver([faults.address])
    assert "closed" in repr(resolver)
    async with resolver:
        await probe("ok.example", resolver=resolver)
        assert f"127.0.0.1:{faults.port} open in_flight=0" in repr(resolver)
        assert "answered=1" in repr(resolver)


def test_a_rate_that_is_not_positive_is_a_usage_error() -> None:
    from awaitkit.core import UsageError
    from awaitkit.probe._udp import RateLimiter

    for rate in (0, -1.0):
        with pytest.raises(UsageError, match="rate must be positive"):
            RateLimiter(rate)
