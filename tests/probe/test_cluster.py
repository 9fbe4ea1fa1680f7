"""``probe --cluster ray``: the same results as one process, over a real Ray cluster.

The driver is the real CLI in a subprocess joining the session's cluster
(``RAY_ADDRESS``, see tests/raycluster.py); the nameserver is the session's
nsd (tests/probe/conftest.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.probe.test_spread import _comparable, _names_file
from tests.raycluster import RayCluster


def _probe(
    *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "awaitkit", "probe", *argv],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def _summary(err: str) -> str:
    """The counts of the summary line (the debug loop may log lines before it)."""
    (line,) = [x for x in err.splitlines() if x.startswith("awaitkit probe: 20006 ")]
    return line.split("): ", 1)[1]


@pytest.mark.cluster
def test_20000_names_on_the_cluster_give_what_one_process_gives(
    ray_cluster: RayCluster, nsd_port: int, tmp_path: Path
) -> None:
    names = _names_file(tmp_path, 20_000)
    argv = ["-i", str(names), "--nameserver", f"127.0.0.1:{nsd_port}", "--stats"]
    one = _probe(*argv, "--processes", "1")
    spread = _probe(
        *argv, "--cluster", "ray", "--cluster-actors", "3", "-c", "300",
        env=ray_cluster.env(),
    )  # fmt: skip
    assert one.returncode == spread.returncode == 0, spread.stderr[-2000:]
    assert _comparable(one.stdout) == _comparable(spread.stdout)
    assert len(spread.stdout.splitlines()) == 20_006 + 2  # the names, the header
    counts = [_summary(e) for e in (one.stderr, spread.stderr)]
    assert counts[0] == counts[1]
    assert "FOUND 3, NXDOMAIN 20000, NODATA 2, INVALID 1" in counts[1]
    # Every actor's queries counted under the one nameserver.
    server = [x for x in spread.stderr.splitlines() if f":{nsd_port}  " in x]
    assert server == [
        f"  127.0.0.1:{nsd_port}  sent 20005, answered 20005, "
        "timeouts 0, SERVFAIL 0, REFUSED 0"
    ]


def test_probe_cluster_needs_the_direct_resolver(tmp_path: Path) -> None:
    (tmp_path / "n.txt").write_text("a.test\n")
    run = _probe(
        "-i", str(tmp_path / "n.txt"), "--resolver", "system", "--cluster", "ray"
    )
    assert run.returncode == 2
    assert "--cluster needs --resolver direct" in run.stderr


def test_probe_on_an_unreachable_cluster_is_exit_status_3(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "n.txt").write_text("a.test\n")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    run = _probe(
        "-i", str(tmp_path / "n.txt"), "--nameserver", "127.0.0.1:1",
        "--cluster", f"ray://127.0.0.1:{port}", env=env,
    )  # fmt: skip
    assert run.returncode == 3, run.stderr
    assert f"cannot reach the Ray cluster at ray://127.0.0.1:{port}" in run.stderr


@pytest.mark.cluster
def test_the_library_entry_points_and_a_dataset(
    ray_cluster: RayCluster, nsd_port: int
) -> None:
    driver = Path(__file__).with_name("ray_library_driver.py")
    run = subprocess.run(
        [sys.executable, str(driver), f"127.0.0.1:{nsd_port}", ray_cluster.address],
        capture_output=True,
        text=True,
        timeout=240,
        env=ray_cluster.env(),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.splitlines()[-1])
    expect = {"found.test": "FOUND", "nodata.test": "NODATA"}
    expect |= {f"n{i}.test": "NXDOMAIN" for i in range(500)}
    assert got["iter"] == expect
    assert got["sent"] == 502  # the actors' queries, added to the driver's resolver
    assert got["dataset"] == {n: expect[n] for n in list(expect)[:20]}
