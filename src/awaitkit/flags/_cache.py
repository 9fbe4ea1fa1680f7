"""The on-disk cache of the flag images, so only the first run ever draws them.

Drawing and LZW-compressing 249 GIFs in pure Python takes the better part
of a second; reading them back from one file takes a few milliseconds.  The
images are a pure function of the country code and of the drawing and
encoding code, so the file records a digest of that code's source (and the
package version): any change to either means "redraw".

Layout: one ASCII header line ``AWAITKIT-FLAGS key=value ... crc32=N``,
then the GIFs back to back, in the order and with the sizes the header
lists.  A CRC-32 of header and payload catches truncation and bit rot; a
stale, damaged or unreadable file is redrawn and rewritten atomically, and a
cache directory that cannot be written only costs the drawing on every run.
Nothing in the file is ever executed, so a hostile file can at worst make
the served images wrong.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from awaitkit import __version__
from awaitkit._cachefile import (
    CACHE_ENV as CACHE_ENV,
    cache_dir as cache_dir_of,
    seal,
    unseal,
    write_atomic,
)

__all__ = [
    "CACHE_ENV",
    "FORMAT_VERSION",
    "cache_file",
    "dump_gifs",
    "load_gifs",
    "parse_gifs",
]

_log = logging.getLogger("awaitkit.flags")

FORMAT_VERSION = 1
_MAGIC = b"AWAITKIT-FLAGS"
_FILE = f"flags-gifs-f{FORMAT_VERSION}.bin"
_MAX_HEADER = 64 * 1024  # 249 codes and sizes take ~2.5 KB
# The modules whose code decides the bytes of every image.
_SOURCES = ("_gif.py", "_images.py")


def cache_file(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`load_gifs` keeps the images.

    ``cache_dir`` wins, then ``$AWAITKIT_CACHE_DIR``, then the user cache
    directory (``~/.cache/awaitkit`` on Linux).
    """
    return Path(cache_dir_of(cache_dir), _FILE)


def source_digest() -> str:
    """A digest of the drawing and encoding code: the images change only with it."""
    h = hashlib.blake2b(digest_size=8)
    folder = os.path.dirname(__file__)
    for name in _SOURCES:
        try:
            with open(os.path.join(folder, name), "rb") as f:
                h.update(f.read())
        except OSError:  # installed without sources: the version must do
            h.update(b"missing:" + name.encode())
    return h.hexdigest()


def _expected() -> dict[str, str]:
    return {
        "format": str(FORMAT_VERSION),
        "package": __version__,
        "source": source_digest(),
    }


def dump_gifs(gifs: Mapping[str, bytes]) -> bytes:
    """Serialise ``{code: gif}``: header line, then the GIFs it describes."""
    codes = list(gifs)
    fields = _expected() | {
        "codes": ",".join(codes),
        "sizes": ",".join(str(len(gifs[cc])) for cc in codes),
    }
    return seal(_MAGIC, fields, b"".join(gifs[cc] for cc in codes))


def parse_gifs(data: bytes) -> dict[str, bytes]:
    """Read :func:`dump_gifs` output back; ``ValueError`` when stale or damaged."""
    fields, payload = unseal(
        data, _MAGIC, _expected(), what="flags cache", max_header=_MAX_HEADER
    )
    try:
        codes = fields["codes"].split(",") if fields["codes"] else []
        sizes = [int(s) for s in fields["sizes"].split(",")] if codes else []
    except (ValueError, KeyError) as exc:
        raise ValueError(f"damaged flags cache header: {exc!r}") from None
    if (
        len(sizes) != len(codes)
        or sum(sizes) != len(payload)
        or min(sizes, default=1) < 1
    ):
        raise ValueError("flags cache has the wrong size")
    gifs: dict[str, bytes] = {}
    pos = 0
    for cc, size in zip(codes, sizes, strict=True):
        gif = bytes(payload[pos : pos + size])
        pos += size
        if not gif.startswith(b"GIF89a") or not gif.endswith(b";"):
            raise ValueError(f"flags cache entry {cc!r} is not a GIF")
        gifs[cc] = gif
    return gifs


def load_gifs(
    codes: Iterable[str],
    draw: Callable[[str], bytes],
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[str, bytes]:
    """``{code: draw(code)}`` for ``codes``, from the cache file when it holds them.

    Synchronous: a few ms from the cache, about a second when the images must
    be drawn, so call it before the event loop starts or in a thread.  Codes
    the file lacks (or all, when it is missing, stale or damaged) are drawn
    and the file is rewritten; a cache directory that cannot be written is
    logged and otherwise ignored.
    """
    wanted = list(codes)
    path = os.path.join(cache_dir_of(cache_dir), _FILE)
    cached: dict[str, bytes] = {}
    try:
        with open(path, "rb") as f:
            cached = parse_gifs(f.read())
    except FileNotFoundError:
        _log.info("drawing the flag images (first run): %s", path)
    except (OSError, ValueError) as exc:
        _log.warning("redrawing the flag images %s: %s", path, exc)
    missing = [cc for cc in wanted if cc not in cached]
    if not missing:
        return {cc: cached[cc] for cc in wanted}
    for cc in missing:
        cached[cc] = draw(cc)
    try:
        write_atomic(path, dump_gifs(cached))
    except OSError as exc:
        _log.warning("cannot cache the flag images at %s: %s", path, exc)
    return {cc: cached[cc] for cc in wanted}
