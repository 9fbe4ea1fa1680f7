"""Joining a Ray cluster (``--cluster``), shared by ``fetch`` and ``probe``.

Ray is an optional extra (``pip install 'awaitkit[ray]'``): nothing here
imports it at module level, and :func:`import_ray` turns its absence into
a usage error that says what to install.

:func:`connect_cluster` starts a local Ray or joins one.  ``ray.init`` waits a long
time for a head that is not there (it retries its GCS connection for
minutes), so the address is first checked with a plain TCP connect, and an
unreachable head is a :class:`ClusterError` (exit status 3) within seconds.

:class:`HostRing` is the consistent hash that sends every URL of one host
to the same actor, which is what makes ``--per-host`` a cluster-wide limit
without a shared lock.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import signal
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from awaitkit.core.errors import ClusterError, UsageError

__all__ = [
    "CLUSTER_UNREACHABLE",
    "ClusterError",
    "ClusterSpec",
    "HostRing",
    "connect_cluster",
    "import_ray",
    "node_label",
    "parse_cluster",
]

CLUSTER_UNREACHABLE = ClusterError.exit_code
"""The exit status when the cluster cannot be reached or joined."""

_CONNECT_TIMEOUT_S = 5.0
_RAY_CLIENT_PORT = 10001
_GCS_PORT = 6379
_VNODES = 64  # points per actor on the ring: shares within a few percent


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """What ``--cluster`` asked for: a local Ray, ``RAY_ADDRESS``, or an address."""

    address: str | None  # None: RAY_ADDRESS, else a new local Ray

    def describe(self) -> str:
        return self.address or os.environ.get("RAY_ADDRESS") or "a local Ray"


def parse_cluster(text: str) -> ClusterSpec:
    """``ray`` or ``ray://HOST:PORT`` (the Ray Client address of a head).

    >>> parse_cluster("ray://10.0.0.5:10001").address
    'ray://10.0.0.5:10001'
    """
    if text == "ray":
        return ClusterSpec(None)
    if text.startswith("ray://"):
        host, _ = _host_port(text.removeprefix("ray://"), _RAY_CLIENT_PORT)
        if not host:
            raise UsageError(f"--cluster {text!r}: no host after ray://")
        if (
            not host.isascii()
            or not host.isprintable()
            or any(c in host for c in " /@?#")
        ):
            raise UsageError(
                f"--cluster {text!r:.80}: not a host name (an ASCII name or IP; "
                "xn-- for an international one)"
            )
        return ClusterSpec(text)
    raise UsageError(f"--cluster must be 'ray' or 'ray://HOST:PORT', not {text!r:.80}")


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``[V6]:PORT``; a bad port is a usage error."""
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        host, port = text, ""
    host = host.strip("[]")
    if not port:
        return host, default_port
    if not (
        port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536
    ):
        raise UsageError(f"bad port in cluster address {text!r:.80}")
    return host, int(port)


def node_label() -> str:
    """How messages and reports name this node: its host name and the IP Ray knows it by."""
    try:
        import ray

        ip = str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]
    except Exception:  # outside Ray (tests of an actor class alone)
        ip = "127.0.0.1"
    return f"{socket.gethostname()}/{ip}"


def import_ray() -> ModuleType:
    """The ``ray`` module, or a usage error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(
            "--cluster ray needs Ray, which the base install leaves out: "
            "pip install 'awaitkit[ray]' (or uv sync --extra ray)"
        ) from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast when nothing listens at ``address`` (a Ray Client or GCS address)."""
    if address in ("auto", "local"):
        return  # Ray looks for a local head itself, and says so when there is none
    client = address.startswith("ray://")
    host, port = _host_port(
        address.removeprefix("ray://"), _RAY_CLIENT_PORT if client else _GCS_PORT
    )
    try:
        socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S).close()
    except UnicodeError:  # RAY_ADDRESS may hold anything
        raise ClusterError(
            f"cannot reach the Ray cluster at {address!r:.80}: bad host"
        ) from None
    except OSError as exc:
        raise ClusterError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}"
        ) from None


def connect_cluster(
    spec: ClusterSpec,
    *,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
) -> ModuleType:
    """Join the cluster of ``spec`` (or start a local one); return ``ray``.

    ``num_cpus`` and ``object_store_memory`` size a local Ray only.  Ray
    already joined in this process (a library caller's ``ray.init``) is used
    as it is.
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray
    address = spec.address or os.environ.get("RAY_ADDRESS") or None
    if address is not None:
        _check_reachable(address)
    local = address is None
    # Ray's core worker installs a handler of its own for SIGTERM, which ends
    # the process at once; ours (stop as on Ctrl-C) needs the one there was.
    in_main = threading.current_thread() is threading.main_thread()
    sigterm = signal.getsignal(signal.SIGTERM) if in_main else None
    try:
        ray.init(
            address=address,
            num_cpus=num_cpus if local else None,
            object_store_memory=object_store_memory if local else None,
            include_dashboard=False if local else None,
            logging_level="WARNING",
            log_to_driver=False,
            configure_logging=True,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(
            f"cannot join the Ray cluster at {spec.describe()}: {exc}"
        ) from None
    finally:
        if sigterm is not None:
            signal.signal(signal.SIGTERM, sigterm)
    return ray


class HostRing:
    """A consistent hash of host names onto ``slots`` actors.

    Adding or removing an actor moves only the hosts on its arcs; the same
    host always maps to the same slot while the slots stay the same.

    >>> ring = HostRing(3)
    >>> ring.slot("a.example") == ring.slot("a.example")
    True
    """

    def __init__(self, slots: int | Sequence[int]) -> None:
        ids = range(slots) if isinstance(slots, int) else slots
        points = sorted(
            (_hash(f"{slot}#{v}"), slot) for slot in ids for v in range(_VNODES)
        )
        if not points:
            raise ValueError("a ring needs at least one slot")
        self._keys = [p for p, _ in points]
        self._slots = [s for _, s in points]
        self._cache: dict[str, int] = {}

    def slot(self, host: str) -> int:
        """The slot every URL of ``host`` goes to."""
        slot = self._cache.get(host)
        if slot is None:
            i = bisect.bisect(self._keys, _hash(host)) % len(self._keys)
            slot = self._slots[i]
            if len(self._cache) < 100_000:  # bounded: hosts may be millions
                self._cache[host] = slot
        return slot


def _hash(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big")
