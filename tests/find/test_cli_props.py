"""``awaitkit find``: ranges, listings, filters, --identify and --from-bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.find import script_of
from awaitkit.find._ucd import ucd

RULE = "─" * 66
CODE = {"kind": "char", "via": "code"}  # what a range or listing row is


@pytest.fixture
def cached(index_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AWAITKIT_CACHE_DIR", str(index_cache_dir))
    return index_cache_dir


def run_cli(
    cache: Path, *args: str, stdin: bytes = b"", **env: str
) -> subprocess.CompletedProcess[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONIO")}
    environ |= {"AWAITKIT_CACHE_DIR": str(cache), "PYTHONIOENCODING": "utf-8"} | env
    return subprocess.run(
        [sys.executable, "-m", "awaitkit", "find", *args],
        input=stdin,
        capture_output=True,
        env=environ,
        timeout=120,
        check=False,
    )


def out_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_range(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "U+2042..U+2044"]) == 0
    assert out_lines(capsys) == [
        "U+2042\t⁂\tASTERISM",
        "U+2043\t\u2043\tHYPHEN BULLET",
        "U+2044\t\u2044\tFRACTION SLASH",
        f"{RULE} 3 found",
    ]


def test_range_lists_unnamed_code_points_with_labels(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "U+D7FF-U+D800", "U+DFFF..U+E000", "U+10FFFF..U+10FFFF"]) == 0
    assert out_lines(capsys) == [
        "U+D7FF\t\t<reserved-D7FF>",
        "U+D800\t\t<surrogate-D800>",
        "U+DFFF\t\t<surrogate-DFFF>",
        "U+E000\t\ue000\t<private-use-E000>",  # private use: the font decides
        "U+10FFFF\t\t<noncharacter-10FFFF>",
        f"{RULE} 5 found",
    ]


def test_range_json_with_surrogates_is_valid_json(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "--json", "U+DBFF..U+DC00"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"char": "\udbff", "code": "U+DBFF", "name": "<surrogate-DBFF>"} | CODE,
        {"char": "\udc00", "code": "U+DC00", "name": "<surrogate-DC00>"} | CODE,
    ]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["U+10FFFF..U+110000"], "past U+10FFFF"),
        (["U+2044..U+2042"], "reversed range"),
        (["U+0..U+FFFFFFFFF"], ""),  # 9 digits: pasted text, not a range
    ],
)
def test_bad_ranges(
    cached: Path, capsys: pytest.CaptureFixture[str], words: list[str], message: str
) -> None:
    status = main(["find", *words])
    err = capsys.readouterr().err
    if message:
        assert status == 2
        assert err.startswith("awaitkit: error: ")
        assert message in err
    else:
        assert status == 0  # each pasted character (U, +, 0...) is named


def test_huge_range_with_limit_prints_only_the_limit(index_cache_dir: Path) -> None:
    proc = run_cli(
        index_cache_dir, "--limit", "10", "--offset", "5", "U+0000..U+10FFFF"
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 11
    assert lines[0] == "U+0005\t\t<control-0005>"
    assert lines[-1] == f"{RULE} 1114112 found"


def test_range_path_imports_no_property_data(index_cache_dir: Path) -> None:
    """A range needs names only: fontTools (tens of ms to import) stays out."""
    code = (
        "import sys; from awaitkit.cli import main; "
        "status = main(['find', '--limit', '3', 'U+2042..U+2044']); "
        "print('fontTools' in sys.modules, file=sys.stderr); sys.exit(status)"
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
    assert proc.stderr.strip() == "False"


def test_block_listing(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--block", "box_drawing", "--limit", "2"]) == 0
    assert out_lines(capsys) == [
        "U+2500\t─\tBOX DRAWINGS LIGHT HORIZONTAL",
        "U+2501\t━\tBOX DRAWINGS HEAVY HORIZONTAL",
        f"{RULE} 128 found",
    ]


def test_script_and_category_listings_combine(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "--script", "Grek", "--category", "Lu"]) == 0
    lines = out_lines(capsys)
    assert "U+0391\t\u0391\tGREEK CAPITAL LETTER ALPHA" in lines
    codes = [int(line.split("\t")[0][2:], 16) for line in lines[:-1]]
    assert all(ucd.category(chr(c)) == "Lu" for c in codes)
    assert all(script_of(c) == "Greek" for c in codes)
    assert lines[-1] == f"{RULE} {len(lines) - 1} found"


def test_filters_on_a_query(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "alpha"]) == 0
    everything = out_lines(capsys)
    assert main(["find", "--script", "Greek", "alpha"]) == 0
    greek = out_lines(capsys)
    assert set(greek[:-1]) < set(everything[:-1])
    assert all("GREEK" in line for line in greek[:-1])
    assert (
        main(["find", "--script", "greek", "--limit", "1", "--offset", "1", "alpha"])
        == 0
    )
    assert out_lines(capsys) == [
        greek[1],
        greek[-1],
    ]  # the total counts filtered matches
    assert main(["find", "--category", "Sm", "alpha"]) == 1
    assert out_lines(capsys) == [f"{RULE} 0 found"]


def test_filter_on_a_range(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--category", "Lu", "U+0041..U+0061"]) == 0
    lines = out_lines(capsys)
    assert lines[-1] == f"{RULE} 26 found"


def test_all_with_limit(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--all", "--limit", "2", "--offset", "65"]) == 0
    lines = out_lines(capsys)
    assert lines[:2] == [
        "U+0041\tA\tLATIN CAPITAL LETTER A",
        "U+0042\tB\tLATIN CAPITAL LETTER B",
    ]
    assert int(lines[-1].split()[-2]) > 300_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--block", "box drawin"], "did you mean: Box Drawing?"),
        (["--script", "Grk", "alpha"], "did you mean: Greek?"),
        (["--category", "Sx"], "Sm (Math Symbol)"),
    ],
)
def test_unknown_property_is_a_usage_error(
    cached: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["find", *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--identify", "x", "cat"],
        ["--identify", "x", "--from-bytes", "utf8:41"],
        ["--from-bytes", "utf8:41", "--block", "Basic Latin"],
        ["--list-blocks", "cat"],
        ["--all", "cat"],
    ],
)
def test_conflicting_options_are_usage_errors(
    cached: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["find", *args])
    assert exc.value.code == 2
    assert "usage: awaitkit find" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "first", "count"),
    [
        ("--list-blocks", "U+0000..U+007F\tBasic Latin", 300),
        ("--list-scripts", "Adlm\tAdlam", 150),
        ("--list-categories", "Lu\tUppercase Letter", 29),
    ],
)
def test_lists(
    cached: Path, capsys: pytest.CaptureFixture[str], flag: str, first: str, count: int
) -> None:
    assert main(["find", flag]) == 0
    lines = out_lines(capsys)
    assert lines[0] == first
    assert len(lines) > count
    assert main(["find", flag, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(lines)


def test_identify(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--identify", "€e\u0301👍🏽"]) == 0
    lines = out_lines(capsys)
    assert lines[0].split("\t") == [
        "char", "code", "name", "cat", "block", "script", "age", "utf8", "utf16", "html"
    ]  # fmt: skip
    assert lines[1].split("\t") == [
        "€", "U+20AC", "EURO SIGN", "Sc", "Currency Symbols", "Common", "2.1",
        "e2 82 ac", "20ac", "&euro;",
    ]  # fmt: skip
    assert lines[3].startswith("\u25cc\u0301\tU+0301\tCOMBINING ACUTE ACCENT\tMn")
    assert lines[4].startswith("👍🏽\tU+1F44D U+1F3FD\tthumbs up medium skin tone\t")
    assert lines[5].startswith("  👍\tU+1F44D\tTHUMBS UP SIGN\tSo")
    assert lines[6].startswith("  🏽\tU+1F3FD\t")
    assert lines[-1] == f"{RULE} 4 found"


def test_identify_json(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--json", "--identify", "a\ud800🇧🇷"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [
        "LATIN SMALL LETTER A",
        "<surrogate-D800>",
        "Brazil",
    ]
    assert rows[1]["char"] == "\ud800"
    assert [p["code"] for p in rows[2]["parts"]] == ["U+1F1E7", "U+1F1F7"]


def test_identify_limit_and_nothing(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "--identify", "abc", "--limit", "1", "--offset", "1"]) == 0
    assert out_lines(capsys)[1:] == [
        "b\tU+0062\tLATIN SMALL LETTER B\tLl\tBasic Latin\tLatin\t1.1\t62\t0062\t&#x62;",
        f"{RULE} 1 found",
    ]
    assert main(["find", "--identify", ""]) == 1
    assert out_lines(capsys) == [f"{RULE} 0 found"]


def test_identify_stdin_utf8(index_cache_dir: Path) -> None:
    proc = run_cli(index_cache_dir, "--identify", "-", stdin="é\n".encode())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert [line.split("\t")[1] for line in lines[1:-1]] == ["U+00E9", "U+000A"]
    assert proc.stderr == b""


def test_identify_stdin_not_utf8(index_cache_dir: Path) -> None:
    """Invalid bytes: a warning naming the first one, rows for every byte, no traceback."""
    proc = run_cli(index_cache_dir, "--identify", "-", stdin=b"a\xff\xc3b")
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.decode()
    assert "not UTF-8 (byte 1: ff)" in err
    assert "Traceback" not in err
    codes = [line.split("\t")[1] for line in proc.stdout.decode().splitlines()[1:-1]]
    assert codes == ["U+0061", "U+DCFF", "U+DCC3", "U+0062"]


def test_identify_stdin_one_megabyte(index_cache_dir: Path) -> None:
    paste = ("naïve café 👍🏽\n" * 60_000).encode()
    assert len(paste) > 1_000_000
    proc = run_cli(index_cache_dir, "--identify", "-", stdin=paste)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    # Per line: 11 characters + newline, one sequence row and its 2 parts.
    assert len(lines) == 1 + 60_000 * 15 + 1
    assert lines[-1] == f"{RULE} {60_000 * 13} found"


def test_identify_on_an_ascii_terminal(index_cache_dir: Path) -> None:
    proc = run_cli(index_cache_dir, "--identify", "é👍🏽", PYTHONIOENCODING="ascii")
    assert proc.returncode == 0, proc.stderr
    assert "\\xe9\tU+00E9" in proc.stdout.decode("ascii")


def test_from_bytes(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--from-bytes", "utf8:e282ac"]) == 0
    assert out_lines(capsys)[1].startswith("€\tU+20AC\tEURO SIGN")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("utf8:e282", "invalid utf8 at byte 0"),
        ("utf8:e28", "odd number of hex digits"),
        ("utf8:zz", "not a hex digit at position 0"),
        ("utf8:" + "41" * 600_000, "hex too long"),
        ("ebcdic:41", "ENCODING:HEX"),
    ],
)
def test_from_bytes_errors_exit_2(
    cached: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    assert main(["find", "--from-bytes", spec]) == 2
    err = capsys.readouterr().err
    assert err.startswith("awaitkit: error: ")
    assert message in err


def test_range_jsonl_format_and_compact(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "--jsonl", "U+2042..U+2043"]) == 0
    rows = [json.loads(line) for line in out_lines(capsys)]
    assert rows == [
        {"char": "⁂", "code": "U+2042", "name": "ASTERISM"} | CODE,
        {"char": "\u2043", "code": "U+2043", "name": "HYPHEN BULLET"} | CODE,
    ]
    assert main(["find", "--format", "{code}={name} ({via})", "U+2042..U+2043"]) == 0
    assert out_lines(capsys) == [
        "U+2042=ASTERISM (code)",
        "U+2043=HYPHEN BULLET (code)",
        f"{RULE} 2 found",
    ]
    assert main(["find", "--compact", "--block", "Box Drawing", "--limit", "1"]) == 0
    assert out_lines(capsys) == ["U+2500\t─\tBOX DRAWINGS LIGHT HORIZONTAL"]


def test_filtered_query_in_json_keeps_only_the_block(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "--json", "--block", "Mathematical Operators", "sign"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows
    assert all(0x2200 <= ord(r["char"][0]) <= 0x22FF for r in rows)
    assert main(["find", "--json", "sign"]) == 0
    unfiltered = json.loads(capsys.readouterr().out)
    assert len(unfiltered) > len(rows)  # the filter did leave something out


def test_identify_and_listing_as_jsonl(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "--jsonl", "--identify", "é€"]) == 0
    rows = [json.loads(line) for line in out_lines(capsys)]
    assert [r["code"] for r in rows] == ["U+00E9", "U+20AC"]
    assert main(["find", "--jsonl", "--list-categories"]) == 0
    rows = [json.loads(line) for line in out_lines(capsys)]
    assert {"code": "Sm", "name": "Math_Symbol"} in rows or any(
        r["code"] == "Sm" for r in rows
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "{char}", "--identify", "x"],
        ["--format", "{char}", "--list-blocks"],
        ["--stdin-queries", "cat"],
        ["--stdin-queries", "--block", "Box Drawing"],
        ["--stdin-queries", "--identify", "x"],
    ],
)
def test_options_that_exclude_each_other_are_usage_errors(
    cached: Path, args: list[str]
) -> None:
    done = run_cli(cached, *args)
    assert done.returncode == 2
    assert b"usage:" in done.stderr
