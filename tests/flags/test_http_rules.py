"""Sans-I/O HTTP rules: target splitting and confinement, validators, ranges."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from awaitkit.flags._dataset import make_resource
from awaitkit.flags._http import (
    BadTarget,
    build_head,
    is_not_modified,
    parse_range,
    split_target,
)

RES = make_resource(b"0123456789", "text/plain", 1_704_067_200.0)


@pytest.mark.parametrize(
    ("target", "segments"),
    [
        (b"/", ()),
        (b"/flags/br/br.gif", ("flags", "br", "br.gif")),
        (b"/flags//br/?q=1", ("flags", "br")),
        (b"/a%20b", ("a b",)),
        (b"http://example.com/flags/br", ("flags", "br")),
        (b"http://example.com", ()),
        (b"/caf%C3%A9", ("café",)),
        (b"/%ff", ("\udcff",)),  # not UTF-8: kept as os.fsdecode would
    ],
)
def test_split_target(target: bytes, segments: tuple[str, ...]) -> None:
    """Targets become segments; queries and empty segments drop out."""
    assert split_target(target) == segments


@pytest.mark.parametrize(
    ("target", "status"),
    [
        (b"/../etc/passwd", 404),
        (b"/flags/../../etc/passwd", 404),
        (b"/%2e%2e/etc/passwd", 404),
        (b"/%2E%2E%2Fetc%2Fpasswd", 404),
        (b"/flags/%2f..%2f", 404),
        (b"/./flags", 404),
        (b"/..%5c..%5cwindows", 404),
        (b"/flags%00.gif", 400),
        (b"/flags/\x00", 400),
        (b"etc/passwd", 400),
        (b"*", 400),
    ],
)
def test_split_target_refuses_escapes(target: bytes, status: int) -> None:
    """Dot segments, encoded separators and NUL bytes are refused, not normalised."""
    with pytest.raises(BadTarget) as info:
        split_target(target)
    assert info.value.status == status


def test_if_none_match() -> None:
    """Strong, weak, listed and * entity tags match; others do not."""
    assert is_not_modified({"if-none-match": RES.etag}, RES)
    assert is_not_modified({"if-none-match": f'"x", W/{RES.etag}'}, RES)
    assert is_not_modified({"if-none-match": "*"}, RES)
    assert not is_not_modified({"if-none-match": '"other"'}, RES)
    # If-None-Match wins over If-Modified-Since.
    both = {"if-none-match": '"other"', "if-modified-since": RES.last_modified}
    assert not is_not_modified(both, RES)


def test_if_modified_since() -> None:
    """Equal or later dates mean not modified; earlier or garbage dates do not."""
    assert is_not_modified({"if-modified-since": RES.last_modified}, RES)
    assert is_not_modified({"if-modified-since": "Wed, 01 Jan 2025 00:00:00 GMT"}, RES)
    assert not is_not_modified(
        {"if-modified-since": "Sun, 31 Dec 2023 00:00:00 GMT"}, RES
    )
    assert not is_not_modified({"if-modified-since": "yesterday"}, RES)
    assert not is_not_modified({}, RES)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-3", (0, 4)),
        ("bytes=5-", (5, 10)),
        ("bytes=-3", (7, 10)),
        ("bytes=-30", (0, 10)),
        ("bytes=8-100", (8, 10)),
        ("bytes=10-", False),
        ("bytes=-0", False),
        ("bytes=0-1,4-5", None),
        ("items=0-1", None),
        ("bytes=5-3", None),
        ("bytes=a-b", None),
        ("bytes=--1", None),
        ("bytes=", None),
        ("bytes=3", None),
    ],
)
def test_parse_range(value: str, expected: object) -> None:
    """One byte range is honoured; unsatisfiable ones are False; the rest ignored."""
    assert parse_range({"range": value}, RES) == expected


def test_if_range() -> None:
    """A stale If-Range validator turns a Range request into a full response."""
    assert parse_range({"range": "bytes=0-1", "if-range": RES.etag}, RES) == (0, 2)
    assert parse_range({"range": "bytes=0-1", "if-range": '"old"'}, RES) is None


def test_build_head() -> None:
    """Status line, headers, Connection: close when asked, blank line."""
    head = build_head(418, [("X", "1")], keep_alive=False, date="D")
    assert head.startswith(b"HTTP/1.1 418 I'm a Teapot\r\n")
    assert b"\r\nX: 1\r\n" in head
    assert b"Connection: close\r\n\r\n" in head


@given(st.binary(max_size=64))
def test_split_target_never_yields_an_escape(tail: bytes) -> None:
    """Whatever follows the leading slash, no segment can climb out or hide a NUL."""
    try:
        segments = split_target(b"/" + tail)
    except BadTarget as exc:
        status = exc.status
        segments = ()
    else:
        status = 200
    assert status in (200, 400, 404)
    for seg in segments:
        assert seg not in ("", ".", "..")
        assert "/" not in seg
        assert "\\" not in seg
        assert "\x00" not in seg
