"""``--limit-rate``, ``--max-time``, ``--deadline`` and ``-j/--jobs``.

The rate is checked by its floor (a download can never be faster than the
limit allows, however fast the machine), time limits by what they end an
item as, against the flags server on loopback stalling or delaying on
purpose; the pacer's arithmetic by feeding it times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.core import UsageError
from awaitkit.download import DownloadOptions
from awaitkit.download._pace import Pacer
from awaitkit.download._plan import shares
from awaitkit.download.cli import register
from tests.download._servers import flags_servers_in_thread

FETCH = [sys.executable, "-m", "awaitkit", "fetch", "-q"]

# -- the pacer, sans I/O -------------------------------------------------------


def test_a_burst_passes_then_takers_wait_their_share() -> None:
    pacer = Pacer(1000, burst=100)
    assert pacer.delay(100, now=0.0) == 0  # the burst
    assert pacer.delay(100, now=0.0) == pytest.approx(0.1)
    assert pacer.delay(50, now=0.0) == pytest.approx(0.15)
    # Idle long enough, the burst is back, and no more than it.
    assert pacer.delay(100, now=10.0) == 0
    assert pacer.delay(1, now=10.0) == pytest.approx(0.001)


def test_over_a_long_run_the_rate_holds() -> None:
    pacer = Pacer(10_000, burst=1000)
    now, sent = 0.0, 0
    for size in [1, 700, 4096, 65536, 3, 16384] * 50:
        now += pacer.delay(size, now)  # each taker sleeps as told, then sends
        sent += size
    assert sent / now <= 10_000 * 1.001
    assert sent / now >= 10_000 * 0.95


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf")])
def test_a_pacer_refuses_a_rate_that_is_no_rate(rate: float) -> None:
    with pytest.raises(UsageError):
        Pacer(rate)


def test_shares_split_the_rate() -> None:
    parts = shares(DownloadOptions(concurrency=10, rate_limit=90_000), 3)
    assert [p.rate_limit for p in parts] == [30_000] * 3


# -- options and flags -----------------------------------------------------------


def fetch_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser


@pytest.mark.parametrize("flag", ["-j", "--jobs", "-m", "--max-concurrency"])
def test_jobs_has_its_aliases(flag: str) -> None:
    args = fetch_parser().parse_args(["fetch", flag, "7", "http://h/x"])
    assert args.max_req == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit-rate", "0"], "--limit-rate must be > 0"),
        (["--limit-rate", "fast"], "bad size"),
        (["--max-time", "0"], "max time must be > 0"),
        (["--max-time", "-1"], "max time must be > 0"),
        (["--max-time", "nan"], "max time must be > 0"),
        (["--deadline", "0"], "--deadline must be > 0"),
        (["--deadline", "inf"], "--deadline must be > 0"),
    ],
)
def test_bad_limits_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["fetch", "-q", "--dest", str(tmp_path), *args, "http://h/x"]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# -- whole runs ------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    for i in range(4):
        (root / f"f{i}.bin").write_bytes(bytes([i]) * 100_000)
    return root


@pytest.fixture(scope="module")
def base(site: Path) -> Iterator[str]:
    with flags_servers_in_thread(1, directory=site) as servers:
        yield servers[0].base_url


def report_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("processes", ["1", "2"])
def test_limit_rate_is_never_beaten(
    tmp_path: Path, base: str, site: Path, processes: str
) -> None:
    """400 KB at 200 KB/s: at least (400 KB - bursts) / 200 KB/s, on any machine."""
    urls = [f"{base}/f{i}.bin" for i in range(4)]
    dest = tmp_path / "out"
    start = time.monotonic()
    done = subprocess.run(
        [
            *FETCH,
            "--limit-rate",
            "200K",
            "--processes",
            processes,
            "-j",
            "4",
            "--dest",
            str(dest),
            *urls,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    for i in range(4):
        assert (dest / f"f{i}.bin").read_bytes() == (site / f"f{i}.bin").read_bytes()
    # Each process may send one burst (a tenth of its share, or 16 KiB) early.
    bursts = max(200 * 1024 / 10, 16 * 1024) * 2
    assert elapsed >= (400_000 - bursts) / (200 * 1024)


def test_max_time_ends_a_stalled_item_as_error_and_the_rest_go_on(
    tmp_path: Path,
) -> None:
    report = tmp_path / "r.jsonl"
    with (
        flags_servers_in_thread(1, stall_rate=1.0) as stalled,
        flags_servers_in_thread(1) as good,
    ):
        urls = [f"{stalled[0].base_url}/flags/br/br.gif"]
        urls.append(f"{good[0].base_url}/flags/fr/fr.gif")
        args = ["--max-time", "0.5", "--retries", "0", "--report", str(report)]
        assert main(["fetch", "-q", "--dest", str(tmp_path / "out"), *args, *urls]) == 1
    lines = {line["url"]: line for line in report_of(report)}
    assert lines[urls[0]]["status"] == "error"
    assert lines[urls[0]]["error"] == "over --max-time (0.5 s)"
    assert lines[urls[1]]["status"] == "ok"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["fr.gif"]


def test_deadline_reports_every_item_it_was_given(tmp_path: Path) -> None:
    """URLs on the command line: those not done by the deadline end as ERROR, each once."""
    report = tmp_path / "r.jsonl"
    with flags_servers_in_thread(1, delay="0.2") as servers:
        urls = [f"{servers[0].base_url}/flags/{cc}/{cc}.gif" for cc in ("br", "fr")]
        urls *= 15
        args = ["-j", "1", "--deadline", "1", "--report", str(report)]
        assert main(["fetch", "-q", "--dest", str(tmp_path / "out"), *args, *urls]) == 1
    lines = report_of(report)
    assert len(lines) == 30
    ok = [line for line in lines if line["status"] == "ok"]
    stopped = [line for line in lines if line["status"] == "error"]
    assert ok  # some finished in time
    assert stopped
    assert {line["error"] for line in stopped} == {"stopped at the run's --deadline"}


def test_deadline_gives_up_a_quiet_pipe(tmp_path: Path) -> None:
    """stdin that never ends: the run still ends at its deadline, exit 1, reason said."""
    report = tmp_path / "r.jsonl"
    with flags_servers_in_thread(1) as servers:
        proc = subprocess.Popen(
            [
                *FETCH,
                "-i",
                "-",
                "--deadline",
                "1",
                "--report",
                str(report),
                "--dest",
                str(tmp_path / "out"),
            ],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(f"{servers[0].base_url}/flags/br/br.gif\n")
        proc.stdin.flush()  # and the pipe stays open
        try:
            proc.wait(timeout=30)
        finally:
            proc.kill()
            proc.stdin.close()
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.returncode == 1
    assert "--deadline reached after 1 s: the rest of the input was not read" in err
    [line] = report_of(report)
    assert line["status"] == "ok"
