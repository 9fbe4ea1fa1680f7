"""Identify the characters of a text, and decode bytes given in hex.

:func:`identify` splits text into units and describes each: an emoji
sequence (a flag, a ZWJ family, a keycap, a skin-tone variant, an emoji with
its variation selector) is one unit, found with the ``emoji`` package's
data; every other code point is a unit of its own.  Combining marks are
listed separately from their base on purpose: this is a hexdump for text,
and "e" + U+0301 must show as two code points where "é" shows as one.

Memory stays bounded on large input: the text is scanned for emoji in
pieces (cut at whitespace where the piece has any), rows are yielded one at
a time, and the properties of recently seen code points are remembered in a
bounded table, since real text repeats its characters.
"""

from __future__ import annotations

import html.entities
from collections.abc import Iterator
from dataclasses import dataclass, field

from awaitkit.core.errors import QueryError
from awaitkit.find import _props
from awaitkit.find._labels import code_label

__all__ = ["MAX_HEX_CHARS", "CharProperties", "from_bytes", "identify"]

# A piece of text scanned for emoji at once; a sequence cut at a piece's end
# (only where 16 Ki characters hold no whitespace) shows as its code points.
_PIECE = 16384
_CACHE_SIZE = 4096
MAX_HEX_CHARS = 1_000_000  # 500 kB of bytes: a paste, not a file
_ENCODINGS = {
    "utf8": "utf-8",
    "utf16le": "utf-16-le",
    "utf16be": "utf-16-be",
    "utf32le": "utf-32-le",
    "utf32be": "utf-32-be",
}


@dataclass(frozen=True, slots=True)
class CharProperties:
    """One unit of an identified text: a code point or an emoji sequence.

    ``name`` is the Unicode name, a code point label (``<control-0007>``,
    ``<surrogate-D800>``) for unnamed code points, or the CLDR name of a
    sequence.  ``utf8`` and ``utf16`` are hex, space-separated by byte and by
    16-bit unit; a lone surrogate has no UTF-8 form (``""``).  A sequence
    has ``kind="sequence"``, its own ``parts`` (one per code point), the
    emoji version as ``age`` (``"E4.0"``) and no category, block or script.
    """

    char: str
    code: str
    name: str
    category: str
    category_name: str
    block: str
    script: str
    age: str
    utf8: str
    utf16: str
    html: str
    kind: str = "char"
    script_extensions: tuple[str, ...] = ()
    parts: tuple[CharProperties, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        """The fields as JSON-ready values (``parts`` as a list of dicts)."""
        row: dict[str, object] = {
            "char": self.char,
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "category": self.category,
            "category_name": self.category_name,
            "block": self.block,
            "script": self.script,
            "script_extensions": list(self.script_extensions),
            "age": self.age,
            "utf8": self.utf8,
            "utf16": self.utf16,
            "html": self.html,
        }
        if self.parts:
            row["parts"] = [part.as_dict() for part in self.parts]
        return row


def identify(text: str) -> Iterator[CharProperties]:
    """Describe each character or emoji sequence of ``text``, lazily.

    >>> [(row.code, row.name) for row in identify("€e\\u0301")]
    [('U+20AC', 'EURO SIGN'), ('U+0065', 'LATIN SMALL LETTER E'), ('U+0301', 'COMBINING ACUTE ACCENT')]
    """
    cache: dict[str, CharProperties] = {}
    for piece in _pieces(text):
        for unit in _units(piece):
            if len(unit) > 1:
                yield _sequence(unit, cache)
            else:
                yield _cached(unit, cache)


def _pieces(text: str) -> Iterator[str]:
    start = 0
    while len(text) - start > _PIECE:
        cut = start + _PIECE
        space = max(text.rfind(c, start, cut) for c in " \n\t")
        if space > start:
            cut = space + 1
        yield text[start:cut]
        start = cut
    if start < len(text):
        yield text[start:]


def _units(piece: str) -> Iterator[str]:
    import emoji

    position = 0
    for found in emoji.emoji_list(piece):
        begin, end = found["match_start"], found["match_end"]
        yield from piece[position:begin]
        yield piece[begin:end]
        position = end
    yield from piece[position:]


def _cached(char: str, cache: dict[str, CharProperties]) -> CharProperties:
    info = cache.get(char)
    if info is None:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        info = cache[char] = _describe(char)
    return info


def _describe(char: str) -> CharProperties:
    code = ord(char)
    category = _props.category_of(code)
    script = _props.script_of(code)
    extensions = _props.script_extensions_of(code)
    return CharProperties(
        char=char,
        code=f"U+{code:04X}",
        name=code_label(code),
        category=category,
        category_name=_props.category_name(category),
        block=_props.block_of(code),
        script=script,
        age=_props.age_of(code),
        utf8=_hex(char, "utf-8"),
        utf16=_units16(char),
        html=_html(code, category),
        script_extensions=tuple(extensions) if extensions != [script] else (),
    )


def _sequence(unit: str, cache: dict[str, CharProperties]) -> CharProperties:
    import emoji

    data = emoji.EMOJI_DATA.get(unit, {})
    name = data.get("en", "").strip(":").replace("_", " ")
    version = data.get("E")
    return CharProperties(
        char=unit,
        code=" ".join(f"U+{ord(c):04X}" for c in unit),
        name=name or "<emoji sequence>",
        category="",
        category_name="",
        block="",
        script="",
        age=f"E{float(version):.1f}" if version is not None else "",
        utf8=_hex(unit, "utf-8"),
        utf16=_units16(unit),
        html="".join(_html(ord(c), "") for c in unit),
        kind="sequence",
        parts=tuple(_cached(c, cache) for c in unit),
    )


def _hex(text: str, encoding: str) -> str:
    try:
        return text.encode(encoding).hex(" ")
    except UnicodeEncodeError:
        return ""  # a lone surrogate: no UTF-8 form exists


def _units16(text: str) -> str:
    # surrogatepass: a lone surrogate is one UTF-16 unit, its own value.
    data = text.encode("utf-16-be", "surrogatepass")
    return " ".join(data[i : i + 2].hex() for i in range(0, len(data), 2))


_HTML5: dict[int, str] = {}


def _html(code: int, category: str) -> str:
    """The HTML entity: a named one where HTML has it, else ``&#x...;``."""
    if category == "Cs" or (0xD800 <= code <= 0xDFFF):
        return ""  # no character reference may name a surrogate
    name = html.entities.codepoint2name.get(code)
    if name:
        return f"&{name};"
    if not _HTML5:
        for entity, value in html.entities.html5.items():
            if len(value) == 1 and entity.endswith(";"):
                old = _HTML5.get(ord(value))
                if old is None or (len(entity), entity) < (len(old), old):
                    _HTML5[ord(value)] = entity
    named = _HTML5.get(code)
    return f"&{named}" if named else f"&#x{code:X};"


def from_bytes(spec: str) -> str:
    """Decode ``ENCODING:HEX`` (``"utf8:e282ac"`` -> ``"€"``).

    Encodings: ``utf8``, ``utf16le``, ``utf16be``, ``utf32le``, ``utf32be``
    (also spelled ``utf-8``, ``UTF-16LE``...).  Whitespace, ``:`` and ``-``
    between hex digits are ignored, and a BOM is decoded as U+FEFF like any
    other character.  Raises :class:`~awaitkit.core.QueryError` naming the
    position of a bad hex digit or of the first byte that does not decode.
    """
    encoding, sep, digits = spec.partition(":")
    key = encoding.lower().replace("-", "").replace("_", "")
    if not sep or key not in _ENCODINGS:
        raise QueryError(
            f"say ENCODING:HEX with ENCODING one of {', '.join(_ENCODINGS)} "
            f"(got {spec[:40]!r})"
        )
    if len(digits) > MAX_HEX_CHARS:
        raise QueryError(f"hex too long ({len(digits)} > {MAX_HEX_CHARS} characters)")
    for position, char in enumerate(digits):
        if char not in "0123456789abcdefABCDEF \t\n\r:-":
            raise QueryError(
                f"not a hex digit at position {position} of the hex: {char!r}"
            )
    clean = "".join(c for c in digits if c not in " \t\n\r:-")
    if not clean:
        raise QueryError("no bytes given after the ':'")
    if len(clean) % 2:
        raise QueryError(
            f"odd number of hex digits ({len(clean)}): bytes take two each"
        )
    data = bytes.fromhex(clean)
    try:
        return data.decode(_ENCODINGS[key])
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.end].hex(" ")
        raise QueryError(
            f"invalid {key} at byte {exc.start} ({bad}): {exc.reason}"
        ) from None
