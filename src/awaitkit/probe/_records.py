"""Resource records in text: :class:`Record` and RDATA decoding, as dig prints them.  Sans-I/O.

The ten types a prober is asked about (A, AAAA, CNAME, MX, NS, TXT, SOA,
PTR, SRV, CAA) are decoded to dig's presentation format: names inside RDATA
are absolute (``mail.test.``), character strings are quoted with ``"`` and
``\\`` escaped by a backslash and every byte outside printable ASCII written
``\\DDD`` (decimal), as BIND does.  Any other type is shown in the RFC 3597
generic form ``\\# LENGTH HEX``.

Every read is bounds-checked; bad bytes raise
:class:`~awaitkit.probe._wire.MalformedPacket` and nothing else.
Compression pointers must point strictly backwards (no loops possible).
"""

from __future__ import annotations

import socket
from typing import NamedTuple

from awaitkit.probe._wire import MalformedPacket, read_name

__all__ = [
    "RECORD_TYPES",
    "Message",
    "Record",
    "name_text",
    "parse_message",
    "rdata_text",
    "read_name",
    "type_code",
    "type_name",
]

#: The record types ``probe`` can ask for, by name.
RECORD_TYPES: dict[str, int] = {
    "A": 1,
    "NS": 2,
    "CNAME": 5,
    "SOA": 6,
    "PTR": 12,
    "MX": 15,
    "TXT": 16,
    "AAAA": 28,
    "SRV": 33,
    "CAA": 257,
}
_TYPE_NAMES = {code: name for name, code in RECORD_TYPES.items()}
# Bytes a label shows behind a backslash (BIND's dns_name_totext).
_NAME_SPECIAL = frozenset(b'".;\\()@$')
_PLAIN = bytes(c for c in range(0x21, 0x7F) if c not in _NAME_SPECIAL)


class Record(NamedTuple):
    """One answer record: owner ``name`` (lower case, no final dot), ``type``
    (``"MX"``, or ``"TYPE99"`` when not one of :data:`RECORD_TYPES`), ``ttl``
    (seconds) and ``data`` (dig's presentation format, e.g. ``"10 mail.test."``).
    """

    name: str
    type: str
    ttl: int
    data: str


def type_name(code: int) -> str:
    """``15`` -> ``"MX"``; an unknown type is ``"TYPE<code>"`` (RFC 3597)."""
    return _TYPE_NAMES.get(code) or f"TYPE{code}"


def type_code(name: str) -> int:
    """``"mx"`` -> ``15`` (case-insensitive); ``ValueError`` for any other name."""
    code = RECORD_TYPES.get(name.upper())
    if code is None:
        raise ValueError(f"unknown record type {name!r}")
    return code


def _label_text(label: bytes) -> str:
    if not label.translate(None, _PLAIN):
        return label.decode("ascii")
    out = []
    for c in label:
        if c in _NAME_SPECIAL:
            out.append("\\" + chr(c))
        elif 0x20 < c < 0x7F:
            out.append(chr(c))
        else:
            out.append(f"\\{c:03d}")
    return "".join(out)


def name_text(labels: list[bytes], *, absolute: bool = True) -> str:
    """Presentation form of a name: ``mail.test.`` (``mail.test`` if not ``absolute``).

    The root is ``.`` either way.
    """
    if not labels:
        return "."
    text = ".".join(_label_text(label) for label in labels)
    return text + "." if absolute else text


def _string_text(raw: bytes) -> str:
    out = ['"']
    for c in raw:
        if c == 0x22 or c == 0x5C:
            out.append("\\" + chr(c))
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append(f"\\{c:03d}")
    out.append('"')
    return "".join(out)


def _name_at(data: bytes, pos: int, end: int) -> tuple[str, int]:
    labels, after = read_name(data, pos)
    if after > end:
        raise MalformedPacket("name runs past its RDATA")
    return name_text(labels), after


def _exact(after: int, end: int, rtype: int) -> None:
    if after != end:
        raise MalformedPacket(f"{type_name(rtype)} RDATA length mismatch")


def _u16(data: bytes, pos: int) -> int:
    return (data[pos] << 8) | data[pos + 1]


def rdata_text(data: bytes, rtype: int, start: int, end: int) -> str:
    """The RDATA at ``data[start:end]`` of a record of type ``rtype``, as dig shows it.

    ``data`` is the whole message (names in RDATA may point back into it);
    ``end`` must lie within ``data``.
    """
    length = end - start
    if rtype == 1 or rtype == 28:
        if length != (4 if rtype == 1 else 16):
            raise MalformedPacket("address of the wrong length")
        family = socket.AF_INET if rtype == 1 else socket.AF_INET6
        return socket.inet_ntop(family, data[start:end])
    if rtype in (2, 5, 12):  # NS, CNAME, PTR
        text, after = _name_at(data, start, end)
        _exact(after, end, rtype)
        return text
    if rtype == 15 or rtype == 33:  # MX, SRV
        fixed = 2 if rtype == 15 else 6
        if length < fixed + 1:
            raise MalformedPacket(f"{type_name(rtype)} RDATA too short")
        numbers = [_u16(data, start + i) for i in range(0, fixed, 2)]
        text, after = _name_at(data, start + fixed, end)
        _exact(after, end, rtype)
        return " ".join([*map(str, numbers), text])
    if rtype == 16:  # TXT: one or more character strings
        strings = []
        pos = start
        while pos < end:
            size = data[pos]
            pos += 1 + size
            if pos > end:
                raise MalformedPacket("TXT string runs past its RDATA")
            strings.append(_string_text(data[pos - size : pos]))
        return " ".join(strings) if strings else '""'
    if rtype == 6:  # SOA
        mname, pos = _name_at(data, start, end)
        rname, pos = _name_at(data, pos, end)
        _exact(pos + 20, end, rtype)
        numbers = [int.from_bytes(data[p : p + 4], "big") for p in range(pos, end, 4)]
        return " ".join([mname, rname, *map(str, numbers)])
    if rtype == 257:  # CAA: flags, tag length, tag, value
        if length < 2:
            raise MalformedPacket("CAA RDATA too short")
        flags, tag_length = data[start], data[start + 1]
        tag = data[start + 2 : start + 2 + tag_length]
        if not tag_length or start + 2 + tag_length > end:
            raise MalformedPacket("CAA tag missing or past its RDATA")
        if not (tag.isascii() and tag.isalnum()):
            raise MalformedPacket("CAA tag is not alphanumeric")
        value = data[start + 2 + tag_length : end]
        return f"{flags} {tag.decode('ascii')} {_string_text(value)}"
    raw = data[start:end]
    return f"\\# {length} {raw.hex().upper()}" if raw else "\\# 0"


_HEADER_SIZE = 12
_FLAG_QR = 0x8000
_FLAG_TC = 0x0200
_OPCODE_MASK = 0x7800


class Message(NamedTuple):
    """A whole reply: ``rcode``, every answer record, the CNAME ``chain``.

    ``chain`` is the names the CNAME records lead to from the question
    name, in order (the question name itself not included); ``final`` is
    where it ends (the question name when there is no CNAME), and
    ``cname_loop`` is set when the chain never ends inside the answer.
    """

    rcode: int
    truncated: bool
    answers: tuple[Record, ...]
    chain: tuple[str, ...]
    final: str
    cname_loop: bool = False

    def records_of(self, rtype: str) -> tuple[Record, ...]:
        """The answer records of type ``rtype`` owned by the end of the chain."""
        final = self.final
        return tuple(r for r in self.answers if r.type == rtype and r.name == final)


def parse_message(data: bytes, wire_question: bytes, qname: str) -> Message | None:
    """Parse a reply to ``wire_question`` (for ``qname``, lower-case ASCII) in full.

    Like :func:`~awaitkit.probe._wire.parse_reply`, returns ``None`` for a
    reply to another question and raises :class:`MalformedPacket` for
    bytes that are not a DNS reply, and also when any answer record's RDATA
    is malformed (a name running past its RDATA, a length that does not
    match, a CAA record without a tag...).  Records of classes other than
    IN are skipped; the authority and additional sections are not read.
    """
    n = len(data)
    if n < _HEADER_SIZE:
        raise MalformedPacket("shorter than a DNS header")
    flags = _u16(data, 2)
    qdcount, ancount = _u16(data, 4), _u16(data, 6)
    if not flags & _FLAG_QR or flags & _OPCODE_MASK:
        raise MalformedPacket("not a standard query response")
    pos = _HEADER_SIZE + len(wire_question)
    if qdcount != 1 or data[_HEADER_SIZE:pos].lower() != wire_question:
        return None
    rcode = flags & 0x000F
    if flags & _FLAG_TC:
        return Message(rcode, True, (), (), qname)
    answers: list[Record] = []
    cnames: dict[str, str] = {}
    for _ in range(ancount):
        labels, pos = read_name(data, pos)
        if pos + 10 > n:
            raise MalformedPacket("truncated resource record")
        rtype, rclass = _u16(data, pos), _u16(data, pos + 2)
        ttl = int.from_bytes(data[pos + 4 : pos + 8], "big")
        start = pos + 10
        pos = start + _u16(data, pos + 8)
        if pos > n:
            raise MalformedPacket("rdata runs past the end")
        if rclass != 1:
            continue
        owner = name_text([label.lower() for label in labels], absolute=False)
        text = rdata_text(data, rtype, start, pos)
        answers.append(Record(owner, type_name(rtype), ttl, text))
        if rtype == 5:
            cnames[owner] = text.lower().removesuffix(".") or "."
    # Each hop uses one record, so a chain longer than the records is a loop.
    chain: list[str] = []
    current = qname
    for _ in range(len(cnames) + 1):
        hop = cnames.get(current)
        if hop is None:
            return Message(rcode, False, tuple(answers), tuple(chain), current)
        chain.append(hop)
        current = hop
    return Message(rcode, False, tuple(answers), tuple(chain), current, True)
