"""``awaitkit find``: output format, JSON, paging, exit codes and hostile terminals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.find import unicode_version

RULE = "─" * 66


@pytest.fixture
def cached(index_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the in-process CLI at the session's cache."""
    monkeypatch.setenv("AWAITKIT_CACHE_DIR", str(index_cache_dir))
    return index_cache_dir


def run_cli(
    cache: Path, *args: str | bytes, **env: str
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m awaitkit find ARGS`` in a fresh process; raw bytes out."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONIO")}
    environ |= {"AWAITKIT_CACHE_DIR": str(cache)} | env
    return subprocess.run(
        [sys.executable, "-m", "awaitkit", "find", *args],
        capture_output=True,
        env=environ,
        timeout=60,
        check=False,
    )


def test_book_output_format(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "cat", "face"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "U+1F431\t🐱\tCAT FACE"
    assert lines[-1] == f"{RULE} {len(lines) - 1} found"
    assert all(line.count("\t") == 2 for line in lines[:-1])


def test_nothing_found_exits_1(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "cat", "xyzzy"]) == 1
    assert capsys.readouterr().out == f"{RULE} 0 found\n"


def test_limit_offset_keep_the_total(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "cat", "face"]) == 0
    everything = capsys.readouterr().out.splitlines()
    assert main(["find", "--limit", "2", "--offset", "1", "cat", "face"]) == 0
    page = capsys.readouterr().out.splitlines()
    assert page == [*everything[1:3], everything[-1]]


def test_json_output(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--json", "--limit", "1", "cat", "face"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {
            "char": "🐱",
            "code": "U+1F431",
            "name": "CAT FACE",
            "kind": "char",
            "via": "name",
        }
    ]


def test_json_nothing_found(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--json", "xyzzy"]) == 1
    assert json.loads(capsys.readouterr().out) == []


def test_no_words_is_a_usage_error(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["find"])
    assert exc.value.code == 2
    assert "usage: awaitkit find" in capsys.readouterr().err


@pytest.mark.parametrize("words", [[" "], ["\t", " "], ["x" * 1_000_000]])
def test_blank_or_huge_query_is_a_usage_error(
    cached: Path, capsys: pytest.CaptureFixture[str], words: list[str]
) -> None:
    assert main(["find", *words]) == 2
    assert capsys.readouterr().err.startswith("awaitkit: error: ")


@pytest.mark.parametrize("limit", ["-1", "0", "x"])
def test_limit_below_one_is_a_usage_error(
    cached: Path, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["find", "--limit", limit, "cat"])
    assert exc.value.code == 2
    assert "--limit" in capsys.readouterr().err


def test_control_characters_and_surrogates(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "\x00\x07"]) == 1
    assert capsys.readouterr().out == f"{RULE} 0 found\n"
    assert main(["find", "\udcff🐱"]) == 0
    assert capsys.readouterr().out.startswith("U+1F431\t🐱\tCAT FACE\n")


def test_subprocess_utf8(index_cache_dir: Path) -> None:
    proc = run_cli(index_cache_dir, "cat", "face", PYTHONIOENCODING="utf-8")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().startswith("U+1F431\t🐱\tCAT FACE\n")
    assert proc.stderr == b""


def test_ascii_terminal_gets_escapes_not_a_crash(index_cache_dir: Path) -> None:
    proc = run_cli(
        index_cache_dir, "cat", "face", LANG="C", LC_ALL="C", PYTHONIOENCODING="ascii"
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode("ascii")
    assert out.startswith("U+1F431\t\\U0001f431\tCAT FACE\n")
    # The box-drawing rule falls back to ASCII instead of 66 escapes.
    assert out.splitlines()[-1] == "-" * 66 + " 11 found"


def test_ascii_terminal_json_stays_valid(index_cache_dir: Path) -> None:
    proc = run_cli(index_cache_dir, "--json", "cat", "face", PYTHONIOENCODING="ascii")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.decode("ascii"))[0]["char"] == "🐱"


def test_latin1_pipe(index_cache_dir: Path) -> None:
    proc = run_cli(index_cache_dir, "e", "acute", PYTHONIOENCODING="latin-1")
    assert proc.returncode == 0, proc.stderr
    assert "\tÉ\tLATIN CAPITAL LETTER E WITH ACUTE" in proc.stdout.decode("latin-1")


def test_non_utf8_argument(index_cache_dir: Path) -> None:
    """Bytes that are not UTF-8 arrive as lone surrogates: nothing named, exit 1."""
    proc = run_cli(index_cache_dir, b"\xff\xfe", LANG="C.UTF-8")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.decode().endswith(" 0 found\n")


def test_no_words_subprocess_exit_2(index_cache_dir: Path) -> None:
    proc = run_cli(index_cache_dir)
    assert proc.returncode == 2
    assert b"usage:" in proc.stderr


def test_version_names_the_unicode_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert f"(Unicode {unicode_version()};" in capsys.readouterr().out


HEAVY_MODULES = (
    "aiohttp",
    "asyncio",
    "dataclasses",
    "emoji",
    "fastapi",
    "json",
    "logging",
    "pathlib",
    "platformdirs",
    "tqdm",
    "uvicorn",
)


def test_find_imports_stay_light(index_cache_dir: Path) -> None:
    """The whole CLI (every app's parser) runs ``find`` without heavy imports.

    Start-up time is most of ``awaitkit find``'s cost: one app whose package
    imports aiohttp or asyncio eagerly would add tens of milliseconds.
    """
    code = (
        "import sys; from awaitkit.cli import main; status = main(['find', 'cat', 'face']); "
        f"heavy = set({HEAVY_MODULES!r}); "
        "print(sorted(heavy & set(sys.modules)), file=sys.stderr); sys.exit(status)"
    )
    env = os.environ | {"AWAITKIT_CACHE_DIR": str(index_cache_dir)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "[]"


def test_reader_closing_the_pipe_is_not_an_error(index_cache_dir: Path) -> None:
    """``awaitkit find sign | head -1``: exit 141, no traceback."""
    env = os.environ | {"AWAITKIT_CACHE_DIR": str(index_cache_dir)}
    with subprocess.Popen(
        [sys.executable, "-m", "awaitkit", "find", "sign"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.readline().startswith(b"U+")
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 141
    assert b"Traceback" not in err


def test_help_prints_on_an_ascii_terminal(index_cache_dir: Path) -> None:
    proc = run_cli(
        index_cache_dir, "--help", LANG="C", LC_ALL="C", PYTHONIOENCODING="ascii"
    )
    assert proc.returncode == 0, proc.stderr
    assert b"usage: awaitkit find" in proc.stdout
