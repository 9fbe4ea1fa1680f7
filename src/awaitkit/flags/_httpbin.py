"""httpbin-style paths that need no rule file, decided without I/O.

``/status/CODE``, ``/delay/S``, ``/drip``, ``/bytes/N``, ``/redirect/N``,
``/gzip``, ``/headers`` and ``/response-headers`` answer as go-httpbin's
do (same JSON shapes: ``{"headers": {"Name": ["value"]}}``...), so a test
written against httpbin runs against ``serve flags`` too.  :func:`respond`
turns a request into a :class:`Reply` (status, headers, body, and when to
send them); the responder only sends it, so every bound here is tested by
calling a function.

Every parameter is checked and bounded (delays and durations at 10 s, as
go-httpbin; bodies at 1 MiB): a bad one is a 400 naming the parameter,
never an exception.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from awaitkit.flags._http import reason

__all__ = [
    "MAX_BODY",
    "MAX_DELAY",
    "MAX_REDIRECTS",
    "NAMES",
    "Drip",
    "Reply",
    "accepts_any_method",
    "respond",
]

MAX_DELAY = 10.0
"""Longest ``/delay`` and ``/drip`` (delay plus duration), in seconds (go-httpbin's)."""
MAX_BODY = 1024 * 1024
"""Largest ``/bytes`` and ``/drip`` body (go-httpbin's default)."""
MAX_REDIRECTS = 100
"""Longest ``/redirect`` chain."""
_MAX_PARAMS = 64  # query parameters read; more is a 400
_JSON = "application/json; charset=utf-8"

NAMES = frozenset(
    {
        "bytes",
        "delay",
        "drip",
        "gzip",
        "headers",
        "redirect",
        "response-headers",
        "status",
    }
)
"""First path segments answered here (they shadow files of those names)."""

# RFC 9110 5.6.2 token: a header name.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Control characters a field value may not hold (HTAB may).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Fields that frame the message or the connection: the server sets them.
_FRAMING = frozenset(
    {
        "connection",
        "content-length",
        "keep-alive",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


@dataclass(frozen=True, slots=True)
class Drip:
    """A body sent a little at a time: ``numbytes`` bytes of ``*`` over ``duration`` s."""

    numbytes: int
    duration: float


@dataclass(frozen=True, slots=True)
class Reply:
    """What to send: after ``delay`` seconds, a ``status`` with ``headers`` and ``body``.

    ``drip`` set: the body is sent over time instead (``body`` is empty).
    ``interim`` set: a 1xx informational response goes first.
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay: float = 0.0
    drip: Drip | None = None
    interim: int | None = None


class _BadParam(Exception):
    """A parameter we refuse; the message says which and why (a 400)."""


def accepts_any_method(name: str) -> bool:
    """``/status`` and ``/delay`` answer any method, as go-httpbin's do (the rest GET/HEAD)."""
    return name in ("status", "delay")


def respond(
    segments: tuple[str, ...],
    target: bytes,
    *,
    method: str,
    headers: Mapping[str, str],
    origin: str,
    scheme: str = "http",
) -> Reply:
    """The reply to a request for an httpbin-style path (``segments[0]`` in :data:`NAMES`).

    ``headers`` are the request's (names lower-case), ``origin`` the
    client's address, ``target`` the raw request target (for its query).

    >>> respond(("status", "418"), b"/status/418", method="GET", headers={}, origin="").status
    418
    """
    try:
        args = _query(target)
        name, rest = segments[0], segments[1:]
        info = _Info(method, headers, origin, scheme, target, args)
        if name == "status":
            return _status(_one(rest, "status code"))
        if name == "delay":
            return _delay(_one(rest, "delay"), info)
        if name == "drip":
            _none(rest)
            return _drip(args)
        if name == "bytes":
            return _bytes(_one(rest, "byte count"), args)
        if name == "redirect":
            return _redirect(_one(rest, "redirect count"), info)
        if name == "gzip":
            _none(rest)
            return _gzip(info)
        if name == "headers":
            _none(rest)
            return _json({"headers": info.headers()})
        if name == "response-headers":
            _none(rest)
            return _response_headers(args)
        raise _BadParam(f"unknown path /{name}")
    except _BadParam as exc:
        return bad_request(str(exc))


def bad_request(why: str) -> Reply:
    """A 400 whose body says why."""
    body = f"400 Bad Request: {why}\n".encode(errors="backslashreplace")
    return Reply(400, [("Content-Type", "text/plain; charset=utf-8")], body)


# -- parameters --------------------------------------------------------------


def _query(target: bytes) -> dict[str, list[str]]:
    """The query's parameters, percent-decoded as strict UTF-8 (``+`` is a space)."""
    query = target.split(b"#", 1)[0].partition(b"?")[2]
    args: dict[str, list[str]] = {}
    if not query:
        return args
    pairs = [p for p in query.split(b"&") if p]
    if len(pairs) > _MAX_PARAMS:
        raise _BadParam(f"more than {_MAX_PARAMS} query parameters")
    for pair in pairs:
        raw_key, _, raw_value = pair.partition(b"=")
        try:
            key = unquote_to_bytes(raw_key.replace(b"+", b" ")).decode()
            value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode()
        except UnicodeDecodeError:
            raise _BadParam("query parameter is not UTF-8") from None
        args.setdefault(key, []).append(value)
    return args


def _one(rest: tuple[str, ...], what: str) -> str:
    if len(rest) != 1:
        raise _BadParam(f"give one {what} in the path")
    return rest[0]


def _none(rest: tuple[str, ...]) -> None:
    if rest:
        raise _BadParam("nothing may follow this path")


def _int(text: str, what: str, low: int, high: int) -> int:
    # str.isdigit() takes other scripts' digits and int() takes "1_0": neither here.
    if not (0 < len(text) <= 20 and text.isascii() and text.isdigit()):
        raise _BadParam(f"{what} must be a whole number from {low} to {high}: {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise _BadParam(f"{what} must be from {low} to {high}: {value}")
    return value


def _seconds(text: str, what: str) -> float:
    """A plain decimal number of seconds, from 0 to :data:`MAX_DELAY`."""
    if not re.fullmatch(r"[0-9]{1,8}(\.[0-9]{1,6})?", text):
        raise _BadParam(f"{what} must be seconds from 0 to {MAX_DELAY:g}: {text!r}")
    value = float(text)
    if not (math.isfinite(value) and value <= MAX_DELAY):
        raise _BadParam(f"{what} must be seconds from 0 to {MAX_DELAY:g}: {text}")
    return value


def _arg(args: Mapping[str, list[str]], key: str) -> str | None:
    values = args.get(key)
    return values[0] if values else None


# -- endpoints ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Info:
    """The request as go-httpbin echoes it."""

    method: str
    raw_headers: Mapping[str, str]
    origin: str
    scheme: str
    target: bytes
    args: dict[str, list[str]]

    def headers(self) -> dict[str, list[str]]:
        # Our parser keeps names lower-case (and one value per name): show
        # them as Go's CanonicalMIMEHeaderKey does, "user-agent" -> "User-Agent".
        return {
            "-".join(part.capitalize() for part in name.split("-")): [value]
            for name, value in sorted(self.raw_headers.items())
        }

    def url(self) -> str:
        host = self.raw_headers.get("host", "")
        path = self.target.decode("latin-1")
        if path.startswith("/"):
            return f"{self.scheme}://{host}{path}"
        return path  # absolute-form already

    def anything(self) -> dict[str, object]:
        return {
            "args": self.args,
            "headers": self.headers(),
            "method": self.method,
            "origin": self.origin,
            "url": self.url(),
        }


def _json(data: object, status: int = 200) -> Reply:
    body = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    return Reply(status, [("Content-Type", _JSON)], body)


def _status(text: str) -> Reply:
    code = _int(text, "status code", 100, 599)
    if code == 101:
        raise _BadParam("status code 101 needs a protocol to switch to")
    if code < 200:
        # An informational response is never final: send it, then a 200.
        final = _text(200)
        return Reply(200, final.headers, final.body, interim=code)
    if code in (204, 304):
        return Reply(code)  # no body allowed
    reply = _text(code)
    extra: list[tuple[str, str]] = []
    if code in (301, 302, 303, 305, 307, 308):
        extra.append(("Location", "/redirect/1"))
    elif code == 401:
        extra.append(("WWW-Authenticate", 'Basic realm="Fake Realm"'))
    elif code == 407:
        extra.append(("Proxy-Authenticate", 'Basic realm="Fake Realm"'))
    elif code in (429, 503):
        extra.append(("Retry-After", "1"))
    return Reply(code, reply.headers + extra, reply.body)


def _text(code: int) -> Reply:
    body = f"{code} {reason(code)}\n".encode()
    return Reply(code, [("Content-Type", "text/plain; charset=utf-8")], body)


def _delay(text: str, info: _Info) -> Reply:
    seconds = _seconds(text, "delay")
    reply = _json(info.anything())
    return Reply(200, reply.headers, reply.body, delay=seconds)


def _drip(args: Mapping[str, list[str]]) -> Reply:
    numbytes = _int(_arg(args, "numbytes") or "10", "numbytes", 1, MAX_BODY)
    duration = _seconds(_arg(args, "duration") or "2", "duration")
    delay = _seconds(_arg(args, "delay") or "0", "delay")
    if duration + delay > MAX_DELAY:
        raise _BadParam(f"duration plus delay must be at most {MAX_DELAY:g} s")
    code = _int(_arg(args, "code") or "200", "code", 200, 599)
    if code in (204, 304):
        raise _BadParam(f"code {code} cannot have a body")
    headers = [("Content-Type", "application/octet-stream")]
    return Reply(code, headers, delay=delay, drip=Drip(numbytes, duration))


def _bytes(text: str, args: Mapping[str, list[str]]) -> Reply:
    n = _int(text, "byte count", 0, MAX_BODY)
    seed = _arg(args, "seed")
    rng = random.Random(None if seed is None else _int(seed, "seed", 0, 2**63 - 1))
    return Reply(200, [("Content-Type", "application/octet-stream")], rng.randbytes(n))


def _redirect(text: str, info: _Info) -> Reply:
    n = _int(text, "redirect count", 0, MAX_REDIRECTS)
    if n == 0:
        return _json(info.anything())
    # Relative, as go-httpbin's default: the client resolves it against the URL.
    return Reply(302, [("Location", f"/redirect/{n - 1}")])


def _gzip(info: _Info) -> Reply:
    data = {
        "gzipped": True,
        "headers": info.headers(),
        "method": info.method,
        "origin": info.origin,
    }
    plain = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    headers = [("Content-Type", _JSON), ("Content-Encoding", "gzip")]
    return Reply(200, headers, gzip.compress(plain, mtime=0))


def _response_headers(args: dict[str, list[str]]) -> Reply:
    fields: list[tuple[str, str]] = []
    for name, values in args.items():
        if not _TOKEN.fullmatch(name):
            raise _BadParam(f"not a header name: {name!r}")
        if name.lower() in _FRAMING:
            raise _BadParam(f"{name} is set by the server")
        for value in values:
            if _CONTROL.search(value):
                raise _BadParam(f"control character in the value of {name}")
            # On the wire as its UTF-8 bytes (obs-text), whatever the script.
            fields.append((name, value.encode().decode("latin-1")))
    if not any(name.lower() == "content-type" for name, _ in fields):
        fields.insert(0, ("Content-Type", _JSON))
    body = (json.dumps(args, indent=2, ensure_ascii=False) + "\n").encode()
    return Reply(200, fields, body)
