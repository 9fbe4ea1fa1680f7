"""The on-disk cache of the full index: a checked binary file, rebuilt when in doubt.

Why a custom format and not pickle: loading a pickle runs whatever code the
file names, so a cache file would have to be trusted; this format holds only
text and arrays of ints, so a hostile or damaged file can at worst fail the
checks below (and be rebuilt).  It also loads in ~2 ms: the integer tables are
views of the bytes read, and the word list is the only per-entry object.

Layout: one ASCII header line ``AWAITKIT-FIND key=value ...``, then the
payload: named chunks, listed in the header as ``chunks=name:size,...``
-- each word table's words (UTF-8, newline-separated), offsets, postings
and entry ids (``array('I')`` bytes, native order, recorded in the header)
and names, the emoji sequences and their names (see
:mod:`awaitkit.find._index`).  The header names the format, Unicode, package and ``emoji`` data
versions the file was built for; any mismatch, a wrong size or a CRC-32 mismatch of header
and payload (truncation, bit rot) means "rebuild".  CRC-32 detects accidents;
it is no defence against someone who can write your cache directory, but
nothing in the file is ever executed, so such a person can only make
searches wrong.
"""

from __future__ import annotations

import os
import sys

from awaitkit import __version__
from awaitkit._cachefile import (
    CACHE_ENV as CACHE_ENV,
    cache_dir as cache_dir_of,
    seal,
    unseal,
    write_atomic,
)
from awaitkit.find._index import CharIndex
from awaitkit.find._ucd import STOP_CODE, unicode_version

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing costs ~2 ms at start-up
if TYPE_CHECKING:
    import logging
    from pathlib import Path

__all__ = ["CACHE_ENV", "FORMAT_VERSION", "cache_file", "load_index"]


def _log() -> logging.Logger:
    """The package logger, imported on demand: a cache hit never logs, and
    importing :mod:`logging` is ~5 ms of ``awaitkit find``'s start-up."""
    import logging

    return logging.getLogger("awaitkit.find")


FORMAT_VERSION = 2
_MAGIC = b"AWAITKIT-FIND"


def _file_name() -> str:
    return f"find-index-f{FORMAT_VERSION}-u{unicode_version()}-p{__version__}.bin"


def cache_file(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`load_index` keeps the index.

    ``cache_dir`` wins, then ``$AWAITKIT_CACHE_DIR``, then the user cache
    directory (``~/.cache/awaitkit`` on Linux).
    """
    from pathlib import Path

    return Path(cache_dir_of(cache_dir), _file_name())


def emoji_version() -> str:
    """The installed ``emoji`` distribution's version, ``"none"`` without it.

    Read from its ``.dist-info`` folder name: importing ``emoji`` (~40 ms)
    or ``importlib.metadata`` (~10 ms) would cost more than loading the index.
    """
    for folder in sys.path:
        if os.path.isfile(os.path.join(folder or ".", "emoji", "__init__.py")):
            for entry in os.listdir(folder or "."):
                if entry.startswith("emoji-") and entry.endswith(".dist-info"):
                    return entry.removeprefix("emoji-").removesuffix(".dist-info")
            return "unknown"
    return "none"


def _expected() -> dict[str, str]:
    # Everything the file's content depends on: a change of any means rebuild.
    return {
        "format": str(FORMAT_VERSION),
        "unicode": unicode_version(),
        "package": __version__,
        "emoji": emoji_version(),
        "byteorder": sys.byteorder,
        "start": "32",
        "stop": str(STOP_CODE),
    }


def dump_index(index: CharIndex) -> bytes:
    """Serialise the full index: header line, then the chunks it lists."""
    chunks = index.parts()
    for name in chunks:
        if not name.replace(".", "").replace("_", "").isalnum():
            raise ValueError(f"chunk name {name!r} cannot be stored")
    listed = ",".join(f"{name}:{len(data)}" for name, data in chunks.items())
    fields = _expected() | {"chunks": listed}
    return seal(_MAGIC, fields, b"".join(bytes(c) for c in chunks.values()))


def parse_index(data: bytes) -> CharIndex:
    """Read :func:`dump_index` output back; ``ValueError`` when stale or damaged."""
    fields, payload = unseal(data, _MAGIC, _expected(), what="index", max_header=8192)
    try:
        listed = [entry.split(":") for entry in fields["chunks"].split(",")]
        sizes = [(name, int(size)) for name, size in listed]
    except (ValueError, KeyError) as exc:
        raise ValueError(f"damaged index header: {exc!r}") from None
    if sum(size for _, size in sizes) != len(payload) or len(dict(sizes)) != len(sizes):
        raise ValueError("index file has the wrong size")
    chunks: dict[str, memoryview] = {}
    at = 0
    for name, size in sizes:
        # Views over the bytes just read: no copy.
        chunks[name] = payload[at : at + size]
        at += size
    return CharIndex(chunks, start=32, stop=STOP_CODE)


def load_index(cache_dir: str | os.PathLike[str] | None = None) -> CharIndex:
    """The full index, from the cache when it is valid, else built and cached.

    Synchronous: a few ms from the cache, ~0.5 s when it must be built, so
    call it before starting an event loop (or in a thread).  A missing,
    stale or damaged cache file is rebuilt; a cache directory that cannot
    be written only costs the build on every call.

    >>> load_index().query("cat face").matches[0].code
    'U+1F431'
    """
    path = os.path.join(cache_dir_of(cache_dir), _file_name())
    try:
        with open(path, "rb") as f:
            return parse_index(f.read())
    except FileNotFoundError:
        _log().info("building the find index (first run): %s", path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        _log().warning("rebuilding the find index %s: %s", path, exc)
    index = CharIndex.build()
    try:
        write_atomic(path, dump_index(index))
    except OSError as exc:
        _log().warning("cannot cache the find index at %s: %s", path, exc)
    return index
