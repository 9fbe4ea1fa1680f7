"""awaitkit probe against nsd on loopback: names/s, correctness, loop lag.

100,000 names under ``bench.test.`` (half exist), served by nsd on
127.0.0.1.  Interleaved per round:

* ours: ``multi_probe`` + ``DirectResolver``, 1,000 in flight, on uvloop;
* dnsperf: the ceiling (``-c 2 -T 1 -b 4096``; fewer clients report false losses);
* ours as users run it: ``awaitkit probe -i names.txt --nameserver
  127.0.0.1:PORT`` with ``--json`` and with the book's columns, stdout to a
  file, timed from start to exit (interpreter start included), in one process
  (``--processes 1``) and, with ``--json``, with ``--processes auto``;
* massdns (``-s 1000``, 8 MiB buffers, ndjson to a file), the CLI we race,
  from ``$MASSDNS`` (a binary built outside the repository: blechschmidt/massdns,
  ``make``); the row is skipped with a note when it is not set;
* the book's domainlib (``baselines/book_probe.py``, ``getaddrinfo`` in
  asyncio's default pool).  glibc only asks the server in /etc/resolv.conf on
  port 53, so it runs in a private mount + network namespace (``unshare -m
  -n``) with its own loopback, its own nsd on 127.0.0.1:53 and a bind-mounted
  resolv.conf; the host is untouched.  Skipped with a note when ``unshare``
  is not permitted.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, interleave, main_for, median, per_round_ratios
from _peers import require
from awaitkit.probe.testing import nsd_config, serving_nsd

DEFAULT_ROUNDS = 3
ZONE = "bench.test"
CONCURRENCY = 1000
PYTHON = sys.executable
# The CLI in a process of its own, as the console script runs it, with a
# LagMonitor around the command's coroutine: loop lag is sampled in the
# process that does the work.  The p99 goes to stderr as the last line.
CLI_WITH_LAG = """
import json, sys
from awaitkit import cli
from awaitkit.core import LagMonitor
from awaitkit.probe import _command

plain_run = _command.run
lag_p99 = []

def run(coro, **kwargs):
    async def sampled():
        async with LagMonitor() as lag:
            try:
                return await coro
            finally:
                lag_p99.append(lag.report().p99_ms)
    return plain_run(sampled(), **kwargs)

_command.run = run
sys.argv = ["awaitkit", *sys.argv[1:]]
try:
    cli.entry()
finally:
    sys.stderr.write(json.dumps({"lag_p99": max(lag_p99, default=float("nan"))}) + "\\n")
"""


def make_inputs(directory: Path, total: int) -> tuple[str, list[str], int]:
    """Write the names file and dnsperf's query file; return zone text, names, found count."""
    existing = total // 2
    lines = [
        f"$ORIGIN {ZONE}.",
        "$TTL 300",
        f"@ SOA ns.{ZONE}. admin.{ZONE}. 1 3600 600 86400 300",
        f"@ NS ns.{ZONE}.",
        "ns A 127.0.0.1",
    ]
    lines += [
        f"e{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(existing)
    ]
    names = [f"e{i}.{ZONE}" for i in range(existing)]
    names += [f"m{i}.{ZONE}" for i in range(total - existing)]
    random.Random(42).shuffle(names)
    (directory / "names.txt").write_text("\n".join(names) + "\n")
    (directory / "queries.txt").write_text("".join(f"{n} A\n" for n in names))
    return "\n".join(lines) + "\n", names, existing


def run_ours(names: list[str], port: int) -> dict[str, float]:
    from awaitkit.core import LagMonitor, run
    from awaitkit.probe import DirectResolver, Status, multi_probe

    async def main() -> dict[str, float]:
        found = definite = 0
        async with (
            DirectResolver([f"127.0.0.1:{port}"], timeout=2.0, retries=2) as resolver,
            LagMonitor() as lag,
        ):
            start = time.perf_counter()
            async for result in multi_probe(
                names, concurrency=CONCURRENCY, resolver=resolver
            ):
                found += result.found
                definite += result.status in (Status.FOUND, Status.NXDOMAIN)
            elapsed = time.perf_counter() - start
        return {
            "rate": len(names) / elapsed,
            "found": found,
            "definite": definite,
            "lag_p99": lag.report().p99_ms,
        }

    return run(main())


def run_cli(
    directory: Path, port: int, *, as_json: bool, processes: str = "1"
) -> dict[str, float]:
    """``awaitkit probe`` in its own process(es); names/s from start to exit.

    With ``processes="auto"`` the loop lag is the parent's (it reads the
    input and writes every result); CPU counts the children too.
    """
    out_path = directory / ("cli.ndjson" if as_json else "cli.txt")
    cmd = [PYTHON, "-c", CLI_WITH_LAG, "probe", "-i", str(directory / "names.txt")]
    cmd += ["--nameserver", f"127.0.0.1:{port}", *(["--json"] if as_json else [])]
    cmd += ["--processes", processes]
    with out_path.open("wb") as out:
        cpu = _children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, stdout=out, stderr=subprocess.PIPE, text=True, timeout=900
        )
        elapsed = time.perf_counter() - start
        cpu = _children_cpu() - cpu
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"awaitkit probe failed ({proc.returncode}):{proc.stderr}")
    lag = json.loads(proc.stderr.strip().splitlines()[-1])["lag_p99"]
    found: set[str] = set()
    definite = 0
    with out_path.open(encoding="utf-8") as lines:
        if as_json:
            for line in lines:
                record = json.loads(line)
                if record["status"] == "FOUND":
                    found.add(record["domain"])
                definite += record["status"] in ("FOUND", "NXDOMAIN")
        else:
            for line in lines:
                if line.startswith(("FOUND", "=====")):
                    continue  # the header
                if not line.startswith("\t"):
                    found.add(line.rstrip("\n"))
                    definite += 1
                elif not line.startswith("\t\t\t\t"):
                    definite += 1
    total = sum(1 for _ in (directory / "names.txt").open())
    return {
        "rate": total / elapsed,
        "found": _expected_found(found),
        "definite": definite,
        "lag_p99": lag,
        "cpu_us": cpu / total * 1e6,
    }


def run_massdns(directory: Path, port: int, massdns: str) -> dict[str, float]:
    """massdns as its README runs it, ndjson to a file; names/s from start to exit."""
    (directory / "resolvers.txt").write_text(f"127.0.0.1:{port}\n")
    out_path = directory / "massdns.ndjson"
    cmd = [
        massdns,
        *("-r", str(directory / "resolvers.txt"), "-t", "A", "-o", "J"),
        *("-s", "1000", "--rcvbuf", "8388608", "--sndbuf", "8388608"),
        *(["--root"] if os.geteuid() == 0 else []),
        *("-q", "-w", str(out_path), str(directory / "names.txt")),
    ]
    cpu = _children_cpu()
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, timeout=900)
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    found: set[str] = set()
    definite = 0
    with out_path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            name = record["name"].rstrip(".")
            answers = record.get("data", {}).get("answers", [])
            if record["status"] == "NOERROR" and any(a["type"] == "A" for a in answers):
                found.add(name)
            definite += record["status"] in ("NOERROR", "NXDOMAIN")
    total = sum(1 for _ in (directory / "names.txt").open())
    return {
        "rate": total / elapsed,
        "found": _expected_found(found),
        "definite": definite,
        "cpu_us": cpu / total * 1e6,
    }


def _children_cpu() -> float:
    """User + system CPU seconds of the children waited for so far (nsd is not)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _expected_found(found: set[str]) -> int:
    """How many names were found, or -1 if any of them should not have been."""
    if any(not name.startswith("e") for name in found):
        return -1
    return len(found)


def run_dnsperf(directory: Path, port: int, seconds: int) -> float:
    cmd = [
        require("dnsperf"),
        *("-s", "127.0.0.1", "-p", str(port), "-d", str(directory / "queries.txt")),
        *("-c", "2", "-T", "1", "-b", "4096", "-l", str(seconds)),
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=120
    ).stdout
    match = re.search(r"Queries per second:\s+([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"unexpected dnsperf output:\n{out}")
    return float(match.group(1))


def run_book(directory: Path) -> dict[str, float] | None:
    """The book's prober inside a private network namespace; ``None`` if not permitted."""
    nsd = require("nsd")
    conf = directory / "nsd-53.conf"
    conf.write_text(nsd_config(ZONE, directory, 53, verbosity=0))
    resolv = directory / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions attempts:2 timeout:2\n")
    baseline = Path(__file__).parent / "baselines" / "book_probe.py"
    q = shlex.quote
    script = f"""
set -e
ip link set lo up
mount --bind {q(str(resolv))} /etc/resolv.conf
{q(nsd)} -d -c {q(str(conf))} &
nsd_pid=$!
trap 'kill $nsd_pid; wait $nsd_pid 2>/dev/null || true' EXIT
{q(sys.executable)} -c 'from awaitkit.probe.testing import wait_for_nsd; wait_for_nsd(53, "{ZONE}", timeout=60)'
{q(sys.executable)} {q(str(baseline))} {q(str(directory / "names.txt"))}
"""
    try:
        proc = subprocess.run(
            ["unshare", "-m", "-n", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except FileNotFoundError:
        return None
    if proc.returncode != 0:
        print(f"book baseline skipped: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"rate": data["names"] / data["seconds"], "found": data["found"]}


def run(rounds: int, quick: bool) -> list[Row]:
    total = 20_000 if quick else 100_000
    seconds = 3 if quick else 8
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        directory = Path(tmp)
        zone_text, names, existing = make_inputs(directory, total)
        ours_runs: list[dict[str, float]] = []
        book_runs: list[dict[str, float] | None] = []
        cli_runs: dict[str, list[dict[str, float]]] = {
            "json": [],
            "columns": [],
            "json --processes auto": [],
        }
        massdns_runs: list[dict[str, float]] = []
        massdns = os.environ.get("MASSDNS")
        with serving_nsd(
            ZONE,
            zone_text,
            nsd=require("nsd"),
            directory=directory,
            verbosity=0,
            timeout=60,
        ) as port:
            cases = {
                "ours": lambda: _record(ours_runs, run_ours(names, port)),
                "cli json": lambda: _record(
                    cli_runs["json"], run_cli(directory, port, as_json=True)
                ),
                "cli columns": lambda: _record(
                    cli_runs["columns"], run_cli(directory, port, as_json=False)
                ),
                "cli json --processes auto": lambda: _record(
                    cli_runs["json --processes auto"],
                    run_cli(directory, port, as_json=True, processes="auto"),
                ),
                "dnsperf": lambda: run_dnsperf(directory, port, seconds),
                "book": lambda: _record_book(book_runs, run_book(directory)),
            }
            if massdns:
                cases["massdns"] = lambda: _record(
                    massdns_runs, run_massdns(directory, port, massdns)
                )
            results = interleave(cases, rounds)
    ours = results["ours"]
    correct = all(r["found"] == existing and r["definite"] == total for r in ours_runs)
    note = f"{total:,} names, {CONCURRENCY} in flight; " + (
        "100% correct"
        if correct
        else "WRONG: " + str([(r["found"], r["definite"]) for r in ours_runs])
    )
    rows = [
        Row(
            "probe",
            "names/s vs ceiling",
            median(ours),
            "dnsperf q/s",
            median(results["dnsperf"]),
            "names/s",
            higher_is_better=True,
            goal=0.30,
            note=note,
            round_ratios=per_round_ratios(
                ours, results["dnsperf"], higher_is_better=True
            ),
        ),
        Row(
            "probe",
            "names/s absolute",
            median(ours),
            "goal",
            40_000.0,
            "names/s",
            higher_is_better=True,
            goal=1.0,
        ),
        Row(
            "probe",
            "loop lag p99",
            median([r["lag_p99"] for r in ours_runs]),
            "goal",
            10.0,
            "ms",
            goal=1.0,
        ),
    ]
    rows += cli_rows(results, cli_runs, massdns_runs, total, existing)
    book_ok = [r for r in book_runs if r is not None]
    if len(book_ok) == len(book_runs):
        book_rates = [r["rate"] for r in book_ok]
        book_found = {int(r["found"]) for r in book_ok}
        rows.append(
            Row(
                "probe",
                "names/s vs book",
                median(ours),
                "book getaddrinfo",
                median(book_rates),
                "names/s",
                higher_is_better=True,
                note=f"book found {sorted(book_found)} of {existing:,} (private netns)",
                round_ratios=per_round_ratios(ours, book_rates, higher_is_better=True),
            )
        )
    return rows


def cli_rows(
    results: dict[str, list[float]],
    cli_runs: dict[str, list[dict[str, float]]],
    massdns_runs: list[dict[str, float]],
    total: int,
    existing: int,
) -> list[Row]:
    """The CLI against massdns (CLI against CLI) and against the library."""

    def verdict(runs: list[dict[str, float]]) -> str:
        if all(r["found"] == existing and r["definite"] == total for r in runs):
            return "100% correct"
        return "WRONG: " + str([(r["found"], r["definite"]) for r in runs])

    rows = []
    for style in cli_runs:
        ours = results[f"cli {style}"]
        runs = cli_runs[style]
        rounds = ", ".join(f"{r:,.0f}" for r in ours)
        rows.append(
            Row(
                "probe",
                f"CLI {style} vs library",
                median(ours),
                "multi_probe",
                median(results["ours"]),
                "names/s",
                higher_is_better=True,
                goal=0.9,
                note=f"{verdict(runs)}; rounds {rounds}; CPU "
                f"{median([r['cpu_us'] for r in runs]):.1f} us/name",
                round_ratios=per_round_ratios(
                    ours, results["ours"], higher_is_better=True
                ),
            )
        )
        if massdns_runs:
            rows.append(
                Row(
                    "probe",
                    f"CLI {style} vs massdns",
                    median(ours),
                    "massdns -s 1000",
                    median(results["massdns"]),
                    "names/s",
                    higher_is_better=True,
                    goal=0.5,
                    note="massdns "
                    + verdict(massdns_runs)
                    + "; rounds "
                    + ", ".join(f"{r:,.0f}" for r in results["massdns"])
                    + f"; CPU {median([r['cpu_us'] for r in massdns_runs]):.1f} us/name",
                    round_ratios=per_round_ratios(
                        ours, results["massdns"], higher_is_better=True
                    ),
                )
            )
        rows.append(
            Row(
                "probe",
                f"CLI {style} loop lag p99",
                median([r["lag_p99"] for r in runs]),
                "goal",
                10.0,
                "ms",
                goal=1.0,
            )
        )
    if not massdns_runs:
        print(
            "probe: massdns row skipped: set MASSDNS to a massdns binary "
            "(blechschmidt/massdns, built with make outside the repository)",
            file=sys.stderr,
        )
    return rows


def _record(runs: list[dict[str, float]], result: dict[str, float]) -> float:
    runs.append(result)
    return result["rate"]


def _record_book(
    runs: list[dict[str, float] | None], result: dict[str, float] | None
) -> float:
    runs.append(result)
    return result["rate"] if result is not None else float("nan")


if __name__ == "__main__":
    main_for(run, DEFAULT_ROUNDS)
