"""Run every benchmark (or the named ones) and print one table of ratios.

uv run python bench/run.py                 # all of them
uv run python bench/run.py find_cli web    # bench_find_cli.py and bench_web.py
uv run python bench/run.py --quick         # smaller inputs, a smoke run
uv run python bench/run.py --list
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, precompile, print_table

HERE = Path(__file__).parent


def discover() -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def load(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    found = discover()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"one of: {', '.join(found)}"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds per benchmark (default: its own)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller inputs, for a smoke run"
    )
    parser.add_argument(
        "--list", action="store_true", help="list the benchmarks and exit"
    )
    args = parser.parse_args()
    precompile()
    if args.list:
        print("\n".join(found))
        return 0
    unknown = [n for n in args.names if n not in found]
    if unknown:
        parser.error(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(found)}"
        )
    rows: list[Row] = []
    failed = 0
    for name in args.names or list(found):
        print(f"== {name}", file=sys.stderr, flush=True)
        module = load(found[name])
        rounds = (
            args.rounds
            if args.rounds is not None
            else getattr(module, "DEFAULT_ROUNDS", 5)
        )
        try:
            rows.extend(module.run(rounds, args.quick))  # type: ignore[attr-defined]
        except Exception:
            failed += 1
            traceback.print_exc()
    print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
