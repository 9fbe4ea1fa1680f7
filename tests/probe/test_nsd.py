"""DirectResolver against a real nsd: every answer kind maps to its status."""

from __future__ import annotations

import pytest

from awaitkit.probe import DirectResolver, Status, probe

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("name", "types", "status", "addresses"),
    [
        ("found.test", "A", Status.FOUND, ("192.0.2.1",)),
        ("FOUND.Test.", "A", Status.FOUND, ("192.0.2.1",)),
        ("found.test", "AAAA", Status.FOUND, ("2001:db8::1",)),
        ("found.test", "both", Status.FOUND, ("192.0.2.1", "2001:db8::1")),
        ("v6only.test", "A", Status.NODATA, ()),
        ("v6only.test", "both", Status.FOUND, ("2001:db8::2",)),
        ("nodata.test", "both", Status.NODATA, ()),
        ("missing.test", "A", Status.NXDOMAIN, ()),
        ("missing.test", "both", Status.NXDOMAIN, ()),
        ("alias.test", "A", Status.FOUND, ("192.0.2.1",)),
        ("dangling.test", "A", Status.NXDOMAIN, ()),
        ("anything.wild.test", "A", Status.FOUND, ("192.0.2.3",)),
        ("deep.er.wild.test", "A", Status.FOUND, ("192.0.2.3",)),
        ("bücher.test", "A", Status.FOUND, ("192.0.2.4",)),
    ],
)
async def test_nsd_answers_map_to_statuses(
    nsd_port, name, types, status, addresses
) -> None:
    async with DirectResolver(
        [f"127.0.0.1:{nsd_port}"], types=types, timeout=2
    ) as resolver:
        result = await probe(name, resolver=resolver)
    assert result.domain == name
    assert result.status is status
    assert result.found is (status is Status.FOUND)
    assert sorted(result.addresses) == sorted(addresses)


async def test_truncated_reply_is_reasked_over_tcp(nsd_port) -> None:
    """120 A records do not fit in 1,232 bytes: nsd sets TC, TCP gets them all."""
    async with DirectResolver([f"127.0.0.1:{nsd_port}"]) as resolver:
        result = await probe("big.test", resolver=resolver)
        assert resolver.stats.truncated == 1
        assert resolver.stats.tcp == 1
    assert result.status is Status.FOUND
    assert len(result.addresses) == 120
    assert "198.51.100.120" in result.addresses


async def test_book_unpacking_against_nsd(nsd_port) -> None:
    async with DirectResolver([f"127.0.0.1:{nsd_port}"]) as resolver:
        domain, found = await probe("found.test", resolver=resolver)
        assert (domain, found) == ("found.test", True)
        domain, found = await probe("nope.test", resolver=resolver)
        assert (domain, found) == ("nope.test", False)


async def test_invalid_names_never_reach_the_server(nsd_port) -> None:
    async with DirectResolver([f"127.0.0.1:{nsd_port}"]) as resolver:
        for name in (
            "a..test",
            "x" * 64 + ".test",
            ("a" * 62 + ".") * 5 + "test",
            "",
            "sp ace.test",
        ):
            result = await probe(name, resolver=resolver)
            assert result.status is Status.INVALID, name
            assert not result.found
        assert resolver.stats.sent == 0
