"""`awaitkit probe --processes`: one input over several processes, results as from one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.core import UsageError
from awaitkit.probe._direct import DirectResolver
from awaitkit.probe._records import Record
from awaitkit.probe._result import Result, Status
from awaitkit.probe._spread import (
    SPREAD_AT,
    processes_for,
    result_from_wire,
    result_to_wire,
    shares,
)

# Names of the session's nsd zone (tests/probe/conftest.py) and many missing ones.
_KNOWN = ["found.test", "v4only.test", "v6only.test", "nodata.test", "alias.test"]


def _names_file(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "names.txt"
    lines = [*_KNOWN, "bad..name", *(f"n{i}.test" for i in range(count))]
    path.write_text("\n".join(lines) + "\n")
    return path


def _summary(err: str) -> str:
    """The counts of the summary line (the debug loop may log lines before it)."""
    (line,) = [x for x in err.splitlines() if x.startswith("awaitkit probe: 3")]
    return line.split("): ", 1)[1]


def _probe(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "awaitkit", "probe", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("text", ["0", "-1", "junk", "65", "", "1.5", "٣", "9" * 40])
def test_bad_process_counts_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--processes must be auto or 1 to 64"):
        processes_for(text, direct=True, size=None)


@pytest.mark.parametrize("text", ["0", "-1", "junk", "\udcff"])
def test_bad_process_counts_exit_2(text: str, capsys) -> None:
    assert main(["probe", "dev", "--nameserver", "127.0.0.1", "--processes", text]) == 2
    assert "--processes must be auto or 1 to 64" in capsys.readouterr().err


def test_several_processes_need_the_direct_resolver(capsys) -> None:
    assert main(["probe", "dev", "--resolver", "system", "--processes", "2"]) == 2
    assert "--processes above 1 needs --resolver direct" in capsys.readouterr().err


def test_auto_spreads_only_large_inputs_with_the_direct_resolver() -> None:
    cpus = min(len(os.sched_getaffinity(0)), 4)
    assert processes_for("auto", direct=True, size=SPREAD_AT) == cpus
    assert processes_for("auto", direct=True, size=SPREAD_AT - 1) == 1
    assert processes_for("auto", direct=True, size=None) == 1  # a TLD run, a pipe
    assert processes_for("auto", direct=False, size=SPREAD_AT * 10) == 1
    assert processes_for("1", direct=False, size=None) == 1


def test_shares_add_up_to_the_limits() -> None:
    resolver = DirectResolver(["127.0.0.1:53"], rate=1000.0, rate_per_server=90.0)
    parts = shares(resolver, 5, 2)
    assert [c for _, c in parts] == [3, 2]
    assert [r.rate for r, _ in parts] == [500.0, 500.0]
    assert [r.rate_per_server for r, _ in parts] == [45.0, 45.0]
    assert all(r is not resolver for r, _ in parts)
    assert len(shares(resolver, 1, 4)) == 1  # never more shares than -c


def test_result_codec_round_trip() -> None:
    for result in [
        Result("a.test", True, status=Status.FOUND, addresses=("192.0.2.1", "::1")),
        Result("bücher.test", False, status=Status.NODATA),
        Result("x" * 300, False, status=Status.INVALID),
    ]:
        assert result_from_wire(result_to_wire(result)) == result
    for junk in [None, [], ["a"], [1, "FOUND", []], "a.test"]:
        with pytest.raises(ValueError, match="not a probe result"):
            result_from_wire(junk)
    with pytest.raises(ValueError, match="not a valid Status"):
        result_from_wire(["a.test", "MAYBE", []])


def test_result_codec_carries_full_answers() -> None:
    full = Result(
        "www.test",
        True,
        status=Status.FOUND,
        addresses=("192.0.2.1",),
        records=(
            Record("www.test", "CNAME", 300, "web.test."),
            Record("web.test", "A", 60, "192.0.2.1"),
        ),
        chain=("web.test",),
        rcode=0,
        resolver="127.0.0.1:53",
        attempts=2,
        duration=0.0125,
    )
    back = result_from_wire(result_to_wire(full))
    assert back == full
    assert (back.records, back.resolver, back.attempts, back.duration) == (
        full.records,
        "127.0.0.1:53",
        2,
        0.0125,
    )
    good = result_to_wire(full)
    for bad in [
        [*good[:3], [["www.test", "A", "x", "1"]], *good[4:]],  # TTL not a number
        [*good[:3], [["www.test", "A"]], *good[4:]],  # a record cut short
        [*good[:3], None, *good[4:]],
        good[:8],  # a field missing
    ]:
        with pytest.raises(ValueError, match="not a probe result"):
            result_from_wire(bad)


@pytest.mark.parametrize("extra", [[], ["--json"], ["--json", "--only", "found"]])
def test_two_processes_give_what_one_gives(
    nsd_port: int, tmp_path: Path, extra: list[str]
) -> None:
    """Same lines (each name once), same summary counts and per-resolver counts."""
    names = _names_file(tmp_path, 3000)
    argv = ["-i", str(names), "--nameserver", f"127.0.0.1:{nsd_port}", "--stats"]
    one = _probe(*argv, *extra, "--processes", "1")
    two = _probe(*argv, *extra, "--processes", "2", "-c", "200")
    assert one.returncode == two.returncode == 0, two.stderr
    assert _comparable(one.stdout) == _comparable(two.stdout)
    if "--only" not in extra:
        assert len(two.stdout.splitlines()) == 3006 + (0 if extra else 2)
    counts = [_summary(e) for e in (one.stderr, two.stderr)]
    assert counts[0] == counts[1]
    assert "FOUND 3, NXDOMAIN 3000, NODATA 2, INVALID 1" in counts[1]
    # Every query of both processes counted under the one nameserver.
    server = [line for line in two.stderr.splitlines() if f":{nsd_port}  " in line]
    assert server == [
        f"  127.0.0.1:{nsd_port}  sent 3005, answered 3005, "
        "timeouts 0, SERVFAIL 0, REFUSED 0"
    ]


def test_two_processes_write_one_output_file(nsd_port: int, tmp_path: Path) -> None:
    names = _names_file(tmp_path, 2000)
    out = tmp_path / "out.json"
    done = _probe(
        "-i",
        str(names),
        "--nameserver",
        f"127.0.0.1:{nsd_port}",
        "--json",
        "-o",
        str(out),
        "--processes",
        "2",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = out.read_text().splitlines()
    assert len(lines) == len(set(lines)) == 2006


def test_two_processes_resume_as_one_does(nsd_port: int, tmp_path: Path) -> None:
    """--resume: the settled names are skipped and kept, the failed one probed again."""
    names = _names_file(tmp_path, 2000)
    old = tmp_path / "old.json"
    old.write_text(
        '{"domain": "found.test", "found": true, "status": "FOUND", '
        '"addresses": ["192.0.2.1"]}\n'
        '{"domain": "n7.test", "found": false, "status": "TIMEOUT", "addresses": []}\n'
    )
    argv = ["-i", str(names), "--nameserver", f"127.0.0.1:{nsd_port}", "--json"]
    one = _probe(*argv, "--resume", str(old), "--processes", "1")
    two = _probe(*argv, "--resume", str(old), "--processes", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    lines = two.stdout.splitlines()
    assert _comparable(one.stdout) == _comparable(two.stdout)
    assert len(lines) == len(set(lines)) == 2006
    assert sum('"n7.test"' in line and "NXDOMAIN" in line for line in lines) == 1


def _comparable(stdout: str) -> list[str]:
    """The lines, sorted, JSON ones without ``duration_ms`` (a timing, not an answer)."""
    lines = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            record.pop("duration_ms", None)
            line = json.dumps(record, sort_keys=True)
        lines.append(line)
    return sorted(lines)


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _wait_for_two_sockets(silent: socket.socket) -> None:
    """Until queries came from two source ports: the parent's and the child's."""
    ports: set[int] = set()
    silent.settimeout(60)
    while len(ports) < 2:
        ports.add(silent.recvfrom(512)[1][1])


def test_a_child_killed_mid_run_fails_its_names_once(tmp_path: Path) -> None:
    """Its names end as TIMEOUT, each once, a line names the dead process; exit 1."""
    # Every name in flight at once: the run lasts one --timeout.
    names = _names_file(tmp_path, 1000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        argv = [
            sys.executable, "-m", "awaitkit", "probe", "-i", str(names),
            "--nameserver", f"127.0.0.1:{port}", "--timeout", "8", "--retries", "0",
            "-c", "4000", "--processes", "2", "--json",
        ]  # fmt: skip
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            _wait_for_two_sockets(silent)
            (child,) = _children(proc.pid)
            os.kill(child, signal.SIGKILL)
            out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert f"probe process {child} ended (killed by SIGKILL)" in err
    assert "unanswered names count as TIMEOUT" in err
    lines = out.splitlines()
    domains = [line.split('"')[3] for line in lines]
    assert len(domains) == len(set(domains)) == 1006
    assert "TIMEOUT 1005, INVALID 1" in err
    assert "Traceback" not in err


def test_a_killed_childs_counters_are_kept_up_to_its_last_copy(
    nsd_port: int, tmp_path: Path
) -> None:
    """A child's per-resolver counts reach the summary even when it dies.

    The run is slowed by --rate (each process gets 100 queries/s) and the
    child is killed after a few seconds: the answers it had sent until its
    last copy of the counters (at most a second old) are in the nameserver's
    line, not only the parent's.
    """
    names = _names_file(tmp_path, 1200)
    argv = [
        sys.executable, "-m", "awaitkit", "probe", "-i", str(names),
        "--nameserver", f"127.0.0.1:{nsd_port}", "--rate", "200", "--json", "--stats",
        "--processes", "2", "-c", "20",
    ]  # fmt: skip
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        time.sleep(0.5)
        (child,) = _children(proc.pid)
        time.sleep(3.0)  # the child sends about 100 answers a second
        os.kill(child, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # the killed child's names in flight: TIMEOUT
    answered_lines = sum('"TIMEOUT"' not in line for line in out.splitlines())
    (server,) = [line for line in err.splitlines() if f":{nsd_port}  sent" in line]
    answered = int(server.split("answered ")[1].split(",")[0])
    # Without the child's counts this would be short by all its answers
    # (about 300); a copy at most a second old misses at most about 100.
    # The copy may also count replies whose results the child had not sent
    # yet (at most its 10 names in flight: -c 20 over two processes).
    assert answered_lines - 150 <= answered <= answered_lines + 10


def test_sigterm_stops_the_parent_and_its_children(tmp_path: Path) -> None:
    names = _names_file(tmp_path, 2000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        argv = [
            sys.executable, "-m", "awaitkit", "probe", "-i", str(names),
            "--nameserver", f"127.0.0.1:{port}", "--timeout", "30",
            "-c", "100", "--processes", "2",
        ]  # fmt: skip
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            _wait_for_two_sockets(silent)
            (child,) = _children(proc.pid)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert time.monotonic() - started < 20  # not the 30 s timeout
    assert "awaitkit: terminated" in err
    assert "Traceback" not in err
    with pytest.raises(ProcessLookupError):  # reaped by the parent, not left behind
        os.kill(child, 0)
