"""A real Ray cluster for the ``--cluster`` tests: a head and two worker nodes.

``ray.cluster_utils.Cluster`` starts each node's processes (GCS, raylet,
workers) on this machine, as a fleet of machines would run them.  It is
started once per session (a few seconds each node) and kept small: one CPU
and a ~80 MB object store per node (results only pass through).  Without
Ray installed (the base install) the tests that use it skip, saying so;
under CI Ray is installed (``.ci/run`` syncs the ``ray`` extra), so they run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

STORE = 80 * 1024 * 1024  # Ray's floor is 75 MB
NODE = {"num_cpus": 1, "object_store_memory": STORE}


@dataclass
class RayCluster:
    """The running cluster and what a driver needs to join it."""

    cluster: Any  # ray.cluster_utils.Cluster
    address: str  # the GCS address, as RAY_ADDRESS takes it

    def env(self) -> dict[str, str]:
        """The environment of a CLI driver that joins this cluster."""
        env = dict(os.environ, RAY_ADDRESS=self.address)
        # A driver's start-up messages stay off the test's output.
        env.setdefault("RAY_DEDUP_LOGS", "0")
        return env

    def workers(self) -> list[Any]:
        """The worker nodes (not the head), as ``remove_node`` takes them."""
        head = self.cluster.head_node
        return [node for node in self.cluster.list_all_nodes() if node is not head]

    def raylet_pid(self, node: Any) -> int:
        """The pid of ``node``'s raylet (the process that is the node to Ray)."""
        (raylet,) = node.all_processes["raylet"]
        return int(raylet.process.pid)

    def worker_with(self, title: str) -> Any | None:
        """A worker node one of whose processes is named ``title`` (``ray::NAME``)."""
        by_raylet = {self.raylet_pid(node): node for node in self.workers()}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmdline = Path("/proc", entry, "cmdline").read_bytes()
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            if cmdline.startswith(title.encode()):
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                if parent in by_raylet:
                    return by_raylet[parent]
        return None


def start_cluster() -> Iterator[RayCluster]:
    """Start the head and two workers; shut them all down after."""
    try:
        from ray.cluster_utils import Cluster
    except ImportError:
        if os.environ.get("CI"):  # .ci/run installs the extra: a skip would hide it
            raise
        pytest.skip("Ray is not installed (uv sync --extra ray; CI installs it)")

    cluster = Cluster(
        initialize_head=True,
        head_node_args={**NODE, "include_dashboard": False},
        shutdown_at_exit=True,
    )
    try:
        for _ in range(2):  # started together, waited for once
            cluster.add_node(wait=False, **NODE)
        cluster.wait_for_nodes()
        yield RayCluster(cluster, cluster.address)
    finally:
        cluster.shutdown()


def awaitkit_command(*args: str) -> list[str]:
    """``python -m awaitkit ARGS`` for a driver subprocess."""
    return [sys.executable, "-m", "awaitkit", *args]
