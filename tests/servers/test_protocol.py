"""The TCP line protocol, driven without sockets: bytes in, bytes out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from awaitkit.core import QueryError
from awaitkit.find import CharIndex, format_match
from awaitkit.servers._protocol import PROMPT, RULE, Reply, Search, Session


def drive(session: Session, index: CharIndex, *chunks: bytes) -> tuple[bytes, bool]:
    """Feed ``chunks`` (b"" = EOF); return everything sent and whether it closed."""
    out = bytearray()
    for chunk in chunks:
        session.feed(chunk)
        while (event := session.next_event()) is not None:
            if isinstance(event, Search):
                try:
                    outcome = index.query(
                        event.query, limit=event.limit, offset=event.offset
                    )
                except QueryError as exc:
                    event = session.answer(event, exc)
                else:
                    event = session.answer(event, outcome)
            assert isinstance(event, Reply)
            out += event.data
            if event.close:
                return bytes(out), True
    return bytes(out), False


def lines_of(data: bytes) -> list[str]:
    return data.decode().split("\r\n")


def test_greeting_is_the_prompt() -> None:
    assert Session().greeting() == b"?> "


def test_query_gets_book_lines_status_and_prompt(index: CharIndex) -> None:
    """Each match is a book-format CRLF line, then the rule and count, then the prompt."""
    out, closed = drive(Session(), index, b"cat face\r\n")
    expected = [format_match(m) for m in index.query("cat face").matches]
    lines = lines_of(out)
    assert lines[: len(expected)] == expected
    assert lines[0] == "U+1F431\t\U0001f431\tCAT FACE"
    assert lines[len(expected)] == f"{RULE} {len(expected)} found"
    assert lines[-1] == "?> "
    assert not closed


def test_bare_lf_line_is_accepted(index: CharIndex) -> None:
    out, _ = drive(Session(), index, b"cat face\n")
    assert out.startswith(b"U+1F431\t")


def test_empty_line_only_reprompts(index: CharIndex) -> None:
    assert drive(Session(), index, b"\r\n", b"   \r\n") == (PROMPT + PROMPT, False)


@pytest.mark.parametrize(
    "line",
    [
        b"\x03\r\n",
        b"\x04",
        b"\xff\xf4\xff\xfd\x06\r\n",
        b"\xff\xec\xff\xfd\x06",
        b"  \x1b[A\r\n",
    ],
    ids=["ctrl-c", "ctrl-d", "telnet-ip", "telnet-eof", "escape"],
)
def test_control_character_line_closes(index: CharIndex, line: bytes) -> None:
    """Ctrl-C / Ctrl-D as a raw byte or as telnet's IAC sequence ends the session."""
    session = Session()
    assert drive(session, index, line) == (b"", True)
    assert session.closed
    assert session.next_event() is None


def test_eof_closes_after_answering_what_is_buffered(index: CharIndex) -> None:
    """A half-closed client still gets the answer to its last, unterminated line."""
    out, closed = drive(Session(), index, b"cat face", b"")
    assert closed
    assert out.startswith(b"U+1F431\t")
    assert f"{RULE} 10 found".encode() in out or RULE.encode() in out


def test_eof_alone_closes(index: CharIndex) -> None:
    assert drive(Session(), index, b"") == (b"", True)


def test_lines_split_across_chunks_are_joined(index: CharIndex) -> None:
    out, _ = drive(Session(), index, b"ca", b"t fa", b"ce\r", b"\n")
    assert out.startswith(b"U+1F431\t")


def test_pipelined_lines_are_answered_in_order(index: CharIndex) -> None:
    out, _ = drive(Session(), index, b"cat face\r\ndollar sign\r\n")
    text = out.decode()
    assert text.index("CAT FACE") < text.index("DOLLAR SIGN")
    assert text.count("?> ") == 2


def test_long_results_are_paged_and_plus_shows_more(index: CharIndex) -> None:
    """'first N of M' on the first page; '+' continues; the last page ends it."""
    total = index.query("sign").total
    session = Session(page_size=2000)
    first, _ = drive(session, index, b"sign\r\n")
    assert (
        lines_of(first)[2000] == f"{RULE} first 2000 of {total} found; send + for more"
    )
    second, _ = drive(session, index, b"+\r\n")
    assert lines_of(second)[0] == format_match(
        index.query("sign", offset=2000, limit=1).matches[0]
    )
    pages = [first, second]
    while b"send + for more" in pages[-1]:
        pages.append(drive(session, index, b"+\r\n")[0])
    status = lines_of(pages[-1])[-2]
    assert status.endswith(f" of {total} found")
    shown = sum(len(lines_of(p)) - 2 for p in pages)
    assert shown == total
    nothing, closed = drive(session, index, b"+\r\n")
    assert nothing.startswith(b"error: nothing more to show")
    assert not closed


def test_plus_before_any_query_is_an_error(index: CharIndex) -> None:
    out, closed = drive(Session(), index, b"+\r\n")
    assert out == b"error: nothing more to show; send a query first\r\n?> "
    assert not closed


def test_new_query_resets_paging(index: CharIndex) -> None:
    session = Session(page_size=5)
    drive(session, index, b"sign\r\n")
    drive(session, index, b"cat face\r\n")
    out, _ = drive(session, index, b"+\r\n")
    assert out.startswith(b"U+")  # cat face has 11 matches: page 6-10
    assert lines_of(out)[-2].startswith(f"{RULE} 6-10 of 11 found")


def test_overlong_line_gets_error_and_tail_is_discarded(index: CharIndex) -> None:
    """A line over the limit is answered once; its tail is skipped, the session lives."""
    session = Session(max_line=100)
    out, closed = drive(session, index, b"x" * 150, b"y" * 10_000, b"z\r\ncat face\r\n")
    assert not closed
    assert out.startswith(b"error: line too long (max 100 bytes), ignored\r\n?> ")
    assert out.count(b"error:") == 1
    assert b"U+1F431\t" in out
    assert len(session._buffer) == 0  # nothing held from the long line


def test_overlong_line_within_one_chunk(index: CharIndex) -> None:
    out, _ = drive(Session(max_line=100), index, b"a" * 101 + b"\r\ncat face\r\n")
    assert out.startswith(b"error: line too long")
    assert b"CAT FACE" in out


def test_line_at_the_limit_is_a_query(index: CharIndex) -> None:
    out, _ = drive(Session(max_line=10), index, b"cat face\r\n")
    assert out.startswith(b"U+1F431")


def test_non_utf8_gets_error_and_session_continues(index: CharIndex) -> None:
    out, closed = drive(Session(), index, b"caf\xe9\r\ncat face\r\n")
    assert out.startswith(b"error: input is not valid UTF-8, ignored\r\n?> ")
    assert b"U+1F431" in out
    assert not closed


def test_query_error_is_reported_not_raised(index: CharIndex) -> None:
    out, closed = drive(Session(), index, b"x" * 1000 + b"y\r\n")
    assert out.startswith(b"error: query too long")
    assert not closed


def test_lone_surrogate_code_point_does_not_break_encoding(index: CharIndex) -> None:
    out, closed = drive(Session(), index, b"U+D800 U+41\r\n")
    assert not closed
    assert out.endswith(PROMPT)


def test_pasted_markup_is_searched_as_characters(index: CharIndex) -> None:
    out, _ = drive(Session(), index, b"<script>\r\n")
    assert "U+003C\t<\tLESS-THAN SIGN" in out.decode()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_any_bytes_never_raise_and_buffer_stays_bounded(
    index: CharIndex, chunks: list[bytes]
) -> None:
    """Hostile input: arbitrary bytes in arbitrary chunks only ever produce replies."""
    session = Session(max_line=64, page_size=3)
    _, closed = drive(session, index, *chunks, b"")
    assert closed
    assert len(session._buffer) <= 64 + 300


def test_shared_render_cache_gives_same_bytes(index: CharIndex) -> None:
    """Sessions sharing rendered pages answer exactly as a lone session does."""
    rendered: dict[tuple[str, int, int], Reply] = {}
    alone, _ = drive(Session(page_size=3), index, b"cat face\r\n+\r\n")
    first, _ = drive(
        Session(page_size=3, rendered=rendered), index, b"cat face\r\n+\r\n"
    )
    second, _ = drive(
        Session(page_size=3, rendered=rendered), index, b"cat face\r\n+\r\n"
    )
    assert alone == first == second
    assert set(rendered) == {("cat face", 3, 0), ("cat face", 3, 3)}


def test_shared_render_cache_still_closes_at_eof(index: CharIndex) -> None:
    """A cached page answering the last line before EOF closes that session only."""
    rendered: dict[tuple[str, int, int], Reply] = {}
    warm, closed = drive(Session(rendered=rendered), index, b"cat face\r\n")
    assert not closed
    last, closed = drive(Session(rendered=rendered), index, b"cat face", b"")
    assert closed
    assert last == warm
    again, closed = drive(Session(rendered=rendered), index, b"cat face\r\n")
    assert (again, closed) == (warm, False)
    assert all(not reply.close for reply in rendered.values())


def test_sequence_lines_list_every_code_point() -> None:
    """A sequence is one line: all its code points, the whole string, its name."""
    from awaitkit.find import Match, QueryResult
    from awaitkit.servers._protocol import render

    family = Match.of(
        "\U0001f468\u200d\U0001f469\u200d\U0001f467", "family: man, woman, girl"
    )
    flag = Match.of("\U0001f1e7\U0001f1f7", "flag: Brazil", via="keyword")
    lines = lines_of(render(QueryResult(2, (family, flag))))
    assert lines[0] == (
        "U+1F468 U+200D U+1F469 U+200D U+1F467\t"
        "\U0001f468\u200d\U0001f469\u200d\U0001f467\tfamily: man, woman, girl"
    )
    assert lines[1] == "U+1F1E7 U+1F1F7\t\U0001f1e7\U0001f1f7\tflag: Brazil"
    assert lines[2] == f"{RULE} 2 found"
    assert all(line.count("\t") == 2 for line in lines[:2])
