"""``fetch --cluster ray`` against ``fetch --processes 2``: what the cluster costs.

On one 2-core machine a cluster cannot be faster than the machine itself;
this measures its overhead.  A local Ray cluster of two nodes (a head and
a worker, ``ray.cluster_utils.Cluster``, one CPU each) is started once (its
start-up time is reported apart, in the row's note); then, interleaved:

* 10,000 files of 2-30 KB from nginx on 4 ports (4 hosts, 2 per actor:
  a host's URLs all go to one actor; bench_download's files, checked by
  sha256) at ``-m 100``, ``--cluster ray --cluster-actors 2`` (the driver
  joins through ``RAY_ADDRESS``, its own join and the actors' start timed
  in) against ``--processes 2``; goal: at most 1.5x the wall time;
* the driver's peak RSS for 1,000,000 URLs against 100,000 (one in 100 a
  real file, the rest 404s), flat: within 10 %.

    uv run --extra ray python bench/bench_cluster.py [--rounds N] [--quick]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, main_for, median, per_round_ratios
from _peers import free_port, serving_nginx
from awaitkit.core import HostRing
from bench_download import AWAITKIT, CACHE, CLI_RSS_PROBE, PYTHON, make_files, verify

DEFAULT_ROUNDS = 1  # each round is ~a minute on 2 shared cores
CONCURRENCY = 100
_NODE = {"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024}


@contextmanager
def local_cluster() -> Iterator[tuple[str, float]]:
    """A head and one worker node; yields (address, seconds it took to start)."""
    from ray.cluster_utils import Cluster

    start = time.perf_counter()
    cluster = Cluster(
        initialize_head=True, head_node_args={**_NODE, "include_dashboard": False}
    )
    try:
        cluster.add_node(**_NODE)
        cluster.wait_for_nodes()
        yield cluster.address, time.perf_counter() - start
    finally:
        cluster.shutdown()


@contextmanager
def serving_hosts(count: int, actors: int) -> Iterator[list[str]]:
    """nginx on ``count`` ports (so many hosts), spread evenly over ``actors`` by the ring.

    Every URL of one host goes to one actor; a single host would keep all
    but one actor idle, so the batch is spread over several, as a real
    crawl's hosts are.
    """
    ring = HostRing(actors)
    ports: list[int] = []
    per_slot = count // actors
    while len(ports) < count:
        port = free_port()
        slot = ring.slot(f"127.0.0.1:{port}")
        if (
            port not in ports
            and sum(ring.slot(f"127.0.0.1:{p}") == slot for p in ports) < per_slot
        ):
            ports.append(port)
    extra = "".join(
        f"    server {{ listen 127.0.0.1:{p} backlog=4096; root {CACHE.resolve()}; }}\n"
        for p in ports
    )
    # serving_nginx's own port is left out: it would land on either actor.
    with serving_nginx(CACHE, extra):
        yield [f"http://127.0.0.1:{p}" for p in ports]


def _run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed ({proc.returncode}): {proc.stderr[-800:]!r}")
    return elapsed


def overhead_row(rounds: int, count: int, address: str, started: float) -> Row:
    manifest = make_files(10_000)
    rels = list(manifest)[:count]
    wanted = {rel: manifest[rel] for rel in rels}
    env = dict(os.environ, RAY_ADDRESS=address)
    times: dict[str, list[float]] = {"cluster": [], "processes": []}
    work = Path(tempfile.mkdtemp(prefix="awaitkit-bench-cluster-"))
    try:
        with serving_hosts(4, 2) as bases:
            urls = work / "urls.txt"
            urls.write_text(
                "".join(f"{bases[i % 4]}/files/{rel}\n" for i, rel in enumerate(rels))
            )
            common = [*AWAITKIT, "fetch", "-q", "-m", str(CONCURRENCY), "-i", str(urls)]
            how = {
                "cluster": ["--cluster", "ray", "--cluster-actors", "2"],
                "processes": ["--processes", "2"],
            }
            for round_no in range(rounds + 1):  # round 0 warms nginx and the nodes
                order = list(how) if round_no % 2 else list(reversed(how))
                for name in order:
                    out = work / f"out-{round_no}-{name}"
                    elapsed = _run([*common, *how[name], "--dest", str(out)], env)
                    verify(out, wanted)
                    shutil.rmtree(out)
                    if round_no:
                        times[name].append(elapsed)
    finally:
        shutil.rmtree(work)
    ours, peer = times["cluster"], times["processes"]
    return Row(
        bench="cluster",
        metric=f"{count:,} files, -m {CONCURRENCY}, 2 nodes",
        ours=median(ours),
        peer_name="--processes 2",
        peer=median(peer),
        unit="s",
        goal=1 / 1.5,
        note=f"cluster start-up {started:.1f} s, not timed in",
        round_ratios=per_round_ratios(ours, peer, higher_is_better=False),
    )


def memory_row(count: int, address: str) -> Row:
    """The driver's peak RSS for ``count`` URLs against a tenth of them."""
    make_files(1_000)
    env = dict(os.environ, RAY_ADDRESS=address)
    peaks = {}
    with serving_hosts(4, 2) as bases, tempfile.TemporaryDirectory() as work:
        for n in (count // 10, count):
            urls = Path(work, f"urls-{n}.txt")
            with urls.open("w") as out:
                for i in range(n):
                    base = bases[i % 4]
                    if i % 100 == 0:
                        out.write(f"{base}/files/{i % 1000:05d}/{i % 1000:05d}.bin\n")
                    else:
                        out.write(f"{base}/missing/{i}\n")
            argv = [*AWAITKIT, "fetch", "-q", "-j", str(CONCURRENCY), "-i", str(urls)]
            argv += ["--cluster", "ray", "--cluster-actors", "2", "--retries", "0"]
            argv += ["--dest", str(Path(work, f"out-{n}"))]
            start = time.perf_counter()
            peak = subprocess.run(
                [PYTHON, "-c", CLI_RSS_PROBE, *argv],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout
            print(f"  {n:,} URLs: {time.perf_counter() - start:.0f} s", file=sys.stderr)
            peaks[n] = float(peak)
    small, big = peaks[count // 10], peaks[count]
    return Row(
        bench="cluster",
        metric=f"driver peak RSS, {count:,} URLs",
        ours=big,
        peer_name=f"ours, {count // 10:,} URLs",
        peer=small,
        unit="MiB",
        goal=1 / 1.1,
        note="flat memory: ratio ~1",
    )


def run(rounds: int, quick: bool) -> list[Row]:
    with local_cluster() as (address, started):
        rows = [overhead_row(rounds, 1_000 if quick else 10_000, address, started)]
        rows.append(memory_row(100_000 if quick else 1_000_000, address))
    return rows


if __name__ == "__main__":
    main_for(run, DEFAULT_ROUNDS)
