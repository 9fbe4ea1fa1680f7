"""A short run of tools/soak_faults.py: every fault on, no stat lost, RSS bounded.

The tool's default (10 minutes, 200 clients) is the soak itself; this keeps it
working and catches a lost count within seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "soak_faults.py"


def test_short_soak_loses_no_stats() -> None:
    proc = subprocess.run(
        [sys.executable, str(TOOL), "--minutes", "0.15", "--clients", "50",
         "--rss-slack", "0.5"],
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout
    assert proc.stdout.count("ok  ") == 5
    assert " 0 without a status line" in proc.stdout
