"""Full parsing of replies: every record type as dig shows it, and hostile RDATA."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import example, given, strategies as st

from awaitkit.probe._records import (
    RECORD_TYPES,
    Record,
    parse_message,
    rdata_text,
    type_code,
    type_name,
)
from awaitkit.probe._wire import TYPE_A, MalformedPacket, parse_reply, question
from tests.probe._servers import reply, rr

NAME = "www.example.com"
Q = question(NAME, TYPE_A)
HERE = 12 + len(Q)  # where the first answer record starts
PTR_Q = b"\xc0\x0c"  # a pointer to the question name
MAIL = b"\x04mail\x07example\x03com\x00"


def _parse(answers: bytes, count: int, wire: bytes = Q, **kw: object) -> object:
    return parse_message(reply(1, wire, answers=answers, count=count, **kw), wire, NAME)


def _one(rtype: int, rdata: bytes) -> str:
    message = _parse(rr(PTR_Q, rtype, rdata), 1)
    assert message is not None
    (record,) = message.answers  # type: ignore[attr-defined]
    assert record.name == NAME
    assert record.ttl == 60
    assert record.type == type_name(rtype)
    return record.data


@pytest.mark.parametrize(
    ("rtype", "rdata", "text"),
    [
        ("A", bytes([192, 0, 2, 1]), "192.0.2.1"),
        ("AAAA", bytes(15) + b"\x01", "::1"),
        ("CNAME", MAIL, "mail.example.com."),
        ("NS", b"\x02ns\xc0\x0c", "ns.www.example.com."),  # compressed in RDATA
        ("PTR", b"\x04host\x04test\x00", "host.test."),
        ("MX", b"\x00\x0a" + MAIL, "10 mail.example.com."),
        ("MX", b"\x00\x00\x00", "0 ."),  # RFC 7505 null MX
        ("TXT", b"\x05hello\x00\x05world", '"hello" "" "world"'),
        ("TXT", b'\x07a"b\\c d', '"a\\"b\\\\c d"'),
        ("TXT", b"\x04\xc3\xa9\x00\x7f", '"\\195\\169\\000\\127"'),  # dig's \DDD
        ("TXT", b"", '""'),
        (
            "SOA",
            b"\x02ns\xc0\x10\x05admin\xc0\x10"
            + struct.pack(">IIIII", 1, 3600, 600, 86400, 300),
            "ns.example.com. admin.example.com. 1 3600 600 86400 300",
        ),
        (
            "SRV",
            struct.pack(">HHH", 0, 5, 5060) + b"\x03sip\xc0\x10",
            "0 5 5060 sip.example.com.",
        ),
        ("CAA", b"\x00\x05issueletsencrypt.org", '0 issue "letsencrypt.org"'),
        ("CAA", b"\x80\x03tbs\x00\xff", '128 tbs "\\000\\255"'),
        ("CAA", b"\x00\x05issue", '0 issue ""'),
    ],
)
def test_every_type_in_dig_format(rtype: str, rdata: bytes, text: str) -> None:
    assert _one(RECORD_TYPES[rtype], rdata) == text


def test_unknown_type_in_rfc3597_form() -> None:
    assert _one(99, b"\x0a\x00\x00\x01") == "\\# 4 0A000001"
    assert _one(99, b"") == "\\# 0"
    assert type_name(99) == "TYPE99"


def test_names_with_odd_bytes_are_escaped_as_dig_does() -> None:
    assert _one(RECORD_TYPES["PTR"], b"\x03a.b\x04c d\xff\x00") == "a\\.b.c\\032d\\255."
    assert _one(RECORD_TYPES["PTR"], b'\x03"@$\x00') == '\\"\\@\\$.'


def test_type_names_case_insensitive() -> None:
    assert type_code("mx") == 15
    assert type_code("Caa") == 257
    with pytest.raises(ValueError, match="unknown"):
        type_code("ANY")


def test_chain_two_hops_and_records_of_the_end() -> None:
    b = b"\x01b\x07example\x00"
    answers = (
        rr(PTR_Q, 5, b)
        + rr(b, 5, b"\x01c\x07example\x00")
        + rr(b"\x01c\x07example\x00", 1, bytes([192, 0, 2, 9]))
        + rr(b"\x05other\x00", 1, bytes([10, 0, 0, 1]))
    )
    message = _parse(answers, 4)
    assert message is not None
    assert message.chain == ("b.example", "c.example")  # type: ignore[attr-defined]
    assert message.final == "c.example"  # type: ignore[attr-defined]
    assert message.records_of("A") == (  # type: ignore[attr-defined]
        Record("c.example", "A", 60, "192.0.2.9"),
    )
    assert len(message.answers) == 4  # type: ignore[attr-defined]


def test_cname_loop_is_flagged() -> None:
    b = b"\x01b\x00"
    answers = rr(PTR_Q, 5, b) + rr(b, 5, b"\x03www\x07example\x03com\x00")
    message = _parse(answers, 2)
    assert message is not None
    assert message.cname_loop  # type: ignore[attr-defined]


def test_owner_names_are_lower_case_and_other_classes_skipped() -> None:
    chaos = (
        b"\x03WWW\x07Example\x03COM\x00" + struct.pack(">HHIH", 16, 3, 0, 1) + b"\x00"
    )
    answers = rr(b"\x03WWW\x07Example\x03COM\x00", 1, bytes(4)) + chaos
    message = _parse(answers, 2)
    assert message is not None
    assert message.answers == (Record(NAME, "A", 60, "0.0.0.0"),)  # type: ignore[attr-defined]


def test_other_question_and_truncation() -> None:
    other = question("www.example.org", TYPE_A)
    assert parse_message(reply(1, other), Q, NAME) is None
    message = _parse(b"", 0, tc=True)
    assert message is not None
    assert message.truncated  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("rtype", "rdata"),
    [
        ("A", bytes(5)),
        ("AAAA", bytes(4)),
        ("CNAME", MAIL + b"\x00"),  # RDATA longer than the name
        ("CNAME", b"\x04mail"),  # name cut inside its RDATA
        ("NS", b"\xc0"),  # pointer cut
        ("NS", b"\xc0\xff"),  # forward pointer
        ("PTR", b"\x80\x00"),  # reserved label type
        ("MX", b"\x00"),
        ("MX", b"\x00\x0a\x04mail"),
        ("TXT", b"\x05hi"),  # string runs past the RDATA
        ("SOA", b"\x00\x00" + bytes(19)),  # 19 of 20 number bytes
        ("SOA", b"\x00\x00" + bytes(21)),
        ("SRV", b"\x00\x01\x00\x02\x00"),  # no target
        ("CAA", b"\x00"),
        ("CAA", b"\x00\x00value"),  # empty tag
        ("CAA", b"\x00\x09issue"),  # tag past the end
        ("CAA", b"\x00\x02i-x"),  # not alphanumeric
        ("CAA", b"\x00\x02\xc3\xa9x"),
    ],
)
def test_malformed_rdata_raises(rtype: str, rdata: bytes) -> None:
    with pytest.raises(MalformedPacket):
        _parse(rr(PTR_Q, RECORD_TYPES[rtype], rdata), 1)


def test_compressed_names_inside_rdata_point_back_only() -> None:
    # The SOA's MNAME points to the RNAME that follows it: forward, refused.
    soa = b"\xc0" + bytes([HERE + 12 + 2]) + b"\x05admin\x00" + bytes(20)
    with pytest.raises(MalformedPacket, match="point back"):
        _parse(rr(PTR_Q, 6, soa), 1)


def test_pointer_loop_inside_rdata() -> None:
    # A CNAME whose target points at itself.
    here = HERE + 12
    with pytest.raises(MalformedPacket, match="point back"):
        _parse(rr(PTR_Q, 5, bytes([0xC0 | here >> 8, here & 0xFF])), 1)


def test_rdata_length_past_the_packet() -> None:
    record = PTR_Q + struct.pack(">HHIH", 16, 1, 60, 50) + b"\x03abc"
    with pytest.raises(MalformedPacket, match="past the end"):
        _parse(record, 1)


def test_oversized_answer_count_on_a_short_packet() -> None:
    packet = reply(1, Q, answers=rr(PTR_Q, 1, bytes(4)), count=1)
    packet = packet[:6] + b"\xff\xff" + packet[8:]
    with pytest.raises(MalformedPacket, match=r"past the end|truncated"):
        parse_message(packet, Q, NAME)
    with pytest.raises(MalformedPacket):
        parse_reply(packet, Q, NAME)


def test_rdata_text_bounds_are_the_records() -> None:
    data = b"\x00\x0a\x04mail\x00trailing"
    assert rdata_text(data, 15, 0, 8) == "10 mail."
    with pytest.raises(MalformedPacket):
        rdata_text(data, 15, 0, 7)


def test_parse_reply_ignores_records_of_other_types() -> None:
    """An MX query: the address parser reads no MX RDATA as an address."""
    mx_q = question(NAME, 15)
    packet = reply(1, mx_q, answers=rr(PTR_Q, 15, b"\x00\x0a" + MAIL), count=1)
    parsed = parse_reply(packet, mx_q, NAME)
    assert parsed is not None
    assert parsed.addresses == ()
    assert parsed.packet == packet


@given(st.integers(min_value=0, max_value=300), st.binary(max_size=80))
def test_random_rdata_never_crashes(rtype: int, rdata: bytes) -> None:
    with contextlib.suppress(MalformedPacket):
        _parse(rr(PTR_Q, rtype if rtype < 260 else 257, rdata), 1)


@given(st.binary(max_size=400))
def test_random_answer_sections_never_crash(tail: bytes) -> None:
    packet = reply(7, Q)[:HERE] + tail
    packet = packet[:6] + b"\x00\x09" + packet[8:]
    with contextlib.suppress(MalformedPacket):
        parse_message(packet, Q, NAME)


# --- the full answer's fast path -------------------------------------------------


@example(0, "A", 300, PTR_Q, 1, 1, 1, b"")  # the common found reply
@example(0, "AAAA", 2**32 - 1, PTR_Q, 28, 1, 1, b"\x00")
@example(3, "A", 60, PTR_Q, 1, 1, 0, b"")  # NXDOMAIN
@example(0, "A", 60, PTR_Q, 1, 1, 2, b"")  # two records: the full parse
@example(0, "A", 60, PTR_Q, 5, 1, 1, b"")  # a CNAME alone
@given(
    rcode=st.sampled_from([0, 2, 3, 5]),
    qtype=st.sampled_from(["A", "AAAA"]),
    ttl=st.integers(min_value=0, max_value=2**32 - 1),
    owner=st.sampled_from([PTR_Q, question(NAME, TYPE_A)[:-4], MAIL]),
    rtype=st.sampled_from([1, 28, 5]),
    rclass=st.sampled_from([1, 3]),
    count=st.integers(min_value=0, max_value=2),
    tail=st.binary(max_size=12),
)
def test_full_answer_fast_path_equals_the_full_parse(
    rcode: int,
    qtype: str,
    ttl: int,
    owner: bytes,
    rtype: int,
    rclass: int,
    count: int,
    tail: bytes,
) -> None:
    """Whatever the reply, the shortcut gives what parse_message gives."""
    from awaitkit.probe import DirectResolver
    from awaitkit.probe._records import RECORD_TYPES

    code = RECORD_TYPES[qtype]
    wire = question(NAME, code)
    rdata = {1: bytes([192, 0, 2, 7]), 28: bytes(15) + b"\x01", 5: MAIL}[rtype]
    record = owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata
    packet = reply(9, wire, rcode=rcode, answers=record * count + tail, count=count)
    try:
        parsed = parse_reply(packet, wire, NAME)
    except MalformedPacket:
        return  # never handed on
    assert parsed is not None
    resolver = DirectResolver(["127.0.0.1:53"])
    fast = resolver._full_answer(parsed, wire, NAME, code, "127.0.0.1:53")
    slow = resolver._parsed_answer(parsed, wire, NAME, code, "127.0.0.1:53")
    assert fast == slow
