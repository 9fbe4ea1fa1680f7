"""A real authoritative DNS server for tests and benchmarks: NSD on loopback.

Example use::

    from awaitkit.probe import DirectResolver, probe
    from awaitkit.probe.testing import serving_nsd

    zone = "$ORIGIN test.\\n@ 300 SOA ns admin 1 3600 600 86400 300\\nwww 300 A 192.0.2.1\\n"
    with serving_nsd("test", zone) as port:
        async with DirectResolver([f"127.0.0.1:{port}"]) as resolver:
            ...

:func:`serving_nsd` runs Debian's ``nsd`` in the foreground on 127.0.0.1 and
yields the port it answers on (UDP and TCP).  NSD cannot be handed a socket,
so it gets a port the kernel just picked; a start that loses that race is
retried on another port.  Readiness is NSD answering a SOA query for the zone
over UDP, never a sleep, and a zone file NSD rejects fails at once with
NSD's log in the error.

This module is not imported by :mod:`awaitkit.probe`; import
``awaitkit.probe.testing`` directly.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DEFAULT_SOCKET_BUFFER",
    "NsdStartError",
    "find_nsd",
    "nsd_config",
    "serving_nsd",
    "soa_query",
    "wait_for_nsd",
]

#: Both socket buffers: a benchmark firing thousands of queries at once
#: must not lose them in a default-sized (~200 KB) kernel queue.
DEFAULT_SOCKET_BUFFER = 4 * 1024 * 1024

_START_ATTEMPTS = 10


class NsdStartError(RuntimeError):
    """NSD exited, refused the zone or stayed silent; the message holds its log."""


def find_nsd() -> str:
    """Path of the ``nsd`` binary (``$PATH``, then ``/usr/sbin``)."""
    path = shutil.which("nsd") or shutil.which("nsd", path="/usr/sbin:/sbin")
    if path is None:
        raise FileNotFoundError("nsd not found: apt-get install nsd")
    return path


def soa_query(zone: str, query_id: int = 0x4242) -> bytes:
    """A DNS query (wire format, no EDNS) for the SOA record of ``zone``."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in zone.split(".") if p)
    header = struct.pack(">HHHHHH", query_id, 0, 1, 0, 0, 0)
    return header + labels + b"\x00\x00\x06\x00\x01"


def nsd_config(
    zone: str,
    directory: pathlib.Path,
    port: int,
    *,
    verbosity: int = 1,
    socket_buffer: int = DEFAULT_SOCKET_BUFFER,
    extra_config: str = "",
) -> str:
    """``nsd.conf`` text serving ``zone`` from ``directory/zone.db`` on 127.0.0.1@port.

    NSD runs unprivileged and unchrooted with no database, no rate limit and
    one server process.  Its state, pid and log files carry the port in their
    names (``nsd-PORT.log``...), so two NSDs can share ``directory``.
    ``extra_config`` is nsd.conf text appended verbatim; begin it with
    ``server:`` to add server options.
    """
    state = directory / f"nsd-{port}"
    return f"""\
server:
    ip-address: 127.0.0.1@{port}
    do-ip6: no
    username: ""
    database: ""
    chroot: ""
    zonesdir: "{directory}"
    zonelistfile: "{state}.zone.list"
    xfrdfile: "{state}.xfrd.state"
    xfrdir: "{directory}"
    pidfile: "{state}.pid"
    logfile: "{state}.log"
    rrl-ratelimit: 0
    server-count: 1
    verbosity: {verbosity}
    receive-buffer-size: {socket_buffer}
    send-buffer-size: {socket_buffer}
remote-control:
    control-enable: no
zone:
    name: {zone}
    zonefile: "{directory / "zone.db"}"
{extra_config}"""


def _ask(
    port: int, zone: str, deadline: float, process: subprocess.Popen[bytes] | None
) -> str:
    """Query until NSD answers: ``"ready"``, ``"exited"``, ``"timeout"`` or an error."""
    query_id = int.from_bytes(os.urandom(2), "big")
    query = soa_query(zone, query_id)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        s.connect(("127.0.0.1", port))  # replies from elsewhere are dropped
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                return "exited"
            # Refused: nothing bound yet (ICMP port unreachable).
            with contextlib.suppress(ConnectionRefusedError):
                s.send(query)
            try:
                reply = s.recv(4096)
            except (TimeoutError, ConnectionRefusedError):
                continue
            if len(reply) < 12 or reply[:2] != query[:2] or not reply[2] & 0x80:
                continue
            rcode = reply[3] & 0x0F
            authoritative = bool(reply[2] & 0x04)
            if rcode == 0 and authoritative:
                return "ready"
            # NSD loads its zones before it answers, so SERVFAIL here means
            # the zone file was rejected: waiting longer would not help.
            return f"answered the SOA query with rcode {rcode} (aa={authoritative})"
    return "timeout"


def wait_for_nsd(port: int, zone: str, *, timeout: float = 30.0) -> None:
    """Return once NSD on 127.0.0.1@port answers authoritatively for ``zone``.

    Raises :class:`NsdStartError` if it answers with an error (a rejected
    zone file) or does not answer within ``timeout`` seconds.
    """
    outcome = _ask(port, zone, time.monotonic() + timeout, None)
    if outcome == "timeout":
        raise NsdStartError(
            f"nsd did not answer on 127.0.0.1:{port} within {timeout} s"
        )
    if outcome != "ready":
        raise NsdStartError(f"nsd on 127.0.0.1:{port} {outcome}")


def _free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP, as NSD binds both."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise OSError("no port free on 127.0.0.1 for both UDP and TCP")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _output(directory: pathlib.Path, port: int) -> str:
    """NSD's log and stderr (config errors go to stderr, the rest to the log)."""
    parts = []
    for suffix in ("log", "stderr"):
        with contextlib.suppress(OSError):
            text = (directory / f"nsd-{port}.{suffix}").read_text(errors="replace")
            if text.strip():
                parts.append(text.rstrip())
    return "\n".join(parts) or "(nsd wrote nothing)"


@contextlib.contextmanager
def serving_nsd(
    zone: str,
    zone_text: str,
    *,
    nsd: str | None = None,
    directory: pathlib.Path | None = None,
    port: int | None = None,
    verbosity: int = 1,
    socket_buffer: int = DEFAULT_SOCKET_BUFFER,
    extra_config: str = "",
    timeout: float = 30.0,
) -> Iterator[int]:
    """Run NSD serving ``zone`` from ``zone_text``; yield its port on 127.0.0.1.

    ``nsd`` is the binary (default: :func:`find_nsd`).  Files go to
    ``directory`` (created if needed; default: a temporary directory removed
    on exit): ``zone.db`` and, per port, ``nsd-PORT.conf``, ``.log`` and
    ``.stderr``.  ``port=None`` picks a free one and retries on another if
    that one is taken before NSD binds it.  ``verbosity``, ``socket_buffer``
    and ``extra_config`` go to :func:`nsd_config`.

    Returns once NSD answers authoritatively for ``zone`` over UDP; raises
    :class:`NsdStartError` with NSD's log if it exits, rejects the zone or
    is silent for ``timeout`` seconds.  On exit NSD is terminated and reaped.
    """
    binary = nsd if nsd is not None else find_nsd()
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = pathlib.Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="nsd-"))
            )
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "zone.db").write_text(zone_text)
        for _ in range(_START_ATTEMPTS if port is None else 1):
            chosen = _free_port() if port is None else port
            conf = directory / f"nsd-{chosen}.conf"
            conf.write_text(
                nsd_config(
                    zone,
                    directory,
                    chosen,
                    verbosity=verbosity,
                    socket_buffer=socket_buffer,
                    extra_config=extra_config,
                )
            )
            with (directory / f"nsd-{chosen}.stderr").open("wb") as stderr:
                process = subprocess.Popen(
                    [binary, "-d", "-c", str(conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                )
            try:
                outcome = _ask(chosen, zone, time.monotonic() + timeout, process)
                if outcome == "ready":
                    yield chosen
                    return
            finally:
                _stop(process)
            log = _output(directory, chosen)
            if outcome == "exited" and port is None and "can't bind" in log:
                continue  # another process took the port first
            reason = {
                "exited": f"exited with status {process.returncode}",
                "timeout": f"did not answer within {timeout} s",
            }.get(outcome, outcome)
            raise NsdStartError(
                f"nsd serving {zone!r} on 127.0.0.1:{chosen} {reason}; its log:\n{log}"
            )
        raise NsdStartError(
            f"nsd could not bind a port in {_START_ATTEMPTS} attempts; last log:\n{log}"
        )
