"""The flags data set: every ISO 3166-1 alpha-2 country, a GIF and a metadata.json each.

Names and codes come from pycountry (the ISO 3166 tables of Debian's
iso-codes).  The images are synthetic (see ``_images``).  The whole set is
built once per process, in memory (the images read from the on-disk cache
of ``_cache`` after the first run), and served from there; ``export_dataset``
writes the same bytes to a directory, so nginx can serve identical files.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from awaitkit.flags._images import flag_gif

__all__ = [
    "DATASET_MTIME",
    "Resource",
    "build_dataset",
    "country_codes",
    "country_name",
    "export_dataset",
    "metadata",
]

# The data set is a pure function of the code, so its files get a fixed date:
# Last-Modified and ETag stay valid across server restarts.
DATASET_MTIME = 1_704_067_200.0  # 2024-01-01T00:00:00Z

# Country-code TLDs that differ from the alpha-2 code.
_TLD_EXCEPTIONS = {"GB": ".uk"}


@dataclass(frozen=True, slots=True)
class Resource:
    """One servable file: its bytes and the validators HTTP caching needs."""

    body: bytes
    content_type: str
    etag: str  # quoted strong entity tag, e.g. '"5d41402abc4b2a76"'
    mtime: float  # POSIX seconds
    # A file too big to hold in memory: ``body`` is empty and the bytes are
    # streamed from ``path``, ``length`` of them.
    path: str | None = None
    length: int = 0

    @property
    def size(self) -> int:
        """The length of the content in bytes."""
        return self.length if self.path is not None else len(self.body)

    @property
    def last_modified(self) -> str:
        """``mtime`` as an HTTP date (``Mon, 01 Jan 2024 00:00:00 GMT``)."""
        return formatdate(self.mtime, usegmt=True)


def make_resource(body: bytes, content_type: str, mtime: float) -> Resource:
    """A :class:`Resource` whose strong ETag is a hash of ``body``."""
    digest = hashlib.blake2b(body, digest_size=8).hexdigest()
    return Resource(body, content_type, f'"{digest}"', mtime)


@functools.cache
def _countries() -> dict[str, str]:
    import pycountry

    names: dict[str, str] = {}
    for country in pycountry.countries:
        # "Taiwan" reads better than "Taiwan, Province of China", as in the book.
        names[country.alpha_2] = getattr(country, "common_name", None) or country.name
    return dict(sorted(names.items()))


def country_codes() -> list[str]:
    """Sorted upper-case ISO 3166-1 alpha-2 codes of every country in the data set.

    >>> country_codes()[:3]
    ['AD', 'AE', 'AF']
    """
    return list(_countries())


def country_name(cc: str) -> str:
    """The English short name of the country with alpha-2 code ``cc`` (any case).

    Raises :class:`KeyError` for a code not in the data set.
    """
    return _countries()[cc.upper()]


def metadata(cc: str) -> dict[str, str]:
    """The ``metadata.json`` object of ``cc``: ``tld_cc``, ``iso_cc`` and ``country``.

    ``gec_cc`` (the CIA's GEC codes) is left out: no maintained package ships them.
    """
    code = cc.upper()
    tld = _TLD_EXCEPTIONS.get(code, f".{code.lower()}")
    return {"tld_cc": tld, "iso_cc": code, "country": country_name(code)}


_build_lock = threading.Lock()


@functools.cache
def _build() -> Mapping[str, Resource]:
    from awaitkit.flags._cache import load_gifs

    codes = country_codes()
    gifs = load_gifs(codes, flag_gif)  # drawn only when the cache lacks them
    files: dict[str, Resource] = {}
    for cc in codes:
        low = cc.lower()
        files[f"flags/{low}/{low}.gif"] = make_resource(
            gifs[cc], "image/gif", DATASET_MTIME
        )
        meta = json.dumps(metadata(cc), ensure_ascii=False).encode() + b"\n"
        files[f"flags/{low}/metadata.json"] = make_resource(
            meta, "application/json", DATASET_MTIME
        )
    return files


def build_dataset() -> Mapping[str, Resource]:
    """Every file of the data set, keyed by relative path (``flags/br/br.gif``).

    The images come from the user cache directory (``$AWAITKIT_CACHE_DIR``
    wins) in a few ms; when it lacks them they are drawn (CPU-bound, a
    fraction of a second) and cached.  Later calls return the same mapping.
    Call it before the event loop starts or in a thread.
    """
    with _build_lock:  # two servers starting at once build it once
        return _build()


def export_dataset(directory: Path | str) -> Path:
    """Write the data set under ``directory`` (created if needed); return its path.

    The files are byte-for-byte those the server sends, so a peer such as
    nginx can serve the same content.
    """
    root = Path(directory)
    for rel, resource in build_dataset().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(resource.body)
    return root
