"""Shared, app-agnostic pieces: the error tree, the loop-lag monitor, the runners,
stop-on-signal.

Import from here, not from the private modules::

    from awaitkit.core import AwaitkitError, LagMonitor, run

The error tree is imported eagerly (it is tiny); everything that pulls in
``asyncio`` is loaded on first use, so ``awaitkit find`` never pays ~30 ms
for an event loop it does not need.
"""

from __future__ import annotations

from awaitkit._lazy import attach
from awaitkit.core.errors import (
    AwaitkitError as AwaitkitError,
    ClusterError as ClusterError,
    ConnectError as ConnectError,
    DecodingError as DecodingError,
    HTTPStatusError as HTTPStatusError,
    QueryError as QueryError,
    ResolveError as ResolveError,
    Terminated as Terminated,
    TimeoutExpired as TimeoutExpired,
    TLSError as TLSError,
    TransportError as TransportError,
    UnsupportedEncoding as UnsupportedEncoding,
    UsageError as UsageError,
)

TYPE_CHECKING = False  # see awaitkit._lazy
if TYPE_CHECKING:
    from awaitkit.core._cluster import (
        ClusterSpec as ClusterSpec,
        HostRing as HostRing,
        connect_cluster as connect_cluster,
        import_ray as import_ray,
        parse_cluster as parse_cluster,
    )
    from awaitkit.core._frames import (
        encode_frame as encode_frame,
        read_frames as read_frames,
    )
    from awaitkit.core._groups import first_error as first_error
    from awaitkit.core._lag import (
        LagMonitor as LagMonitor,
        LagReport as LagReport,
        percentile as percentile,
    )
    from awaitkit.core._net import (
        bind_tcp as bind_tcp,
        format_hostport as format_hostport,
    )
    from awaitkit.core._runner import loop_factory as loop_factory, run as run
    from awaitkit.core._shards import (
        Worker as Worker,
        WorkerDied as WorkerDied,
        describe_status as describe_status,
        drive_worker as drive_worker,
        fork_workers as fork_workers,
        reap_workers as reap_workers,
    )
    from awaitkit.core._signals import (
        SignalStop as SignalStop,
        stop_on_signals as stop_on_signals,
    )

_LAZY = {
    "ClusterSpec": "awaitkit.core._cluster",
    "HostRing": "awaitkit.core._cluster",
    "connect_cluster": "awaitkit.core._cluster",
    "import_ray": "awaitkit.core._cluster",
    "parse_cluster": "awaitkit.core._cluster",
    "first_error": "awaitkit.core._groups",
    "LagMonitor": "awaitkit.core._lag",
    "LagReport": "awaitkit.core._lag",
    "percentile": "awaitkit.core._lag",
    "bind_tcp": "awaitkit.core._net",
    "format_hostport": "awaitkit.core._net",
    "loop_factory": "awaitkit.core._runner",
    "run": "awaitkit.core._runner",
    "SignalStop": "awaitkit.core._signals",
    "stop_on_signals": "awaitkit.core._signals",
    "encode_frame": "awaitkit.core._frames",
    "read_frames": "awaitkit.core._frames",
    "Worker": "awaitkit.core._shards",
    "WorkerDied": "awaitkit.core._shards",
    "describe_status": "awaitkit.core._shards",
    "drive_worker": "awaitkit.core._shards",
    "fork_workers": "awaitkit.core._shards",
    "reap_workers": "awaitkit.core._shards",
}

__all__ = [
    "AwaitkitError",
    "ClusterError",
    "ClusterSpec",
    "ConnectError",
    "DecodingError",
    "HTTPStatusError",
    "HostRing",
    "LagMonitor",
    "LagReport",
    "QueryError",
    "ResolveError",
    "SignalStop",
    "TLSError",
    "Terminated",
    "TimeoutExpired",
    "TransportError",
    "UnsupportedEncoding",
    "UsageError",
    "Worker",
    "WorkerDied",
    "bind_tcp",
    "connect_cluster",
    "describe_status",
    "drive_worker",
    "encode_frame",
    "first_error",
    "fork_workers",
    "format_hostport",
    "import_ray",
    "loop_factory",
    "parse_cluster",
    "percentile",
    "read_frames",
    "reap_workers",
    "run",
    "stop_on_signals",
]


__getattr__, __dir__ = attach(__name__, _LAZY)
