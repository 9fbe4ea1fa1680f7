"""A DNS responder for the probe tests that misbehaves on request.

The real nsd comes from :func:`awaitkit.probe.testing.serving_nsd`.

``FaultServer`` answers on UDP and TCP (same port) according to the first
label of the name asked: ``drop``, ``servfail``, ``refused``, ``tc`` and so
on (see ``_datagram``).  With ``poison`` set it is a poisoning resolver
instead: every name gets ``POISON_ADDRESS``, names that exist nowhere too.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections import Counter
from types import TracebackType

# --- building replies -------------------------------------------------------


def _name_wire(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def _split_query(data: bytes) -> tuple[int, bytes, str, int]:
    """``(id, question bytes, lower-case name, qtype)`` of a query."""
    (query_id,) = struct.unpack_from(">H", data)
    pos = 12
    labels = []
    while data[pos]:
        labels.append(data[pos + 1 : pos + 1 + data[pos]].decode().lower())
        pos += 1 + data[pos]
    pos += 5
    qtype = struct.unpack_from(">H", data, pos - 4)[0]
    return query_id, data[12:pos], ".".join(labels), qtype


def reply(
    query_id: int,
    question: bytes,
    *,
    rcode: int = 0,
    tc: bool = False,
    answers: bytes = b"",
    count: int = 0,
) -> bytes:
    flags = 0x8180 | rcode | (0x0200 if tc else 0)
    return struct.pack(">HHHHHH", query_id, flags, 1, count, 0, 0) + question + answers


def rr(owner: bytes, rtype: int, rdata: bytes, ttl: int = 60) -> bytes:
    """A resource record; ``owner`` is wire form (``b"\\xc0\\x0c"`` = the question name)."""
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


A_ANSWER = rr(b"\xc0\x0c", 1, bytes([192, 0, 2, 77]))
TCP_ANSWER = rr(b"\xc0\x0c", 1, bytes([192, 0, 2, 88]))
POISON_ADDRESS = "192.0.2.66"
POISON_ANSWER = rr(b"\xc0\x0c", 1, bytes([192, 0, 2, 66]))


class FaultServer:
    """UDP + TCP DNS responder on 127.0.0.1 whose behaviour the name picks.

    ``queries`` counts queries per first label; ``mute`` drops everything;
    ``poison`` answers every A query (UDP) with ``POISON_ADDRESS``.
    """

    def __init__(self) -> None:
        self.queries: Counter[str] = Counter()
        self.tcp_queries: Counter[str] = Counter()
        self.mute = False
        self.poison = False
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._spoofer: socket.socket | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._first_seen: set[str] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def __aenter__(self) -> FaultServer:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                tcp = socket.create_server(("127.0.0.1", port))
            except OSError:
                udp.close()
                continue
            break
        else:  # pragma: no cover
            raise RuntimeError("no port free for both UDP and TCP")
        self.port = port
        server = self

        class _Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                server._datagram(data, addr)

        self._udp, _ = await loop.create_datagram_endpoint(_Protocol, sock=udp)
        self._spoofer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._spoofer.bind(("127.0.0.1", 0))
        self._tcp = await asyncio.start_server(self._stream, sock=tcp)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        assert self._udp is not None
        assert self._tcp is not None
        assert self._spoofer is not None
        self._udp.close()
        self._spoofer.close()
        self._tcp.close()
        await self._tcp.wait_closed()

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self._udp is not None
        self._udp.sendto(data, addr)

    def _later(self, delay: float, data: bytes, addr: tuple[str, int]) -> None:
        async def send() -> None:
            await asyncio.sleep(delay)
            self._send(data, addr)

        task = asyncio.get_running_loop().create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        query_id, question, name, _ = _split_query(data)
        kind = name.split(".")[0]
        self.queries[kind] += 1
        if self.mute:
            return
        send = self._send
        if self.poison:
            send(reply(query_id, question, answers=POISON_ANSWER, count=1), addr)
            return
        ok = reply(query_id, question, answers=A_ANSWER, count=1)
        if kind == "drop":
            return
        if kind == "servfail":
            send(reply(query_id, question, rcode=2), addr)
        elif kind == "refused":
            send(reply(query_id, question, rcode=5), addr)
        elif kind == "formerr":
            send(reply(query_id, question, rcode=1), addr)
        elif kind == "nx":
            send(reply(query_id, question, rcode=3), addr)
        elif kind == "nodata":
            send(reply(query_id, question), addr)
        elif kind in ("tc", "tcgarbage", "tcdrop"):
            send(reply(query_id, question, tc=True), addr)
        elif kind == "wrongid":
            send(reply(query_id ^ 0x5A5A, question, answers=A_ANSWER, count=1), addr)
        elif kind == "wrongidthenok":
            send(reply(query_id ^ 0x5A5A, question, rcode=3), addr)
            send(ok, addr)
        elif kind == "mismatch":
            other = _name_wire("other.example") + question[-4:]
            send(reply(query_id, other, rcode=3), addr)
        elif kind == "mismatchthenok":
            other = _name_wire("other.example") + question[-4:]
            send(reply(query_id, other, rcode=3), addr)
            send(ok, addr)
        elif kind == "garbage":
            send(data[:2] + os.urandom(200), addr)
        elif kind == "garbagethenok":
            send(data[:2] + b"\x81\x80\x00\x01\x00\x05" + os.urandom(50), addr)
            send(ok, addr)
        elif kind == "short":
            send(data[:2] + b"\x81", addr)
        elif kind == "noqr":
            send(data[:2] + b"\x01\x80" + ok[4:], addr)
        elif kind == "dupe":
            send(ok, addr)
            send(reply(query_id, question, rcode=3), addr)  # a late contradiction
        elif kind == "slowfirst":
            if name in self._first_seen:
                self._later(0.3, ok, addr)
            else:
                self._first_seen.add(name)
                # Answers the first try after the client gave up on it, while
                # its retry is still waiting.
                self._later(0.7, reply(query_id, question, rcode=3), addr)
        elif kind == "spoof":
            assert self._spoofer is not None
            self._spoofer.sendto(reply(query_id, question, rcode=3), addr)
        elif kind == "pointerloop":
            here = 12 + len(question)  # the owner name points at itself
            loop_rr = rr(bytes([0xC0 | here >> 8, here & 0xFF]), 1, bytes(4))
            send(reply(query_id, question, answers=loop_rr, count=1), addr)
        elif kind == "forwardptr":
            send(
                reply(
                    query_id, question, answers=rr(b"\xc0\xff", 1, bytes(4)), count=1
                ),
                addr,
            )
        elif kind == "badaddr":
            send(
                reply(
                    query_id, question, answers=rr(b"\xc0\x0c", 1, bytes(5)), count=1
                ),
                addr,
            )
        elif kind == "overcount":
            send(reply(query_id, question, answers=A_ANSWER, count=40), addr)
        elif kind == "cnameloop":
            a = _name_wire("cnameloop.example")
            b = _name_wire("b.example")
            answers = rr(b"\xc0\x0c", 5, b) + rr(b, 5, a)
            send(reply(query_id, question, answers=answers, count=2), addr)
        elif kind == "chain":
            target = _name_wire("target.example")
            answers = rr(b"\xc0\x0c", 5, target) + rr(target, 1, bytes([192, 0, 2, 99]))
            send(reply(query_id, question, answers=answers, count=2), addr)
        else:
            send(ok, addr)

    async def _stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            (length,) = struct.unpack(">H", await reader.readexactly(2))
            data = await reader.readexactly(length)
            query_id, question, name, _ = _split_query(data)
            kind = name.split(".")[0]
            self.tcp_queries[kind] += 1
            if kind == "tcdrop":
                return
            if kind == "tcgarbage":
                message = data[:2] + os.urandom(30)
            else:
                message = reply(query_id, question, answers=TCP_ANSWER, count=1)
            writer.write(struct.pack(">H", len(message)) + message)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
