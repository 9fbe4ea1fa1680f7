"""Shared benchmark harness: interleaved rounds, medians, ratio rows, one table.

Every benchmark module ``bench/bench_<name>.py`` defines::

    def run(rounds: int, quick: bool) -> list[Row]

and may be run alone (``uv run python bench/bench_<name>.py``) or through
``uv run python bench/run.py [NAME ...]``, which prints one table of all rows.
Machines here are shared and noisy: always run ours and the peer in the same
process, interleaved A B A B ..., and report medians and the median of the
per-round ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

__all__ = [
    "Row",
    "interleave",
    "main_for",
    "median",
    "precompile",
    "print_table",
    "timed",
]


@dataclass
class Row:
    """One measured figure of ours against one peer."""

    bench: str
    metric: str
    ours: float
    peer_name: str
    peer: float
    unit: str
    # ratio > 1 means "ours is better" whatever the unit (see higher_is_better).
    higher_is_better: bool = False
    goal: float | None = None  # minimal acceptable ratio, e.g. 7.0 for "7x faster"
    note: str = ""
    round_ratios: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """How many times better ours is (median of per-round ratios when known)."""
        if self.round_ratios:
            return statistics.median(self.round_ratios)
        if self.ours == 0 or self.peer == 0:
            return float("nan")
        return self.ours / self.peer if self.higher_is_better else self.peer / self.ours

    @property
    def verdict(self) -> str:
        if self.goal is None:
            return ""
        return "ok" if self.ratio >= self.goal else "MISS"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed(fn: Callable[[], object]) -> float:
    """Wall time of one call, in seconds."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleave(
    cases: dict[str, Callable[[], float]], rounds: int
) -> dict[str, list[float]]:
    """Run each case once per round, in order, ``rounds`` times; collect their results."""
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            results[name].append(case())
    return results


def per_round_ratios(
    ours: Sequence[float], peer: Sequence[float], *, higher_is_better: bool
) -> list[float]:
    """Per-round ratio of ours to peer, oriented so that > 1 means ours is better."""
    pairs = zip(ours, peer, strict=True)
    if higher_is_better:
        return [o / p for o, p in pairs if p]
    return [p / o for o, p in pairs if o]


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def print_table(rows: Sequence[Row], file: TextIO | None = None) -> None:
    """Print rows as an aligned text table."""
    out = file if file is not None else sys.stdout
    header = (
        "bench",
        "metric",
        "ours",
        "peer",
        "peer value",
        "unit",
        "ratio",
        "goal",
        "",
    )
    table = [header]
    for r in rows:
        table.append(
            (
                r.bench,
                r.metric,
                _fmt(r.ours),
                r.peer_name,
                _fmt(r.peer),
                r.unit,
                f"{_fmt(r.ratio)}x",
                f">={r.goal:g}x" if r.goal is not None else "",
                r.verdict + (f" {r.note}" if r.note else ""),
            )
        )
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print(
            "  ".join(
                str(c).ljust(w) for c, w in zip(row, widths, strict=True)
            ).rstrip(),
            file=out,
        )


def precompile() -> None:
    """Write the bytecode of the sources and of site-packages, as an install would.

    Benchmarks start many Python processes (ours and Python peers).  Without
    ``.pyc`` files, as after ``uv sync`` (which does not compile) with
    ``PYTHONDONTWRITEBYTECODE`` set, every start recompiles what it imports:
    20-30 ms for ``awaitkit fetch``, more for httpx.  Users run installed
    code, which has its bytecode.
    """
    import subprocess
    import sysconfig

    src = Path(__file__).resolve().parent.parent / "src"
    site = sysconfig.get_paths()["purelib"]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", str(src), site],
        check=False,
        capture_output=True,
    )


def main_for(run: Callable[[int, bool], list[Row]], default_rounds: int = 5) -> None:
    """``if __name__ == "__main__": main_for(run)`` for a single benchmark module."""
    precompile()
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=default_rounds)
    parser.add_argument(
        "--quick", action="store_true", help="smaller inputs, for a smoke run"
    )
    args = parser.parse_args()
    print_table(run(args.rounds, args.quick))
