"""awaitkit probe against nsd on loopback: names/s, correctness, loop lag.

100,000 names under ``bench.test.`` (half exist), served by nsd on
127.0.0.1.  Interleaved per round:

* ours: ``multi_probe`` + ``DirectResolver``, 1,000 in flight, on uvloop;
* dnsperf: the ceiling (``-c 2 -T 1 -b 4096``; fewer clients report false losses);
* the book's domainlib (``baselines/book_probe.py``, ``getaddrinfo`` in
  asyncio's default pool).  glibc only asks the server in /etc/resolv.conf on
  port 53, so it runs in a private mount + network namespace (``unshare -m
  -n``) with its own loopback, its own nsd on 127.0.0.1:53 and a bind-mounted
  resolv.conf; the host is untouched.  Skipped with a note when ``unshare``
  is not permitted.
"""

from __future__ import annotations

import json
import random
import re
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
        with serving_nsd(
            ZONE,
            zone_text,
            nsd=require("nsd"),
            directory=directory,
            verbosity=0,
            timeout=60,
        ) as port:
            results = interleave(
                {
                    "ours": lambda: _record(ours_runs, run_ours(names, port)),
                    "dnsperf": lambda: run_dnsperf(directory, port, seconds),
                    "book": lambda: _record_book(book_runs, run_book(directory)),
                },
                rounds,
            )
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
