"""Emoji sequences, name aliases, CLDR keywords and languages: every entry is found.

The exhaustive tests query each emoji of the ``emoji`` package by its own
name (in English and in other languages) and each alias of the shipped
table by itself: the result must hold that entry.
"""

from __future__ import annotations

from importlib import resources

import emoji
import pytest

from awaitkit.core import QueryError
from awaitkit.find import CharIndex, Match
from awaitkit.find._build import ascii_words
from awaitkit.find._ucd import fold_words

VS16 = "\ufe0f"
FLAG_BR = "\U0001f1e7\U0001f1f7"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
THUMBS_MEDIUM = "\U0001f44d\U0001f3fd"


def chars(index: CharIndex, text: str, **options: object) -> list[str]:
    return [m.char for m in index.query(text, **options).matches]  # type: ignore[arg-type]


def same_emoji(a: str, b: str) -> bool:
    """Equal but for the emoji-style selector (unqualified spellings)."""
    return a.replace(VS16, "") == b.replace(VS16, "")


@pytest.mark.parametrize(
    ("query", "char"),
    [
        ("flag brazil", FLAG_BR),
        ("family man woman girl", FAMILY),
        ("thumbs up medium skin", THUMBS_MEDIUM),
        ("keycap 1", "1\ufe0f\u20e3"),
        (
            "flag england",
            "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
        ),
        ("woman health worker", "\U0001f469\u200d\u2695\ufe0f"),
        ("man facepalming", "\U0001f926\u200d\u2642\ufe0f"),
    ],
)
def test_sequences_are_results_of_their_own(
    full_index: CharIndex, query: str, char: str
) -> None:
    match = full_index.query(query).matches[0]
    assert match.char == char
    assert match.kind == "sequence"
    assert match.code == " ".join(f"U+{ord(c):04X}" for c in char)
    assert match.via == "name"


def test_sequence_names_read_like_names(full_index: CharIndex) -> None:
    first = full_index.query("flag brazil").matches[0]
    assert first == Match(FLAG_BR, "U+1F1E7 U+1F1F7", "FLAG BRAZIL", "sequence")
    assert full_index.query("thumbs up medium skin").matches[0].name == (
        "THUMBS UP MEDIUM SKIN TONE"
    )


def test_exhaustive_every_emoji_is_found_by_its_own_name(
    full_index: CharIndex,
) -> None:
    """All of the emoji package's ~5,000 entries, by the words of their CLDR name."""
    missing = []
    for chars_, data in emoji.EMOJI_DATA.items():
        query = ascii_words(data["en"].strip(":").replace("_", " "))
        if not query:
            missing.append(f"{chars_!r}: no name words")
            continue
        found = chars(full_index, query)
        if not any(same_emoji(c, chars_) for c in found):
            missing.append(f"{chars_!r} {query!r}")
    assert missing == []


@pytest.mark.parametrize("lang", ["fr", "de", "ja", "ru"])
def test_exhaustive_every_emoji_is_found_by_its_name_in_a_language(
    full_index: CharIndex, lang: str
) -> None:
    emoji.config.load_language(lang)
    missing = []
    for chars_, data in emoji.EMOJI_DATA.items():
        name = data.get(lang, "").strip(":").replace("_", " ")
        if not fold_words(name):
            continue
        found = full_index.query(name, lang=lang).matches
        if not any(same_emoji(m.char, chars_) for m in found):
            missing.append(f"{chars_!r} {name!r}")
    assert missing == []


def test_exhaustive_every_alias_finds_its_character(full_index: CharIndex) -> None:
    data = resources.files("awaitkit.find").joinpath("data", "name_aliases.txt")
    rows = [
        line.split("\t")
        for line in data.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(rows) > 3000
    missing = []
    for code, _, alias in rows:
        char = chr(int(code, 16))
        if ord(char) < full_index.start or not ascii_words(alias):
            continue  # C0 controls are outside the index
        found = full_index.query(ascii_words(alias)).matches
        if not any(m.char == char and m.via in ("alias", "name") for m in found):
            missing.append(f"U+{code} {alias}")
    assert missing == []


@pytest.mark.parametrize(
    ("query", "char", "name"),
    [
        ("nbsp", "\u00a0", "NO-BREAK SPACE"),
        ("bom", "\ufeff", "ZERO WIDTH NO-BREAK SPACE"),
        ("zwj", "\u200d", "ZERO WIDTH JOINER"),
        ("factorial", "!", "EXCLAMATION MARK"),
        # A correction: U+01A2's name is a mistake that cannot change.
        ("latin capital letter gha", "\u01a2", "LATIN CAPITAL LETTER OI"),
    ],
)
def test_aliases_find_their_character_first(
    full_index: CharIndex, query: str, char: str, name: str
) -> None:
    assert full_index.query(query).matches[0] == Match(
        char, f"U+{ord(char):04X}", name, via="alias"
    )


def test_a_character_without_a_name_is_named_by_its_alias(
    full_index: CharIndex,
) -> None:
    assert full_index.query("U+007F").matches == (
        Match("\x7f", "U+007F", "DELETE", via="code"),
    )
    assert full_index.query("delete").matches[0].char == "\x7f"


@pytest.mark.parametrize("query", ["cry", "sad", "tear"])
def test_keywords_find_crying_face(full_index: CharIndex, query: str) -> None:
    found = full_index.query(query).matches
    crying = next(m for m in found if m.char == "\U0001f622")
    assert crying.name == "CRYING FACE"


def test_keywords_rank_below_names(full_index: CharIndex) -> None:
    found = full_index.query("sad").matches
    vias = [m.via for m in found]
    assert "keyword" in vias
    first_keyword = vias.index("keyword")
    assert set(vias[first_keyword:]) == {"keyword"}  # none dropped, all after
    assert next(m for m in found if m.char == "\U0001f622").via == "keyword"


def test_languages_name_their_results(full_index: CharIndex) -> None:
    assert {"en", "fr", "de", "es", "ja"} <= set(full_index.languages)
    first = full_index.query("tête de chat", lang="fr").matches[0]
    assert (first.char, first.name) == ("\U0001f431", "tête de chat")
    # Accents are optional; English still works, named in the language.
    assert chars(full_index, "tete chat", lang="fr")[0] == "\U0001f431"
    assert full_index.query("cat face", lang="fr").matches[0].name == "tête de chat"
    assert chars(full_index, "drapeau bresil", lang="fr")[0] == FLAG_BR
    assert chars(full_index, "ネコの顔", lang="ja")[0] == "\U0001f431"
    assert "\U0001f431" in chars(full_index, "ネコ", lang="ja")  # a prefix


def test_language_keywords(full_index: CharIndex) -> None:
    """CLDR keywords in French: "triste" finds the crying face."""
    found = full_index.query("triste", lang="fr").matches
    assert any(m.char == "\U0001f622" and m.via == "keyword" for m in found)


def test_unknown_language_is_a_query_error(full_index: CharIndex) -> None:
    with pytest.raises(QueryError, match="unknown language 'xx'; known: en, ar"):
        full_index.query("cat", lang="xx")
    assert full_index.query("cat", lang="en") == full_index.query("cat")


def test_types_choose_kinds(full_index: CharIndex) -> None:
    everything = full_index.query("flag")
    sequences = full_index.query("flag", types=("sequence",))
    only_chars = full_index.query("flag", types=("char",))
    assert sequences.total + only_chars.total == everything.total
    assert {m.kind for m in sequences.matches} == {"sequence"}
    assert {m.kind for m in only_chars.matches} == {"char"}
    with pytest.raises(QueryError, match="unknown type"):
        full_index.query("flag", types=("glyph",))


def test_any_word(full_index: CharIndex) -> None:
    both = set(chars(full_index, "cat dog", any_word=True))
    assert {"\U0001f408", "\U0001f415", "\U0001f431"} <= both
    # Only the last word is a prefix: '"cat"' is CAT as a whole word.
    assert set(chars(full_index, '"cat"')) | set(chars(full_index, "dog")) == both
    # Entries with every word come first.
    first = full_index.query("cat face", any_word=True).matches[0]
    assert first.char == "\U0001f431"


def test_exact_whole_names(full_index: CharIndex) -> None:
    assert chars(full_index, "cat face", exact=True) == ["\U0001f431"]
    assert chars(full_index, "cat fa", exact=True) == []  # no prefix
    assert chars(full_index, "face cat", exact=True) == []  # in order
    assert chars(full_index, "flag brazil", exact=True) == [FLAG_BR]


def test_quoted_phrases_are_adjacent_words(full_index: CharIndex) -> None:
    phrase = full_index.query('"thumbs up"').matches
    loose = full_index.query("up thumbs").matches
    assert phrase
    assert all("THUMBS UP" in m.name for m in phrase)
    assert len(loose) >= len(phrase)
    assert chars(full_index, '"face cat"') == []
    # A quoted last word is whole, not a prefix.
    assert chars(full_index, 'cat "fac"') == []


def test_where_filters_before_paging(full_index: CharIndex) -> None:
    def is_sequence(s: str) -> bool:
        return len(s) > 1

    page = full_index.query("flag", where=is_sequence, limit=3)
    assert page.total == full_index.query("flag", types=("sequence",)).total
    assert len(page.matches) == 3


def test_pasted_sequences_stay_whole(full_index: CharIndex) -> None:
    found = full_index.query(FLAG_BR + THUMBS_MEDIUM + "x").matches
    assert [m.char for m in found] == [FLAG_BR, THUMBS_MEDIUM, "x"]
    assert {m.via for m in found} == {"text"}
