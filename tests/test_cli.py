"""The top-level CLI: help, version, exit codes and the `python -m` entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest

from awaitkit import __version__
from awaitkit.cli import build_parser, main


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: awaitkit" in capsys.readouterr().err


def test_version_names_package_and_unicode(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"awaitkit {__version__} (Unicode ")


def test_every_command_has_help() -> None:
    parser = build_parser()
    help_text = parser.format_help()
    for command in ("find", "serve", "flags", "fetch", "probe"):
        assert command in help_text


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "awaitkit", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0
    assert "usage: awaitkit" in proc.stdout
