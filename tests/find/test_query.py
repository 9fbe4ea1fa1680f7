"""CharIndex.query: words, prefixes, code points, pasted text, emoji, ranking, paging."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from awaitkit.core import QueryError
from awaitkit.find import CharIndex, Match, QueryResult, format_match
from tests.find.conftest import name_table


def chars(result: QueryResult) -> list[str]:
    return [m.char for m in result.matches]


def test_match_is_a_frozen_value() -> None:
    match = Match("🐱", "U+1F431", "CAT FACE")
    assert format_match(match) == "U+1F431\t🐱\tCAT FACE"
    with pytest.raises(dataclasses.FrozenInstanceError):
        match.name = "DOG FACE"  # type: ignore[misc]
    assert dataclasses.asdict(match) == {
        "char": "🐱",
        "code": "U+1F431",
        "name": "CAT FACE",
        "kind": "char",
        "via": "name",
    }


def test_a_sequence_match_lists_every_code_point() -> None:
    match = Match.of("\U0001f1e7\U0001f1f7", "flag: Brazil")
    assert match.code == "U+1F1E7 U+1F1F7"
    assert match.kind == "sequence"
    assert Match.of("\U0001f431", "CAT FACE") == Match(
        "\U0001f431", "U+1F431", "CAT FACE"
    )


def test_cat_face_first(full_index: CharIndex) -> None:
    result = full_index.query("cat face")
    assert result.matches[0] == Match("🐱", "U+1F431", "CAT FACE")
    assert result.total == len(result.matches) >= 10
    by_name = [m for m in result.matches if m.via == "name"]
    assert all({"CAT", "FACE"} <= set(m.name.split()) for m in by_name)
    # Keyword matches (TIGER FACE: keyword "cat") come after every name match.
    assert result.matches[: len(by_name)] == tuple(by_name)


def test_words_are_case_and_order_insensitive(full_index: CharIndex) -> None:
    assert full_index.query("FACE cat") == full_index.query("cat face")


def test_last_word_is_a_prefix(full_index: CharIndex) -> None:
    result = full_index.query("cat fa")
    assert result.matches[0].name == "CAT FACE"
    assert set(chars(full_index.query("cat face"))) <= set(chars(result))


def test_only_the_last_word_is_a_prefix(full_index: CharIndex) -> None:
    assert full_index.query("ca face").total == 0


def test_prefix_alone(full_index: CharIndex) -> None:
    result = full_index.query("ampersa")
    assert "&" in chars(result)
    assert all(
        any(w.startswith("AMPERSA") for w in m.name.split())
        for m in result.matches
        if m.via == "name"
    )


@pytest.mark.parametrize(
    "query", ["U+1F431", "u+1f431", "0x1F431", "0x1f431", " U+1F431 "]
)
def test_code_point_queries(full_index: CharIndex, query: str) -> None:
    assert full_index.query(query).matches == (
        Match("🐱", "U+1F431", "CAT FACE", via="code"),
    )


def test_several_code_points_keep_their_order(full_index: CharIndex) -> None:
    assert chars(full_index.query("U+42 U+41 0x42")) == ["B", "A"]


def test_unnamed_or_invalid_code_points_find_nothing(full_index: CharIndex) -> None:
    assert full_index.query("U+0000").total == 0  # a control: no name
    assert full_index.query("U+D800").total == 0  # a surrogate
    assert full_index.query("U+110000").total == 0  # beyond Unicode


def test_pasted_character(full_index: CharIndex) -> None:
    assert chars(full_index.query("🐱")) == ["🐱"]
    assert full_index.query("é").matches[0].name == "LATIN SMALL LETTER E WITH ACUTE"


def test_pasted_string_in_order_without_duplicates(full_index: CharIndex) -> None:
    assert chars(full_index.query("🐱🐶🐱 €")) == ["🐱", "🐶", "€"]


@pytest.mark.parametrize(
    ("query", "char"),
    [
        ("smile", "😄"),  # alias
        ("thumbs up", "👍"),
        ("thumbsup", "👍"),
        ("grinning face with smiling eyes", "😄"),  # CLDR name, unlike the Unicode one
        ("pinata", "🪅"),  # "piñata" typed in ASCII
        ("oclock", "🕐"),  # "one o\u2019clock" typed without the apostrophe
    ],
)
def test_emoji_short_names(full_index: CharIndex, query: str, char: str) -> None:
    assert char in chars(full_index.query(query))


def test_emoji_short_name_ranks_like_a_name(full_index: CharIndex) -> None:
    """'joy' is the alias of FACE WITH TEARS OF JOY: an exact match, ranked first."""
    result = full_index.query("joy")
    assert result.matches[0].name == "FACE WITH TEARS OF JOY"
    assert len(result.matches[1].name.split()) < 5  # a shorter name came next


def test_ranking_exact_then_fewer_words_then_code_point(full_index: CharIndex) -> None:
    result = full_index.query("latin small letter a")
    assert result.matches[0].char == "a"
    lengths = [len(m.name.replace("-", " ").split()) for m in result.matches[1:]]
    assert lengths == sorted(lengths)
    ties = [m for m in result.matches[1:] if len(m.name.split()) == lengths[0]]
    assert [m.char for m in ties] == sorted(m.char for m in ties)


def test_limit_and_offset_page_the_ranked_list(full_index: CharIndex) -> None:
    everything = full_index.query("sign")
    assert everything.total == len(everything.matches) > 3000
    page = full_index.query("sign", limit=5, offset=10)
    assert page.total == everything.total
    assert page.matches == everything.matches[10:15]
    assert full_index.query("sign", limit=0).matches == ()
    beyond = full_index.query("sign", offset=10**6)
    assert (beyond.total, beyond.matches) == (everything.total, ())


def test_negative_limit_or_offset_is_an_error(full_index: CharIndex) -> None:
    with pytest.raises(QueryError):
        full_index.query("cat", limit=-1)
    with pytest.raises(QueryError):
        full_index.query("cat", offset=-1)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("cjk unified ideograph 4e00", 0x4E00),
        ("CJK UNIFIED IDEOGRAPH-4E00", 0x4E00),
        ("cjk unified ideograph-9fa5", 0x9FA5),
        ("cjk compatibility ideograph f900", 0xF900),
        ("tangut ideograph 17000", 0x17000),
    ],
)
def test_generated_names_found_by_hex_ending(
    full_index: CharIndex, query: str, code: int
) -> None:
    assert full_index.query(query).matches[0].char == chr(code)


def test_generated_hex_endings_are_not_indexed(full_index: CharIndex) -> None:
    """The vocabulary holds real words, not ~100,000 hex endings."""
    words = name_table(full_index)[0]
    assert "CJK" in words
    assert not {"4E01", "9FA5", "F900", "17000", "20000"} & set(words)
    assert len(words) < 40_000
    # The hex word alone still identifies its ideographs.
    assert "一" in chars(full_index.query("4e00"))


def test_word_not_in_any_name(full_index: CharIndex) -> None:
    assert full_index.query("cat xyzzy") == QueryResult(0, ())


@pytest.mark.parametrize("query", ["", " ", "\t\n ", "\u3000"])
def test_empty_queries_are_errors(full_index: CharIndex, query: str) -> None:
    with pytest.raises(QueryError, match="empty"):
        full_index.query(query)


def test_one_megabyte_query_is_refused(full_index: CharIndex) -> None:
    with pytest.raises(QueryError, match="too long"):
        full_index.query("cat " * 250_000)


def test_control_characters_find_nothing(full_index: CharIndex) -> None:
    assert full_index.query("\x00\x07\x1b").total == 0
    # Controls mixed into pasted text are skipped, the rest is found.
    assert chars(full_index.query("\x1b🐱")) == ["🐱"]


def test_lone_surrogates_find_nothing(full_index: CharIndex) -> None:
    assert full_index.query("\ud800").total == 0
    assert chars(full_index.query("\udcff🐱")) == ["🐱"]
    # Every match can be encoded: no surrogate ever comes back.
    for match in full_index.query("\ud83d\udc31 cat").matches:
        format_match(match).encode("utf-8")


def test_punctuation_only_query_is_pasted(ascii_index: CharIndex) -> None:
    assert chars(ascii_index.query("-")) == ["-"]
    assert chars(ascii_index.query("$")) == ["$"]


def test_small_index_stays_in_its_range(ascii_index: CharIndex) -> None:
    assert ascii_index.query("dollar").matches == (Match("$", "U+0024", "DOLLAR SIGN"),)
    assert ascii_index.query("🐱").total == 0
    assert ascii_index.query("U+1F431").total == 0
    assert ascii_index.query("cat").total == 0
    assert "words=" in repr(ascii_index)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=60) | st.text(alphabet="abcdefxyzU+0123456789 -_:'", max_size=30)
)
def test_any_text_gives_a_result_or_a_query_error(
    full_index: CharIndex, text: str
) -> None:
    """Fuzz: arbitrary text (controls, surrogates, hex, symbols) never crashes."""
    try:
        result = full_index.query(text, limit=20)
    except QueryError:
        assert not text.strip()
        return
    assert (
        len(result.matches) <= 20 <= result.total or len(result.matches) == result.total
    )
    for match in result.matches:
        assert match.name
        format_match(match).encode("utf-8")


@pytest.mark.parametrize("query", ["ffffff", "U+FFFFFF", "0x", "u+", "10ffff", "d800"])
def test_odd_hex_like_queries(full_index: CharIndex, query: str) -> None:
    result = full_index.query(query)
    assert all(m.name for m in result.matches)


def test_kept_matches_follow_language_and_via(full_index: CharIndex) -> None:
    """Matches are reused across queries, never across languages or ways found."""
    english = full_index.query("cat face").matches[0]
    french = full_index.query("chat", lang="fr").matches
    assert english.name == "CAT FACE"
    assert any(m.char == english.char and m.name != "CAT FACE" for m in french)
    assert full_index.query("cat face").matches[0] is english
    by_code = full_index.query("U+1F431").matches[0]
    assert (by_code.via, english.via) == ("code", "name")


def test_kept_matches_are_bounded(
    monkeypatch: pytest.MonkeyPatch, full_index: CharIndex
) -> None:
    import awaitkit.find._index as index_module

    monkeypatch.setattr(index_module, "_MAX_KEPT_MATCHES", 100)
    for query in ("flag", "face", "arrow", "latin small", "cjk"):
        full_index.query(query, limit=400)
        assert len(full_index._matches) <= 100 + 400
    assert full_index.query("cat face").matches[0].name == "CAT FACE"
