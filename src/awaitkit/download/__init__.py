"""awaitkit.download: a bulk HTTP downloader that loses nothing.

Example use::

    from awaitkit.download import DownloadOptions, download_many

    counter = await download_many(urls, "out", options=DownloadOptions(concurrency=100))
    print(counter[DownloadStatus.OK], "downloaded")
"""

from __future__ import annotations

from awaitkit._lazy import attach

TYPE_CHECKING = False  # see awaitkit._lazy: the CLI must not import asyncio here
if TYPE_CHECKING:
    from awaitkit.download._engine import (
        download_many as download_many,
        iter_downloads as iter_downloads,
    )
    from awaitkit.download._fetch import open_client as open_client
    from awaitkit.download._job import Batched as Batched, Item as Item, Job as Job
    from awaitkit.download._names import (
        safe_path as safe_path,
        sanitize_filename as sanitize_filename,
    )
    from awaitkit.download._options import DownloadOptions as DownloadOptions
    from awaitkit.download._result import (
        DownloadResult as DownloadResult,
        DownloadStatus as DownloadStatus,
    )
    from awaitkit.http import HttpClient as HttpClient

_LAZY = {
    "Batched": "awaitkit.download._job",
    "DownloadOptions": "awaitkit.download._options",
    "DownloadResult": "awaitkit.download._result",
    "DownloadStatus": "awaitkit.download._result",
    "HttpClient": "awaitkit.http",
    "Item": "awaitkit.download._job",
    "Job": "awaitkit.download._job",
    "download_many": "awaitkit.download._engine",
    "iter_downloads": "awaitkit.download._engine",
    "open_client": "awaitkit.download._fetch",
    "safe_path": "awaitkit.download._names",
    "sanitize_filename": "awaitkit.download._names",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = attach(__name__, _LAZY)
