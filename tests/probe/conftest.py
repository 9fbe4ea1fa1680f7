"""Fixtures: one nsd per session serving ``test.``, a fault responder per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from awaitkit.probe.testing import serving_nsd
from tests.conftest import find_binary
from tests.probe._servers import FaultServer

# 120 A records make a reply of ~2 KB: over the 1,232 bytes EDNS0 allows,
# so nsd truncates it on UDP and the resolver must retry over TCP.
_BIG = "\n".join(f"big A 198.51.100.{i}" for i in range(1, 121))

ZONE = f"""\
$ORIGIN test.
$TTL 300
@ SOA ns.test. admin.test. 1 3600 600 86400 300
@ NS ns.test.
ns A 127.0.0.1
found A 192.0.2.1
found AAAA 2001:db8::1
v4only A 192.0.2.2
v6only AAAA 2001:db8::2
nodata TXT "a name without addresses"
alias CNAME alias2
alias2 CNAME found
dangling CNAME gone
*.wild A 192.0.2.3
xn--bcher-kva A 192.0.2.4
for A 192.0.2.5
if A 192.0.2.6
with AAAA 2001:db8::6
{_BIG}
"""


@pytest.fixture(scope="session")
def nsd_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Port of an nsd on 127.0.0.1 authoritative for ``test.`` (see ZONE)."""
    nsd = find_binary("nsd")
    directory: Path = tmp_path_factory.mktemp("nsd")
    with serving_nsd("test", ZONE, nsd=nsd, directory=directory) as port:
        yield port


@pytest.fixture
async def faults() -> AsyncIterator[FaultServer]:
    async with FaultServer() as server:
        yield server
