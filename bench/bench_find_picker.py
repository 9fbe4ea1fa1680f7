"""A picker on every keystroke: ``find --stdin-queries`` against a cold ``find`` per query.

What a picker (fzf ``reload``, rofi, an editor) does otherwise is start
``awaitkit find --jsonl QUERY`` at each keystroke.  Per round, interleaved:

* ours: one ``awaitkit find --stdin-queries --limit 20`` process, started
  before the round; each query is one line written and one JSON line read
  back (wall time of the round trip through the two pipes);
* peer: a fresh ``awaitkit find --jsonl --limit 20 QUERY`` per query,
  output read to its end (wall time from start to exit).

The queries are what typing ``cat face``, ``thumbs up`` and ``arrow left``
sends letter by letter.  Rows: the median and p99 latency per query, and the
median of the per-round ratios of the medians.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, main_for, median, per_round_ratios

DEFAULT_ROUNDS = 5
LIMIT = "20"
TYPED = ("cat face", "thumbs up", "arrow left")


def _keystrokes() -> list[str]:
    """Every prefix of every phrase: what a picker sends while the user types."""
    queries = []
    for phrase in TYPED:
        queries.extend(phrase[:n] for n in range(1, len(phrase) + 1))
    return [q for q in queries if q.strip()]


def _cold(entry: str, env: dict[str, str], query: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [entry, "find", "--jsonl", "--limit", LIMIT, query],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    wall = (time.perf_counter() - start) * 1000
    if proc.returncode not in (0, 1):
        raise RuntimeError(proc.stderr.decode(errors="replace"))
    return wall


class _Picker:
    """One ``--stdin-queries`` process, asked one line at a time."""

    def __init__(self, entry: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [entry, "find", "--stdin-queries", "--limit", LIMIT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.ask("warm up")

    def ask(self, query: str) -> float:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        start = time.perf_counter()
        self.proc.stdin.write(query.encode() + b"\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        wall = (time.perf_counter() - start) * 1000
        if json.loads(line)["query"] != query:
            raise RuntimeError(f"answer out of order: {line[:80]!r}")
        return wall

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        if self.proc.wait(60) != 0:
            raise RuntimeError(f"picker exited {self.proc.returncode}")


def run(rounds: int, quick: bool) -> list[Row]:
    entry = str(Path(sys.executable).parent / "awaitkit")
    queries = _keystrokes()
    rounds = 1 if quick else rounds
    with tempfile.TemporaryDirectory(prefix="bench-picker-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["AWAITKIT_CACHE_DIR"] = cache
        _cold(entry, env, "cat")  # build the cache, compile bytecode
        pipe_all: list[float] = []
        cold_all: list[float] = []
        pipe_medians: list[float] = []
        cold_medians: list[float] = []
        for _ in range(rounds):
            picker = _Picker(entry, env)
            pipe: list[float] = []
            cold: list[float] = []
            try:
                for query in queries:  # A B A B: the same noise for both
                    pipe.append(picker.ask(query))
                    cold.append(_cold(entry, env, query))
            finally:
                picker.close()
            pipe_all += pipe
            cold_all += cold
            pipe_medians.append(median(pipe))
            cold_medians.append(median(cold))

    def p99(values: list[float]) -> float:
        return statistics.quantiles(values, n=100)[98]

    return [
        Row(
            "find_picker",
            "per-keystroke query, --stdin-queries",
            median(pipe_all),
            "cold `find --jsonl` per query",
            median(cold_all),
            "ms",
            note=f"p99 {p99(pipe_all):.2f} vs {p99(cold_all):.1f} ms; "
            f"{len(queries)} queries x {rounds} rounds, --limit {LIMIT}",
            round_ratios=per_round_ratios(
                pipe_medians, cold_medians, higher_is_better=False
            ),
        ),
    ]


if __name__ == "__main__":
    main_for(run, DEFAULT_ROUNDS)
