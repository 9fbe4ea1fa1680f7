"""The book's flags2_asyncio design, as a bulk downloader for the benchmark.

httpx.AsyncClient, an asyncio.Semaphore bounding concurrency, one coroutine
per URL created up front and driven by ``asyncio.as_completed``, and each
file saved with ``asyncio.to_thread`` (Fluent Python 2nd ed., chapter 21).

    python bench/baselines/book_flags.py URLS_FILE DEST_DIR CONCURRENCY
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import httpx


def save(body: bytes, path: Path) -> None:
    path.write_bytes(body)


async def download_one(
    client: httpx.AsyncClient, url: str, dest: Path, semaphore: asyncio.Semaphore
) -> str:
    async with semaphore:
        resp = await client.get(url, follow_redirects=True)
    if resp.status_code == 404:
        return "not_found"
    resp.raise_for_status()
    await asyncio.to_thread(save, resp.content, dest / url.rsplit("/", 1)[1])
    return "ok"


async def supervisor(urls: list[str], dest: Path, concurrency: int) -> Counter[str]:
    counter: Counter[str] = Counter()
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=30) as client:
        to_do = [download_one(client, url, dest, semaphore) for url in urls]
        for coro in asyncio.as_completed(to_do):
            try:
                counter[await coro] += 1
            except httpx.HTTPError:
                counter["error"] += 1
    return counter


def main() -> None:
    urls = Path(sys.argv[1]).read_text().split()
    dest = Path(sys.argv[2])
    dest.mkdir(parents=True, exist_ok=True)
    counter = asyncio.run(supervisor(urls, dest, int(sys.argv[3])))
    print(dict(counter))


if __name__ == "__main__":
    main()
