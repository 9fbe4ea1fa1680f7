"""The ``types`` and ``lang`` search parameters: what an index supports, and checks.

An index gains keyword arguments over time (``types=`` to choose kinds of
result, ``lang=`` to search emoji names in another language), so the servers
ask the index itself once, from its ``query`` signature, instead of assuming:
a parameter the index does not take is refused with a clear message rather
than passed and failing inside a worker thread.  Known languages are the
index's ``languages`` attribute when it has one, else those of the ``emoji``
package, whose data the emoji names come from.  Parsing is pure and shared
by the fast path and the FastAPI route, so both give the same answers.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from awaitkit.find import CharIndex

__all__ = ["SearchOptions"]

# The result kinds of awaitkit.find (a private module there; a test keeps
# the two equal).
_KINDS = ("char", "sequence")
_MAX_TYPES = 8  # "char,sequence" twice over is already more than anyone needs


def _accepts(index: object) -> set[str]:
    query = getattr(index, "query", None)
    try:
        parameters = inspect.signature(query).parameters.values()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return {"types", "lang"}
    return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


class SearchOptions:
    """What the index behind a server takes besides ``limit``/``offset``.

    Example use::

        options = SearchOptions.of(index)
        options.parse_types("char,sequence")   # ("char", "sequence")
        options.parse_lang("fr")               # "fr", or ValueError with the reason
    """

    __slots__ = ("has_lang", "has_types", "languages")

    def __init__(
        self, *, has_types: bool, has_lang: bool, languages: frozenset[str]
    ) -> None:
        self.has_types = has_types
        self.has_lang = has_lang
        self.languages = languages if has_lang else frozenset()

    def __repr__(self) -> str:
        langs = ",".join(sorted(self.languages)) or "-"
        return f"<SearchOptions types={self.has_types} lang={langs}>"

    @classmethod
    def of(cls, index: CharIndex) -> SearchOptions:
        """Ask ``index`` (its ``query`` signature) what it supports."""
        accepts = _accepts(index)
        languages: frozenset[str] = frozenset()
        if "lang" in accepts:
            named = getattr(index, "languages", None)
            if named is None:
                import emoji

                named = emoji.LANGUAGES
            languages = frozenset(str(code).lower() for code in named)
        return cls(
            has_types="types" in accepts,
            has_lang="lang" in accepts,
            languages=languages,
        )

    def parse_types(self, text: str) -> tuple[str, ...]:
        """``"sequence,char"`` -> ``("sequence", "char")``; ``ValueError`` when bad."""
        if not self.has_types:
            raise ValueError("types: this server's index does not support types")
        wanted = [part.strip() for part in text.split(",")]
        if len(wanted) > _MAX_TYPES:
            raise ValueError(f"types: at most {_MAX_TYPES} comma-separated types")
        for kind in wanted:
            if kind not in _KINDS:
                shown = kind if len(kind) <= 20 else kind[:20] + "..."
                raise ValueError(
                    f"types: unknown type {shown!r}; known: {', '.join(_KINDS)}"
                )
        return tuple(dict.fromkeys(wanted))

    def parse_lang(self, text: str) -> str:
        """A known language code, lower-cased; ``ValueError`` when not."""
        if not self.has_lang:
            raise ValueError("lang: this server's index does not support lang")
        code = text.strip().lower()
        if code not in self.languages:
            shown = code if len(code) <= 20 else code[:20] + "..."
            raise ValueError(
                f"lang: unknown language {shown!r}; known: "
                + ", ".join(sorted(self.languages))
            )
        return code
