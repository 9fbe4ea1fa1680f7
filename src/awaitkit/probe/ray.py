"""Probe on a Ray cluster from Python: ``awaitkit probe --cluster ray`` as a library.

Needs the ``ray`` extra and a joined Ray (``ray.init(...)``)::

    import ray
    from awaitkit.probe import DirectResolver
    from awaitkit.probe.ray import iter_probes

    ray.init()
    resolver = DirectResolver(["10.0.0.53"], timeout=2.0)
    async for result in iter_probes(names, resolver=resolver, concurrency=5000):
        print(result.domain, result.status.name)

``names`` is any iterable or async iterable, read lazily by this process
alone; each actor opens its own share of ``resolver`` (``concurrency`` and
the rates are the cluster's totals), and the actors' per-resolver counters
are added to ``resolver.server_stats`` at the end.  For names already in a
Ray Dataset, :func:`probe_dataset` maps the prober over its blocks.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from typing import Any

from awaitkit.core import UsageError, import_ray
from awaitkit.core._cluster import node_label
from awaitkit.probe._actor import resolver_settings
from awaitkit.probe._cluster import probe_cluster
from awaitkit.probe._direct import DirectResolver
from awaitkit.probe._probe import multi_probe
from awaitkit.probe._result import Result

__all__ = ["iter_probes", "probe_dataset"]


def iter_probes(
    names: Iterable[str] | AsyncIterable[str],
    *,
    resolver: DirectResolver,
    concurrency: int = 1000,
    actors: int | None = None,
) -> AsyncGenerator[Result, None]:
    """Probe ``names`` on the cluster's actors; one :class:`Result` each, as they end."""
    ray = import_ray()
    if not ray.is_initialized():
        raise UsageError("join a Ray cluster first: ray.init(...)")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    return probe_cluster(
        ray, names, concurrency=concurrency, resolver=resolver, actors=actors
    )


class _BatchProber:
    """The ``map_batches`` callable: the prober over one batch of names."""

    def __init__(self, settings: dict[str, Any], concurrency: int, column: str) -> None:
        self._settings = settings
        self._concurrency = concurrency
        self._column = column
        self._node = node_label()

    async def __call__(
        self, batch: dict[str, Any]
    ) -> AsyncIterator[dict[str, list[Any]]]:
        names = [str(name) for name in batch[self._column]]
        results: list[Result] = []
        async with (
            DirectResolver(**self._settings) as resolver,
            contextlib.aclosing(
                multi_probe(names, concurrency=self._concurrency, resolver=resolver)
            ) as probed,
        ):
            async for result in probed:
                results.append(result)
        yield {
            "name": [r.domain for r in results],
            "status": [r.status.name for r in results],
            "addresses": [list(r.addresses) for r in results],
            "node": [self._node] * len(results),
        }


def probe_dataset(
    dataset: Any,
    *,
    resolver: DirectResolver,
    column: str = "name",
    concurrency: int = 1000,
    actors: int = 2,
    batch_size: int = 4096,
) -> Any:
    """``dataset``'s ``column`` of names probed: a lazy Dataset of name, status, addresses, node.

    Each of ``actors`` probes ``concurrency`` names at once (per actor here)
    with its own copy of ``resolver``'s settings.
    """
    ray = import_ray()
    if not ray.is_initialized():
        raise UsageError("join a Ray cluster first: ray.init(...)")
    return dataset.map_batches(
        _BatchProber,
        fn_constructor_kwargs={
            "settings": resolver_settings(resolver),
            "concurrency": concurrency,
            "column": column,
        },
        batch_size=batch_size,
        concurrency=actors,
        num_cpus=0.01,  # it waits on the network
        batch_format="default",
    )
