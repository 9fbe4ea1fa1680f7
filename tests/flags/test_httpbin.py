"""httpbin-style paths, sans-I/O: every reply and every refusal from ``respond``."""

from __future__ import annotations

import gzip
import json
import string

import pytest
from hypothesis import given, strategies as st

from awaitkit.flags._http import split_target
from awaitkit.flags._httpbin import MAX_BODY, NAMES, Drip, Reply, respond


def answer(target: bytes, method: str = "GET", **headers: str) -> Reply:
    segments = split_target(target)
    assert segments[0] in NAMES
    return respond(
        segments,
        target,
        method=method,
        headers={"host": "h:1", **headers},
        origin="127.0.0.1",
    )


def header(reply: Reply, name: str) -> list[str]:
    return [v for n, v in reply.headers if n.lower() == name.lower()]


@pytest.mark.parametrize("code", [200, 201, 404, 418, 429, 500, 503, 599])
def test_status_answers_the_code(code: int) -> None:
    """/status/CODE answers CODE with a body naming it."""
    reply = answer(b"/status/%d" % code)
    assert reply.status == code
    assert reply.body.startswith(b"%d " % code)
    assert reply.delay == 0
    assert reply.interim is None


def test_status_special_cases() -> None:
    """Redirects point at /redirect/1, 401 asks for credentials, 429/503 say when
    to retry, 204/304 have no body, 1xx goes before a 200."""
    assert header(answer(b"/status/302"), "Location") == ["/redirect/1"]
    assert header(answer(b"/status/401"), "WWW-Authenticate")
    assert header(answer(b"/status/407"), "Proxy-Authenticate")
    assert header(answer(b"/status/429"), "Retry-After") == ["1"]
    assert header(answer(b"/status/503"), "Retry-After") == ["1"]
    for code in (204, 304):
        reply = answer(b"/status/%d" % code)
        assert (reply.status, reply.body) == (code, b"")
    early = answer(b"/status/103")
    assert (early.interim, early.status) == (103, 200)


@pytest.mark.parametrize(
    "target",
    [
        b"/status/99",
        b"/status/600",
        b"/status/0",
        b"/status/-1",
        b"/status/abc",
        b"/status/5_03",  # int() takes it
        b"/status/%D9%A3%D9%A0%D9%A0",  # Arabic-Indic 300: str.isdigit() takes it
        b"/status/+200",
        b"/status/200.0",
        b"/status/" + b"9" * 5000,  # past int()'s digit limit
        b"/status/200,503",  # one code only
        b"/status",
        b"/status/200/x",
        b"/status/101",
        b"/status/%ff",
    ],
)
def test_bad_status_codes_are_400(target: bytes) -> None:
    """Codes out of 100-599, not plain ASCII digits, or missing are a 400."""
    reply = answer(target)
    assert reply.status == 400
    assert reply.body.startswith(b"400 Bad Request: ")


def test_delay_echoes_the_request_after_the_delay() -> None:
    """/delay/S waits S seconds (a decimal allowed) and echoes the request as JSON."""
    reply = answer(b"/delay/1.5?a=1&a=2&b", "POST", **{"user-agent": "t"})
    assert (reply.status, reply.delay) == (200, 1.5)
    data = json.loads(reply.body)
    assert data == {
        "args": {"a": ["1", "2"], "b": [""]},
        "headers": {"Host": ["h:1"], "User-Agent": ["t"]},
        "method": "POST",
        "origin": "127.0.0.1",
        "url": "http://h:1/delay/1.5?a=1&a=2&b",
    }
    assert answer(b"/delay/0").delay == 0
    assert answer(b"/delay/10").delay == 10


@pytest.mark.parametrize(
    "value",
    [b"10.001", b"11", b"-1", b"nan", b"inf", b"1e1", b"abc", b"", b"1" * 30, b"0x1"],
)
def test_bad_delays_are_400(value: bytes) -> None:
    """Delays past 10 s, negative, non-finite or not plain decimals are a 400."""
    assert answer(b"/delay/" + value).status == 400


def test_drip_defaults_and_parameters() -> None:
    """/drip: 10 bytes over 2 s by default; numbytes, duration, delay, code."""
    reply = answer(b"/drip")
    assert reply.drip == Drip(10, 2.0)
    assert (reply.status, reply.delay) == (200, 0.0)
    reply = answer(b"/drip?numbytes=100&duration=0.5&delay=1&code=206")
    assert reply.drip == Drip(100, 0.5)
    assert (reply.status, reply.delay) == (206, 1.0)
    assert header(reply, "Content-Type") == ["application/octet-stream"]


@pytest.mark.parametrize(
    "query",
    [
        b"numbytes=0",
        b"numbytes=-5",
        b"numbytes=%d" % (MAX_BODY + 1),
        b"numbytes=x",
        b"duration=11",
        b"duration=6&delay=5",  # together past 10 s
        b"delay=-1",
        b"code=99",
        b"code=600",
        b"code=204",
        b"code=abc",
        b"numbytes=%ff",  # not UTF-8
    ],
)
def test_bad_drip_parameters_are_400(query: bytes) -> None:
    """Every /drip parameter is bounded; out of bounds or malformed is a 400."""
    assert answer(b"/drip?" + query).status == 400


def test_bytes_are_random_and_repeatable_with_a_seed() -> None:
    """/bytes/N gives N bytes; the same ?seed= gives the same bytes."""
    one = answer(b"/bytes/1000?seed=7")
    two = answer(b"/bytes/1000?seed=7")
    other = answer(b"/bytes/1000?seed=8")
    assert len(one.body) == 1000
    assert one.body == two.body != other.body
    assert answer(b"/bytes/1000").body != answer(b"/bytes/1000").body
    assert answer(b"/bytes/0").body == b""
    assert len(answer(b"/bytes/%d" % MAX_BODY).body) == MAX_BODY


@pytest.mark.parametrize(
    "target",
    [
        b"/bytes/%d" % (MAX_BODY + 1),
        b"/bytes/-1",
        b"/bytes/x",
        b"/bytes",
        b"/bytes/10?seed=-1",
        b"/bytes/10?seed=%d" % 2**63,
        b"/bytes/10?seed=abc",
    ],
)
def test_bad_bytes_are_400(target: bytes) -> None:
    """Sizes past 1 MiB, negative or not numbers, and bad seeds are a 400."""
    assert answer(target).status == 400


def test_redirects_count_down_to_200() -> None:
    """/redirect/N is a 302 to /redirect/N-1 (relative); /redirect/0 is a 200."""
    reply = answer(b"/redirect/3")
    assert reply.status == 302
    assert header(reply, "Location") == ["/redirect/2"]
    last = answer(b"/redirect/0")
    assert last.status == 200
    assert json.loads(last.body)["url"] == "http://h:1/redirect/0"
    for bad in (b"/redirect/101", b"/redirect/-1", b"/redirect/x", b"/redirect"):
        assert answer(bad).status == 400


def test_gzip_is_gzip_encoded_json() -> None:
    """/gzip: Content-Encoding gzip, JSON inside with gzipped true."""
    reply = answer(b"/gzip", **{"accept-encoding": "gzip"})
    assert header(reply, "Content-Encoding") == ["gzip"]
    data = json.loads(gzip.decompress(reply.body))
    assert data["gzipped"] is True
    assert data["headers"]["Accept-Encoding"] == ["gzip"]
    assert data["method"] == "GET"


def test_headers_echo_the_request_headers() -> None:
    """/headers: go-httpbin's shape, names in canonical case."""
    reply = answer(b"/headers", **{"x-client-id": "c1", "accept": "*/*"})
    assert json.loads(reply.body) == {
        "headers": {"Accept": ["*/*"], "Host": ["h:1"], "X-Client-Id": ["c1"]}
    }
    assert answer(b"/headers/x").status == 400


def test_response_headers_are_echoed_into_headers_and_body() -> None:
    """/response-headers?K=V sets K: V (repeated keys repeat) and echoes the query."""
    reply = answer(
        b"/response-headers?X-A=1&X-A=2&Cache-Control=no-store&X-E=%E2%82%AC"
    )
    assert header(reply, "X-A") == ["1", "2"]
    assert header(reply, "Cache-Control") == ["no-store"]
    # Non-ASCII goes out as its UTF-8 bytes (the head is encoded latin-1).
    assert header(reply, "X-E") == ["€".encode().decode("latin-1")]
    assert header(reply, "Content-Type") == ["application/json; charset=utf-8"]
    assert json.loads(reply.body) == {
        "X-A": ["1", "2"],
        "Cache-Control": ["no-store"],
        "X-E": ["€"],
    }
    typed = answer(b"/response-headers?Content-Type=text/plain")
    assert header(typed, "Content-Type") == ["text/plain"]


@pytest.mark.parametrize(
    "query",
    [
        b"X-A=a%0d%0aSet-Cookie:%20x=1",  # header injection
        b"X-A=a%0ab",
        b"X-A=a%00b",
        b"X-A=a%7fb",
        b"X%0d%0aY=1",
        b"X%20A=1",
        b"X:A=1",
        b"=1",
        b"Content-Length=5",
        b"transfer-encoding=chunked",
        b"Connection=close",
        b"X-A=%ff",  # not UTF-8
        b"X-A=%c3",  # truncated UTF-8
        b"&".join(b"X-%d=1" % i for i in range(65)),  # too many
    ],
)
def test_hostile_response_headers_are_400(query: bytes) -> None:
    """CR, LF, NUL and control characters, bad names, framing fields, non-UTF-8
    and too many parameters are refused."""
    reply = answer(b"/response-headers?" + query)
    assert reply.status == 400
    assert all("\r" not in v and "\n" not in v for _, v in reply.headers)


@given(st.binary(max_size=200))
def test_any_target_gets_a_reply_never_an_exception(junk: bytes) -> None:
    """Whatever follows a known name, the reply is a status, never an exception."""
    for name in sorted(NAMES):
        target = b"/" + name.encode() + junk
        try:
            segments = split_target(target)
        except Exception:
            continue  # refused before us (400/404 by the responder)
        if not segments or segments[0] != name:
            continue
        reply = respond(segments, target, method="GET", headers={}, origin="")
        assert 100 <= reply.status <= 599
        for field_name, value in reply.headers:
            assert set(field_name) <= set(string.printable)
            value.encode("latin-1")  # the head is encoded so
            assert not {"\r", "\n"} & set(value)
