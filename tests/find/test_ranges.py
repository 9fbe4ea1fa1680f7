"""Ranges of code points, lazy listings, and the filters of result strings."""

from __future__ import annotations

import itertools

import pytest

from awaitkit.core.errors import QueryError
from awaitkit.find import (
    all_codes,
    block_codes,
    category_codes,
    in_block,
    in_category,
    in_script,
    parse_ranges,
    script_codes,
)
from awaitkit.find._query import MAX_QUERY_RANGE, parse_query
from awaitkit.find._ranges import count_codes, iter_codes
from awaitkit.find._ucd import ucd


@pytest.mark.parametrize(
    "text",
    [
        "U+2042..U+2044",
        "u+2042..u+2044",
        "U+2042-U+2044",
        "U+2042..2044",
        "0x2042-0x2044",
    ],
)
def test_range_spellings(text: str) -> None:
    assert parse_ranges(text) == [range(0x2042, 0x2045)]


def test_ranges_and_code_points_mix() -> None:
    assert parse_ranges("U+41..U+43 U+1F431") == [
        range(0x41, 0x44),
        range(0x1F431, 0x1F432),
    ]


@pytest.mark.parametrize(
    "text", ["U+1F431", "2042..2044", "cat-face", "U+41..U+43 cat", "..", "-"]
)
def test_not_a_range_query(text: str) -> None:
    """No range token, or a token that is no code point: an ordinary query."""
    assert parse_ranges(text) is None


def test_the_last_code_point() -> None:
    assert parse_ranges("U+10FFFF..U+10FFFF") == [range(0x10FFFF, 0x110000)]
    assert parse_ranges("U+0..U+10FFFF") == [range(0x110000)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("U+10FFFF..U+110000", r"past U\+10FFFF"),
        ("U+110000-U+110001", r"past U\+10FFFF"),
        ("U+0..U+FFFFFFFF", r"past U\+10FFFF"),
        ("U+2044..U+2042", r"reversed range .* write U\+2042..U\+2044"),
    ],
)
def test_bad_ranges_are_query_errors(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_ranges(text)
    with pytest.raises(QueryError, match=message):
        parse_query(text)


def test_surrogate_range_is_listed() -> None:
    ranges = parse_ranges("U+D7FF..U+E000")
    assert ranges is not None
    assert list(iter_codes(ranges)) == list(range(0xD7FF, 0xE001))


def test_overlapping_ranges_count_and_list_each_code_once() -> None:
    ranges = parse_ranges("U+45..U+48 U+41..U+46 U+47")
    assert ranges is not None
    assert list(iter_codes(ranges)) == [0x45, 0x46, 0x47, 0x48, 0x41, 0x42, 0x43, 0x44]
    assert count_codes(ranges) == 8


def test_huge_range_is_lazy() -> None:
    """The whole code space: counted by arithmetic, and the first 10 read alone."""
    ranges = parse_ranges("U+0000..U+10FFFF")
    assert ranges is not None
    assert count_codes(ranges) == 0x110000
    assert list(itertools.islice(iter_codes(ranges), 10)) == list(range(10))


def test_query_ranges_are_bounded() -> None:
    """The servers expand a range: past one plane it is refused, not built."""
    assert parse_query("U+2042..U+2044").codes == (0x2042, 0x2043, 0x2044)
    assert len(parse_query("U+10000..U+1FFFF").codes) == MAX_QUERY_RANGE
    with pytest.raises(QueryError, match="range too large"):
        parse_query("U+0..U+10FFFF")


def test_full_index_answers_a_range(full_index) -> None:
    result = full_index.query("U+2042..U+2044")
    assert [m.name for m in result.matches] == [
        "ASTERISM",
        "HYPHEN BULLET",
        "FRACTION SLASH",
    ]


def test_block_listing() -> None:
    codes = list(block_codes("box_drawing"))
    assert codes == list(range(0x2500, 0x2580))
    assert all(ucd.name(chr(c)).startswith("BOX DRAWINGS") for c in codes)


def test_block_listing_leaves_out_unassigned() -> None:
    codes = list(block_codes("Greek and Coptic"))
    assert 0x3B1 in codes
    assert 0x378 not in codes  # reserved
    assert all(ucd.category(chr(c)) != "Cn" for c in codes)


def test_script_listing() -> None:
    greek = list(script_codes("Grek"))
    assert greek == list(script_codes("greek"))
    assert 0x3B1 in greek
    assert 0x1F00 in greek
    assert 0x41 not in greek
    assert greek == sorted(greek)


def test_category_listing() -> None:
    math = list(category_codes("Sm"))
    assert 0x2B in math
    assert 0x221E in math
    assert all(ucd.category(chr(c)) == "Sm" for c in math)
    assert len(math) == sum(1 for c in range(0x110000) if ucd.category(chr(c)) == "Sm")


def test_all_codes() -> None:
    first = list(itertools.islice(all_codes(), 3))
    assert first == [0, 1, 2]
    assert sum(1 for _ in all_codes()) == sum(
        1 for c in range(0x110000) if ucd.category(chr(c)) != "Cn"
    )


def test_predicates_take_result_strings() -> None:
    assert in_block("Box Drawing")("─")
    assert not in_block("Box Drawing")("a")
    assert in_script("Greek")("\u03b1")
    assert not in_script("Greek")("\u0301")  # Inherited...
    assert in_script("Greek", extensions=True)("\u0342")  # ...but used by Greek
    assert in_category("Sm")("+")
    assert in_category("L")("a")
    # A sequence is judged by its first code point.
    assert in_block("Miscellaneous Symbols and Pictographs")("👍🏽")
    assert in_category("So")("👨\u200d👩\u200d👧")
    for predicate in (in_block("Basic Latin"), in_script("Latin"), in_category("L")):
        assert predicate("") is False


def test_predicates_reject_unknown_names() -> None:
    for make in (in_block, in_script, in_category):
        with pytest.raises(QueryError, match="unknown"):
            make("no such thing")
