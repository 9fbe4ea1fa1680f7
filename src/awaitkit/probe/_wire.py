"""DNS messages on the wire: pack queries, parse replies' addresses.  Sans-I/O.

Only what a prober needs (RFC 1035, RFC 6891 for the EDNS0 OPT record).  The
parser reads bytes from strangers, so every read is bounds-checked and every
failure is one exception, :class:`MalformedPacket`; compression pointers must
point strictly backwards, which makes pointer loops impossible.
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

__all__ = [
    "CLASS_IN",
    "TYPE_A",
    "TYPE_AAAA",
    "TYPE_CNAME",
    "MalformedPacket",
    "Reply",
    "pack_query",
    "parse_reply",
    "question",
    "rcode_text",
    "read_name",
]

TYPE_A = 1
TYPE_CNAME = 5
TYPE_AAAA = 28
CLASS_IN = 1

RCODE_NOERROR = 0
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_REFUSED = 5
_RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP"}
_RCODE_NAMES[RCODE_REFUSED] = "REFUSED"

_HEADER = struct.Struct(">HHHHHH")
_RR = struct.Struct(">HHIH")  # type, class, ttl, rdlength
_FLAG_QR = 0x8000
_FLAG_TC = 0x0200
_FLAG_RD = 0x0100
_OPCODE_MASK = 0x7800
# EDNS0 OPT pseudo-record: root name, type 41, UDP payload 1232 (the DNS flag
# day 2020 size that avoids IP fragmentation), no extended flags.
_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
_MAX_NAME_WIRE = 255
_ADDRESS_FAMILIES = {TYPE_A: (socket.AF_INET, 4), TYPE_AAAA: (socket.AF_INET6, 16)}


_tuple_new = tuple.__new__


class MalformedPacket(ValueError):
    """The bytes are not a well-formed DNS reply."""


class Reply(NamedTuple):
    """What a reply says about the question asked.

    ``addresses`` are those of the asked type (A or AAAA; none for other
    types) at the end of the CNAME chain that starts at the question name;
    ``cname_loop`` is set when that chain never ends inside the answer.
    ``packet`` is the reply's bytes, for a full parse
    (:func:`~awaitkit.probe._records.parse_message`) when one is wanted.
    """

    rcode: int
    truncated: bool
    addresses: tuple[str, ...] = ()
    cname_loop: bool = False
    packet: bytes = b""


def rcode_text(rcode: int) -> str:
    """``3`` -> ``"NXDOMAIN"``, as dig names it; others are ``"RCODE<n>"``."""
    return _RCODE_NAMES.get(rcode) or f"RCODE{rcode}"


def question(name: str, qtype: int) -> bytes:
    """Wire form of the question section for an already validated ASCII ``name``."""
    out = bytearray()
    if name:
        for label in name.lower().split("."):
            raw = label.encode("ascii")
            if not 0 < len(raw) < 64:
                raise ValueError(f"bad label in {name!r}")
            out.append(len(raw))
            out += raw
    out.append(0)
    if len(out) > _MAX_NAME_WIRE:
        raise ValueError(f"name too long: {name!r}")
    out += struct.pack(">HH", qtype, CLASS_IN)
    return bytes(out)


def pack_query(query_id: int, wire_question: bytes, *, edns: bool = True) -> bytes:
    """A recursion-desired query with one question (and an EDNS0 OPT record)."""
    header = _HEADER.pack(query_id, _FLAG_RD, 1, 0, 0, 1 if edns else 0)
    return header + wire_question + (_OPT if edns else b"")


def read_name(data: bytes, offset: int) -> tuple[list[bytes], int]:
    """The labels of the (possibly compressed) name at ``offset``, and its end offset."""
    labels: list[bytes] = []
    end = -1
    pos = offset
    limit = offset  # each pointer must go strictly below the previous one
    size = 1
    n = len(data)
    while True:
        if pos >= n:
            raise MalformedPacket("name runs past the end")
        length = data[pos]
        if length == 0:
            return labels, (pos + 1 if end < 0 else end)
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= n:
                raise MalformedPacket("truncated compression pointer")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= limit:
                raise MalformedPacket("compression pointer does not point back")
            limit = pos = target
            continue
        if kind:
            raise MalformedPacket("unsupported label type")
        start = pos + 1
        pos = start + length
        if pos > n:
            raise MalformedPacket("label runs past the end")
        size += length + 1
        if size > _MAX_NAME_WIRE:
            raise MalformedPacket("name longer than 255 octets")
        labels.append(data[start:pos])


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` as lower-case text (Latin-1: any octet maps), and its end."""
    labels, end = read_name(data, offset)
    return b".".join(labels).decode("latin-1").lower(), end


def parse_reply(data: bytes, wire_question: bytes, qname: str) -> Reply | None:
    """Parse a reply to ``wire_question`` (for ``qname``, lower-case ASCII).

    Returns ``None`` when the packet is a reply to another question (the
    caller ignores it) and raises :class:`MalformedPacket` on bytes that are
    not a DNS reply.  The message id is the caller's to check.
    """
    if len(data) < 12:
        raise MalformedPacket("shorter than a DNS header")
    _, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(data)
    if not flags & _FLAG_QR or flags & _OPCODE_MASK:
        raise MalformedPacket("not a standard query response")
    end = 12 + len(wire_question)
    # Servers echo the question as sent; compare case-insensitively all the
    # same (bytes.lower() touches only A-Z, never a length or type octet
    # that matters: lengths are < 64 and the type/class octets are < 0x41).
    if qdcount != 1 or data[12:end].lower() != wire_question:
        return None
    rcode = flags & 0x000F
    if flags & _FLAG_TC:
        return Reply(rcode, True, (), False, data)
    if not ancount:
        return _tuple_new(Reply, (rcode, False, (), False, data))
    qtype = (wire_question[-4] << 8) | wire_question[-3]
    # Other types than A/AAAA: only the CNAME chain is read here (size 0
    # never matches the fast path; their records are parse_message's).
    family, size = _ADDRESS_FAMILIES.get(qtype, (socket.AF_INET, 0))
    # Fast path for the common reply: one address record whose owner is a
    # pointer to the question name.
    if ancount == 1 and data[end : end + 2] == b"\xc0\x0c":
        rtype, rclass, _, rdlength = (
            _RR.unpack_from(data, end + 2) if len(data) >= end + 12 else (0, 0, 0, 0)
        )
        start = end + 12
        if (
            rtype == qtype
            and rclass == CLASS_IN
            and rdlength == size
            and start + size <= len(data)
        ):
            # tuple.__new__ skips the NamedTuple's Python-level __new__: this
            # line runs once per name found.
            return _tuple_new(
                Reply,
                (
                    rcode,
                    False,
                    (socket.inet_ntop(family, data[start : start + size]),),
                    False,
                    data,
                ),
            )
    cnames: dict[str, str] = {}
    found: dict[str, list[str]] = {}
    pos = end
    n = len(data)
    for _ in range(ancount):
        owner, pos = _read_name(data, pos)
        if pos + 10 > n:
            raise MalformedPacket("truncated resource record")
        rtype, rclass, _, rdlength = _RR.unpack_from(data, pos)
        rdata = pos + 10
        pos = rdata + rdlength
        if pos > n:
            raise MalformedPacket("rdata runs past the end")
        if rclass != CLASS_IN:
            continue
        if rtype == qtype and size:
            if rdlength != size:
                raise MalformedPacket("address of the wrong length")
            address = socket.inet_ntop(family, data[rdata:pos])
            found.setdefault(owner, []).append(address)
        elif rtype == TYPE_CNAME:
            target, target_end = _read_name(data, rdata)
            if target_end != pos:
                raise MalformedPacket("CNAME rdata length mismatch")
            cnames[owner] = target
    # Follow the chain from the question name; each hop uses one record, so
    # a chain longer than the records present is a loop.
    current = qname
    for _ in range(len(cnames) + 1):
        hop = cnames.get(current)
        if hop is None:
            return Reply(rcode, False, tuple(found.get(current, ())), False, data)
        current = hop
    return Reply(rcode, False, (), True, data)
