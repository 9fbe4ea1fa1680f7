"""``/metrics``: the flags server's counters in Prometheus text format.

Two halves, so the request path only bumps plain integers:
:class:`RequestCounters` is an observer (``Site.observer``) that counts
responses by (path, status, fault) and bytes sent; :class:`FlagsCollector`
turns them and the server's :class:`ServerStats` into metric families when
Prometheus scrapes, in our own ``CollectorRegistry`` (never the global one,
so two servers in one process do not collide).  Paths are bounded: the
first ``max_paths`` distinct ones are labelled as they are, the rest
``"other"``, so a client walking random URLs cannot grow the output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from awaitkit.flags._site import ServerStats

__all__ = [
    "CONTENT_TYPE",
    "FlagsCollector",
    "RequestCounters",
    "registry_for",
    "render",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER_PATH = "other"


class RequestCounters:
    """Counts answered requests by (path, status, fault) and the bytes sent."""

    def __init__(self, *, max_paths: int = 100) -> None:
        self.max_paths = max_paths
        self.labels: dict[str, str] = {}  # path -> its label, the first max_paths
        self.responses: Counter[tuple[str, int, str]] = Counter()
        self.sent_bytes = 0
        self.cut = 0  # responses a fault ended before their whole body

    def _label(self, path: str) -> str:
        label = self.labels.get(path)
        if label is None:
            if len(self.labels) >= self.max_paths:
                return OTHER_PATH
            # Paths are percent-decoded with surrogateescape: odd bytes would
            # not encode in the exposition, so they show as \xNN.
            label = path.encode("utf-8", "surrogateescape").decode(
                "utf-8", "backslashreplace"
            )
            self.labels[path] = label
        return label

    def started(
        self,
        client: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        now: float,
    ) -> None:
        """Nothing to count until the answer (ServerStats counts arrivals)."""

    def finished(
        self,
        client: str,
        path: str,
        status: int,
        fault: str,
        sent: int,
        complete: bool,
        now: float,
        *,
        body_end: int = 0,
        retry_after: float | None = None,
    ) -> None:
        """Count one response (status 0: dropped before it was answered)."""
        self.responses[self._label(path), status, fault] += 1
        self.sent_bytes += sent
        if not complete and status:
            self.cut += 1

    def reset(self) -> None:
        """Start counting again (the path labels too)."""
        self.labels.clear()
        self.responses.clear()
        self.sent_bytes = 0
        self.cut = 0


class FlagsCollector(Collector):
    """Reads the counters at scrape time."""

    def __init__(self, stats: ServerStats, counters: RequestCounters) -> None:
        self.stats = stats
        self.counters = counters

    def collect(self) -> Iterator[Metric]:
        """The metric families, from the counters as they are now."""
        stats, counters = self.stats, self.counters
        responses = CounterMetricFamily(
            "awaitkit_flags_responses",
            "Responses by path (the first paths seen; the rest 'other'), status "
            "(0: the client left first) and fault",
            labels=["path", "status", "fault"],
        )
        for (path, status, fault), count in sorted(counters.responses.items()):
            responses.add_metric([path, str(status), fault], count)
        yield responses
        yield CounterMetricFamily(
            "awaitkit_flags_requests", "Requests received", value=stats.requests
        )
        yield CounterMetricFamily(
            "awaitkit_flags_sent_bytes",
            "Bytes of responses written (heads included)",
            value=counters.sent_bytes,
        )
        yield CounterMetricFamily(
            "awaitkit_flags_cut_responses",
            "Responses a fault ended short of their body",
            value=counters.cut,
        )
        yield CounterMetricFamily(
            "awaitkit_flags_connections",
            "Connections accepted",
            value=stats.connections,
        )
        yield GaugeMetricFamily(
            "awaitkit_flags_in_flight",
            "Requests received and not yet answered",
            value=stats.in_flight,
        )
        yield GaugeMetricFamily(
            "awaitkit_flags_max_in_flight",
            "Peak of in_flight since the start or the last reset",
            value=stats.max_in_flight,
        )


def registry_for(stats: ServerStats, counters: RequestCounters) -> CollectorRegistry:
    """A registry of its own holding only the flags server's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FlagsCollector(stats, counters))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of ``registry``."""
    return generate_latest(registry)
