"""The Fetcher without sockets: one writer per file name, a waiter cancelled in line."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from awaitkit.download import DownloadOptions, DownloadStatus, HttpClient
from awaitkit.download._fetch import Fetcher
from awaitkit.download._filethread import FileThread

pytestmark = pytest.mark.anyio


class GatedClient:
    """Answers 404 to every GET once ``gate`` opens; records who asked, in order."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.asked: list[str] = []

    @contextlib.asynccontextmanager
    async def get(self, url: str, **_: Any) -> AsyncIterator[SimpleNamespace]:
        self.asked.append(url)
        await self.gate.wait()
        yield SimpleNamespace(status=404, reason="Not Found", headers={})


async def test_items_with_one_name_take_turns_and_a_cancelled_waiter_drops_out(
    tmp_path: Path,
) -> None:
    client = GatedClient()
    async with FileThread() as files:
        fetcher = Fetcher(
            cast(HttpClient, client), tmp_path, DownloadOptions(), files=files
        )
        urls = [f"http://127.0.0.1:9/{d}/x.gif" for d in "abc"]
        first, second, third = (asyncio.create_task(fetcher.fetch(u)) for u in urls)
        for _ in range(5):
            await asyncio.sleep(0)
        assert client.asked == urls[:1]  # the others wait for the name
        second.cancel()
        client.gate.set()
        assert (await first).status is DownloadStatus.NOT_FOUND
        with pytest.raises(asyncio.CancelledError):
            await second
        assert (await third).status is DownloadStatus.NOT_FOUND
        assert client.asked == [urls[0], urls[2]]
        assert "writing=0" in repr(fetcher)  # every claim released
