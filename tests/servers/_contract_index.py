"""Two doubles of the real index: one recording what reaches it, one without options.

``ContractIndex``: the servers' plumbing for sequences, keyword matches,
``types`` and ``lang`` is tested against this subclass: it answers every
query from the real index and puts fixed results first for a few queries
(a flag sequence, a keyword match, a French name), so the front ends' tests
do not depend on how the engine ranks.  It records the keyword arguments of
every call, to show what reaches the index, and takes three languages only.

``PlainIndex``: the real index with a ``query`` that takes neither
``types`` nor ``lang`` (an index of an older release, or another engine):
the servers must then refuse those parameters and the page not send them.
"""

from __future__ import annotations

from typing import Any

from awaitkit.find import CharIndex, Match, QueryResult

FLAG = Match.of("\U0001f1e7\U0001f1f7", "flag: Brazil")
FAMILY = Match.of(
    "\U0001f468\u200d\U0001f469\u200d\U0001f467", "family: man, woman, girl"
)
CRYING = Match.of("\U0001f622", "CRYING FACE", via="keyword")
FRENCH = {"\U0001f431": "tête de chat"}


class ContractIndex(CharIndex):
    """``CharIndex`` plus the keyword arguments and kinds of result to come."""

    def __init__(self, base: CharIndex) -> None:
        super().__init__(base.parts(), start=base.start, stop=base.stop)
        self.languages = ("en", "fr", "de")
        self.calls: list[dict[str, Any]] = []

    def query(
        self,
        text: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        types: tuple[str, ...] | None = None,
        lang: str | None = None,
    ) -> QueryResult:
        call: dict[str, Any] = {"text": text}
        if types is not None:
            call["types"] = types
        if lang is not None:
            call["lang"] = lang
        self.calls.append(call)
        words = text.lower().split()
        extra: list[Match] = []
        if words == ["flag", "brazil"]:
            extra.append(FLAG)
        if words[:1] == ["family"]:
            extra.append(FAMILY)
        if words == ["sad"]:
            extra.append(CRYING)
        fixed = {m.char for m in extra}
        found = super().query(text).matches
        matches = [*extra, *(m for m in found if m.char not in fixed)]
        if lang == "fr":
            matches = [
                Match(m.char, m.code, FRENCH.get(m.char, m.name), m.kind, m.via)
                for m in matches
            ]
        if types is not None:
            matches = [m for m in matches if m.kind in types]
        end = None if limit is None else offset + limit
        return QueryResult(len(matches), tuple(matches[offset:end]))


class PlainIndex(CharIndex):
    """The real index, queried without ``types``, ``lang`` or the query options."""

    def __init__(self, base: CharIndex) -> None:
        super().__init__(base.parts(), start=base.start, stop=base.stop)

    def query(  # type: ignore[override]  # fewer options, on purpose
        self, text: str, *, limit: int | None = None, offset: int = 0
    ) -> QueryResult:
        return super().query(text, limit=limit, offset=offset)
