"""What a batch is given: URLs, :class:`Job` s, and the shapes of input that carry them.

These types sit below both the engine (which reads them) and the fetch path
(which downloads one), so each of those imports them and neither imports
the other for them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Batched", "Item", "Job", "Source", "url_of"]


@dataclass(frozen=True, slots=True)
class Job:
    """One thing to download.

    ``name`` fixes the file name (sanitised anyway); otherwise it comes from
    the URL path.  With ``metadata_url``, a JSON document is fetched first and
    its ``name_field`` (spaces made ``_``, as in the book's flags3) plus the
    URL's extension names the file.  With ``sha256`` (64 lower-case hex
    digits), a body that does not hash to it is an ERROR and is not kept.
    ``headers`` (name, value pairs) go with this item's requests, after the
    batch's own.  ``refused`` marks an input that is not an item (a bad line
    of a JSON Lines file): the batch reports it as ERROR with that reason
    and fetches nothing.

    >>> Job.from_json({"url": "http://h/a", "headers": {"X-A": "1"}}).headers
    (('X-A', '1'),)
    """

    url: str
    name: str | None = None
    metadata_url: str | None = None
    name_field: str = "country"
    sha256: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    refused: str | None = None

    def __post_init__(self) -> None:
        if self.sha256 is not None:
            digest = self.sha256.lower()
            if len(digest) != 64 or digest.strip("0123456789abcdef"):
                raise ValueError(f"sha256 must be 64 hex digits, not {self.sha256!r}")
            object.__setattr__(self, "sha256", digest)
        if self.headers:
            object.__setattr__(self, "headers", _checked_headers(self.headers))

    @classmethod
    def from_json(cls, record: object) -> Job:
        """A job from its JSON form: ``{"url": ..., "name": ..., "headers": {...}, "sha256": ...}``.

        Only ``url`` is required; anything else (an unknown key, a wrong
        type, a header that could not be sent) is a :class:`ValueError`
        saying which.
        """
        if type(record) is not dict:
            raise ValueError("an item must be a JSON object")
        unknown = sorted(map(str, record.keys() - _JSON_KEYS))
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r:.40} (use {_KEYS_SHOWN})")
        url = record.get("url")
        if type(url) is not str or not url.strip():
            raise ValueError("'url' must be a non-empty string")
        if len(url) > _MAX_URL:
            raise ValueError(f"'url' is longer than {_MAX_URL} characters")
        name = record.get("name")
        if name is not None and (type(name) is not str or not name.strip()):
            raise ValueError("'name' must be a non-empty string")
        sha256 = record.get("sha256")
        if sha256 is not None and type(sha256) is not str:
            raise ValueError("'sha256' must be a string of 64 hex digits")
        headers = record.get("headers", {})
        if type(headers) is not dict:
            raise ValueError("'headers' must be an object of strings")
        pairs = []
        for key, value in headers.items():
            if type(value) is not str:
                raise ValueError(f"header {key!r:.40}: its value must be a string")
            pairs.append((key, value))
        return cls(url.strip(), name=name, sha256=sha256, headers=tuple(pairs))

    def to_json(self) -> dict[str, Any]:
        """The JSON form :meth:`from_json` reads (only the fields it carries)."""
        record: dict[str, Any] = {"url": self.url}
        if self.name is not None:
            record["name"] = self.name
        if self.headers:
            record["headers"] = dict(self.headers)
        if self.sha256 is not None:
            record["sha256"] = self.sha256
        return record


_JSON_KEYS = frozenset(("url", "name", "headers", "sha256"))
_KEYS_SHOWN = "url, name, headers, sha256"
_MAX_URL = 65536
_MAX_HEADERS = 100
_MAX_HEADER = 8192  # bytes of one "Name: value" line
# RFC 9110 token characters; a value may hold none of CR, LF or NUL.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\r\n\0]")
# Fields the client writes itself from the request: a second copy would
# contradict it (framing, the connection's fate, the host it addresses).
_OWN_FIELDS = frozenset(
    ("host", "content-length", "transfer-encoding", "connection", "range", "te")
)


def _checked_headers(
    headers: Iterable[tuple[str, str]] | Mapping[str, str],
) -> tuple[tuple[str, str], ...]:
    pairs = tuple(headers.items() if isinstance(headers, Mapping) else headers)
    if len(pairs) > _MAX_HEADERS:
        raise ValueError(f"more than {_MAX_HEADERS} headers")
    for name, value in pairs:
        if type(name) is not str or _TOKEN.fullmatch(name) is None:
            raise ValueError(f"header name {name!r:.40} is not a token")
        if type(value) is not str or _BAD_VALUE.search(value):
            raise ValueError(f"header {name}: its value holds CR, LF or NUL")
        if name.lower() in _OWN_FIELDS:
            raise ValueError(f"header {name} is the client's own to send")
        if len(name) + len(value) + 2 > _MAX_HEADER:
            raise ValueError(f"header {name} is longer than {_MAX_HEADER} bytes")
    return pairs


Item = str | Job
"""One input: a URL, or a :class:`Job` naming its file or its metadata."""


def url_of(item: Item) -> str:
    """The URL of an input item."""
    if type(item) is str:
        return item
    assert isinstance(item, Job)
    return item.url


class Batched:
    """Input that arrives in lists: ``Batched(async_iterable_of_lists)``.

    For a source read in blocks anyway (lines from a file or a pipe, read a
    thousand at a time in a thread), handing the blocks over whole spares
    the per-item async-generator step and lock that an async iterable of
    single items costs each worker.
    """

    def __init__(self, batches: AsyncIterable[Sequence[Item]]) -> None:
        self.batches = batches

    def __repr__(self) -> str:
        return f"<Batched {self.batches!r}>"


Source = Iterable[Item] | AsyncIterable[Item] | Batched
"""What the batch functions accept as input."""
