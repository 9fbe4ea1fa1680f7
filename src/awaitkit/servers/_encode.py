"""JSON for search results, assembled from pre-serialised per-character fragments.

Serialising 3,358 results through pydantic and ``json.dumps`` costs ~10 ms
per request; a character's JSON object never changes, so each one is
encoded once, cached as bytes, and a response is a join of cached fragments
(~0.2 ms for the same list).  The bytes are exactly what FastAPI's
``JSONResponse`` would produce for ``[{"char", "code", "name", "kind", "via"}]``
(compact separators, UTF-8, no ASCII escaping), which a test checks.

The cache is keyed on what varies between matches of the same ``char``:
``name`` (a language other than English names an emoji otherwise) and
``via`` (found by name or by keyword).  ``code`` and ``kind`` follow from
``char``.  That three-part key costs more than looking up ``char`` alone
(about twice the join time for 4,500 results), so :class:`BodyMemo` keeps
the finished body of recent results: a page served from the search cache is
the same :class:`~awaitkit.find.QueryResult` object, and its body is then
not joined again.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from awaitkit.find import Match, QueryResult

__all__ = ["BodyMemo", "FragmentCache"]

# Unicode has ~150,000 named characters; the cap only matters against a
# client pasting arbitrary unnamed code points to grow the cache.
_MAX_ENTRIES = 300_000


def encode_match(match: Match) -> bytes:
    """One match as a compact JSON object, UTF-8 encoded."""
    obj = {
        "char": match.char,
        "code": match.code,
        "name": match.name,
        "kind": match.kind,
        "via": match.via,
    }
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate (a query like U+D800) cannot be UTF-8: escape it instead.
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":")).encode("ascii")


class FragmentCache:
    """Encodes lists of matches as a JSON array, reusing each character's bytes.

    Example use::

        cache = FragmentCache()
        body = cache.encode(index.query("cat face").matches)   # b'[{"char":"🐱",...}]'
    """

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._fragments: dict[tuple[str, str, str], bytes] = {}

    def __repr__(self) -> str:
        return f"<FragmentCache entries={len(self._fragments)}>"

    def __len__(self) -> int:
        return len(self._fragments)

    def encode(self, matches: Iterable[Match]) -> bytes:
        """``matches`` as a JSON array of ``{"char", "code", "name", "kind", "via"}``."""
        fragments = self._fragments
        parts: list[bytes] = []
        append = parts.append
        for match in matches:
            key = (match.char, match.name, match.via)
            fragment = fragments.get(key)
            if fragment is None:
                fragment = encode_match(match)
                if len(fragments) < self.max_entries:
                    fragments[key] = fragment
            append(fragment)
        return b"[" + b",".join(parts) + b"]"


class BodyMemo:
    """The encoded bodies of the last results, by the identity of the result.

    An entry holds the result itself, so its ``id()`` cannot be reused while
    the entry lives; a look-up checks ``is``.  Bounded in entries and bytes.

    Example use::

        memo = BodyMemo()
        body = memo.get(result)
        if body is None:
            body = memo.put(result, fragments.encode(result.matches))
    """

    def __init__(self, max_entries: int = 1024, max_bytes: int = 32 << 20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[int, tuple[QueryResult, bytes]] = OrderedDict()
        self._bytes = 0

    def __repr__(self) -> str:
        return f"<BodyMemo entries={len(self._bodies)} bytes={self._bytes}>"

    def __len__(self) -> int:
        return len(self._bodies)

    def get(self, result: QueryResult) -> bytes | None:
        """The body remembered for this very ``result`` object, or ``None``."""
        entry = self._bodies.get(id(result))
        if entry is None or entry[0] is not result:
            return None
        return entry[1]

    def put(self, result: QueryResult, body: bytes) -> bytes:
        """Remember ``body`` for ``result`` (unless it is too big); returns ``body``."""
        if len(body) > self.max_bytes // 8:
            return body
        key = id(result)
        old = self._bodies.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1])
        self._bodies[key] = (result, body)
        self._bytes += len(body)
        while len(self._bodies) > self.max_entries or self._bytes > self.max_bytes:
            _, (_, dropped) = self._bodies.popitem(last=False)
            self._bytes -= len(dropped)
        return body
