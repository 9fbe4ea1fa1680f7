"""Every named character is found by its own full name."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings, strategies as st

from awaitkit.find import CharIndex
from awaitkit.find._ucd import STOP_CODE, generated_suffix, tokenize, ucd
from tests.find.conftest import name_table

NAMED = [cp for cp in range(32, STOP_CODE) if ucd.name(chr(cp), "")]
GENERATED = [cp for cp in NAMED if generated_suffix(cp, ucd.name(chr(cp)))]


def name_words(code: int, name: str) -> list[str]:
    """The words of ``name`` worth indexing: all but a generated hex ending."""
    words = tokenize(name)
    if generated_suffix(code, name):
        words.pop()
    return words


def test_the_data_is_the_full_unicode_range() -> None:
    assert len(NAMED) > 150_000
    assert len(GENERATED) > 90_000


def _assert_found_by_name(index: CharIndex, code: int) -> None:
    char = chr(code)
    name = ucd.name(char)
    result = index.query(name)
    found = [m.char for m in result.matches]
    assert char in found, f"U+{code:04X} {name}"
    # Exact names rank first; several names can tokenize alike
    # (HANGUL JUNGSEONG O-E / OE), so compare words, not characters.
    assert sorted(tokenize(result.matches[0].name)) == sorted(tokenize(name))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NAMED))
def test_any_named_character_is_found_by_its_name(
    full_index: CharIndex, code: int
) -> None:
    _assert_found_by_name(full_index, code)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(GENERATED))
def test_generated_names_are_found_by_their_name(
    full_index: CharIndex, code: int
) -> None:
    _assert_found_by_name(full_index, code)


@pytest.mark.parametrize("code", [0x20, 0x7E, 0xFFFD, 0x1F431, 0xE01EF, NAMED[-1]])
def test_range_edges_are_found_by_name(full_index: CharIndex, code: int) -> None:
    _assert_found_by_name(full_index, code)


def test_exhaustive_every_name_word_points_to_its_character(
    full_index: CharIndex,
) -> None:
    """For all ~300,000 named characters at once: the index's posting lists hold
    exactly the character's name words (minus a generated hex ending), plus
    emoji names; and every generated ending identifies its own character.

    A query intersects those posting lists, so this is "found by its own name"
    for every character, at the cost of one pass instead of 300,000 queries.
    """
    words, offsets, postings = name_table(full_index)
    indexed: defaultdict[int, set[str]] = defaultdict(set)
    for i, word in enumerate(words):
        for value in postings[offsets[i] : offsets[i + 1]]:
            indexed[value >> 5].add(word)
    missing = []
    for code in NAMED:
        name = ucd.name(chr(code))
        if not set(name_words(code, name)) <= indexed.get(code, set()):
            missing.append(f"U+{code:04X} {name}")
    assert missing == []
    # Past the code points: the emoji sequences (tests/find/test_sequences.py).
    assert {code for code in indexed if code <= 0x10FFFF} == set(NAMED)
    table = full_index._table("name")
    assert table is not None
    for code in GENERATED:
        assert table._generated(f"{code:04X}") is not None, hex(code)
