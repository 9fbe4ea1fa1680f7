"""DNS packing and parsing: round trips, and hostile bytes only ever raise MalformedPacket."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, strategies as st

from awaitkit.probe._wire import (
    TYPE_A,
    TYPE_AAAA,
    MalformedPacket,
    pack_query,
    parse_reply,
    question,
)
from tests.probe._servers import reply, rr

Q = question("www.example.com", TYPE_A)
Q6 = question("www.example.com", TYPE_AAAA)
NAME = "www.example.com"


def test_query_layout() -> None:
    msg = pack_query(0xBEEF, Q)
    query_id, flags, qd, an, ns, ar = struct.unpack_from(">HHHHHH", msg)
    assert (query_id, flags, qd, an, ns, ar) == (0xBEEF, 0x0100, 1, 0, 0, 1)
    assert msg[12 : 12 + len(Q)] == b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    assert msg.endswith(b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00")  # EDNS0, 1232


def test_question_rejects_bad_names() -> None:
    with pytest.raises(ValueError, match="label"):
        question("a..b", TYPE_A)
    with pytest.raises(ValueError, match="label"):
        question("a" * 64, TYPE_A)


def test_answers_and_cname_chain() -> None:
    target = b"\x06target\x07example\x00"
    answers = (
        rr(b"\xc0\x0c", 5, target)
        + rr(target, 1, bytes([192, 0, 2, 1]))
        + rr(target, 1, bytes([192, 0, 2, 2]))
        + rr(b"\x05other\x00", 1, bytes([10, 0, 0, 1]))  # not on the chain
    )
    parsed = parse_reply(reply(1, Q, answers=answers, count=4), Q, NAME)
    assert parsed is not None
    assert parsed.rcode == 0
    assert parsed.addresses == ("192.0.2.1", "192.0.2.2")


def test_aaaa_and_case_insensitive_question() -> None:
    answer = rr(b"\xc0\x0c", 28, bytes(15) + b"\x01")
    mixed = Q6.replace(b"www", b"WwW")
    parsed = parse_reply(reply(1, mixed, answers=answer, count=1), Q6, NAME)
    assert parsed is not None
    assert parsed.addresses == ("::1",)


def test_other_question_is_not_ours() -> None:
    other = question("www.example.org", TYPE_A)
    assert parse_reply(reply(1, other), Q, NAME) is None
    assert parse_reply(reply(1, Q6), Q, NAME) is None  # same name, other type


def test_truncated_flag() -> None:
    parsed = parse_reply(reply(1, Q, tc=True), Q, NAME)
    assert parsed is not None
    assert parsed.truncated


def test_cname_loop_is_flagged() -> None:
    b = b"\x01b\x00"
    answers = rr(b"\xc0\x0c", 5, b) + rr(b, 5, b"\x03www\x07example\x03com\x00")
    parsed = parse_reply(reply(1, Q, answers=answers, count=2), Q, NAME)
    assert parsed is not None
    assert parsed.cname_loop


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x00" * 11,
        reply(1, Q)[:12] + b"\x03www",  # question cut short is simply "not ours"...
        reply(1, Q, answers=rr(b"\xc0\x0c", 1, bytes(4)), count=2),  # count > records
        reply(1, Q, answers=rr(b"\xc0\x0c", 1, bytes(4))[:-2], count=1),  # rdata cut
        reply(1, Q, answers=rr(b"\xc0\x0c", 1, bytes(5)), count=1),  # A of 5 bytes
        reply(1, Q, answers=rr(b"\xc0", 1, bytes(4)), count=1),  # pointer cut
        reply(1, Q, answers=rr(b"\xc0\xff", 1, bytes(4)), count=1),  # forward pointer
        reply(
            1, Q, answers=rr(b"\x80\x00", 1, bytes(4)), count=1
        ),  # reserved label type
        reply(1, Q, answers=rr(b"\x3fabc", 1, bytes(4)), count=1),  # label past the end
        reply(1, Q, answers=rr(b"\xc0\x0c", 5, b"\x01a"), count=1),  # CNAME rdata cut
        b"\x00\x01\x01\x00" + reply(1, Q)[4:],  # QR bit clear: a query, not a reply
    ],
)
def test_malformed_packets(packet: bytes) -> None:
    try:
        result = parse_reply(packet, Q, NAME)
    except MalformedPacket:
        return
    assert result is None  # only a packet that is about another question gets here


def test_self_pointing_name_is_rejected() -> None:
    here = 12 + len(Q)
    answers = rr(bytes([0xC0 | here >> 8, here & 0xFF]), 1, bytes(4))
    with pytest.raises(MalformedPacket, match="point back"):
        parse_reply(reply(1, Q, answers=answers, count=1), Q, NAME)


def test_pointer_chain_cannot_loop() -> None:
    # Two names pointing at each other: the second points back to the first,
    # which points forward to the second; the backward-only rule stops it.
    first = 12 + len(Q)
    second = first + 2 + 10 + 4
    a = rr(bytes([0xC0, second]), 1, bytes(4))
    b = rr(bytes([0xC0, first]), 1, bytes(4))
    with pytest.raises(MalformedPacket):
        parse_reply(reply(1, Q, answers=a + b, count=2), Q, NAME)


def test_name_longer_than_255_octets_is_rejected() -> None:
    long_owner = b"\x3f" + b"a" * 63
    owner = long_owner * 5 + b"\x00"
    with pytest.raises(MalformedPacket, match="255"):
        parse_reply(reply(1, Q, answers=rr(owner, 1, bytes(4)), count=1), Q, NAME)


@given(st.binary(max_size=600))
def test_random_bytes_never_crash(tail: bytes) -> None:
    packet = reply(7, Q)[: 12 + len(Q)] + tail
    packet = packet[:6] + b"\x00\x09" + packet[8:]  # claim 9 answers
    with contextlib.suppress(MalformedPacket):
        parse_reply(packet, Q, NAME)


@given(st.binary(min_size=0, max_size=300))
def test_fully_random_packets_never_crash(packet: bytes) -> None:
    with contextlib.suppress(MalformedPacket):
        parse_reply(packet, Q, NAME)
