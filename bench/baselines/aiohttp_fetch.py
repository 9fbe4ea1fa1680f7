"""A plain aiohttp bulk downloader: the client awaitkit used before its own.

One ClientSession with TCPConnector(limit=N), a fixed pool of N worker tasks
fed from an iterator, bodies read whole and saved with ``asyncio.to_thread``
(``.part`` then rename), on uvloop.  It is the design ``awaitkit fetch`` had
with aiohttp, minus retries and reports, so the benchmark shows what the
client change buys.

    python bench/baselines/aiohttp_fetch.py URLS_FILE DEST_DIR CONCURRENCY
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import uvloop


def save(body: bytes, dest: Path, name: str) -> None:
    part = dest / f".{name}.part"
    part.write_bytes(body)
    os.replace(part, dest / name)


async def supervisor(urls: Iterator[str], dest: Path, n: int) -> Counter[str]:
    counter: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=n)
    async with aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as session:

        async def worker() -> None:
            for url in urls:
                async with session.get(url) as resp:
                    if resp.status != 200:
                        counter[str(resp.status)] += 1
                        continue
                    body = await resp.read()
                await asyncio.to_thread(save, body, dest, url.rsplit("/", 1)[1])
                counter["ok"] += 1

        async with asyncio.TaskGroup() as tg:
            for _ in range(n):
                tg.create_task(worker())
    return counter


def main() -> None:
    urls = Path(sys.argv[1]).read_text().split()
    dest = Path(sys.argv[2])
    dest.mkdir(parents=True, exist_ok=True)
    counter = uvloop.run(supervisor(iter(urls), dest, int(sys.argv[3])))
    print(dict(counter))


if __name__ == "__main__":
    main()
