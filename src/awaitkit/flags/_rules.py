"""Fault rules: which requests get which fault (sans-I/O: fed requests, gives actions).

A :class:`Rule` matches on the method, the path (a glob, or a regex after
``re:``), request headers and the **attempt**: the Nth time one client asks
for one path (the client is the ``X-Client-Id`` header, else the peer
address).  It then applies a status (with body and headers), a delay or
jitter, a reset or a clean close after N body bytes, a stall, a bandwidth
limit, or a **schedule** by attempt: ``["503", "reset@1000", "200"]`` gives
attempt 1 a 503, attempt 2 a reset after 1000 body bytes, and attempt 3 and
every later one the last entry (here the normal answer).

A :class:`RuleSet` keeps rules in order (the first that matches wins) and
the attempt counters.  Jitter is drawn from a keyed hash of (seed, path,
attempt), never from a generator shared in arrival order, so the same
requests get the same outcomes at any concurrency.  Rules may be added and
removed while a server runs (from its event loop: nothing here locks).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from awaitkit.core.errors import UsageError
from awaitkit.flags._policy import Action, Fault, draw, parse_delay, seed_key

__all__ = ["Action", "Rule", "RuleError", "RuleSet", "request_path"]

MAX_RULES = 10_000
MAX_PATTERN = 1024  # characters of a glob or regex
MAX_REGEX_SUBJECT = 1024  # longer paths never match a regex rule
MAX_UNBOUNDED = 4  # * + {n,} in one regex
MAX_SCHEDULE = 1000
MAX_BODY = 1024 * 1024
MAX_HEADERS = 32
MAX_ATTEMPT = 1_000_000
MAX_COUNTERS = 100_000  # (client, path) pairs remembered; the oldest half go first
_PATH_CACHE = 1024  # paths whose matching rules are remembered
_CACHED_PATH = 512  # longer paths are matched afresh each time

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
# Set by the server itself: framing (a rule cannot break it by accident), Server, Date.
_FRAMING = {"content-length", "transfer-encoding", "connection", "server", "date"}
_GLOB_CHARS = frozenset("*?[")


class RuleError(UsageError):
    """A bad rule; the message names the field (and the file and line, if any)."""


def request_path(target: bytes) -> str:
    """The path a rule matches for a request target: no query, percent-decoded.

    Decoded as UTF-8 with ``surrogateescape`` (odd bytes survive, as in
    ``os.fsdecode``); an absolute-form target keeps only its path.

    >>> request_path(b"/flags/br/br.gif?x=1")
    '/flags/br/br.gif'
    """
    if not target.startswith(b"/"):
        low = target[:8].lower()
        if low.startswith((b"http://", b"https://")):
            after = target.split(b"//", 1)[1]
            slash = after.find(b"/")
            target = after[slash:] if slash >= 0 else b"/"
    path = target.split(b"?", 1)[0].split(b"#", 1)[0]
    if b"%" in path:
        path = unquote_to_bytes(path)
    return path.decode("utf-8", "surrogateescape")


# -- validation helpers (each names the field) --------------------------------


def _fail(where: str, name: str, why: str) -> RuleError:
    return RuleError(f"{where}: {name}: {why}" if where else f"{name}: {why}")


def _int(value: object, where: str, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, name, f"must be an integer, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise _fail(where, name, f"must be {lo}..{hi}, not {value}")
    return value


def _seconds(value: object, where: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, name, f"must be a number, not {type(value).__name__}")
    if not (math.isfinite(value) and 0 < value <= 3600):
        raise _fail(where, name, f"must be > 0 and <= 3600, not {value}")
    return float(value)


def _str(value: object, where: str, name: str, limit: int) -> str:
    if not isinstance(value, str):
        raise _fail(where, name, f"must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise _fail(where, name, f"longer than {limit} characters")
    return value


def _delay(value: object, where: str, name: str = "delay") -> tuple[float, float]:
    """``0.5``, ``"0.5"``, ``"0.1-2"`` or ``[0.1, 2]`` -> (min, max) seconds."""
    try:
        if isinstance(value, str):
            return parse_delay(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return parse_delay(repr(float(value)))
        if (
            isinstance(value, list | tuple)
            and len(value) == 2
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value
            )
        ):
            return parse_delay(f"{float(value[0])!r}-{float(value[1])!r}")
    except UsageError as exc:
        raise _fail(where, name, str(exc)) from None
    raise _fail(where, name, f'use SECONDS, "MIN-MAX" or [MIN, MAX], not {value!r}')


def _headers(value: object, where: str, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _fail(where, name, f"must be a table of NAME = VALUE, not {value!r}")
    if len(value) > MAX_HEADERS:
        raise _fail(where, name, f"more than {MAX_HEADERS} headers")
    out: dict[str, str] = {}
    for key, val in value.items():
        if not isinstance(key, str) or not _TOKEN.fullmatch(key):
            raise _fail(where, name, f"bad header name {key!r}")
        text = _str(val, where, f"{name}.{key}", 8192)
        if any(c in text for c in "\r\n\x00"):
            raise _fail(where, f"{name}.{key}", "CR, LF or NUL in the value")
        out[key] = text
    return out


def _attempts(value: object, where: str) -> frozenset[int] | None:
    """``2``, ``[1, 2]``, ``"1-3"`` -> the attempt numbers (1-based)."""
    if value is None:
        return None
    name = "attempts"
    if isinstance(value, str):
        lo_text, sep, hi_text = value.partition("-")
        try:
            lo = int(lo_text)
            hi = int(hi_text) if sep else lo
        except ValueError:
            raise _fail(
                where, name, f'use N, "MIN-MAX" or a list, not {value!r}'
            ) from None
        if not 1 <= lo <= hi <= MAX_ATTEMPT or hi - lo >= 10_000:
            raise _fail(
                where, name, f"bad range {value!r} (1..{MAX_ATTEMPT}, 10000 wide)"
            )
        return frozenset(range(lo, hi + 1))
    items = value if isinstance(value, list | tuple | set | frozenset) else [value]
    if not items or len(items) > 10_000:
        raise _fail(where, name, "must list 1 to 10000 attempt numbers")
    return frozenset(_int(n, where, name, 1, MAX_ATTEMPT) for n in items)


# Nested quantifiers such as (a+)+ or (x*)* backtrack exponentially in `re`
# (which has no timeout), so a regex rule may not put a repeated part inside
# a repeated group; backreferences are refused for the same reason.
_QUANT = re.compile(r"[*+]|\{\d*,\d*\}|\{\d+\}")


def _check_regex(pattern: str, where: str) -> re.Pattern[str]:
    name = "path"
    if len(pattern) > MAX_PATTERN:
        raise _fail(where, name, f"regex longer than {MAX_PATTERN} characters")
    try:
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise _fail(where, name, f"bad regex: {exc}") from None
    if re.search(r"\\[1-9]|\(\?P=", pattern):
        raise _fail(where, name, "backreferences are not allowed")
    # Scan groups: a group holding a quantifier or an alternation may not
    # itself be quantified ((a|aa)+ is as bad as (a+)+).
    stack: list[bool] = []  # per open group: does it hold a quantifier?
    unbounded = 0
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
            elif pattern[i + 1 : i + 3] == "^]":
                i += 2
        elif c == "(":
            stack.append(False)
        elif c == ")" and stack:
            inner = stack.pop()
            after = pattern[i + 1 :]
            if inner and _QUANT.match(after) is not None:
                raise _fail(
                    where,
                    name,
                    "a repeated group holding a repeat or | (like (a+)+) can take forever",
                )
            if inner and stack:
                stack[-1] = True
        elif c == "|" and stack:
            stack[-1] = True
        elif (found := _QUANT.match(pattern, i)) is not None:
            if found.group() != "{" and not found.group()[1:-1].isdigit():
                unbounded += 1
            if stack:
                stack[-1] = True
        i += 1
    if unbounded > MAX_UNBOUNDED:
        raise _fail(where, name, f"more than {MAX_UNBOUNDED} unbounded repeats")
    return compiled


def _path_matcher(pattern: str | None, where: str) -> Callable[[str], bool] | None:
    if pattern is None:
        return None
    if pattern.startswith("re:"):
        search = _check_regex(pattern[3:], where).search
        # Long paths never match a regex: bounds the backtracking of a.*b.*c.
        return lambda path: len(path) <= MAX_REGEX_SUBJECT and search(path) is not None
    return _glob(pattern, where, "path")


def _glob(pattern: str, where: str, name: str) -> Callable[[str], bool]:
    """A matcher for a glob (``*`` any characters, ``/`` too; ``?``; ``[...]``)."""
    if len(pattern) > MAX_PATTERN:
        raise _fail(where, name, f"glob longer than {MAX_PATTERN} characters")
    if not _GLOB_CHARS.intersection(pattern):
        return pattern.__eq__
    # fnmatch's regexes do not backtrack exponentially (since Python 3.9).
    try:
        match = re.compile(fnmatch.translate(pattern)).match
    except (re.error, RecursionError, OverflowError) as exc:
        raise _fail(where, name, f"bad glob: {exc}") from None
    return lambda text: match(text) is not None


# -- actions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    """One action before its jitter is drawn (a rule's, or one schedule entry)."""

    fault: Fault = Fault.NONE
    status: int | None = None
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    delay: tuple[float, float] = (0.0, 0.0)
    at: int | None = None
    rate: int | None = None
    stall_timeout: float | None = None
    retry_after: int | None = None

    def realise(self, key: bytes, path: str, attempt: int, rule: str) -> Action:
        lo, hi = self.delay
        delay = lo
        if hi > lo:
            delay = lo + (hi - lo) * draw(key, path, attempt)[1]
        return self.fixed(delay, rule)

    def fixed(self, delay: float, rule: str) -> Action:
        """The action with this ``delay`` (the same each time when there is no jitter)."""
        return Action(
            delay,
            self.fault,
            self.status,
            self.body,
            self.headers,
            self.at,
            self.rate,
            self.stall_timeout,
            self.retry_after,
            rule,
        )


_BODY_FAULTS = {"reset": Fault.RESET, "close": Fault.TRUNCATE, "stall": Fault.STALL}
_ACTION_FIELDS = (
    "status",
    "body",
    "response_headers",
    "retry_after",
    "delay",
    "reset",
    "close",
    "stall",
    "stall_timeout",
    "rate",
)


def _step(fields: Mapping[str, Any], where: str, base: _Step | None = None) -> _Step:
    """A step from action fields (already type-checked by name below)."""
    base = base or _Step()
    given = [name for name in ("status", *_BODY_FAULTS) if fields.get(name) is not None]
    if len(given) > 1:
        raise _fail(where, given[1], f"cannot be combined with {given[0]}")
    fault, status, at = base.fault, base.status, base.at
    if given:
        kind = given[0]
        if kind == "status":
            status = _int(fields["status"], where, "status", 200, 599)
            fault = Fault.STATUS
            if status == 429:
                fault = Fault.RATE_LIMIT
            elif status == 503:
                fault = Fault.UNAVAILABLE
        else:
            fault = _BODY_FAULTS[kind]
            value = fields[kind]
            # `true` (or "half") is half the body, as with the global rates.
            at = (
                None
                if value is True or value == "half"
                else _int(value, where, kind, 0, 2**40)
            )
    body = base.body
    if fields.get("body") is not None:
        text = _str(fields["body"], where, "body", MAX_BODY)
        body = text.encode("utf-8", "surrogateescape")
        if status is None:
            raise _fail(where, "body", "needs a status")
    headers = base.headers
    if fields.get("response_headers") is not None:
        extra = _headers(fields["response_headers"], where, "response_headers")
        framing = _FRAMING.intersection(k.lower() for k in extra)
        if framing:
            raise _fail(where, "response_headers", f"may not set {framing.pop()}")
        for key, value in extra.items():
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                raise _fail(
                    where, f"response_headers.{key}", "not Latin-1 (HTTP header bytes)"
                ) from None
        headers = tuple(extra.items())
    retry_after = base.retry_after
    if fields.get("retry_after") is not None:
        retry_after = _int(fields["retry_after"], where, "retry_after", 0, 86_400)
    delay = base.delay
    if fields.get("delay") is not None:
        delay = _delay(fields["delay"], where)
    rate = base.rate
    if fields.get("rate") is not None:
        rate = _int(fields["rate"], where, "rate", 1, 10**9)
    stall_timeout = base.stall_timeout
    if fields.get("stall_timeout") is not None:
        stall_timeout = _seconds(fields["stall_timeout"], where, "stall_timeout")
    if fault is Fault.NONE and rate is not None:
        fault = Fault.THROTTLE
    return _Step(
        fault, status, body, headers, delay, at, rate, stall_timeout, retry_after
    )


_WORD = re.compile(r"(reset|close|stall|delay|rate)(?:@(.+))?")


def _parse_entry(entry: object, where: str, base: _Step) -> _Step:
    """One schedule entry: ``"503"``, ``"reset@1000"``, ``"delay@0.5+503"``, a table."""
    if isinstance(entry, Mapping):
        unknown = sorted(str(k) for k in set(entry) - set(_ACTION_FIELDS))
        if unknown:
            raise _fail(where, "schedule", f"unknown field(s) {', '.join(unknown)}")
        return _step(entry, where, _plain(base))
    if isinstance(entry, int) and not isinstance(entry, bool):
        entry = str(entry)
    if not isinstance(entry, str) or len(entry) > 200:
        raise _fail(where, "schedule", f"bad entry {entry!r}")
    fields: dict[str, Any] = {}
    for part in entry.split("+"):
        part = part.strip().lower()
        if part in ("ok", "pass", "200"):
            continue  # the normal answer
        found = _WORD.fullmatch(part)
        name = "status" if part.isascii() and part.isdigit() else found and found[1]
        if name in fields:
            raise _fail(where, "schedule", f"{entry!r} says {name} twice")
        if name == "status":
            fields["status"] = int(part)
            continue
        if found is None:
            raise _fail(
                where,
                "schedule",
                f"bad entry {entry!r}: use STATUS, ok, reset@N, close@N, "
                "stall@N, delay@S[-S], rate@BPS, joined by +",
            )
        word, arg = found.groups()
        if word in _BODY_FAULTS:
            fields[word] = True if arg is None else _int_text(arg, where, word)
        elif arg is None:
            raise _fail(where, "schedule", f"{word} needs @VALUE in {entry!r}")
        elif word == "delay":
            fields["delay"] = arg
        else:
            fields["rate"] = _int_text(arg, where, "rate")
    # "200"/"ok" (no fields): the normal answer, with the rule's delay,
    # headers and rate.
    return _step(fields, where, _plain(base))


def _plain(base: _Step) -> _Step:
    """``base`` without its fault: what a schedule entry starts from."""
    return dataclasses.replace(base, fault=Fault.NONE, status=None, at=None)


def _int_text(text: str, where: str, name: str) -> int:
    if not text.isdigit() or len(text) > 15:
        raise _fail(where, name, f"must be a whole number, not {text!r}")
    return int(text)


# -- rules ---------------------------------------------------------------------

_MATCH_FIELDS = ("id", "method", "path", "headers", "attempts")
_ALL_FIELDS = frozenset((*_MATCH_FIELDS, *_ACTION_FIELDS, "schedule"))


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One rule: what it matches, and the action (or schedule of actions) it applies.

    Match fields (``None``/empty: anything): ``method`` (``"GET"``), ``path``
    (a glob where ``*`` also crosses ``/``, or ``"re:REGEX"`` searched in the
    decoded path), ``headers`` (lower-cased name -> glob of the value; all
    must match), ``attempts`` (1-based attempt numbers of (client, path)).

    Action fields: ``status`` 200..599 (429 and 503 send ``Retry-After``,
    ``retry_after`` seconds, default 1) with ``body`` (default
    ``"STATUS REASON\\n"``), ``response_headers`` added to whatever answer
    goes out (replacing the server's of the same name),
    ``delay`` (min, max) seconds, ``reset``/``close``/``stall`` after that
    many body bytes (``None`` in ``at``: half), ``stall_timeout``, ``rate``
    bytes/s.  ``schedule`` lists actions by attempt; after its end the last
    entry repeats.  A rule with no action is a pass: the normal answer,
    and no later rule is tried.

    >>> rule = Rule.from_dict({"path": "/x/*", "schedule": ["503", "reset@10", "200"]})
    >>> [rule.action(b"k", "/x/1", n).fault.value for n in (1, 2, 3, 4)]
    ['unavailable', 'reset', 'none', 'none']
    """

    id: str = ""
    method: str | None = None
    path: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    attempts: frozenset[int] | None = None
    status: int | None = None
    body: str | None = None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    delay: tuple[float, float] | None = None
    reset: int | bool | None = None
    close: int | bool | None = None
    stall: int | bool | None = None
    stall_timeout: float | None = None
    rate: int | None = None
    schedule: tuple[str | Mapping[str, Any], ...] = ()
    # Derived in __post_init__.
    _path_match: Callable[[str], bool] | None = field(
        default=None, init=False, repr=False
    )
    _header_globs: tuple[tuple[str, Callable[[str], bool]], ...] = field(
        default=(), init=False, repr=False
    )
    _steps: tuple[_Step, ...] = field(default=(), init=False, repr=False)
    # Per step, its action when it has no jitter (built once, not per request).
    _fixed: tuple[Action | None, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        where = f"rule {self.id}" if self.id else ""
        set_ = object.__setattr__
        if self.id and (not isinstance(self.id, str) or not _ID.fullmatch(self.id)):
            raise _fail("", "id", f"use 1-64 of A-Z a-z 0-9 . _ -, not {self.id!r}")
        if self.method is not None:
            method = _str(self.method, where, "method", 32).upper()
            if not _TOKEN.fullmatch(method):
                raise _fail(where, "method", f"bad method {self.method!r}")
            set_(self, "method", method)
        if self.path is not None:
            _str(self.path, where, "path", MAX_PATTERN + 3)
        set_(self, "_path_match", _path_matcher(self.path, where))
        headers = _headers(self.headers, where, "headers")
        globs = []
        for name, value in headers.items():
            globs.append((name.lower(), _glob(value, where, f"headers.{name}")))
        set_(self, "headers", {k.lower(): v for k, v in headers.items()})
        set_(self, "_header_globs", tuple(globs))
        set_(self, "attempts", _attempts(self.attempts, where))
        fields = {name: getattr(self, name) for name in _ACTION_FIELDS}
        fields["response_headers"] = self.response_headers or None
        if self.delay is not None:
            delay = _delay(self.delay, where)
            set_(self, "delay", delay)
            fields["delay"] = list(delay)
        if self.schedule:
            if isinstance(self.schedule, str | bytes) or not isinstance(
                self.schedule, Iterable
            ):
                raise _fail(where, "schedule", "must be a list of entries")
            entries = tuple(self.schedule)
            if len(entries) > MAX_SCHEDULE:
                raise _fail(where, "schedule", f"more than {MAX_SCHEDULE} entries")
            clash = [
                n for n in ("status", "body", *_BODY_FAULTS) if fields[n] is not None
            ]
            if clash:
                raise _fail(where, clash[0], "put it in the schedule entries instead")
            base = _step(fields, where)
            steps = tuple(
                _parse_entry(e, f"{where} schedule[{i}]".strip(), base)
                for i, e in enumerate(entries)
            )
            set_(self, "schedule", entries)
        else:
            steps = (_step(fields, where),)
        set_(self, "_steps", steps)
        set_(
            self,
            "_fixed",
            tuple(
                st.fixed(st.delay[0], self.id) if st.delay[0] == st.delay[1] else None
                for st in steps
            ),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, where: str = "") -> Rule:
        """A rule from a table (a rule file's ``[[rule]]``, a JSON object).

        ``where`` prefixes error messages (``"rules.toml line 7"``).
        """
        if not isinstance(data, Mapping):
            raise RuleError(f"{where or 'rule'}: must be a table, not {data!r}")
        unknown = sorted(str(k) for k in set(data) - _ALL_FIELDS)
        if unknown:
            raise _fail(where, "unknown field(s)", ", ".join(unknown))
        kwargs: dict[str, Any] = dict(data)
        if "delay" in kwargs:
            kwargs["delay"] = _delay(kwargs["delay"], where)
        if "schedule" in kwargs:
            sched = kwargs["schedule"]
            if not isinstance(sched, list | tuple):
                raise _fail(where, "schedule", "must be a list of entries")
            kwargs["schedule"] = tuple(sched)
        for name in ("headers", "response_headers"):
            if kwargs.get(name) is None:
                kwargs.pop(name, None)
            elif not isinstance(kwargs[name], Mapping):
                raise _fail(where, name, f"must be a table, not {kwargs[name]!r}")
        if "id" in kwargs and not isinstance(kwargs["id"], str):
            raise _fail(where, "id", f"must be a string, not {kwargs['id']!r}")
        try:
            return cls(**kwargs)
        except RuleError as exc:
            if where:
                raise RuleError(f"{where}: {exc}") from None
            raise

    def to_dict(self) -> dict[str, object]:
        """The rule as JSON-able data; ``Rule.from_dict`` gives it back."""
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if value is None or value == () or value == {} or value == "":
                continue
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = [dict(v) if isinstance(v, Mapping) else v for v in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out

    def matches(
        self, method: str, path: str, headers: Mapping[str, str], attempt: int
    ) -> bool:
        """True when the request matches every match field (header names any case)."""
        if self.method is not None and self.method != method:
            return False
        if self._path_match is not None and not self._path_match(path):
            return False
        if self.attempts is not None and attempt not in self.attempts:
            return False
        if not self._header_globs:
            return True
        return self._headers_match({k.lower(): v for k, v in headers.items()})

    def _headers_match(self, headers: Mapping[str, str]) -> bool:
        """``headers`` has lower-case names (as the server's parser gives them)."""
        for name, match in self._header_globs:
            value = headers.get(name)
            if value is None or not match(value):
                return False
        return True

    def action(self, key: bytes, path: str, attempt: int) -> Action:
        """The action for ``attempt`` (past the schedule's end: its last entry)."""
        steps = self._steps
        i = min(attempt, len(steps)) - 1 if attempt >= 1 else 0
        fixed = self._fixed[i]
        if fixed is not None:
            return fixed
        return steps[i].realise(key, path, attempt, self.id)


_Candidate = tuple[
    Rule,
    str | None,
    frozenset[int] | None,
    tuple[tuple[str, Callable[[str], bool]], ...],
]
_Block = tuple[str | None, tuple[_Candidate, ...]]


def _counter_key(client: str, path: str) -> tuple[str, str]:
    """The counter's key: long ids and paths by digest, so memory stays bounded."""
    if len(client) + len(path) <= _CACHED_PATH:
        return (client, path)
    data = f"{client}\x00{path}".encode("utf-8", "surrogatepass")
    return ("", hashlib.blake2b(data, digest_size=16).hexdigest())


class RuleSet:
    """Rules in order (the first match wins) and the attempt counters.

    ``seed`` fixes the jitter of delays (and, in a server, the global rates'
    draws); without one, each RuleSet draws a random key.  ``subscribe``
    registers a callback run after every change (a server uses it to leave
    its fast path while rules are loaded).
    """

    def __init__(
        self,
        rules: Iterable[Rule | Mapping[str, object]] = (),
        *,
        seed: int | None = None,
    ) -> None:
        self._rules: list[Rule] = []
        self._ids = itertools.count(1)
        self._attempts: dict[tuple[str, str], int] = {}
        self._by_path: dict[str, tuple[_Block, ...]] = {}
        self._listeners: list[Callable[[], None]] = []
        self.seed = seed
        self.key = seed_key(seed)
        for rule in rules:
            self.add(rule)

    def __len__(self) -> int:
        return len(self._rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def __repr__(self) -> str:
        return f"<RuleSet {len(self._rules)} rules>"

    def reseed(self, seed: int | None) -> None:
        """Use ``seed`` for the draws from now on."""
        self.seed = seed
        self.key = seed_key(seed)

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each add, remove or clear."""
        self._listeners.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback`` (a server that stopped using this set)."""
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _changed(self) -> None:
        self._by_path.clear()
        for callback in self._listeners:
            callback()

    def add(self, rule: Rule | Mapping[str, object]) -> Rule:
        """Append ``rule`` (a Rule or its dict); give it an id if it has none."""
        if not isinstance(rule, Rule):
            rule = Rule.from_dict(rule)
        if len(self._rules) >= MAX_RULES:
            raise RuleError(f"more than {MAX_RULES} rules")
        taken = {r.id for r in self._rules}
        if not rule.id:
            new_id = f"r{next(self._ids)}"
            while new_id in taken:
                new_id = f"r{next(self._ids)}"
            rule = dataclasses.replace(rule, id=new_id)
        elif rule.id in taken:
            raise RuleError(f"rule {rule.id}: id: already in use")
        self._rules.append(rule)
        self._changed()
        return rule

    def remove(self, rule_id: str) -> bool:
        """Remove the rule with ``rule_id``; False when there is none."""
        for i, rule in enumerate(self._rules):
            if rule.id == rule_id:
                del self._rules[i]
                self._changed()
                return True
        return False

    def rules(self) -> list[Rule]:
        """The rules, in order (a copy)."""
        return list(self._rules)

    def clear(self) -> None:
        """Remove every rule (the attempt counters stay)."""
        self._rules.clear()
        self._changed()

    def reset_attempts(self) -> None:
        """Forget every attempt counter: the next request is attempt 1 again."""
        self._attempts.clear()

    def count(self, client: str, path: str) -> int:
        """Count one more request of ``client`` for ``path``; its attempt number."""
        counters = self._attempts
        key = _counter_key(client, path)
        n = counters.get(key, 0) + 1
        if n == 1 and len(counters) >= MAX_COUNTERS:
            # Bounded memory against clients that make up paths: forget the
            # oldest half (dicts keep insertion order).
            for old in list(itertools.islice(counters, MAX_COUNTERS // 2)):
                del counters[old]
        counters[key] = n
        return n

    def attempts_of(self, client: str, path: str) -> int:
        """How many requests ``client`` made for ``path`` so far (not counting one)."""
        return self._attempts.get(_counter_key(client, path), 0)

    def decide(
        self,
        client: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        *,
        attempt: int | None = None,
    ) -> Action | None:
        """The action of the first rule the request matches; ``None``: none does.

        Counts the attempt of (``client``, ``path``) unless the caller did
        and passes ``attempt``.  ``headers`` names must be lower-case (as the
        server's parser gives them): a per-request copy would cost more than
        all the matching.
        """
        if attempt is None:
            attempt = self.count(client, path)
        blocks = self._by_path.get(path)
        if blocks is None:
            blocks = self._blocks(path)
            if len(path) <= _CACHED_PATH:
                if len(self._by_path) >= _PATH_CACHE:
                    self._by_path.clear()
                self._by_path[path] = blocks
        for needed, members in blocks:
            if needed is not None and needed not in headers:
                continue  # every rule of the block needs a header this lacks
            for rule, rule_method, attempts, globs in members:
                if rule_method is not None and rule_method != method:
                    continue
                if attempts is not None and attempt not in attempts:
                    continue
                if globs:
                    for name, match in globs:
                        value = headers.get(name)
                        if value is None or not match(value):
                            break
                    else:
                        return rule.action(self.key, path, attempt)
                    continue
                return rule.action(self.key, path, attempt)
        return None

    def _blocks(self, path: str) -> tuple[_Block, ...]:
        """The rules whose path matches ``path``, in order, in blocks.

        A block is a run of rules that all need the same first header (or
        none): a request without it skips the whole run at once.  Each rule
        comes with its other match fields unpacked, so the per-request loop
        looks up no attributes.
        """
        blocks: list[tuple[str | None, list[_Candidate]]] = []
        for r in self._rules:
            if r._path_match is not None and not r._path_match(path):
                continue
            globs = r._header_globs
            needed = globs[0][0] if globs else None
            if not blocks or blocks[-1][0] != needed:
                blocks.append((needed, []))
            blocks[-1][1].append((r, r.method, r.attempts, globs))
        return tuple((needed, tuple(members)) for needed, members in blocks)
