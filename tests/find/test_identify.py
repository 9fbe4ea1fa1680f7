"""identify(): one row per character or emoji sequence; from_bytes() decodes hex."""

from __future__ import annotations

import tracemalloc

import pytest

from awaitkit.core.errors import QueryError
from awaitkit.find import CharProperties, from_bytes, identify
from awaitkit.find._identify import MAX_HEX_CHARS


def rows(text: str) -> list[CharProperties]:
    return list(identify(text))


def test_one_character() -> None:
    (euro,) = rows("€")
    assert euro.as_dict() == {
        "char": "€",
        "code": "U+20AC",
        "name": "EURO SIGN",
        "kind": "char",
        "category": "Sc",
        "category_name": "Currency Symbol",
        "block": "Currency Symbols",
        "script": "Common",
        "script_extensions": [],
        "age": "2.1",
        "utf8": "e2 82 ac",
        "utf16": "20ac",
        "html": "&euro;",
    }


def test_html_entities() -> None:
    assert [r.html for r in rows("é<\u2211x")] == [
        "&eacute;",
        "&lt;",
        "&sum;",
        "&#x78;",
    ]


def test_combining_marks_are_listed_apart_from_their_base() -> None:
    base, mark = rows("e\u0301")
    assert base.name == "LATIN SMALL LETTER E"
    assert (mark.name, mark.category, mark.script) == (
        "COMBINING ACUTE ACCENT",
        "Mn",
        "Inherited",
    )
    assert "Latin" in mark.script_extensions
    assert [r.code for r in rows("é")] == ["U+00E9"]  # precomposed: one


def test_lone_surrogates() -> None:
    high, low = rows("\ud800\udcff")
    assert (high.name, high.category, high.block) == (
        "<surrogate-D800>",
        "Cs",
        "High Surrogates",
    )
    assert high.utf8 == ""  # no UTF-8 form
    assert high.utf16 == "d800"
    assert high.html == ""
    assert low.name == "<surrogate-DCFF>"


def test_controls_and_private_use_have_labels() -> None:
    assert [r.name for r in rows("\x00\x7f\ue000\U0010fffd")] == [
        "<control-0000>",
        "<control-007F>",
        "<private-use-E000>",
        "<private-use-10FFFD>",
    ]


def test_zwj_sequence_is_one_row_with_parts() -> None:
    (family,) = rows("👨\u200d👩\u200d👧")
    assert family.kind == "sequence"
    assert family.name == "family man woman girl"
    assert family.code == "U+1F468 U+200D U+1F469 U+200D U+1F467"
    assert [p.name for p in family.parts] == [
        "MAN",
        "ZERO WIDTH JOINER",
        "WOMAN",
        "ZERO WIDTH JOINER",
        "GIRL",
    ]
    assert family.age.startswith("E")
    assert family.utf16.count(" ") == 7  # 3 pairs and 2 single units
    assert family.as_dict()["parts"][1]["category"] == "Cf"


def test_flags_keycaps_and_skin_tones() -> None:
    found = rows(
        "🇧🇷#️⃣👍🏽🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    )
    assert [r.name for r in found] == [
        "Brazil",
        "keycap #",
        "thumbs up medium skin tone",
        "Scotland",
    ]
    assert all(r.kind == "sequence" for r in found)


def test_text_around_emoji_keeps_its_order() -> None:
    assert [r.char for r in rows("a🇧🇷b")] == ["a", "🇧🇷", "b"]


def test_empty_text() -> None:
    assert rows("") == []


UNIT = "héllo wörld € 👍🏽 e\u0301 \ud800 "
ROWS_PER_UNIT = 21  # 20 code points alone and one sequence of two


def test_one_megabyte_paste() -> None:
    """A 1 MB paste completes with one row per unit."""
    assert len(rows(UNIT)) == ROWS_PER_UNIT
    copies = 1_000_000 // len(UNIT.encode("utf-8", "surrogatepass")) + 1
    assert sum(1 for _ in identify(UNIT * copies)) == ROWS_PER_UNIT * copies


def test_memory_stays_bounded_by_a_piece() -> None:
    """Rows stream: the peak is the emoji scan of one piece, not all rows."""
    rows(UNIT)  # the emoji data and properties load once, outside the count
    text = UNIT * 3000  # 63,000 rows
    tracemalloc.start()
    try:
        assert sum(1 for _ in identify(text)) == ROWS_PER_UNIT * 3000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_row = len(repr(rows("€")[0]))
    assert peak < 63_000 * one_row / 10


def test_long_text_without_whitespace_is_cut_into_pieces() -> None:
    """Pieces are cut even with no whitespace, losing no character."""
    text = "ab👍🏽" * 20_000
    found = rows(text)
    assert "".join(r.char for r in found) == text
    assert sum(r.kind == "sequence" for r in found) >= 19_990


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ("utf8:e282ac", "€"),
        ("UTF-8:E2 82 AC", "€"),
        ("utf8:e2:82:ac", "€"),
        ("utf16be:d83d dc4d", "👍"),
        ("utf16le:3dd8 4ddc", "👍"),
        ("utf32be:0001f431", "🐱"),
        ("utf32le:31f40100", "🐱"),
        ("utf8:efbbbf41", "\ufeffA"),
    ],
)
def test_from_bytes(spec: str, text: str) -> None:
    assert from_bytes(spec) == text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("utf8:e282", "invalid utf8 at byte 0"),
        ("utf8:41ff42", r"invalid utf8 at byte 1 \(ff\)"),
        ("utf8:eda080", "invalid utf8 at byte 0"),  # an encoded surrogate
        ("utf16le:00d8", "invalid utf16le at byte 0"),  # a lone surrogate
        ("utf32be:00110000", "invalid utf32be at byte 0"),  # past U+10FFFF
        ("utf8:e28", "odd number of hex digits"),
        ("utf8:4g", "not a hex digit at position 1"),
        ("utf8:41 \udcff", "not a hex digit at position 3"),
        ("utf8:", "no bytes"),
        ("utf8", "ENCODING:HEX"),
        ("latin1:41", "ENCODING:HEX"),
        ("utf16:0041", "ENCODING:HEX"),  # say which byte order
        ("utf8:" + "41" * (MAX_HEX_CHARS // 2 + 1), "hex too long"),
    ],
)
def test_from_bytes_errors(spec: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        from_bytes(spec)
