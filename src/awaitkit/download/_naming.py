"""Which file a URL saves to: ``--naming basename|path|hash``, and the suffixes a taken name gets.

* ``basename`` (the default): the last segment of the URL path, as curl
  ``-O``, wget and aria2c name files (``http://h/flags/br/metadata.json`` →
  ``metadata.json``);
* ``path``: the host and the path as folders, as ``wget -x`` (``h/flags/br/
  metadata.json``; a port other than the scheme's is kept as ``h_8001``);
* ``hash``: the first 32 hex digits of the URL's SHA-256 plus its extension,
  one name per URL whatever it looks like.

A name already taken, by a file there before the run or by another item of
the run, is never replaced: the item is saved under the first free name of
:func:`candidates` (``metadata.1.json``, ``metadata.2.json``…, as wget and
aria2c do), unless ``--overwrite`` lets it replace a file older than the run.

Every segment goes through :func:`sanitize_filename`, so a relative name
holds only safe components joined by ``/``; pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator
from typing import Literal
from urllib.parse import unquote

from awaitkit.download._names import (
    UnsafeName,
    check_name,
    filename_from_url,
    sanitize_filename,
)

__all__ = [
    "NAMINGS",
    "Naming",
    "candidates",
    "check_relative",
    "name_for",
    "split_relative",
]

Naming = Literal["basename", "path", "hash"]
NAMINGS: tuple[Naming, ...] = ("basename", "path", "hash")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Extensions kept whole when a suffix goes in: "a.tar.gz" → "a.1.tar.gz".
_DOUBLE = frozenset({"tar"})


def name_for(url: str, naming: Naming) -> str:
    """The relative name ``url`` saves to under ``naming`` (``/`` between folders).

    >>> name_for("http://h:8001/a/../b/c.gif?x=1", "path")
    'h_8001/b/c.gif'
    >>> name_for("http://h/a/c.gif", "hash")
    '2351a4bcb01a2dde52b39b8d05111f7d.gif'
    """
    if naming == "basename":
        return filename_from_url(url)
    if naming == "hash":
        digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
        return digest[:32] + _extension(filename_from_url(url))
    return _path_name(url)


def _path_name(url: str) -> str:
    rest = url.partition("#")[0].partition("?")[0]
    scheme, _, after = rest.partition("://")
    authority, slash, path = after.partition("/")
    host = authority.rpartition("@")[2]  # no user:password in a folder name
    name, colon, port = host.rpartition(":")
    if colon and "]" not in port:  # "[::1]" has colons of its own
        host = name if port in ("", _DEFAULT_PORTS.get(scheme.lower())) else host
    folders: list[str] = []
    for raw in path.split("/")[:-1] if slash else []:
        # An encoded separator stays inside its folder's name.
        segment = unquote(raw, errors="replace").replace("/", "_").replace("\\", "_")
        if segment in ("", "."):
            continue
        if segment == "..":
            if folders:
                folders.pop()
            continue
        folders.append(sanitize_filename(segment, fallback="_"))
    top = sanitize_filename(host.lower(), fallback="_")
    return "/".join([top, *folders, filename_from_url(url)])


def _extension(name: str) -> str:
    """``name``'s extension as a suffix goes before it: ``.gif``, ``.tar.gz``, or ``""``."""
    stem, ext = os.path.splitext(name)
    inner, ext2 = os.path.splitext(stem)
    if ext2 and ext2[1:].lower() in _DOUBLE and inner:
        return ext2 + ext
    return ext


def split_relative(rel: str) -> tuple[str, str]:
    """``("folder/", "file")`` of a relative name; the folder is ``""`` at the top."""
    folder, slash, base = rel.rpartition("/")
    return (folder + slash, base)


def candidates(rel: str, start: int = 0) -> Iterator[str]:
    """``rel``, then ``rel`` with ``.1``, ``.2``… before its extension, from ``start``.

    >>> list(itertools.islice(candidates("d/a.tar.gz"), 3))
    ['d/a.tar.gz', 'd/a.1.tar.gz', 'd/a.2.tar.gz']
    """
    folder, base = split_relative(rel)
    ext = _extension(base)
    stem = base[: len(base) - len(ext)]
    for n in itertools.count(start):
        yield rel if n == 0 else f"{folder}{stem}.{n}{ext}"


def check_relative(rel: str) -> str:
    """``rel`` itself if every ``/``-separated part is a safe name, else :class:`UnsafeName`."""
    if not rel or rel.startswith("/"):
        raise UnsafeName(f"unsafe file name {rel!r}")
    if "/" not in rel:
        return check_name(rel)
    for part in rel.split("/"):
        check_name(part)
    return rel
