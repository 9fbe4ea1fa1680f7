"""The top-level CLI: help, version, exit codes and the `python -m` entry point."""

from __future__ import annotations

import argparse
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


@pytest.mark.parametrize(
    ("argv", "declared"),
    [
        (["fetch", "-q", "http://h/x"], {"fetch"}),
        (["--log-level", "debug", "find", "cat"], {"find"}),
        (["--log-level=INFO", "serve", "tcp"], {"serve"}),
        (["probe", "--help"], {"probe"}),
        (["--help", "fetch"], {"find", "serve", "flags", "fetch", "probe"}),
        (["frobnicate"], {"find", "serve", "flags", "fetch", "probe"}),
        ([], {"find", "serve", "flags", "fetch", "probe"}),
    ],
)
def test_only_the_named_command_is_declared(
    argv: list[str], declared: set[str]
) -> None:
    """Start-up declares the one command asked for; help and errors get them all."""
    parser = build_parser(argv)
    (commands,) = [
        action
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    assert set(commands.choices) == declared


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


def run_entry(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


ENTRY = "import sys; from awaitkit.cli import entry; sys.argv[0] = 'awaitkit'; entry()"


def test_entry_flushes_everything_and_keeps_the_status() -> None:
    """The quick exit loses no output, keeps exit codes and runs atexit functions."""
    lines = run_entry(ENTRY, "find", "sign")
    assert lines.returncode == 0
    assert len(lines.stdout.splitlines()) > 3000  # the whole block-buffered pipe
    assert run_entry(ENTRY, "fetch").returncode == 2
    # As logging's flush is: registered while the command runs.
    with_atexit = (
        "import atexit, awaitkit.cli as cli; real = cli.main\n"
        "def main(): atexit.register(print, 'atexit ran'); return real()\n"
        "cli.main = main\n" + ENTRY
    )
    done = run_entry(with_atexit, "find", "cat", "face")
    assert done.returncode == 0
    assert done.stdout.endswith("atexit ran\n")
    assert "U+1F431" in done.stdout


def test_entry_waits_for_other_threads() -> None:
    """A thread still running is joined, as at an ordinary exit."""
    code = (
        "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('joined'))).start()\n"
        + ENTRY
    )
    done = run_entry(code, "find", "cat", "face")
    assert done.returncode == 0
    assert done.stdout.endswith("joined\n")


def test_entry_reports_a_closed_pipe_as_141() -> None:
    """`awaitkit find sign | head -1`: the reader leaves; no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "awaitkit", "find", "sign"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141
    assert b"Traceback" not in err
