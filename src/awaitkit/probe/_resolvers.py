"""Which nameservers to ask, and how each one fared.

Three things live here, none of them doing network I/O:

* :func:`parse_resolver_lines` / :func:`read_resolver_file`: a massdns-style
  resolver list (``-r FILE``), one ``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or
  bare IPv6 address a line, ``#`` comments and blank lines allowed.  Like
  massdns (``"x" is not a valid resolver. Skipped.``), a junk line is skipped
  with a warning naming its line number: public resolver lists often carry
  a stray header or hostname, and one bad line should not stop a run of
  millions of names.  A file with no usable line at all is a usage error.
* :func:`read_resolv_conf`: the ``nameserver`` lines of resolv.conf and the
  ``options timeout:N attempts:N rotate`` that glibc honours.
* :class:`ServerStats`: what one nameserver was sent and how it answered,
  kept by :class:`~awaitkit.probe.DirectResolver` per server and printed in
  the command's summary.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from awaitkit.core import UsageError

__all__ = [
    "MAX_RESOLVERS",
    "ResolvConf",
    "ResolverFile",
    "ServerStats",
    "format_server",
    "format_server_stats",
    "parse_resolver",
    "parse_resolver_lines",
    "read_resolv_conf",
    "read_resolver_file",
]

#: More distinct resolvers than any public list holds (public-dns.info lists
#: ~60k); past it a file is more likely a mistake (a name list given to -r).
MAX_RESOLVERS = 100_000
_MAX_LINE = 512  # bytes; a longer line is junk (an IPv6 address is <= 47 chars)

# The characters an IP[:PORT] line can hold: junk fails this cheap test
# before ipaddress raises twice (v4, then v6) over it.
_ADDRESS_CHARS = re.compile(r"[0-9A-Fa-f.:\[\]]+")

# glibc's limits (resolv.h): RES_MAXRETRANS and RES_MAXRETRY.
_MAX_TIMEOUT = 30
_MAX_ATTEMPTS = 5


def parse_resolver(text: str) -> tuple[str, int] | None:
    """``"IP"``, ``"IP:PORT"``, ``"[IPv6]:PORT"`` or bare IPv6 -> ``(ip, port)``, else ``None``.

    Example::

        >>> parse_resolver("[2001:db8::1]:5353")
        ('2001:db8::1', 5353)
        >>> parse_resolver("dns.google") is None
        True
    """
    if not _ADDRESS_CHARS.fullmatch(text):
        return None
    host, port_text = text, "53"
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:] if rest else "53"
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        return None
    port = int(port_text)
    if "%" in host:  # a zone id (fe80::1%eth0) names an interface, not a server
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not 0 < port < 65536:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # replies come from the IPv4 form
    return str(address), port


def format_server(server: tuple[str, int]) -> str:
    """``("::1", 53)`` -> ``"[::1]:53"``; ``("192.0.2.1", 53)`` -> ``"192.0.2.1:53"``."""
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class ResolverFile:
    """The servers of a resolver list, in file order without duplicates, and the
    lines skipped as ``(line number, text)``."""

    servers: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    skipped_count: int = 0


_KEEP_SKIPPED = 10  # lines quoted in warnings; the rest are only counted


def parse_resolver_lines(lines: Iterable[bytes]) -> ResolverFile:
    """Parse a resolver list's lines (bytes, so any encoding is survivable).

    Raises :class:`UsageError` past :data:`MAX_RESOLVERS` distinct servers.
    """
    parsed = ResolverFile()
    seen: set[tuple[str, int]] = set()
    for number, raw in enumerate(lines, 1):
        text = raw.decode("utf-8", "replace").split("#", 1)[0].strip()
        if not text:
            continue
        server = parse_resolver(text) if len(raw) <= _MAX_LINE else None
        if server is None:
            parsed.skipped_count += 1
            if len(parsed.skipped) < _KEEP_SKIPPED:
                parsed.skipped.append((number, text[:60]))
            continue
        if server not in seen:
            if len(seen) >= MAX_RESOLVERS:
                raise UsageError(f"more than {MAX_RESOLVERS:,} resolvers")
            seen.add(server)
            parsed.servers.append(server)
    return parsed


def _bounded_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Lines of ``stream``; one longer than ``_MAX_LINE`` is cut there (and read
    past in chunks), so a file with no newline cannot fill memory."""
    while line := stream.readline(_MAX_LINE + 1):
        if len(line) > _MAX_LINE and not line.endswith(b"\n"):
            while (rest := stream.readline(1 << 16)) and not rest.endswith(b"\n"):
                pass
        yield line


def read_resolver_file(path: str, *, strict: bool = False) -> ResolverFile:
    """Read a resolver list (``-`` is not allowed: stdin carries the names).

    Synchronous: call it before the event loop starts.  Raises
    :class:`UsageError` when the file cannot be read or holds no resolver,
    and with ``strict`` at the first line that is not a resolver.
    """
    try:
        with open(path, "rb") as stream:
            try:
                parsed = parse_resolver_lines(_bounded_lines(stream))
            except UsageError as exc:
                raise UsageError(f"{path}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read resolvers {path}: {exc.strerror}") from exc
    if strict and parsed.skipped:
        number, text = parsed.skipped[0]
        raise UsageError(f"{path} line {number}: not a resolver (IP[:PORT]): {text!r}")
    if not parsed.servers:
        raise UsageError(f"no resolver in {path}: expected IP[:PORT] lines")
    return parsed


@dataclass
class ResolvConf:
    """What resolv.conf says about nameservers (``None``: not set)."""

    nameservers: list[str] = field(default_factory=list)
    timeout: float | None = None
    attempts: int | None = None
    rotate: bool = False


def _option_number(value: str, limit: int) -> int | None:
    if not value.isascii() or not value.isdigit():
        return None
    return max(1, min(int(value[:6]), limit))


def read_resolv_conf(
    path: Path = Path("/etc/resolv.conf"), *, env_options: str | None = None
) -> ResolvConf:
    """The ``nameserver`` lines and ``options timeout: attempts: rotate`` of resolv.conf.

    glibc's reading: ``#`` and ``;`` start comment lines, options
    accumulate over several ``options`` lines (the last value wins), and
    ``env_options`` (the ``RES_OPTIONS`` environment variable) comes last;
    ``timeout`` is capped at 30 s and ``attempts`` at 5, unknown options and
    bad values are ignored.  A missing or unreadable file gives no
    nameservers (``env_options`` still apply).
    """
    conf = ResolvConf()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0].startswith(("#", ";")):
            continue
        if fields[0] == "nameserver":
            conf.nameservers.append(fields[1].split("%")[0])
        elif fields[0] == "options":
            _apply_options(conf, fields[1:])
    if env_options:
        _apply_options(conf, env_options.split())
    return conf


def _apply_options(conf: ResolvConf, options: list[str]) -> None:
    for option in options:
        name, _, value = option.partition(":")
        if name == "timeout":
            number = _option_number(value, _MAX_TIMEOUT)
            conf.timeout = conf.timeout if number is None else float(number)
        elif name == "attempts":
            number = _option_number(value, _MAX_ATTEMPTS)
            conf.attempts = conf.attempts if number is None else number
        elif option == "rotate":
            conf.rotate = True


@dataclass(slots=True)
class ServerStats:
    """Counts for one nameserver: queries sent and how they ended.

    ``answered`` counts every reply accepted (of any rcode); ``servfail``
    and ``refused`` are among them; ``timeouts`` are tries that got none.
    """

    sent: int = 0
    answered: int = 0
    timeouts: int = 0
    servfail: int = 0
    refused: int = 0

    def __str__(self) -> str:
        return (
            f"sent {self.sent}, answered {self.answered}, timeouts {self.timeouts}, "
            f"SERVFAIL {self.servfail}, REFUSED {self.refused}"
        )


def format_server_stats(stats: Mapping[tuple[str, int], ServerStats]) -> list[str]:
    """One summary line per nameserver, in the order given."""
    width = max((len(format_server(s)) for s in stats), default=0)
    return [
        f"  {format_server(server):<{width}}  {counts}"
        for server, counts in stats.items()
    ]
