"""Checked cache files in the user cache directory, shared by ``find`` and ``flags``.

A cache file is one ASCII header line, ``MAGIC key=value ... crc32=N``, then
a payload that the header describes.  The CRC-32 covers the header too, so a
damaged size field cannot pass; the ``expected`` fields (format, versions,
source digests) make a stale file fail the same way a damaged one does.
Nothing in the file is ever executed: a hostile file can at worst make
results wrong, and any file that fails a check is rebuilt by its owner.

Writes are atomic (a temporary file in the same folder, then a rename), so a
reader never sees half a file.  Only :mod:`os`, :mod:`sys` and :mod:`zlib`
are imported: ``awaitkit find`` loads its index through here on every start.
"""

from __future__ import annotations

import os
import sys
import zlib

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~2 ms
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CACHE_ENV", "cache_dir", "seal", "unseal", "write_atomic"]

CACHE_ENV = "AWAITKIT_CACHE_DIR"
_APP = "awaitkit"


def cache_dir(override: str | os.PathLike[str] | None = None) -> str:
    """The cache folder: ``override``, else ``$AWAITKIT_CACHE_DIR``, else the user's."""
    if override is not None:
        return os.fspath(override)
    if env := os.environ.get(CACHE_ENV):
        return env
    if sys.platform == "linux":
        # What platformdirs.user_cache_dir() answers on Linux, without the
        # ~30 ms its import costs (half of `awaitkit find`'s start-up budget).
        base = os.environ.get("XDG_CACHE_HOME", "").strip()
        if not base:
            base = os.path.expanduser("~/.cache")
        return os.path.join(base, _APP)
    import platformdirs  # pragma: no cover - exercised on macOS/Windows only

    return platformdirs.user_cache_dir(_APP)  # pragma: no cover


def seal(magic: bytes, fields: Mapping[str, str], payload: bytes) -> bytes:
    """Header line with ``fields`` and a CRC-32 of header and payload, then payload."""
    head = magic + b" " + " ".join(f"{k}={v}" for k, v in fields.items()).encode()
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + b" crc32=%d\n" % crc + payload


def unseal(
    data: bytes,
    magic: bytes,
    expected: Mapping[str, str],
    *,
    what: str,
    max_header: int = 4096,
) -> tuple[dict[str, str], memoryview]:
    """Check :func:`seal` output; return its header fields and a view of its payload.

    Raises ``ValueError`` naming ``what`` when the file is not one of ours,
    damaged (checksum, header) or stale (an ``expected`` field differs).
    """
    end = data.find(b"\n", 0, max_header)
    if end < 0 or not data.startswith(magic + b" "):
        raise ValueError(f"not {what} file")
    head, found, crc_text = data[:end].rpartition(b" crc32=")
    payload = memoryview(data)[end + 1 :]
    if not found or not crc_text.isdigit():
        raise ValueError(f"damaged {what} header: no checksum")
    if zlib.crc32(payload, zlib.crc32(head)) != int(crc_text):
        raise ValueError(f"{what} file checksum mismatch")
    try:
        text = head[len(magic) + 1 :].decode("ascii")
        fields = dict(f.split("=", 1) for f in text.split())
    except ValueError as exc:
        raise ValueError(f"damaged {what} header: {exc!r}") from None
    for key, want in expected.items():
        if fields.get(key) != want:
            raise ValueError(f"stale {what}: {key}={fields.get(key)!r}, want {want!r}")
    return fields, payload


def write_atomic(path: str, data: bytes) -> None:
    """Write via a temporary file and rename, so readers see all or nothing."""
    import tempfile

    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
