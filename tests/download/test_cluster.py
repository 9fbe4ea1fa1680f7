"""``fetch --cluster ray``: one batch over a real Ray cluster, every item once.

The driver is the real CLI in a subprocess joining the session's cluster
(``RAY_ADDRESS``); the targets are our flags servers on loopback, whose
``stats.max_in_flight`` is the server-side peak.  The routing pieces
(shares, the host ring) are tested in-process without Ray.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections import Counter
from pathlib import Path

import pytest

from awaitkit.core import HostRing, parse_cluster
from awaitkit.core.errors import UsageError
from awaitkit.download import DownloadOptions
from awaitkit.download._cluster import cluster_shares
from awaitkit.flags import FlagsServer, build_dataset, country_codes
from tests.raycluster import RayCluster, awaitkit_command

# -- pure pieces ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("concurrency", "actors", "expect"),
    [(12, 3, [4, 4, 4]), (5, 3, [2, 2, 1]), (2, 4, [1, 1]), (7, 1, [7])],
)
def test_cluster_shares_divide_m_and_keep_per_host_whole(
    concurrency: int, actors: int, expect: list[int]
) -> None:
    options = DownloadOptions(concurrency=concurrency, per_host=3, rate_limit=900.0)
    got = cluster_shares(options, actors)
    assert [o.concurrency for o in got] == expect
    assert all(o.per_host == 3 for o in got)  # a host lives on one actor
    assert sum(o.rate_limit or 0 for o in got) == pytest.approx(900.0)


def test_cluster_shares_make_the_deadline_relative() -> None:
    import time

    options = DownloadOptions(deadline=time.monotonic() + 50)
    (share,) = cluster_shares(options, 1)
    assert share.deadline is not None
    assert 49 < share.deadline <= 50


def test_the_ring_sends_a_host_to_one_slot_and_spreads_hosts() -> None:
    ring = HostRing(3)
    hosts = [f"h{i}.example:80" for i in range(3000)]
    slots = Counter(ring.slot(h) for h in hosts)
    assert set(slots) == {0, 1, 2}
    assert min(slots.values()) > 600  # within a third of an even share
    assert all(ring.slot(h) == HostRing(3).slot(h) for h in hosts[:100])
    # A fourth slot moves only the hosts it takes.
    bigger = HostRing(4)
    moved = [h for h in hosts if bigger.slot(h) != ring.slot(h)]
    assert all(bigger.slot(h) == 3 for h in moved)


@pytest.mark.parametrize(
    "text",
    [
        "ray:",
        "spark",
        "ray://",
        "ray://h:0",
        "ray://h:99999",
        "ray://h:x",
        "\udcff",
        "ray://\udcff",
        "ray://ü.example",
        "ray://u@h:1",
        "ray://h:" + "9" * 5000,
    ],
)
def test_bad_cluster_specs_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_cluster(text)


def test_good_cluster_specs() -> None:
    assert parse_cluster("ray").address is None
    assert parse_cluster("ray://[::1]:10001").address == "ray://[::1]:10001"


# -- without a cluster ---------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_cli(
    *args: str, env: dict[str, str] | None = None, prelude: str = ""
) -> tuple[int, str, str]:
    code = f"{prelude}import sys; from awaitkit.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.anyio
async def test_without_ray_cluster_says_what_to_install(tmp_path: Path) -> None:
    """The base install: --cluster is a usage error naming the extra."""
    status, _, err = await run_cli(
        "fetch", "--cluster", "ray", "--dest", str(tmp_path), "http://127.0.0.1:1/a",
        prelude="import sys; sys.modules['ray'] = None; ",  # import ray fails
    )  # fmt: skip
    assert status == 2, err
    assert "pip install 'awaitkit[ray]'" in err


@pytest.mark.anyio
async def test_a_run_without_cluster_never_imports_ray(tmp_path: Path) -> None:
    async with FlagsServer("LOCAL") as server:
        status, out, err = await run_cli(
            "fetch", "-q", "--dest", str(tmp_path), f"{server.base_url}/flags/br/br.gif",
            prelude="import atexit, sys; atexit.register(lambda: print('ray' in sys.modules)); ",
        )  # fmt: skip
    assert status == 0, err
    assert out.rstrip().endswith("False")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cluster-actors", "0"], "--cluster-actors must be 1 to 4096"),
        (["--cluster-actors", "99999"], "--cluster-actors must be 1 to 4096"),
        (["-k"], "are not carried to a cluster's nodes yet"),
        (["-c", "jar.txt"], "work in one process, not with --cluster"),
        (["--cluster", "ray://\udcff:1"], "not a host name"),
        (["--cluster", "ray://h:1/x"], "bad port"),
        (["--cluster", "ray://a b:1"], "not a host name"),
        (["--cluster", "spark"], "--cluster must be 'ray' or 'ray://HOST:PORT'"),
    ],
)
async def test_what_does_not_go_with_cluster_is_a_usage_error(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    args = [
        "fetch",
        "--cluster",
        "ray",
        *extra,
        "--dest",
        str(tmp_path),
        "http://127.0.0.1:1/a",
    ]
    status, _, err = await run_cli(*args)
    assert status == 2, err
    assert message in err


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["ray://", "RAY_ADDRESS"])
async def test_an_unreachable_cluster_is_exit_status_3(
    tmp_path: Path, how: str
) -> None:
    port = closed_port()
    env = dict(os.environ)
    if how == "ray://":
        spec = f"ray://127.0.0.1:{port}"
        env.pop("RAY_ADDRESS", None)
    else:
        spec, env["RAY_ADDRESS"] = "ray", f"127.0.0.1:{port}"
    status, _, err = await run_cli(
        "fetch", "--cluster", spec, "--dest", str(tmp_path), "http://127.0.0.1:1/a",
        env=env,
    )  # fmt: skip
    assert status == 3, err
    assert (
        f"cannot reach the Ray cluster at {'ray://' if how == 'ray://' else ''}127.0.0.1:{port}"
        in err
    )


# -- on the cluster ------------------------------------------------------------


def flag_urls(base: str) -> list[str]:
    return [f"{base}/flags/{cc}/{cc}.gif" for cc in map(str.lower, country_codes())]


def assert_whole(lines: list[dict[str, object]]) -> None:
    """Each OK line's file is the whole flag its URL names."""
    data = build_dataset()
    for line in lines:
        if line["status"] == "ok":
            cc = str(line["url"]).rsplit("/", 2)[1]
            body = data[f"flags/{cc}/{cc}.gif"].body
            assert Path(str(line["path"])).read_bytes() == body, line


def sockets_on_two_slots(actors: int) -> tuple[socket.socket, socket.socket]:
    """Two listening sockets whose authorities the ring puts on different actors."""
    ring = HostRing(actors)
    first = socket.create_server(("127.0.0.1", 0))
    slot = ring.slot(f"127.0.0.1:{first.getsockname()[1]}")
    while True:
        second = socket.create_server(("127.0.0.1", 0))
        if ring.slot(f"127.0.0.1:{second.getsockname()[1]}") != slot:
            return first, second
        second.close()


def final_files(dest: Path) -> list[Path]:
    return [p for p in dest.rglob("*") if p.is_file() and not p.name.endswith(".part")]


async def start_driver(cluster: RayCluster, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *awaitkit_command("fetch", "--cluster", "ray", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cluster.env(),
    )


def read_report(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.cluster
# Three servers busy on this loop share 2 cores with three Ray nodes and the
# driver: the OS may hold the loop past the slow-step limit between steps.
@pytest.mark.blocks_loop
@pytest.mark.anyio
async def test_5000_urls_over_3_hosts_each_once_within_per_host_and_m(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    """5,000 URLs of 3 hosts, -m 5 --per-host 2 over 3 actors: limits held cluster-wide."""
    report, dest = tmp_path / "r.jsonl", tmp_path / "d"
    async with (
        FlagsServer("LOCAL", delay="0.002-0.01") as a,
        FlagsServer("LOCAL", delay="0.002-0.01") as b,
        FlagsServer("LOCAL", delay="0.002-0.01") as c,
    ):
        servers = (a, b, c)
        per = [flag_urls(s.base_url) for s in servers]
        urls = [per[i % 3][(i // 3) % len(per[0])] for i in range(5000)]
        (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
        peak = 0

        async def sample() -> None:  # the three servers' total, every millisecond
            nonlocal peak
            while True:
                peak = max(peak, sum(s.stats.in_flight for s in servers))
                await asyncio.sleep(0.001)

        sampler = asyncio.create_task(sample())
        proc = await start_driver(
            ray_cluster, "-v", "-m", "5", "--per-host", "2", "--cluster-actors", "3",
            "--naming", "path", "-i", str(tmp_path / "urls.txt"), "--dest", str(dest), "--report", str(report),
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 240)
        sampler.cancel()
        peaks = [s.stats.max_in_flight for s in servers]

    def check() -> None:  # off the loop: it reads every file
        assert proc.returncode == 0, err.decode()[-2000:]
        assert max(peaks) == 2, peaks  # reached, and never passed
        assert peak <= 5
        lines = read_report(report)
        assert Counter(str(line["url"]) for line in lines) == Counter(urls)
        assert all(line["status"] == "ok" for line in lines)
        # One file per item, each whole, each named by its report line.
        assert len({line["path"] for line in lines}) == 5000
        assert len(final_files(dest)) == 5000
        assert_whole(lines)
        # -v: one line per URL naming the node and path; then the summary.
        text = out.decode()
        ok_lines = [x for x in text.splitlines() if x.startswith("OK ")]
        assert len(ok_lines) == 5000
        assert all(f":{dest}/" in x for x in ok_lines)
        assert "5000 files downloaded." in text

    await asyncio.to_thread(check)


@pytest.mark.cluster
@pytest.mark.anyio
async def test_one_name_from_two_hosts_is_written_by_one_actor_at_a_time(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    """Same file name, two hosts (so two actors), different bodies: 60 whole files.

    Were two actors to write one ``.part`` at once the bodies would mix;
    were they to give two items one name, a body would be lost.
    """
    bodies = {"a": b"a" * 600_000, "b": b"b" * 400_000}
    for tag, body in bodies.items():
        (tmp_path / tag / "files").mkdir(parents=True)
        (tmp_path / tag / "files" / "big.bin").write_bytes(body)
    report, dest = tmp_path / "r.jsonl", tmp_path / "d"
    first, second = sockets_on_two_slots(2)
    async with (
        FlagsServer("LOCAL", directory=tmp_path / "a", sock=first) as one,
        FlagsServer("LOCAL", directory=tmp_path / "b", sock=second) as two,
    ):
        urls = [f"{s.base_url}/files/big.bin" for s in (one, two)] * 30
        (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
        proc = await start_driver(
            ray_cluster, "-q", "-m", "20", "--cluster-actors", "2",
            "-i", str(tmp_path / "urls.txt"), "--dest", str(dest), "--report", str(report),
        )  # fmt: skip
        _out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-2000:]

    def check() -> None:  # off the loop: it reads every file
        lines = read_report(report)
        assert [line["status"] for line in lines] == ["ok"] * 60
        names = {"big.bin"} | {f"big.{n}.bin" for n in range(1, 60)}
        assert {p.name for p in dest.iterdir()} == names
        for line in lines:
            server = "a" if str(line["url"]).startswith(one.base_url) else "b"
            assert Path(str(line["path"])).read_bytes() == bodies[server]

    await asyncio.to_thread(check)


@pytest.mark.cluster
@pytest.mark.blocks_loop  # the node is added back from the loop's thread, see below
@pytest.mark.skip(
    reason="known failure: after the worker node is removed, the driver did not "
    "finish within 240 s in two runs on 2 cores (a full run, and these files "
    "alone); node-death recovery is not yet reliable"
)
@pytest.mark.anyio
async def test_a_worker_node_killed_mid_batch_every_item_once(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    """A worker node killed mid-batch: each URL OK or ERROR, exactly once.

    ``--retries 1``: an item held by the dead node's actor is retried once on
    its restarted self; the retry is what lets every item end OK unless it
    was caught twice.
    """
    report, dest = tmp_path / "r.jsonl", tmp_path / "d"
    async with (
        FlagsServer("LOCAL", delay="0.02-0.05") as one,
        FlagsServer("LOCAL", delay="0.02-0.05") as two,
    ):
        urls = (flag_urls(one.base_url) + flag_urls(two.base_url)) * 4
        (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
        proc = await start_driver(
            ray_cluster, "-q", "-m", "30", "--retries", "1", "--cluster-actors", "3",
            "--naming", "path", "-i", str(tmp_path / "urls.txt"), "--dest", str(dest), "--report", str(report),
        )  # fmt: skip
        async with asyncio.timeout(240):
            while one.stats.requests + two.stats.requests < 200:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            # A worker node whose actor is busy (the title of a process in a
            # method is ray::CLASS.METHOD; one of an earlier test may still
            # be exiting under the bare class name): its raylet and all
            # its processes killed (a raylet alone killed leaves its workers
            # running until the node is declared dead, ~30 s later).
            while (victim := ray_cluster.worker_with("ray::DownloadActor.run")) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await asyncio.to_thread(
                ray_cluster.cluster.remove_node, victim, allow_graceful=False
            )
            _out, err = await proc.communicate()
    # A new node for the tests after this one (on the loop: Ray sets signal
    # handlers there, which only the main thread may).
    _replace_node(ray_cluster)

    def check() -> None:  # off the loop: it reads every file
        lines = read_report(report)
        assert Counter(str(line["url"]) for line in lines) == Counter(urls), (
            err.decode()[-2000:]
        )
        assert {line["status"] for line in lines} <= {"ok", "error"}
        errors = [line for line in lines if line["status"] == "error"]
        assert all("died" in str(line["error"]) for line in errors), errors[:3]
        assert proc.returncode == (1 if errors else 0), err.decode()[-2000:]
        assert_whole(lines)
        # A file finished on the dead node but never reported is fetched
        # again: it may be there twice, never missing.
        assert len(final_files(dest)) >= len(urls) - len(errors)
        assert sum(line["status"] == "ok" for line in lines) > len(urls) // 2
        assert "ended (" in err.decode(), "the node's actor held items when it died"
        assert "is back, on node" in err.decode()  # restarted on a live node

    await asyncio.to_thread(check)


def _replace_node(cluster: RayCluster) -> None:
    from tests.raycluster import NODE

    cluster.cluster.add_node(**NODE)
    cluster.cluster.wait_for_nodes()


@pytest.mark.cluster
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("sent", "status", "said"),
    [
        (signal.SIGINT, 130, "Interrupted after"),
        (signal.SIGTERM, 143, "Terminated after"),
    ],
)
async def test_ctrl_c_or_sigterm_to_the_driver_stops_the_cluster_work(
    ray_cluster: RayCluster,
    tmp_path: Path,
    sent: signal.Signals,
    status: int,
    said: str,
) -> None:
    """Exit 130 (143), the summary, and the actors stop sending requests."""
    dest = tmp_path / "d"
    async with FlagsServer("LOCAL", delay="0.05-0.1") as server:
        urls = flag_urls(server.base_url) * 30
        (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
        proc = await start_driver(
            ray_cluster, "-q", "-m", "12", "-i", str(tmp_path / "urls.txt"),
            "--dest", str(dest),
        )  # fmt: skip
        async with asyncio.timeout(120):
            while server.stats.requests < 100:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            proc.send_signal(sent)
            out, err = await proc.communicate()
            after = server.stats.requests
            await asyncio.sleep(1.0)
            assert server.stats.requests == after  # nothing more was asked
            assert server.stats.in_flight == 0
    assert proc.returncode == status, err.decode()[-2000:]
    assert said in err.decode()
    assert "files downloaded." in out.decode()
    assert after < len(urls)


@pytest.mark.cluster
@pytest.mark.anyio
async def test_the_library_entry_points_and_a_dataset(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    """iter_downloads over an async iterable, download_many, download_dataset."""
    driver = Path(__file__).with_name("ray_library_driver.py")
    async with FlagsServer("LOCAL") as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(driver), server.base_url, str(tmp_path), ray_cluster.address,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=ray_cluster.env(),
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode == 0, err.decode()[-3000:]
    got = json.loads(out.decode().splitlines()[-1])
    flags = {f"{server.base_url}/flags/{cc}/{cc}.gif": cc for cc in ("br", "fr", "jp")}
    missing = f"{server.base_url}/flags/zz/zz.gif"
    assert sorted((s, u) for s, u, _ in got["seen"]) == sorted(
        [("ok", u) for u in flags] + [("not_found", missing)]
    )
    assert all(node for _, _, node in got["seen"])
    assert got["counts"] == {"ok": 3, "not_found": 1}
    rows = {row["url"]: row for row in got["rows"]}
    assert set(rows) == {*flags, missing}
    assert rows[missing]["status"] == "not_found"
    data = build_dataset()
    for url, cc in flags.items():
        for folder in ("a", "b", "c"):
            body = (tmp_path / folder / f"{cc}.gif").read_bytes()
            assert body == data[f"flags/{cc}/{cc}.gif"].body
        assert rows[url]["path"] == str(tmp_path / "c" / f"{cc}.gif")
