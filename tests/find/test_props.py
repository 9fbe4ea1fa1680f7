"""Block, script, category and age of a code point; resolving how users spell them."""

from __future__ import annotations

import itertools

import pytest
import unicodedataplus
from unicode_age import unicode_age_db

from awaitkit.core.errors import QueryError
from awaitkit.find import (
    age_of,
    block_of,
    blocks,
    category_name,
    category_of,
    code_label,
    property_versions,
    resolve_block,
    resolve_category,
    resolve_script,
    script_extensions_of,
    script_of,
    scripts,
)
from awaitkit.find._props import CATEGORIES
from awaitkit.find._ucd import ucd

ALL_CODES = range(0x110000)


def test_properties_of_known_characters() -> None:
    assert block_of("─") == "Box Drawing"
    assert block_of(0x20AC) == "Currency Symbols"
    assert block_of(0x50000) == "No_Block"  # plane 5 has no blocks
    assert script_of("\u03b1") == "Greek"
    assert script_of("€") == "Common"
    assert script_of("\u0301") == "Inherited"
    assert script_of(0x10330) == "Gothic"
    assert "Devanagari" in script_extensions_of("\u0951")
    assert category_of("+") == "Sm"
    assert category_name("Sm") == "Math Symbol"
    assert category_name("L") == "Letter"
    assert (age_of("A"), age_of("€"), age_of("🐱"), age_of(0x378)) == (
        "1.1",
        "2.1",
        "6.0",
        "",
    )


def test_every_version_is_18() -> None:
    """Names, blocks, scripts and ages agree on one Unicode version."""
    versions = property_versions()
    assert set(versions) == {"names", "blocks", "scripts", "age"}
    assert set(versions.values()) == {str(ucd.unidata_version)}


def _is_noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def test_every_assigned_code_point_has_an_age_and_no_other() -> None:
    """The age table covers exactly what unicodedata2 knows as assigned."""
    wrong = [
        c
        for c in ALL_CODES
        if bool(age_of(c)) != (ucd.category(chr(c)) != "Cn" or _is_noncharacter(c))
    ]
    assert wrong == []


def test_age_matches_unicode_age_everywhere() -> None:
    """The shipped table is the unicode-age package's DerivedAge, span by span."""
    spans = list(unicode_age_db.iter_spans())
    assert spans
    for first, last, major, minor in spans:
        expected = f"{major}.{minor}"
        assert {age_of(c) for c in range(first, last + 1)} == {expected}, hex(first)


def test_age_and_block_match_unicodedataplus_before_16() -> None:
    """Code points assigned before 16.0: the same age and block as unicodedataplus."""
    assert unicodedataplus.unidata_version.startswith("16.")
    checked = 0
    for code in ALL_CODES:
        char = chr(code)
        age = unicodedataplus.age(char)
        if age == "Unassigned" or age == "16.0":
            continue
        checked += 1
        assert age_of(code) == age, hex(code)
        assert block_of(code) == unicodedataplus.block(char), hex(code)
    assert checked > 280_000


def test_code_labels_for_unnamed_code_points() -> None:
    assert code_label(0x41) == "LATIN CAPITAL LETTER A"
    assert code_label(0x7) == "<control-0007>"
    assert code_label(0xD800) == "<surrogate-D800>"
    assert code_label(0xDFFF) == "<surrogate-DFFF>"
    assert code_label(0xE000) == "<private-use-E000>"
    assert code_label(0x10FFFD) == "<private-use-10FFFD>"
    assert code_label(0xFDD0) == "<noncharacter-FDD0>"
    assert code_label(0x10FFFF) == "<noncharacter-10FFFF>"
    assert code_label(0x378) == "<reserved-0378>"


BLOCK_NAMES = [name for name, _, _ in blocks()]
SCRIPT_CODES = [code for code, _ in scripts()]


def test_blocks_tile_the_code_space_in_order() -> None:
    spans = [(first, last) for _, first, last in blocks()]
    assert spans[0][0] == 0
    assert all(a[1] < b[0] for a, b in itertools.pairwise(spans))
    assert len(BLOCK_NAMES) == len(set(BLOCK_NAMES)) > 300
    assert "Box Drawing" in BLOCK_NAMES


@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_every_block_resolves_in_every_spelling(name: str) -> None:
    assert resolve_block(name) == name
    assert resolve_block(name.upper().replace(" ", "_")) == name
    assert resolve_block(name.lower().replace(" ", "").replace("-", "")) == name


@pytest.mark.parametrize("code", SCRIPT_CODES)
def test_every_script_resolves_by_code_and_name(code: str) -> None:
    name = dict(scripts())[code]
    assert resolve_script(code) == code
    assert resolve_script(code.lower()) == code
    assert resolve_script(name) == code
    assert resolve_script(name.replace(" ", "_").upper()) == code


@pytest.mark.parametrize(("code", "name"), CATEGORIES.items())
def test_every_category_resolves_by_code_and_name(code: str, name: str) -> None:
    assert resolve_category(code) == {code}
    assert resolve_category(name) == {code}
    assert resolve_category(name.lower().replace(" ", "_")) == {code}


def test_category_groups() -> None:
    assert resolve_category("L") == {"Lu", "Ll", "Lt", "Lm", "Lo"}
    assert resolve_category("letter") == resolve_category("L")
    assert resolve_category("LC") == {"Lu", "Ll", "Lt"}
    assert resolve_category("C") == {"Cc", "Cf", "Cs", "Co", "Cn"}


@pytest.mark.parametrize(
    ("resolve", "spelling", "near"),
    [
        (resolve_block, "box drawin", "Box Drawing"),
        (resolve_block, "Cyrilic", "Cyrillic"),
        (resolve_script, "Grk", "Greek"),
        (resolve_script, "Gothc", "Gothic"),
        (resolve_category, "Sx", "Sm (Math Symbol)"),
    ],
)
def test_unknown_names_suggest_near_matches(resolve, spelling: str, near: str) -> None:
    with pytest.raises(QueryError, match="did you mean") as exc:
        resolve(spelling)
    assert near in str(exc.value)
    assert repr(spelling) in str(exc.value)


@pytest.mark.parametrize("spelling", ["", "   ", "x" * 10_000, "\udcff", "Ͱ"])
def test_hostile_names_are_query_errors(spelling: str) -> None:
    for resolve in (resolve_block, resolve_script, resolve_category):
        with pytest.raises(QueryError, match="unknown"):
            resolve(spelling)


def test_characters_newer_than_the_age_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a 17.0 table, a character 18.0 assigned is "newer than 17.0", not unassigned."""
    from awaitkit.find import _age_data

    newest = _age_data.VERSIONS.index("18.0")
    older = tuple("" if i == newest else v for i, v in enumerate(_age_data.VERSIONS))
    monkeypatch.setattr(_age_data, "VERSIONS", older)
    monkeypatch.setattr(_age_data, "UNICODE_VERSION", "17.0.0")
    new = [
        code
        for first, last, major, minor in unicode_age_db.iter_spans()
        if (major, minor) == (18, 0)
        for code in range(first, last + 1)
    ]
    assert new
    assert {age_of(c) for c in new} == {">17.0"}
    assert age_of(0x378) == ""  # still unassigned
    assert age_of("A") == "1.1"
