"""The book's InvertedIndex and format_results keep their exact semantics."""

from __future__ import annotations

import sys

import pytest

from awaitkit.find import InvertedIndex, format_results, unicode_version


@pytest.fixture(scope="module")
def book() -> InvertedIndex:
    return InvertedIndex(32, 128)


def test_entries_map_words_to_characters(book: InvertedIndex) -> None:
    assert book.entries["DOLLAR"] == {"$"}
    assert sorted(book.entries["SIGN"]) == ["#", "$", "%", "+", "<", "=", ">"]
    assert book.entries["A"] == {"A", "a"}


def test_missing_word_is_an_empty_set(book: InvertedIndex) -> None:
    assert book.entries["NO_SUCH_WORD"] == set()


def test_search_intersects_words_case_insensitively(book: InvertedIndex) -> None:
    assert book.search("capital a") == {"A"}
    assert book.search("SMALL letter A") == {"a"}
    assert book.search("sign") == set(book.entries["SIGN"])


def test_hyphens_split_words(book: InvertedIndex) -> None:
    assert book.search("hyphen-minus") == {"-"}
    assert book.entries["HYPHEN"] == {"-"}


def test_empty_query_finds_nothing(book: InvertedIndex) -> None:
    assert book.search("") == set()
    assert book.search("   ") == set()


def test_book_index_covers_whole_words_only(book: InvertedIndex) -> None:
    """The book has no prefix matching: 'capit' is not 'CAPITAL'."""
    assert book.search("capit") == set()


def test_format_results_sorted_by_code_point(book: InvertedIndex) -> None:
    lines = list(format_results(book.search("sign")))
    assert lines[0] == "U+0023\t#\tNUMBER SIGN"
    assert lines[1] == "U+0024\t$\tDOLLAR SIGN"
    assert [line.split("\t")[1] for line in lines] == [
        "#",
        "$",
        "%",
        "+",
        "<",
        "=",
        ">",
    ]


def test_default_range_is_the_book_one() -> None:
    """The defaults are start=32 and stop=sys.maxunicode + 1 (checked on the signature)."""
    import inspect

    params = inspect.signature(InvertedIndex).parameters
    assert params["start"].default == 32
    assert params["stop"].default == sys.maxunicode + 1


def test_book_index_sees_the_newest_unicode() -> None:
    """Characters newer than the stdlib's data are named (unicodedata2 is in use)."""
    import unicodedata

    import unicodedata2

    assert unicode_version() == unicodedata2.unidata_version
    newer = next(
        (
            cp
            for cp in range(0x1F000, 0x1FB00)
            if unicodedata2.name(chr(cp), "") and not unicodedata.name(chr(cp), "")
        ),
        None,
    )
    if newer is None:
        pytest.skip("the stdlib data is as new as unicodedata2's here")
    name = unicodedata2.name(chr(newer))
    assert chr(newer) in InvertedIndex(newer, newer + 1).search(name)
