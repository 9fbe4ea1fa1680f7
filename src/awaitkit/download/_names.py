"""File names that come from the network, made safe to create inside one folder.

Every name a server controls (a URL path, a ``Content-Disposition`` header, a
country name from ``metadata.json``) goes through :func:`sanitize_filename`
and then :func:`safe_path`, so nothing can land outside the destination:
``../``, absolute paths, backslashes, NUL and control characters, Windows
device names (``CON``, ``nul.txt``) and names longer than a file system allows
are all neutralised.  Pure functions, no I/O.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

__all__ = [
    "PART_SUFFIX",
    "UnsafeName",
    "check_name",
    "filename_from_content_disposition",
    "filename_from_url",
    "part_path",
    "partial_name",
    "safe_path",
    "sanitize_filename",
]

PART_SUFFIX = ".part"
# 255 bytes is the usual NAME_MAX; keep room for the leading "." and ".part"
# of the partial file so that name is legal too.
MAX_NAME_BYTES = 240
_FALLBACK = "index.html"
# Lone surrogates (undecodable bytes of argv or a file, surrogate-escaped)
# are no characters at all: no file system name can hold them as text.
_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*\ud800-\udfff]')
# Names made only of these, short enough, need no cleaning but the edge checks.
_PLAIN = re.compile(rf"[A-Za-z0-9_.+-]{{1,{MAX_NAME_BYTES}}}")
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{i}" for p in ("COM", "LPT") for i in (*range(10), "¹", "²", "³")]
)


def _truncate_utf8(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    # errors="ignore" drops a code point cut in half at the end.
    return encoded[:limit].decode("utf-8", errors="ignore")


def sanitize_filename(name: str, *, fallback: str = _FALLBACK) -> str:
    """Turn an untrusted ``name`` into one safe file name (never a path).

    Only the last path component survives (both ``/`` and ``\\`` count as
    separators); control and reserved characters become ``_``; leading dots
    and spaces go (no ``..``, no hidden files), as do trailing dots and spaces
    (Windows drops them); device names get a ``_`` prefix; the result is at
    most ``MAX_NAME_BYTES`` bytes of UTF-8, keeping a short extension.

    >>> sanitize_filename("../../etc/passwd")
    'passwd'
    >>> sanitize_filename("CON.txt")
    '_CON.txt'
    """
    if (
        _PLAIN.fullmatch(name)
        and name[0] != "."
        and name[-1] != "."
        and name.partition(".")[0].upper() not in _WINDOWS_DEVICES
    ):
        return name  # the common case, checked in one pass: nothing to clean
    text = unicodedata.normalize("NFC", name.replace("\\", "/"))
    text = text.rsplit("/", 1)[-1]
    text = _BAD_CHARS.sub("_", text)
    text = text.lstrip(". ").rstrip(". ")
    if not text:
        return fallback
    stem, dot, ext = text.rpartition(".")
    if not dot:
        stem, ext = text, ""
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES or (
        not dot and text.upper() in _WINDOWS_DEVICES
    ):
        text = "_" + text
        stem = "_" + stem
    if len(text.encode("utf-8")) > MAX_NAME_BYTES:
        suffix = f".{ext}" if dot and 0 < len(ext.encode("utf-8")) <= 16 else ""
        body = stem if suffix else text
        text = _truncate_utf8(body, MAX_NAME_BYTES - len(suffix.encode())) + suffix
        text = text.rstrip(". ") or fallback
    return text


def filename_from_url(url: str) -> str:
    """The sanitised last segment of the URL path (``index.html`` for ``/``).

    >>> filename_from_url("http://h/a/b%20c.gif?x=1#top")
    'b c.gif'
    """
    # urlsplit's path, without urlsplit's cost (it was a tenth of an item's
    # CPU in a bulk download): drop fragment and query, then the authority.
    rest = url.partition("#")[0].partition("?")[0]
    _, colon, after = rest.partition(":")
    if colon and after.startswith("//"):
        path = after[2:].partition("/")[2]
    else:
        path = after if colon else rest
    segment = path.rsplit("/", 1)[-1]
    # Decode %2F and friends *before* sanitising, so an encoded "../" is seen.
    return sanitize_filename(unquote(segment, errors="replace"))


def filename_from_content_disposition(header: str) -> str | None:
    """The sanitised ``filename*``/``filename`` of a Content-Disposition header."""
    from email.message import Message  # 7 ms to import; rarely needed

    msg = Message()
    msg["content-disposition"] = header
    try:
        raw = msg.get_filename()
    except (ValueError, LookupError):  # malformed RFC 2231 parameters
        return None
    if not raw:
        return None
    return sanitize_filename(raw)


def safe_path(dest: Path, name: str) -> Path:
    """``dest / name`` after checking the result is a direct child of ``dest``.

    ``name`` should already be sanitised; this is the last line of defence
    and raises ``ValueError`` rather than return a path elsewhere.
    """
    return dest / check_name(name)


class UnsafeName(ValueError):
    """A file name that could reach outside its folder (``..``, a separator, NUL, a drive)."""


def check_name(name: str) -> str:
    """``name`` itself if it can only name a direct child of a folder, else :class:`UnsafeName`."""
    if (
        not name
        or name in {".", ".."}
        or "/" in name
        or "\\" in name
        or "\0" in name
        or os.path.splitdrive(name)[0]  # "C:x" is drive-relative on Windows
    ):
        raise UnsafeName(f"unsafe file name {name!r}")
    return name


def partial_name(name: str) -> str:
    """The name file ``name`` has until it is complete: ``.<name>.part``."""
    return f".{name}{PART_SUFFIX}"


def part_path(final: Path) -> Path:
    """Where ``final`` is written until complete: ``.<name>.part`` beside it."""
    return final.with_name(partial_name(final.name))
