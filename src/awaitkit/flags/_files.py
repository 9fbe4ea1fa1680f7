"""Where served files come from: the in-memory data set or a directory on disk.

Both answer "which :class:`Resource` do these path segments name?".  The
memory store answers at once (no I/O); the directory store resolves symlinks
and reads in a worker thread, and refuses anything whose real path leaves the
root.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

from awaitkit.flags._dataset import Resource, make_resource

__all__ = ["DirectoryFiles", "MemoryFiles", "static_headers"]

_INDEX = "index.html"


def static_headers(resource: Resource) -> bytes:
    """The header lines of a 200 response that depend on the file alone."""
    return (
        f"Content-Type: {resource.content_type}\r\n"
        f"Content-Length: {resource.size}\r\n"
        f"ETag: {resource.etag}\r\n"
        f"Last-Modified: {resource.last_modified}\r\n"
        "Accept-Ranges: bytes\r\n"
    ).encode("latin-1")


class MemoryFiles:
    """Files held in memory, keyed by relative path (``flags/br/br.gif``)."""

    def __init__(self, files: Mapping[str, Resource]) -> None:
        self._files = dict(files)
        # Precomputed header lines keep the hot path to one dict look-up.
        self._heads = {key: static_headers(res) for key, res in self._files.items()}
        if _INDEX not in self._files:
            self._files[_INDEX] = _index_page(self._files)
            self._heads[_INDEX] = static_headers(self._files[_INDEX])
        # Exact request targets ("/flags/br/br.gif"), so the usual request
        # skips splitting and percent-decoding.  Keys come from our own file
        # names, never from requests, so the dict cannot grow.
        self.by_target: dict[bytes, tuple[Resource, bytes]] = {
            f"/{key}".encode(): (res, self._heads[key])
            for key, res in self._files.items()
        }
        self.by_target[b"/"] = (self._files[_INDEX], self._heads[_INDEX])

    def __len__(self) -> int:
        return len(self._files)

    def get(self, segments: tuple[str, ...]) -> tuple[Resource, bytes] | None:
        """The resource at ``segments`` and its static 200 header lines, or None."""
        key = "/".join(segments) if segments else _INDEX
        res = self._files.get(key)
        if res is None:
            return None
        return res, self._heads[key]


def _index_page(files: Mapping[str, Resource]) -> Resource:
    links = "\n".join(f'<li><a href="/{key}">{key}</a></li>' for key in sorted(files))
    page = (
        "<!doctype html>\n<meta charset=utf-8>\n<title>flags</title>\n"
        f"<h1>flags</h1>\n<ul>\n{links}\n</ul>\n"
    ).encode()
    return make_resource(page, "text/html; charset=utf-8", 0.0)


def _content_type(path: str) -> str:
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    return content_type


class DirectoryFiles:
    """Regular files under ``root``; symlinks are followed only while they stay inside.

    Files up to ``max_held`` bytes are read whole and cached by (path, mtime,
    size), so a hot file costs one ``stat`` per request; bigger ones are
    streamed from disk in chunks, whatever their size.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        max_held: int = 1024 * 1024,
        cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.root = Path(os.path.realpath(root))
        if not self.root.is_dir():
            raise NotADirectoryError(f"not a directory: {root}")
        self.max_held = max_held
        self._cache_bytes = cache_bytes
        self._cache: OrderedDict[str, tuple[tuple[int, int], Resource]] = OrderedDict()
        self._cached = 0
        self._lock = threading.Lock()  # lookups run in several worker threads

    def _lookup(self, segments: tuple[str, ...]) -> Resource | None:
        path = os.path.realpath(os.path.join(self.root, *segments))
        root = str(self.root)
        if path != root and not path.startswith(root + os.sep):
            return None  # a symlink pointing out of the root
        try:
            st = os.stat(path)
            if stat.S_ISDIR(st.st_mode):
                return (
                    self._lookup((*segments, _INDEX))
                    if segments[-1:] != (_INDEX,)
                    else None
                )
            if not stat.S_ISREG(st.st_mode):
                return None
            key = (st.st_mtime_ns, st.st_size)
            etag = f'"{key[0]:x}-{key[1]:x}"'
            if st.st_size > self.max_held:
                return Resource(
                    b"", _content_type(path), etag, st.st_mtime, path, st.st_size
                )
            with self._lock:
                hit = self._cache.get(path)
                if hit is not None and hit[0] == key:
                    self._cache.move_to_end(path)
                    return hit[1]
            with open(path, "rb") as f:
                body = f.read(self.max_held + 1)
        except (OSError, ValueError):  # ValueError: embedded NUL, too long a name
            return None
        res = Resource(body, _content_type(path), etag, st.st_mtime)
        self._remember(path, key, res)
        return res

    def _remember(self, path: str, key: tuple[int, int], res: Resource) -> None:
        if len(res.body) > self._cache_bytes // 16:
            return
        with self._lock:
            self._store(path, key, res)

    def _store(self, path: str, key: tuple[int, int], res: Resource) -> None:
        old = self._cache.pop(path, None)
        if old is not None:
            self._cached -= len(old[1].body)
        self._cache[path] = (key, res)
        self._cached += len(res.body)
        while self._cached > self._cache_bytes:
            _, (_, dropped) = self._cache.popitem(last=False)
            self._cached -= len(dropped.body)

    async def get(self, segments: tuple[str, ...]) -> tuple[Resource, bytes] | None:
        """The file at ``segments`` (read in a thread) and its 200 header lines, or None."""
        res = await asyncio.to_thread(self._lookup, segments)
        if res is None:
            return None
        return res, static_headers(res)
