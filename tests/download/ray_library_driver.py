"""A driver of ``awaitkit.download.ray`` (run by tests/download/test_cluster.py).

Argument: the flags server's base URL, the destination folder and the
cluster's address; prints one JSON object of what it saw.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator

import ray

from awaitkit.download import DownloadOptions
from awaitkit.download.ray import download_dataset, download_many, iter_downloads

base, dest, address = sys.argv[1:4]
ray.init(address=address, log_to_driver=False, logging_level="ERROR")
urls = [f"{base}/flags/{cc}/{cc}.gif" for cc in ("br", "fr", "jp", "zz")]


async def agen() -> AsyncIterator[str]:
    for url in urls:
        yield url


async def main() -> tuple[list[list[str]], dict[str, int]]:
    options = DownloadOptions(concurrency=4)
    seen = [
        [r.status.value, r.url, node]
        async for r, node in iter_downloads(agen(), dest + "/a", options=options)
    ]
    counts = await download_many(urls, dest + "/b", options=options, actors=2)
    return seen, {k.value: v for k, v in counts.items()}


seen, counts = asyncio.run(main())
dataset = ray.data.from_items([{"url": u} for u in urls])
rows = download_dataset(dataset, dest + "/c", actors=1, batch_size=2).take_all()
picked = [{k: row[k] for k in ("url", "status", "path", "node")} for row in rows]
sys.stdout.write(json.dumps({"seen": seen, "counts": counts, "rows": picked}) + "\n")
