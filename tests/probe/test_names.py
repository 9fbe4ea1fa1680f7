"""Name validation and IDNA encoding: a gate that never raises."""

from __future__ import annotations

import keyword

import pytest
from hypothesis import given, strategies as st

from awaitkit.probe import candidate_names, to_ascii


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("python.org", "python.org"),
        ("Python.ORG.", "python.org"),
        ("  python.org\n", "python.org"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("bücher。de", "xn--bcher-kva.de"),  # ideographic full stop separates labels
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("a" * 63 + ".com", "a" * 63 + ".com"),
        (
            ("a" * 63 + ".") * 3 + "a" * 61,
            ("a" * 63 + ".") * 3 + "a" * 61,
        ),  # 253 octets
    ],
)
def test_valid_names(name: str, expected: str) -> None:
    assert to_ascii(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "a..b",
        ".a.b",
        "a" * 64 + ".com",
        ("a" * 63 + ".") * 3 + "a" * 62,  # 254 octets
        "x" * 10_000,
        "exa mple.com",
        "exa/mple.com",
        "-lead.com",
        "trail-.com",
        "nul\x00.com",
        b"\xff.com".decode("utf-8", "surrogateescape"),  # undecodable input byte
        "\ufffd.com",  # replacement character
        "ü" * 60 + ".de",  # encodes past 63 octets
    ],
)
def test_invalid_names(name: str) -> None:
    assert to_ascii(name) is None


@given(st.text(max_size=300))
def test_to_ascii_never_raises_and_output_is_valid(text: str) -> None:
    result = to_ascii(text)
    if result is not None:
        assert result.isascii()
        assert len(result) <= 253
        assert all(0 < len(label) <= 63 for label in result.split("."))
        assert to_ascii(result) == result  # idempotent


def test_candidate_names_are_the_books() -> None:
    names = list(candidate_names(".COM.BR"))
    expected = [f"{kw.lower()}.com.br" for kw in keyword.kwlist if len(kw) <= 4]
    assert names == expected
    assert "def.com.br" in names
    assert all(to_ascii(n) == n for n in names)
