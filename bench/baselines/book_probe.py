"""The book's domainlib prober (Fluent Python, 2nd ed., ch. 21), as a baseline.

``probe`` awaits ``loop.getaddrinfo`` (asyncio's default thread pool) and
reports every ``gaierror`` as "not found"; ``multi_probe`` wraps every name
in a coroutine up front and drains them with ``as_completed``.  Kept as the
book has it; only the ``main`` below is added, to time a names file::

    python bench/baselines/book_probe.py NAMES.txt   ->  one JSON line
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterable
from typing import NamedTuple


class Result(NamedTuple):
    domain: str
    found: bool


async def probe(domain: str, loop: asyncio.AbstractEventLoop | None = None) -> Result:
    if loop is None:
        loop = asyncio.get_running_loop()
    try:
        await loop.getaddrinfo(domain, None)
    except socket.gaierror:
        return Result(domain, False)
    return Result(domain, True)


async def multi_probe(domains: Iterable[str]) -> AsyncIterator[Result]:
    loop = asyncio.get_running_loop()
    coros = [probe(domain, loop) for domain in domains]
    for coro in asyncio.as_completed(coros):
        result = await coro
        yield result


async def _main(names: list[str]) -> dict[str, float]:
    found = 0
    start = time.perf_counter()
    async for _, ok in multi_probe(names):
        found += ok
    elapsed = time.perf_counter() - start
    return {"names": len(names), "found": found, "seconds": elapsed}


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        names = f.read().split()
    print(json.dumps(asyncio.run(_main(names))))
