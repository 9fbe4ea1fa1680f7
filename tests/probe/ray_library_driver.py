"""A driver of ``awaitkit.probe.ray`` (run by tests/probe/test_cluster.py).

Arguments: the nameserver (IP:PORT) and the cluster's address; prints one
JSON object of what it saw.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator

import ray

from awaitkit.probe import DirectResolver
from awaitkit.probe.ray import iter_probes, probe_dataset

nameserver, address = sys.argv[1:3]
ray.init(address=address, log_to_driver=False, logging_level="ERROR")
names = ["found.test", "nodata.test", *(f"n{i}.test" for i in range(500))]


async def agen() -> AsyncIterator[str]:
    for name in names:
        yield name


async def main() -> tuple[dict[str, str], int]:
    resolver = DirectResolver([nameserver])
    async with resolver:  # the driver's copy: it gets the actors' counters
        got = {
            r.domain: r.status.name
            async for r in iter_probes(
                agen(), resolver=resolver, concurrency=50, actors=2
            )
        }
    sent = sum(s.sent for s in resolver.server_stats.values())
    return got, sent


got, sent = asyncio.run(main())
dataset = ray.data.from_items([{"name": n} for n in names[:20]])
rows = probe_dataset(
    dataset, resolver=DirectResolver([nameserver]), actors=1
).take_all()
table = {row["name"]: row["status"] for row in rows}
sys.stdout.write(json.dumps({"iter": got, "sent": sent, "dataset": table}) + "\n")
