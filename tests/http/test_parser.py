"""The sans-I/O HTTP/1.1 response parser, fed bytes: no sockets, no event loop."""

from __future__ import annotations

import pytest

from awaitkit.http import (
    BodyTooLarge,
    ProtocolError,
    ServerDisconnected,
    TruncatedBody,
)
from awaitkit.http._parser import (
    BODY,
    BODY_EVENT,
    DONE,
    END,
    ERROR,
    EXTRA,
    HEAD,
    HEAD_EVENT,
    IDLE,
    ResponseParser,
)

SIMPLE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n"
)


def fed(*pieces: bytes, max_head: int = 64 * 1024) -> tuple[ResponseParser, int]:
    """A parser that expected one response and was fed ``pieces``; the events, or-ed."""
    parser = ResponseParser(max_head)
    parser.expect()
    events = 0
    for piece in pieces:
        events |= parser.feed(piece)
    return parser, events


def test_a_whole_response_in_one_piece() -> None:
    parser, events = fed(SIMPLE)
    assert events == HEAD_EVENT | BODY_EVENT | END
    assert parser.state == DONE
    assert (parser.status, parser.reason) == (200, b"OK")
    assert parser.head == [(b"Content-Length", b"5"), (b"X-A", b"1")]
    assert b"".join(parser.body) == b"hello"
    assert parser.received == 5
    assert parser.keep_alive
    assert parser.error is None


def test_events_come_as_they_happen() -> None:
    parser = ResponseParser(1024)
    assert parser.state == IDLE
    parser.expect()
    assert parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n") == 0
    assert parser.state == HEAD
    assert parser.feed(b"\r\n") == HEAD_EVENT
    assert parser.state == BODY
    assert parser.feed(b"ab") == BODY_EVENT
    assert parser.feed(b"cd") == BODY_EVENT | END


@pytest.mark.parametrize("message", [SIMPLE, CHUNKED], ids=["length", "chunked"])
def test_split_at_every_offset_parses_the_same(message: bytes) -> None:
    whole, _ = fed(message)
    for cut in range(1, len(message)):
        parser, events = fed(message[:cut], message[cut:])
        assert events & END, cut
        assert parser.status == whole.status
        assert parser.head == whole.head
        assert b"".join(parser.body) == b"".join(whole.body)


def test_one_byte_at_a_time() -> None:
    parser, events = fed(*(CHUNKED[i : i + 1] for i in range(len(CHUNKED))))
    assert events & END
    assert b"".join(parser.body) == b"abcdefg"


def test_chunked_trailers_are_not_kept_as_fields() -> None:
    parser, _ = fed(CHUNKED)
    assert parser.head == [(b"Transfer-Encoding", b"chunked")]


@pytest.mark.parametrize("code", [100, 102, 103])
def test_interim_1xx_heads_are_skipped(code: int) -> None:
    interim = b"HTTP/1.1 %d Interim\r\nLink: </x>\r\n\r\n" % code
    parser, events = fed(interim + SIMPLE)
    assert events == HEAD_EVENT | BODY_EVENT | END
    assert (parser.status, parser.reason) == (200, b"OK")
    assert (b"Link", b"</x>") not in parser.head


def test_interim_head_alone_is_no_event() -> None:
    parser, events = fed(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert events == 0
    assert parser.state == HEAD


def test_pipelined_extra_bytes_keep_the_response_but_not_the_connection() -> None:
    parser, events = fed(SIMPLE + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert events == HEAD_EVENT | BODY_EVENT | END | EXTRA
    assert b"".join(parser.body) == b"hello"
    assert not parser.keep_alive


def test_bytes_after_the_end_or_before_a_request_are_extra() -> None:
    parser, _ = fed(SIMPLE)
    assert parser.feed(b"junk") == EXTRA
    assert not parser.keep_alive
    assert ResponseParser(1024).feed(b"HTTP/1.1 200 OK\r\n") == EXTRA


def test_the_parser_reads_the_next_response_after_expect() -> None:
    parser, _ = fed(SIMPLE)
    first = parser.body
    parser.expect()
    assert parser.feed(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno") & END
    assert parser.status == 404
    assert parser.body == [b"no"]
    assert b"".join(first) == b"hello"  # the previous response keeps its pieces


def test_oversized_head_is_an_error() -> None:
    parser, events = fed(
        b"HTTP/1.1 200 OK\r\n", b"X-Pad: " + b"p" * 2000 + b"\r\n", max_head=1024
    )
    assert events & ERROR
    assert isinstance(parser.error, ProtocolError)
    assert "larger than 1024" in str(parser.error)


def test_a_head_within_the_limit_passes() -> None:
    _, events = fed(SIMPLE, max_head=len(SIMPLE))
    assert events & END


@pytest.mark.parametrize(
    "message",
    [
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTP/1.1 200 OK\r\n\r\n",
        b"HTTP/9.9 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x00\x01\x02",
    ],
)
def test_malformed_responses_are_protocol_errors(message: bytes) -> None:
    parser, events = fed(message)
    assert events & ERROR
    assert isinstance(parser.error, ProtocolError)
    assert parser.error.__cause__ is not None


def test_switching_protocols_is_an_error() -> None:
    parser, events = fed(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"
    )
    assert events & ERROR
    assert "switched protocols" in str(parser.error)


def test_non_latin1_bytes_pass_through_as_bytes() -> None:
    parser, events = fed(
        b"HTTP/1.1 200 \xc3\xa9t\xe9\r\nX-Name: \xe2\x98\x83 \xff\r\nContent-Length: 0\r\n\r\n"
    )
    assert events & END
    assert parser.reason == b"\xc3\xa9t\xe9"
    assert (b"X-Name", b"\xe2\x98\x83 \xff") in parser.head


def test_body_limit_stops_the_parser() -> None:
    parser = ResponseParser(1024)
    parser.expect()
    parser.limit = 3
    events = parser.feed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n"
    )
    assert events & ERROR
    assert isinstance(parser.error, BodyTooLarge)


def test_eof_ends_a_body_without_length() -> None:
    parser, _ = fed(b"HTTP/1.1 200 OK\r\n\r\nto the end")
    assert parser.state == BODY
    assert parser.feed_eof(reset=False) == END
    assert parser.state == DONE
    assert b"".join(parser.body) == b"to the end"


def test_reset_does_not_end_a_body_without_length() -> None:
    parser, _ = fed(b"HTTP/1.1 200 OK\r\n\r\npart")
    assert parser.feed_eof(reset=True) == ERROR
    assert isinstance(parser.error, TruncatedBody)


@pytest.mark.parametrize(
    "head",
    [b"Content-Length: 10\r\n", b"Transfer-Encoding: chunked\r\n"],
    ids=["length", "chunked"],
)
def test_eof_before_the_declared_end_is_a_truncated_body(head: bytes) -> None:
    parser, _ = fed(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n")
    assert parser.feed_eof(reset=False) == ERROR
    assert isinstance(parser.error, TruncatedBody)


def test_eof_before_the_head() -> None:
    parser, _ = fed()
    assert parser.feed_eof(reset=False) == ERROR
    assert isinstance(parser.error, ServerDisconnected)
    assert "without responding" in str(parser.error)
    parser, _ = fed(b"HTTP/1.1 200 O")
    parser.feed_eof(reset=False)
    assert "before the response head" in str(parser.error)


def test_eof_after_a_whole_response_or_when_idle_is_nothing() -> None:
    parser, _ = fed(SIMPLE)
    assert parser.feed_eof(reset=False) == 0
    assert parser.error is None
    assert ResponseParser(1024).feed_eof(reset=True) == 0


@pytest.mark.parametrize(
    ("head", "keep"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
            True,
        ),
    ],
)
def test_keep_alive_follows_the_version_and_connection_field(
    head: bytes, keep: bool
) -> None:
    parser, _ = fed(head)
    assert parser.keep_alive is keep
