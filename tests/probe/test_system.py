"""SystemResolver: getaddrinfo through /etc/hosts, and gaierror codes mapped honestly."""

from __future__ import annotations

import asyncio
import socket

import pytest

from awaitkit.probe import Status, SystemResolver, multi_probe, probe
from awaitkit.probe._system import status_for_gaierror

pytestmark = pytest.mark.anyio


async def test_localhost_from_etc_hosts() -> None:
    result = await probe("localhost", resolver=SystemResolver(types="A"))
    assert result.status is Status.FOUND
    assert "127.0.0.1" in result.addresses
    domain, found = await probe("localhost")  # the default resolver is the system one
    assert (domain, found) == ("localhost", True)


async def test_dot_invalid_never_resolves() -> None:
    """RFC 6761 reserves .invalid: the answer is NXDOMAIN, whatever the resolver."""
    names = [f"{kw}.invalid" for kw in ("def", "for", "if")]
    results = [r async for r in multi_probe(names, resolver=SystemResolver(timeout=10))]
    assert sorted(r.domain for r in results) == sorted(names)
    assert {r.status for r in results} == {Status.NXDOMAIN}


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (socket.EAI_NONAME, Status.NXDOMAIN),
        (socket.EAI_AGAIN, Status.TIMEOUT),
        (socket.EAI_FAIL, Status.SERVFAIL),
        (getattr(socket, "EAI_NODATA", socket.EAI_NONAME), None),
        (socket.EAI_MEMORY, Status.SERVFAIL),
    ],
)
def test_gaierror_codes(code: int, status: Status | None) -> None:
    got = status_for_gaierror(socket.gaierror(code, "x"))
    if status is None:  # EAI_NODATA where the platform has it
        assert got in (Status.NODATA, Status.NXDOMAIN)
    else:
        assert got is status


async def test_getaddrinfo_failures_are_not_not_found(monkeypatch) -> None:
    """EAI_AGAIN (timeout/SERVFAIL inside libc) must not come out as NXDOMAIN."""
    loop = asyncio.get_running_loop()

    async def failing(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(loop, "getaddrinfo", failing)
    result = await probe("example.test", resolver=SystemResolver())
    assert result.status is Status.TIMEOUT
    assert not result.found


async def test_slow_lookup_times_out(monkeypatch) -> None:
    loop = asyncio.get_running_loop()

    async def slow(*args, **kwargs):
        await asyncio.sleep(10)

    monkeypatch.setattr(loop, "getaddrinfo", slow)
    result = await probe("example.test", resolver=SystemResolver(timeout=0.05))
    assert result.status is Status.TIMEOUT


async def test_details_fill_what_getaddrinfo_tells() -> None:
    """``details=True``: the full keys, with nothing made up that the C library hides."""
    resolver = SystemResolver(types="A", details=True)
    found = await probe("localhost", resolver=resolver)
    missing = await probe("nothing.invalid", resolver=resolver)
    for result in (found, missing):
        data = result.to_dict()
        assert data["resolver"] == "system"
        assert data["attempts"] == 1
        assert isinstance(data["duration_ms"], float)
        assert data["duration_ms"] >= 0
        assert data["rcode"] is None
        assert data["records"] == []
        assert data["chain"] == []
    assert found.status is Status.FOUND
    assert "127.0.0.1" in found.addresses
    assert missing.status is Status.NXDOMAIN
    plain = await probe("localhost", resolver=SystemResolver(types="A"))
    assert not plain.is_full
    assert "resolver" not in plain.to_dict()


def test_cli_json_lines_have_the_same_keys_with_the_system_resolver(
    tmp_path, capsys
) -> None:
    import json

    from awaitkit.cli import main

    names = tmp_path / "names.txt"
    names.write_text("localhost\nnothing.invalid\n")
    status = main(
        ["probe", "-i", str(names), "--resolver", "system", "-t", "A", "--json"]
    )
    assert status == 0  # NXDOMAIN is an answer, not a failure
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert {line["domain"] for line in lines} == {"localhost", "nothing.invalid"}
    keys = {
        "domain",
        "found",
        "status",
        "addresses",
        "rcode",
        "records",
        "chain",
        "resolver",
        "attempts",
        "duration_ms",
    }
    assert all(set(line) == keys for line in lines)
    assert all(line["resolver"] == "system" for line in lines)
