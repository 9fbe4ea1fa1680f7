"""Blocking file operations of a download; each runs in a worker thread, never on the loop.

A body is always written to its ``.part`` file first and given its final
name once complete, by :class:`Placement`: a hard link that fails if the
name is taken (so no file is ever replaced by accident, even by another
process of the run), then the ``.part`` unlinked; with ``overwrite``, a file
older than the run is replaced with ``os.replace`` (atomic on POSIX and
Windows).  Files are opened with ``O_NOFOLLOW`` and folders made under the
destination are checked to stay in it, so a symlink planted there cannot
redirect a write elsewhere.

Nothing is fsync'ed (curl and wget2 do not either): the guarantee is that an
interrupted or killed process never leaves a short file under a final name.
Surviving a power cut would take an fsync per file, which costs more than the
download of a small file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from awaitkit.download._naming import candidates

__all__ = [
    "FileError",
    "PartFile",
    "Placement",
    "StrPath",
    "ensure_folder",
    "open_part",
    "remove_quietly",
    "run_stamp",
    "scan_parts",
    "write_whole",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_MODE = 0o644

StrPath = str | os.PathLike[str]


class Hasher(Protocol):
    """What is used of a ``hashlib`` object (whose own class is not public)."""

    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class FileError(Exception):
    """A file operation of a download failed ("file error: ..."); the ``OSError`` is its ``__cause__``.

    Raised where file work is handed back to the fetch path, so a disk error
    (final: no retry frees the disk) is never mistaken for the network's
    ``OSError`` (worth another attempt).
    """


# Where a file system has no hard links, a name is reserved with O_EXCL instead.
_NO_LINKS = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}
)


class Placement:
    """Gives complete ``.part`` files their final names inside one folder, replacing none.

    ``place(part, rel)`` tries the names of :func:`candidates` in turn, from
    ``start``, and keeps the first free one; it returns that name and its
    index (the caller's hint for the next item with the same name).  With
    ``overwrite``, a regular file whose status changed before ``stamp`` (the
    run's start, :func:`run_stamp`) is replaced; one changed since is this
    run's own, or someone else's written meanwhile, and is kept.
    """

    def __init__(self, prefix: str, *, overwrite: bool, stamp: int | None) -> None:
        self.prefix = prefix
        self.overwrite = overwrite and stamp is not None
        self.stamp = stamp if stamp is not None else 0
        self._links = True

    def place(self, part: str, rel: str, start: int = 0) -> tuple[str, int]:
        for n, name in enumerate(candidates(rel, start), start):
            final = self.prefix + name
            if self._link(part, final):
                return name, n
            if self.overwrite and self.older_than_run(final):
                os.replace(part, final)
                return name, n
        raise AssertionError("unreachable")  # candidates() never ends

    def older_than_run(self, path: str) -> bool:
        """Whether ``path`` is a regular file that was there before the run."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return False
        return stat.S_ISREG(info.st_mode) and info.st_ctime_ns < self.stamp

    def _link(self, part: str, final: str) -> bool:
        """Give ``part`` the name ``final`` unless it is taken; ``False`` if taken."""
        if self._links:
            try:
                os.link(part, final, follow_symlinks=False)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in _NO_LINKS:
                    raise
                self._links = False
            else:
                os.unlink(part)
                return True
        # No hard links here: reserve the name, then move onto the reservation.
        # (A process killed between the two leaves an empty file under it.)
        try:
            fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, _MODE)
        except FileExistsError:
            return False
        os.close(fd)
        os.replace(part, final)
        return True


def run_stamp(folder: StrPath) -> int:
    """The run's start on the file system's own clock, as ``st_ctime_ns``.

    Status-change times come from a coarse kernel clock, so they are
    compared with this, never with ``time.time_ns()``.  The clock is read
    (a file made and removed in ``folder``) until it has moved past its
    first reading, a tick at most: every file made before this call is
    then older than the stamp, and none made after it is, even within the
    same tick.
    """
    first = _file_clock(folder)
    while (now := _file_clock(folder)) <= first:
        time.sleep(0.001)
    return now


def _file_clock(folder: StrPath) -> int:
    fd, path = tempfile.mkstemp(prefix=".awaitkit-run-", dir=folder)
    try:
        return os.fstat(fd).st_ctime_ns
    finally:
        os.close(fd)
        os.unlink(path)


def ensure_folder(root: str, folder: str) -> None:
    """Make ``folder`` (``/``-separated, relative) inside ``root`` (a real path), part by part.

    A part that is there already must be a real folder: a symlink planted
    in the destination is refused, never followed, and nothing is made
    beyond it.
    """
    path = root
    for part in folder.strip("/").split("/"):
        path = os.path.join(path, part)
        try:
            os.mkdir(path)
        except FileExistsError:
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode):
                raise NotADirectoryError(
                    errno.ENOTDIR,
                    "leads outside the destination folder"
                    if stat.S_ISLNK(info.st_mode)
                    else "not a folder",
                    path,
                ) from None


def write_whole(part: StrPath, body: bytes) -> None:
    """Write ``body`` to ``part``, a new ``.part`` file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _BINARY
    fd = os.open(part, flags, _MODE)
    try:
        _write_fd(fd, body)
    except BaseException:
        os.close(fd)
        remove_quietly(part)
        raise
    os.close(fd)


def _write_fd(fd: int, body: bytes) -> None:
    view = memoryview(body)
    while view:
        view = view[os.write(fd, view) :]


def remove_quietly(path: StrPath) -> None:
    """Remove ``path`` if it is there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def scan_parts(dest: Path, suffix: str = ".part", *, deep: bool = False) -> set[str]:
    """Names of the leftover partial files in ``dest`` (what can be resumed).

    ``deep``: in its subfolders too, as relative names (``h/a/.b.gif.part``).
    """
    if deep:
        found: set[str] = set()
        for folder, _, names in os.walk(dest):
            rel = os.path.relpath(folder, dest)
            prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            found.update(prefix + n for n in names if n.endswith(suffix))
        return found
    try:
        with os.scandir(dest) as entries:
            return {e.name for e in entries if e.name.endswith(suffix) and e.is_file()}
    except FileNotFoundError:
        return set()


class PartFile:
    """An open ``.part`` file being appended to; ``size`` counts what it holds.

    With ``hasher`` (a ``hashlib`` object), what is written also goes
    through it; :func:`open_part` first feeds it what a resumed file holds.
    """

    def __init__(
        self, path: StrPath, fd: int, size: int, hasher: Hasher | None = None
    ) -> None:
        self.path = path
        self.fd = fd
        self.size = size
        self.hasher = hasher

    def __repr__(self) -> str:
        return f"<PartFile {os.path.basename(self.path)!r} size={self.size}>"

    def write_all(self, chunks: Iterable[bytes]) -> None:
        """Append ``chunks``."""
        hasher = self.hasher
        for chunk in chunks:
            if hasher is not None:
                hasher.update(chunk)
            view = memoryview(chunk)
            while view:
                written = os.write(self.fd, view)
                self.size += written
                view = view[written:]

    def close(self) -> None:
        """Close: the body is complete, ready for :meth:`Placement.place`."""
        os.close(self.fd)
        self.fd = -1

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


def open_part(path: StrPath, offset: int, *, hashed: bool = False) -> PartFile:
    """Open ``path`` to continue at ``offset`` (0: start afresh, truncating).

    ``hashed``: the file keeps a SHA-256 of its bytes, those kept included.
    """
    flags = (os.O_RDWR if offset and hashed else os.O_WRONLY) | os.O_CREAT
    fd = os.open(
        path, flags | _NOFOLLOW | _BINARY | (0 if offset else os.O_TRUNC), _MODE
    )
    hasher = hashlib.sha256() if hashed else None
    try:
        if offset:
            # Drop anything past offset (the server promised bytes from there).
            os.ftruncate(fd, offset)
            if hasher is not None:
                _hash_fd(fd, offset, hasher)
            os.lseek(fd, offset, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return PartFile(path, fd, offset, hasher)


def _hash_fd(fd: int, size: int, hasher: Hasher) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    left = size
    while left > 0:
        data = os.read(fd, min(left, 1 << 20))
        if not data:
            raise OSError(errno.EIO, "the .part file shrank while it was read")
        hasher.update(data)
        left -= len(data)
