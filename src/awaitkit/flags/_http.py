"""HTTP/1.1 pieces that do no I/O: request targets, validators, ranges, heads.

Kept apart from the connection protocol so each rule (path confinement,
``If-None-Match``, ``Range``) is a plain function with its own tests.
"""

from __future__ import annotations

import http
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import unquote_to_bytes

from awaitkit.flags._dataset import Resource

__all__ = [
    "BadTarget",
    "build_head",
    "is_not_modified",
    "parse_range",
    "reason",
    "split_target",
]


class BadTarget(Exception):
    """A request target that cannot name a file; ``status`` is 400 or 404."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def reason(status: int) -> str:
    """The reason phrase of ``status`` (``418`` -> ``I'm a Teapot``)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def split_target(target: bytes) -> tuple[str, ...]:
    """The path segments a request target names, confined to the served root.

    The raw target is split on ``/`` *before* percent-decoding, so ``%2F``
    cannot smuggle in a separator; then ``.`` and ``..`` (also as ``%2e%2e``),
    encoded slashes or backslashes and NUL bytes are refused instead of being
    normalised away.  Empty segments (``//``) are dropped.  Segments are
    decoded as UTF-8 with ``surrogateescape``, as ``os.fsdecode`` does.

    >>> split_target(b"/flags/br/br.gif?x=1")
    ('flags', 'br', 'br.gif')
    """
    if target.startswith(b"/"):
        path = target
    elif target[:7].lower() == b"http://" or target[:8].lower() == b"https://":
        # absolute-form (RFC 9112 3.2.2): keep the path after the authority.
        after = target.split(b"//", 1)[1]
        slash = after.find(b"/")
        path = after[slash:] if slash >= 0 else b"/"
    else:
        raise BadTarget(400, "request target is not a path")
    path = path.split(b"#", 1)[0].split(b"?", 1)[0]
    segments: list[str] = []
    for raw in path.split(b"/"):
        if not raw:
            continue
        seg = unquote_to_bytes(raw)
        if b"\x00" in seg:
            raise BadTarget(400, "NUL byte in path")
        if seg in (b".", b"..") or b"/" in seg or b"\\" in seg:
            raise BadTarget(404, "path escapes the root")
        segments.append(seg.decode("utf-8", "surrogateescape"))
    return tuple(segments)


def _etag_listed(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): ``W/"x"`` matches ``"x"``."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(
        tag.strip().removeprefix("W/") == bare for tag in header.split(",") if tag
    )


def _http_time(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def is_not_modified(headers: dict[str, str], resource: Resource) -> bool:
    """True when a GET/HEAD may be answered 304 (If-None-Match wins over If-Modified-Since)."""
    inm = headers.get("if-none-match")
    if inm is not None:
        return _etag_listed(inm, resource.etag)
    ims = headers.get("if-modified-since")
    if ims is not None:
        since = _http_time(ims)
        return since is not None and int(resource.mtime) <= since
    return False


def parse_range(
    headers: dict[str, str], resource: Resource
) -> tuple[int, int] | bool | None:
    """The byte range to send: ``(start, end_exclusive)``, None (whole file) or False (416).

    Only one ``bytes=`` range is honoured; several ranges, other units or bad
    syntax are ignored (the whole file is sent, RFC 9110 14.2 allows it), as
    is a ``Range`` whose ``If-Range`` validator no longer matches.
    """
    value = headers.get("range")
    if value is None:
        return None
    if_range = headers.get("if-range")
    if if_range is not None and if_range.strip() not in (
        resource.etag,
        resource.last_modified,
    ):
        return None
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    size = resource.size
    try:
        if not first:  # suffix range: the last N bytes
            n = int(last)
            if n < 0 or not last.isdigit():
                return None
            if n == 0 or size == 0:
                return False
            return (max(0, size - n), size)
        if not first.isdigit() or (last and not last.isdigit()):
            return None
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if end <= start and last:
        return None  # "5-3" is invalid syntax: ignore the header
    if start >= size:
        return False
    return (start, min(end, size))


def build_head(
    status: int,
    headers: list[tuple[str, str]],
    *,
    keep_alive: bool,
    date: str | None = None,
) -> bytes:
    """The status line and header block of a response, ending in the blank line."""
    lines = [f"HTTP/1.1 {status} {reason(status)}", "Server: awaitkit"]
    lines.append(f"Date: {date or formatdate(usegmt=True)}")
    lines += [f"{name}: {value}" for name, value in headers]
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
