"""The heads proxy mode passes on, built by feeding fields (no I/O)."""

from __future__ import annotations

import pytest

from awaitkit.core.errors import UsageError
from awaitkit.flags._forward import (
    Framing,
    Upstream,
    origin_form,
    parse_upstream,
    request_head,
    response_head,
)

UP = Upstream("127.0.0.1", 8080)


def lines(head: bytes) -> list[bytes]:
    assert head.endswith(b"\r\n\r\n")
    return head[:-4].split(b"\r\n")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080", Upstream("127.0.0.1", 8080)),
        ("http://localhost/", Upstream("localhost", 80)),
        ("http://[::1]:9000", Upstream("::1", 9000)),
    ],
)
def test_parse_upstream(url: str, expected: Upstream) -> None:
    assert parse_upstream(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "127.0.0.1:8080",
        "http://",
        "http://host:99999",
        "http://host:port",
        "http://host/prefix",
        "http://host/?q=1",
        "http://user:pw@host",
        "ftp://host",
        "http://h\udcff:80",
    ],
)
def test_bad_upstream_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError):
        parse_upstream(url)


def test_authority_brackets_ipv6() -> None:
    assert Upstream("::1", 81).authority == b"[::1]:81"
    assert UP.url == "http://127.0.0.1:8080"


def test_fields_named_by_connection_are_dropped_from_responses() -> None:
    fields = [
        (b"X-Secret", b"1"),
        (b"Connection", b"close, X-Secret , keep-alive"),
        (b"X-Other", b"2"),
    ]
    got = lines(
        response_head(200, b"OK", fields, framing=Framing.LENGTH, keep_alive=True)
    )
    assert b"X-Other: 2" in got
    assert not [line for line in got if line.lower().startswith(b"x-secret")]
    assert not [line for line in got if line.lower().startswith(b"connection")]


def test_a_field_before_the_connection_field_naming_it_is_dropped_from_requests() -> (
    None
):
    fields = [
        (b"X-Early", b"1"),
        (b"X-Kept", b"2"),
        (b"Connection", b"X-Early"),
    ]
    head = request_head(
        b"GET", b"/", fields, upstream=UP, client_ip="127.0.0.1", body_length=None
    )
    names = [line.split(b":")[0].lower() for line in lines(head)[1:]]
    assert b"x-kept" in names
    assert b"x-early" not in names
    assert b"connection" not in names


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"/a/b?c=d", b"/a/b?c=d"),
        (b"*", b"*"),
        (b"http://other.example/x?y", b"/x?y"),
        (b"HTTPS://other.example", b"/"),
        (b"http://other.example?q", b"/?q"),
        (b"other.example:443", None),
        (b"", None),
        (b"a/b", None),
    ],
)
def test_origin_form(target: bytes, expected: bytes | None) -> None:
    assert origin_form(target) == expected


def test_request_head_rewrites_host_and_adds_forwarding_fields() -> None:
    head = request_head(
        b"POST",
        b"/x",
        [
            (b"Host", b"proxy.example"),
            (b"Connection", b"keep-alive, X-Hop"),
            (b"X-Hop", b"1"),
            (b"Keep-Alive", b"timeout=5"),
            (b"TE", b"trailers"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Content-Length", b"999"),
            (b"Expect", b"100-continue"),
            (b"X-Forwarded-For", b"10.0.0.1"),
            (b"Via", b"1.0 squid"),
            (b"X-Name", b"caf\xe9"),  # latin-1, not UTF-8: passed unchanged
            (b"Accept", b"*/*"),
        ],
        upstream=UP,
        client_ip="127.0.0.9",
        body_length=3,
    )
    got = lines(head)
    assert got[0] == b"POST /x HTTP/1.1"
    assert got[1] == b"Host: 127.0.0.1:8080"
    assert b"X-Forwarded-Host: proxy.example" in got
    assert b"X-Forwarded-For: 10.0.0.1, 127.0.0.9" in got
    assert b"Via: 1.0 squid, 1.1 awaitkit" in got
    assert b"X-Name: caf\xe9" in got
    assert b"Accept: */*" in got
    assert got[-1] == b"Content-Length: 3"
    names = [line.split(b":")[0].lower() for line in got[1:]]
    for dropped in (b"connection", b"x-hop", b"keep-alive", b"te", b"expect"):
        assert dropped not in names
    assert names.count(b"content-length") == 1
    assert b"transfer-encoding" not in names


def test_request_without_body_gets_no_length() -> None:
    got = lines(
        request_head(b"GET", b"/", [], upstream=UP, client_ip="::1", body_length=None)
    )
    assert not [line for line in got if line.lower().startswith(b"content-length")]
    assert b"X-Forwarded-For: ::1" in got


FIELDS = [
    (b"Content-Type", b"text/plain"),
    (b"Content-Length", b"10"),
    (b"Connection", b"keep-alive"),
    (b"Transfer-Encoding", b"chunked"),
    (b"Set-Cookie", b"a=1"),
    (b"Set-Cookie", b"b=2"),
]


@pytest.mark.parametrize(
    ("framing", "length_kept", "chunked"),
    [
        (Framing.LENGTH, True, False),
        (Framing.NONE, True, False),
        (Framing.CHUNKED, False, True),
        (Framing.CLOSE, False, False),
    ],
)
def test_response_head_framing(
    framing: Framing, length_kept: bool, chunked: bool
) -> None:
    got = lines(response_head(200, b"OK", FIELDS, framing=framing, keep_alive=True))
    assert got[0] == b"HTTP/1.1 200 OK"
    assert (b"Content-Length: 10" in got) is length_kept
    assert (b"Transfer-Encoding: chunked" in got) is chunked
    assert got.count(b"Transfer-Encoding: chunked") <= 1
    assert b"Connection: keep-alive" not in got
    assert [line for line in got if line.startswith(b"Set-Cookie")] == [
        b"Set-Cookie: a=1",
        b"Set-Cookie: b=2",
    ]
    assert b"Via: 1.1 awaitkit" in got


def test_response_head_connection_close_and_http10_keep_alive() -> None:
    closing = lines(
        response_head(503, b"Busy", [], framing=Framing.LENGTH, keep_alive=False)
    )
    assert closing[0] == b"HTTP/1.1 503 Busy"
    assert closing[-1] == b"Connection: close"
    kept = lines(
        response_head(
            200,
            b"OK",
            [],
            framing=Framing.LENGTH,
            keep_alive=True,
            http10_keep_alive=True,
        )
    )
    assert kept[-1] == b"Connection: keep-alive"


def test_a_rules_fields_replace_the_upstreams_of_the_same_name() -> None:
    got = lines(
        response_head(
            200,
            b"OK",
            [(b"Content-Type", b"text/html"), (b"Cache-Control", b"no-store")],
            framing=Framing.LENGTH,
            keep_alive=True,
            extra=[(b"content-type", b"application/json")],
        )
    )
    assert b"Content-Type: text/html" not in got
    assert b"content-type: application/json" in got
    assert b"Cache-Control: no-store" in got


def test_hop_by_hop_names_are_matched_in_any_case() -> None:
    fields = [
        (b"CONNECTION", b"KEEP-ALIVE"),
        (b"tRaNsFeR-EnCoDiNg", b"chunked"),
        (b"Keep-ALIVE", b"timeout=1"),
        (b"VIA", b"1.0 x"),
        (b"content-LENGTH", b"5"),
    ]
    got = lines(
        response_head(200, b"OK", fields, framing=Framing.CHUNKED, keep_alive=True)
    )
    assert got == [
        b"HTTP/1.1 200 OK",
        b"Via: 1.0 x, 1.1 awaitkit",
        b"Transfer-Encoding: chunked",
    ]
    sent = lines(
        request_head(
            b"GET", b"/", fields, upstream=UP, client_ip="1.2.3.4", body_length=None
        )
    )
    assert sent == [
        b"GET / HTTP/1.1",
        b"Host: 127.0.0.1:8080",
        b"X-Forwarded-For: 1.2.3.4",
        b"Via: 1.0 x, 1.1 awaitkit",
    ]


def test_a_repeated_response_head_is_rebuilt_when_any_part_differs() -> None:
    fields = [(b"Date", b"Fri, 04 Dec 2026 19:50:58 GMT"), (b"Content-Length", b"5")]
    first = response_head(200, b"OK", fields, framing=Framing.LENGTH, keep_alive=True)
    again = response_head(200, b"OK", fields, framing=Framing.LENGTH, keep_alive=True)
    assert again == first
    later = [(b"Date", b"Fri, 04 Dec 2026 19:50:59 GMT"), (b"Content-Length", b"5")]
    got = response_head(200, b"OK", later, framing=Framing.LENGTH, keep_alive=True)
    assert b"Date: Fri, 04 Dec 2026 19:50:59 GMT" in lines(got)
    closing = response_head(
        200, b"OK", fields, framing=Framing.LENGTH, keep_alive=False
    )
    assert lines(closing)[-1] == b"Connection: close"
    chunked = response_head(
        200, b"OK", fields, framing=Framing.CHUNKED, keep_alive=True
    )
    assert b"Content-Length: 5" not in lines(chunked)
    assert b"Transfer-Encoding: chunked" in lines(chunked)
    other = response_head(
        404, b"Not Found", fields, framing=Framing.LENGTH, keep_alive=True
    )
    assert lines(other)[0] == b"HTTP/1.1 404 Not Found"
