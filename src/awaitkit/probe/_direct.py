"""DirectResolver: DNS queries straight to nameservers over one UDP socket.

Why not ``getaddrinfo``: it blocks a thread per lookup, so asyncio's small
default pool caps throughput at threads / RTT, and it folds timeouts and
SERVFAIL into the same ``gaierror`` as "no such name".  Here every query is a
hand-packed datagram on one socket (per address family), matched back to its
waiter by message id *and* question, from the nameserver it was sent to;
anything else that arrives (wrong id, other question, late duplicates,
garbage) is counted and ignored.  A truncated reply is re-asked over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import struct
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Literal

from awaitkit.core import UsageError
from awaitkit.probe._records import (
    RECORD_TYPES,
    Message,
    Record,
    parse_message,
    type_name,
)
from awaitkit.probe._resolvers import ServerStats, format_server
from awaitkit.probe._result import FAILURES, Answer, Status
from awaitkit.probe._udp import QueryProtocol, RateLimiter, Stats, open_udp
from awaitkit.probe._wire import (
    RCODE_NOERROR,
    RCODE_NXDOMAIN,
    RCODE_REFUSED,
    TYPE_A,
    TYPE_AAAA,
    MalformedPacket,
    Reply,
    pack_query,
    parse_reply,
    question,
)

__all__ = [
    "DirectResolver",
    "QueryTypes",
    "combine",
    "parse_nameserver",
    "parse_types",
]

log = logging.getLogger(__name__)

QueryTypes = Literal["A", "AAAA", "both"]
_ADDRESS_TYPES = (TYPE_A, TYPE_AAAA)


def parse_types(types: str | Sequence[str]) -> tuple[str, ...]:
    """``"mx"`` or ``["A", "txt"]`` -> ``("MX",)``, ``("A", "TXT")``; ``both`` is A + AAAA.

    Case-insensitive, duplicates dropped; raises
    :class:`~awaitkit.core.UsageError` for a type not in RECORD_TYPES.
    """
    asked = [types] if isinstance(types, str) else list(types)
    names: dict[str, None] = {}
    for item in asked:
        text = item.strip().upper() if isinstance(item, str) else repr(item)
        expanded = ("A", "AAAA") if text == "BOTH" else (text,)
        for name in expanded:
            if name not in RECORD_TYPES:
                known = ", ".join(RECORD_TYPES)
                raise UsageError(f"bad query type {item!r}: {known} or both")
            names[name] = None
    if not names:
        raise UsageError("no query type given")
    return tuple(names)


_TCP_CONNECTIONS = 32  # truncation is rare; don't open a storm of sockets


def parse_nameserver(spec: str) -> tuple[str, int]:
    """``"IP"``, ``"IP:PORT"``, ``"[IPv6]:PORT"`` or bare IPv6 -> ``(ip, port)``.

    Raises :class:`~awaitkit.core.UsageError` for anything else (hostnames
    included: a resolver must not need a resolver).
    """
    text = spec.strip()
    host, port_text = text, "53"
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise UsageError(f"bad nameserver {spec!r}: expected [IPv6]:PORT")
        port_text = rest[1:] if rest else "53"
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    try:
        address = ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise UsageError(f"bad nameserver {spec!r}: expected IP or IP:PORT") from None
    if not 0 < port < 65536:
        raise UsageError(f"bad nameserver {spec!r}: port out of range")
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # replies come from the IPv4 form
    return str(address), port


def combine(answers: Sequence[Answer]) -> Answer:
    """Merge the answers of several types (A and AAAA...) for one name.

    Any FOUND makes it FOUND; an NXDOMAIN is about the name, so it wins
    next; then a failure (the other type might have had addresses); NODATA
    only when every type said NODATA.  Full answers merge too: all the
    records, the first chain found, queries summed, the slowest duration,
    and the rcode and resolver of the first answer with the merged status.
    """
    addresses = tuple(a for answer in answers for a in answer.addresses)
    statuses = [answer.status for answer in answers]
    if Status.FOUND in statuses:
        status = Status.FOUND
    elif Status.NXDOMAIN in statuses:
        status = Status.NXDOMAIN
    else:
        status = next(
            (s for s in statuses if s in FAILURES or s is Status.INVALID),
            Status.NODATA,
        )
    if not any(answer.attempts for answer in answers):
        return Answer(status, addresses if status is Status.FOUND else ())
    deciding = (
        next(a for a in answers if a.status is status)
        if status in statuses
        else answers[0]
    )
    durations = [a.duration for a in answers if a.duration is not None]
    return Answer(
        status,
        addresses if status is Status.FOUND else (),
        records=tuple(r for answer in answers for r in answer.records),
        chain=next((a.chain for a in answers if a.chain), ()),
        rcode=deciding.rcode,
        resolver=deciding.resolver,
        attempts=sum(a.attempts for a in answers),
        duration=max(durations) if durations else None,
    )


def _status_of(reply: Reply) -> Status:
    if reply.rcode == RCODE_NOERROR:
        if reply.cname_loop:
            return Status.SERVFAIL
        return Status.FOUND if reply.addresses else Status.NODATA
    if reply.rcode == RCODE_NXDOMAIN:
        return Status.NXDOMAIN
    if reply.rcode == RCODE_REFUSED:
        return Status.REFUSED
    return Status.SERVFAIL  # SERVFAIL, FORMERR, NOTIMP and the rest


def _message_status(message: Message, qtype: str) -> Status:
    """As ``_status_of``, for any type: FOUND = records of ``qtype`` at the chain's end."""
    if message.rcode == RCODE_NOERROR:
        if message.cname_loop:
            return Status.SERVFAIL
        if qtype == "CNAME":  # the name's own CNAME, not the chain's end
            return Status.FOUND if message.chain else Status.NODATA
        return Status.FOUND if message.records_of(qtype) else Status.NODATA
    if message.rcode == RCODE_NXDOMAIN:
        return Status.NXDOMAIN
    if message.rcode == RCODE_REFUSED:
        return Status.REFUSED
    return Status.SERVFAIL


class DirectResolver:
    """Ask nameservers directly: one UDP socket, many queries in flight.

    Example use::

        async with DirectResolver(["127.0.0.1:5353"], timeout=1.0) as resolver:
            async for domain, found in multi_probe(names, resolver=resolver):
                ...

    ``timeout`` is per try (checked by one sweeping timer, so a try may end
    up to 50 ms late); a try that times out, or gets SERVFAIL or REFUSED, is
    retried ``retries`` times, each on the next nameserver.
    ``max_in_flight`` bounds queries awaiting an answer on each socket (one
    per address family in use); ``rate`` (queries/s) paces sending, in all,
    and ``rate_per_server`` paces each nameserver on its own.  ``rotate``
    (the default) starts each name on the next nameserver in turn; without
    it every name starts on the first (glibc without ``options rotate``).
    ``server_stats`` counts, per nameserver, queries sent, answered, timed
    out, SERVFAIL and REFUSED.
    ``types`` is one type or several, among A, AAAA, CNAME, MX, NS, TXT,
    SOA, PTR, SRV, CAA, or ``both`` (A + AAAA), case-insensitive; several
    are queried together and the name is FOUND if any type is.  For A and
    AAAA, FOUND means an address at the end of the CNAME chain; for the
    other types, records of that type there (``CNAME``: the name's own).
    ``records=True`` gives full answers: every answer record decoded
    (``Answer.records``), the chain, rcode, resolver, attempts and
    duration; a reply whose records are malformed then counts as a
    SERVFAIL (retried on the next nameserver).  Other types than A/AAAA
    are always parsed in full.  The socket opens on first use or on
    ``async with``; :meth:`aclose` closes it.
    """

    def __init__(
        self,
        nameservers: Sequence[str],
        *,
        types: str | Sequence[str] = "A",
        timeout: float = 2.0,
        retries: int = 2,
        max_in_flight: int = 1000,
        rate: float | None = None,
        rate_per_server: float | None = None,
        rotate: bool = True,
        records: bool = False,
    ) -> None:
        if not nameservers:
            raise UsageError("at least one nameserver is needed")
        type_names = parse_types(types)
        if timeout <= 0 or retries < 0 or max_in_flight < 1:
            raise UsageError("timeout and max_in_flight must be positive, retries >= 0")
        if rate is not None and rate <= 0:
            raise UsageError("rate must be positive")
        if rate_per_server is not None and rate_per_server <= 0:
            raise UsageError("rate_per_server must be positive")
        self.nameservers = [parse_nameserver(ns) for ns in nameservers]
        self.types = type_names
        self.records = records
        self._full = records
        self.timeout = timeout
        self.retries = retries
        self.max_in_flight = max_in_flight
        self.rate = rate
        self.stats = Stats()
        self._qtypes = tuple(RECORD_TYPES[t] for t in type_names)
        self._protocols: dict[int, QueryProtocol] = {}
        self._opening: asyncio.Task[None] | None = None
        self._tcp_slots: asyncio.Semaphore | None = None
        self._limiter = RateLimiter(rate) if rate else None
        self._next_server = 0
        self.rotate = rotate
        self.rate_per_server = rate_per_server
        # Per-server state in lists parallel to ``nameservers`` (the hot path
        # indexes them); a server listed twice shares one entry.
        by_server: dict[tuple[str, int], ServerStats] = {}
        self._server_stats = [
            by_server.setdefault(server, ServerStats()) for server in self.nameservers
        ]
        self._server_texts = [format_server(server) for server in self.nameservers]
        self._server_limiters: list[RateLimiter] | None = None
        if rate_per_server:
            limiters: dict[tuple[str, int], RateLimiter] = {}
            self._server_limiters = [
                limiters.setdefault(server, RateLimiter(rate_per_server))
                for server in self.nameservers
            ]

    def __repr__(self) -> str:
        servers = ",".join(
            f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.nameservers
        )
        in_flight = sum(len(p.pending) for p in self._protocols.values())
        state = "open" if self._protocols else "closed"
        return f"<DirectResolver {servers} {state} in_flight={in_flight} {self.stats}>"

    @property
    def server_stats(self) -> dict[tuple[str, int], ServerStats]:
        """Counts per nameserver, ``(ip, port)`` -> :class:`ServerStats`, in list order."""
        return dict(zip(self.nameservers, self._server_stats, strict=True))

    async def __aenter__(self) -> DirectResolver:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the UDP socket(s); idempotent, and done on first lookup anyway."""
        if self._protocols:
            return
        opening = self._opening
        if opening is None:
            opening = self._opening = asyncio.ensure_future(self._open())
        try:
            await asyncio.shield(opening)
        finally:
            if opening.done() and self._opening is opening:
                self._opening = None

    async def _open(self) -> None:
        families = {
            socket.AF_INET6 if ":" in host else socket.AF_INET
            for host, _ in self.nameservers
        }
        protocols: dict[int, QueryProtocol] = {}
        for family in families:
            protocols[family] = await open_udp(family, self.stats, self.max_in_flight)
        self._tcp_slots = asyncio.Semaphore(_TCP_CONNECTIONS)
        self._protocols = protocols

    async def aclose(self) -> None:
        """Close the socket(s); queries still waiting end as TIMEOUT."""
        protocols, self._protocols = self._protocols, {}
        for protocol in protocols.values():
            protocol.close()

    async def lookup(self, name: str) -> Answer:
        """Resolve an already validated ASCII ``name`` (see ``to_ascii``)."""
        if not self._protocols:
            await self.open()
        qtypes = self._qtypes
        if len(qtypes) == 1:
            return await self._resolve(name, qtypes[0])
        answers = await asyncio.gather(*(self._resolve(name, q) for q in qtypes))
        return combine(answers)

    async def query(self, name: str, rtype: str) -> Answer:
        """Ask for one record type ``rtype`` (e.g. ``"NS"``) about ``name``, whatever ``types``.

        The answer is always a full one (as with ``records=True``).
        """
        if not self._protocols:
            await self.open()
        return await self._resolve(name, RECORD_TYPES[parse_types(rtype)[0]], full=True)

    async def _resolve(self, name: str, qtype: int, full: bool = False) -> Answer:
        """Ask for ``name``'s ``qtype`` records, retrying on the next nameservers.

        ``full`` (or ``records=True``, or a type other than A/AAAA): every
        reply parsed in full, and an :class:`Answer` with records, chain,
        rcode, resolver, attempts and duration.
        """
        # The hot path: kept flat (no helper coroutines) because every
        # await layer costs on each of the ~50k names per second.
        full = full or self._full or qtype not in _ADDRESS_TYPES
        try:
            wire = question(name, qtype)
        except ValueError:
            return Answer(Status.INVALID)
        started = time.perf_counter() if full else 0.0
        servers = self.nameservers
        start = self._next_server
        if self.rotate:
            self._next_server = (start + 1) % len(servers)
        last = Status.TIMEOUT
        last_rcode: int | None = None
        last_server: str | None = None
        stats = self.stats
        limiters = self._server_limiters
        attempts = 0
        for attempt in range(self.retries + 1):
            index = (start + attempt) % len(servers)
            server = servers[index]
            counts = self._server_stats[index]
            if attempt:
                stats.retries += 1
            if self._limiter is not None:
                await self._limiter.wait()
            if limiters is not None:
                await limiters[index].wait()
            protocol = self._protocols.get(
                socket.AF_INET6 if ":" in server[0] else socket.AF_INET
            )
            if protocol is None:
                break  # closed under us
            attempts += 1
            counts.sent += 1
            reply = await protocol.ask(server, wire, name, self.timeout)
            if reply is None:
                counts.timeouts += 1
            else:
                counts.answered += 1
            if reply is not None and reply.truncated:
                stats.truncated += 1
                reply = await self._ask_tcp(server, wire, name)
                if reply is None:
                    last = Status.SERVFAIL
                    continue
            if reply is None:
                last = Status.TIMEOUT
                continue
            if not full:
                status = _status_of(reply)
                if status not in FAILURES:
                    return Answer(status, reply.addresses)
            else:
                answer = self._full_answer(
                    reply, wire, name, qtype, self._server_texts[index]
                )
                status = answer.status
                last_rcode, last_server = answer.rcode, answer.resolver
                if status not in FAILURES:
                    return answer._replace(
                        attempts=attempts, duration=time.perf_counter() - started
                    )
            if status is Status.SERVFAIL:
                counts.servfail += 1
            elif status is Status.REFUSED:
                counts.refused += 1
            last = status
        if not full:
            return Answer(last)
        return Answer(
            last,
            rcode=last_rcode,
            resolver=last_server,
            attempts=attempts,
            duration=time.perf_counter() - started,
        )

    def _full_answer(
        self, reply: Reply, wire: bytes, name: str, qtype: int, resolver: str
    ) -> Answer:
        """The full :class:`Answer` of one reply (attempts and duration are the caller's)."""
        # The two shapes nearly every reply has, read from what parse_reply
        # already checked: no answer record (NXDOMAIN, NODATA), or one
        # address record owned by the question name.  The answer is what
        # parse_message would give (a test compares them); anything else
        # is parsed in full.
        packet = reply.packet
        if not reply.truncated and len(packet) >= 12:
            ancount = (packet[6] << 8) | packet[7]
            if not ancount:
                return Answer(_status_of(reply), rcode=reply.rcode, resolver=resolver)
            end = 12 + len(wire)
            if (
                ancount == 1
                and len(reply.addresses) == 1
                and packet[end : end + 2] == b"\xc0\x0c"
                and packet[end + 2 : end + 6] == wire[-4:]  # the type asked, IN
            ):
                status = _status_of(reply)
                ttl = int.from_bytes(packet[end + 6 : end + 10], "big")
                rtype = "A" if qtype == TYPE_A else "AAAA"
                return Answer(
                    status,
                    reply.addresses if status is Status.FOUND else (),
                    records=(Record(name, rtype, ttl, reply.addresses[0]),),
                    rcode=reply.rcode,
                    resolver=resolver,
                )
        return self._parsed_answer(reply, wire, name, qtype, resolver)

    def _parsed_answer(
        self, reply: Reply, wire: bytes, name: str, qtype: int, resolver: str
    ) -> Answer:
        """:meth:`_full_answer` from the whole message, for any reply."""
        try:
            message = parse_message(reply.packet, wire, name)
        except MalformedPacket as exc:
            # The server's own reply (id, source and question matched),
            # but its records are broken: a server failure, not a name.
            log.debug("malformed records for %s from %s: %s", name, resolver, exc)
            self.stats.malformed += 1
            return Answer(Status.SERVFAIL, rcode=reply.rcode, resolver=resolver)
        if message is None:  # cannot happen: parse_reply accepted it
            return Answer(Status.SERVFAIL, resolver=resolver)
        type_text = type_name(qtype)
        status = _message_status(message, type_text)
        addresses: tuple[str, ...] = ()
        if status is Status.FOUND and qtype in _ADDRESS_TYPES:
            addresses = tuple(r.data for r in message.records_of(type_text))
        return Answer(
            status,
            addresses,
            records=message.answers,
            chain=message.chain,
            rcode=message.rcode,
            resolver=resolver,
        )

    async def _ask_tcp(
        self, server: tuple[str, int], wire: bytes, name: str
    ) -> Reply | None:
        """Re-ask over TCP (RFC 7766): 2-byte length prefix, one query per connection."""
        slots = self._tcp_slots
        if slots is None:
            return None
        self.stats.tcp += 1
        query_id = int.from_bytes(os.urandom(2), "big")
        message = pack_query(query_id, wire)
        writer: asyncio.StreamWriter | None = None
        async with slots:
            try:
                async with asyncio.timeout(self.timeout):
                    reader, writer = await asyncio.open_connection(*server)
                    writer.write(struct.pack(">H", len(message)) + message)
                    (length,) = struct.unpack(">H", await reader.readexactly(2))
                    data = await reader.readexactly(length)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                log.debug("TCP query for %s to %s failed: %r", name, server, exc)
                return None
            finally:
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
        if len(data) < 2 or int.from_bytes(data[:2], "big") != query_id:
            self.stats.ignored += 1
            return None
        try:
            reply = parse_reply(data, wire, name)
        except MalformedPacket:
            self.stats.malformed += 1
            return None
        if reply is None or reply.truncated:
            self.stats.ignored += 1
            return None
        return reply
