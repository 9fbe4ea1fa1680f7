"""``awaitkit find --format/--compact/--jsonl``: templates are checked, never evaluated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.core.errors import UsageError
from awaitkit.find import Match
from awaitkit.find._output import FIELDS, parse_template, write_json, write_jsonl
from tests.find.test_cli import RULE, run_cli

FLAG = Match.of("\U0001f1e7\U0001f1f7", "flag: Brazil", via="keyword")
FAMILY = Match.of(
    "\U0001f468\u200d\U0001f469\u200d\U0001f467", "family: man, woman, girl"
)


@pytest.fixture
def cached(index_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AWAITKIT_CACHE_DIR", str(index_cache_dir))
    return index_cache_dir


def test_template_fields_and_escapes() -> None:
    template = parse_template(r"{char}\t{code}\\{{{kind}}}\n{via}|{name}\r\0")
    assert template.fields == ("char", "code", "kind", "via", "name")
    assert template.render(FLAG) == (
        "\U0001f1e7\U0001f1f7\tU+1F1E7 U+1F1F7\\{sequence}\nkeyword|flag: Brazil\r\0"
    )


def test_template_sequence_keeps_every_code_point() -> None:
    """A ZWJ sequence prints whole: its ZWJs stay in {char}, {code} lists all five."""
    line = parse_template("{char} {code}").render(FAMILY)
    assert line == (
        "\U0001f468\u200d\U0001f469\u200d\U0001f467 "
        "U+1F468 U+200D U+1F469 U+200D U+1F467"
    )


def test_template_without_fields_is_literal() -> None:
    assert parse_template("").render(FLAG) == ""
    assert parse_template("x{{}}y").render(FLAG) == "x{}y"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{char.__class__}", "attribute and index access"),
        ("{name[0]}", "attribute and index access"),
        ("{char.__class__.__mro__}", "attribute and index access"),
        ("{0}", "unknown field {0}"),
        ("{}", "unknown field {}"),
        ("{ char }", "unknown field"),
        ("{nope}", "unknown field {nope}"),
        ("{name", "unclosed '{'"),
        ("name}", "single '}'"),
        ("{a{name}}", "nested '{'"),
        ("{name:>30}", "format specs"),
        ("{name!r}", "format specs"),
        (r"\x41", r"unknown escape \x"),
        ("tail\\", "lone backslash"),
    ],
)
def test_bad_template_is_a_usage_error(template: str, problem: str) -> None:
    with pytest.raises(UsageError, match=r"^--format: ") as exc:
        parse_template(template)
    assert problem in str(exc.value)


def test_huge_template_is_parsed_without_recursion() -> None:
    template = parse_template("{char}" * 100_000)
    assert template.render(FLAG) == FLAG.char * 100_000


def test_json_and_jsonl_carry_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    write_json(sys.stdout, [FLAG, FAMILY])
    write_jsonl(sys.stdout, [FLAG, FAMILY])
    first, *lines = capsys.readouterr().out.splitlines()
    rows = json.loads(first)
    assert rows == [json.loads(line) for line in lines]
    assert set(rows[0]) == set(FIELDS)
    assert rows[0]["kind"] == "sequence"
    assert rows[0]["via"] == "keyword"
    assert rows[1]["code"].split() == [
        "U+1F468",
        "U+200D",
        "U+1F469",
        "U+200D",
        "U+1F467",
    ]


def test_format_option(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--format", r"{char}\t{name}", "cat", "face"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "\U0001f431\tCAT FACE"
    assert lines[-1] == f"{RULE} {len(lines) - 1} found"


def test_compact_leaves_out_the_rule(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "cat", "face"]) == 0
    book = capsys.readouterr().out.splitlines()
    assert main(["find", "--compact", "cat", "face"]) == 0
    assert capsys.readouterr().out.splitlines() == book[:-1]
    assert main(["find", "--compact", "--format", "{code}", "cat", "face"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        line.split("\t")[0] for line in book[:-1]
    ]
    assert main(["find", "--compact", "xyzzy"]) == 1
    assert capsys.readouterr().out == ""


def test_jsonl_option(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--jsonl", "cat", "face"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 11
    assert rows[0] == {
        "char": "\U0001f431",
        "code": "U+1F431",
        "name": "CAT FACE",
        "kind": "char",
        "via": "name",
    }
    assert main(["find", "--jsonl", "xyzzy"]) == 1
    assert capsys.readouterr().out == ""


def test_bad_format_exits_2_before_loading(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "--format", "{char.__class__}", "cat"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "attribute and index access" in captured.err
    assert "class" not in captured.err.split("allowed")[1]  # never evaluated


@pytest.mark.parametrize(
    "args", [["--json", "--jsonl", "cat"], ["--json", "--format", "{char}", "cat"]]
)
def test_output_shapes_exclude_each_other(
    cached: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["find", *args])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_format_on_an_ascii_pipe_escapes(index_cache_dir: Path) -> None:
    proc = run_cli(
        index_cache_dir, "--format", "{char}|{name}", "--limit", "1", "cat", "face",
        PYTHONIOENCODING="ascii",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode("ascii").splitlines()[0] == "\\U0001f431|CAT FACE"


def test_jsonl_on_an_ascii_pipe_stays_valid(index_cache_dir: Path) -> None:
    proc = run_cli(index_cache_dir, "--jsonl", "cat", "face", PYTHONIOENCODING="ascii")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.decode("ascii").splitlines()]
    assert rows[0]["char"] == "\U0001f431"


def test_help_documents_the_pipe_choice(index_cache_dir: Path) -> None:
    proc = run_cli(index_cache_dir, "--help", PYTHONIOENCODING="ascii", LANG="C")
    assert proc.returncode == 0
    text = proc.stdout.decode("ascii")
    assert "in a pipe alike" in text
    assert "\t" not in text  # the examples show \t, they do not expand it
    assert r"--format '{char}\t{code}\t{name}' flag" in text
    assert "--stdin-queries" in text
