"""Names from the network never escape the destination folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from awaitkit.download import safe_path, sanitize_filename
from awaitkit.download._names import (
    MAX_NAME_BYTES,
    UnsafeName,
    check_name,
    filename_from_content_disposition,
    filename_from_url,
    part_path,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("..", "index.html"),
        (".", "index.html"),
        ("", "index.html"),
        ("a\x00b.gif", "a_b.gif"),
        ("tab\there", "tab_here"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("LPT1.tar.gz", "_LPT1.tar.gz"),
        ("  .hidden", "hidden"),
        ("trailing. . ", "trailing"),
        ('what?<is>:"this"|*', "what__is___this___"),
        ("Côte_d'Ivoire.gif", "Côte_d'Ivoire.gif"),
        ("\udcff\udcfe.gif", "__.gif"),  # undecodable argv bytes, surrogate-escaped
        ("\udcff" * 300 + ".gif", "_" * 236 + ".gif"),  # long: cut without a crash
    ],
)
def test_sanitize_filename(raw: str, expected: str) -> None:
    assert sanitize_filename(raw) == expected


def test_overlong_name_keeps_extension_and_fits() -> None:
    name = sanitize_filename("é" * 400 + ".gif")
    assert name.endswith(".gif")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert len(part_path(Path("/d") / name).name.encode()) <= 255


@given(st.text(max_size=600))
def test_any_text_becomes_a_direct_child(raw: str) -> None:
    name = sanitize_filename(raw)
    dest = Path("/dest")
    path = safe_path(dest, name)
    assert path.parent == dest
    assert "\x00" not in name
    assert "/" not in name
    assert name not in {".", ".."}
    assert 0 < len(name.encode()) <= MAX_NAME_BYTES


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\\b", "x\x00"])
def test_safe_path_refuses_what_sanitising_would_have_fixed(bad: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        safe_path(Path("/dest"), bad)
    with pytest.raises(UnsafeName, match="unsafe"):
        check_name(bad)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/flags/br/br.gif", "br.gif"),
        ("http://h/", "index.html"),
        ("http://h", "index.html"),
        ("http://h/a/..%2F..%2Fetc%2Fpasswd", "passwd"),
        ("http://h/%00evil", "_evil"),
        ("http://h/file.txt?x=1#frag", "file.txt"),
        ("http://h/%E2%9C%93.txt", "✓.txt"),
        ("http://h/%ff.bin", "\ufffd.bin"),
    ],
)
def test_filename_from_url(url: str, expected: str) -> None:
    assert filename_from_url(url) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('attachment; filename="report.pdf"', "report.pdf"),
        ('attachment; filename="../../.bashrc"', "bashrc"),
        ("attachment; filename*=UTF-8''%2E%2E%2F%2E%2E%2Fevil.sh", "evil.sh"),
        ("attachment; filename*=UTF-8''caf%C3%A9.txt", "café.txt"),
        ("attachment", None),
        ("inline; filename=", None),
    ],
)
def test_filename_from_content_disposition(header: str, expected: str | None) -> None:
    assert filename_from_content_disposition(header) == expected
