"""Blocking file operations of a download; each runs in a worker thread, never on the loop.

A body is always written to its ``.part`` file first and moved to its final
name with ``os.replace`` (atomic on POSIX and Windows) once complete.  Files
are opened with ``O_NOFOLLOW`` so a symlink planted in the destination cannot
redirect a write elsewhere.

Nothing is fsync'ed (curl and wget2 do not either): the guarantee is that an
interrupted or killed process never leaves a short file under a final name.
Surviving a power cut would take an fsync per file, which costs more than the
download of a small file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "FileError",
    "PartFile",
    "StrPath",
    "open_part",
    "remove_quietly",
    "scan_parts",
    "write_whole",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_MODE = 0o644

StrPath = str | os.PathLike[str]


class FileError(Exception):
    """A file operation of a download failed ("file error: ..."); the ``OSError`` is its ``__cause__``.

    Raised where file work is handed back to the fetch path, so a disk error
    (final: no retry frees the disk) is never mistaken for the network's
    ``OSError`` (worth another attempt).
    """


def write_whole(part: StrPath, final: StrPath, body: bytes) -> None:
    """Write ``body`` to ``part`` and rename it to ``final`` (one thread hop per file)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _BINARY
    fd = os.open(part, flags, _MODE)
    try:
        _write_fd(fd, body)
    except BaseException:
        os.close(fd)
        remove_quietly(part)
        raise
    os.close(fd)
    os.replace(part, final)


def _write_fd(fd: int, body: bytes) -> None:
    view = memoryview(body)
    while view:
        view = view[os.write(fd, view) :]


def remove_quietly(path: StrPath) -> None:
    """Remove ``path`` if it is there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def scan_parts(dest: Path, suffix: str = ".part") -> set[str]:
    """Names of the leftover partial files in ``dest`` (what can be resumed)."""
    try:
        with os.scandir(dest) as entries:
            return {e.name for e in entries if e.name.endswith(suffix) and e.is_file()}
    except FileNotFoundError:
        return set()


class PartFile:
    """An open ``.part`` file being appended to; ``size`` counts what it holds."""

    def __init__(self, path: StrPath, fd: int, size: int) -> None:
        self.path = path
        self.fd = fd
        self.size = size

    def __repr__(self) -> str:
        return f"<PartFile {os.path.basename(self.path)!r} size={self.size}>"

    def write_all(self, chunks: Iterable[bytes]) -> None:
        """Append ``chunks``."""
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                written = os.write(self.fd, view)
                self.size += written
                view = view[written:]

    def commit(self, final: StrPath) -> None:
        """Close and move to ``final``: the body is complete."""
        os.close(self.fd)
        self.fd = -1
        os.replace(self.path, final)

    def abort(self, keep: bool, tail: Iterable[bytes] = ()) -> None:
        """Close; keep the partial body (plus ``tail``) for a Range resume, or delete it."""
        if self.fd >= 0:
            try:
                if keep:
                    self.write_all(tail)
            finally:
                os.close(self.fd)
                self.fd = -1
        if not keep or self.size == 0:
            remove_quietly(self.path)


def open_part(path: StrPath, offset: int) -> PartFile:
    """Open ``path`` to continue at ``offset`` (0: start afresh, truncating)."""
    flags = os.O_WRONLY | os.O_CREAT | _NOFOLLOW | _BINARY
    fd = os.open(path, flags | (0 if offset else os.O_TRUNC), _MODE)
    try:
        if offset:
            # Drop anything past offset (the server promised bytes from there).
            os.ftruncate(fd, offset)
            os.lseek(fd, offset, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return PartFile(path, fd, offset)
