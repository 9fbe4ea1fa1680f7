"""``awaitkit find`` with sequences, aliases, keywords, --lang, -o, -x and phrases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from awaitkit.cli import main
from tests.find.test_cli import RULE, run_cli


@pytest.fixture
def cached(index_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AWAITKIT_CACHE_DIR", str(index_cache_dir))
    return index_cache_dir


def lines(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["find", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def test_sequence_rows_list_every_code_point(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = lines(capsys, "flag", "brazil")
    assert out == [
        "U+1F1E7 U+1F1F7\t\U0001f1e7\U0001f1f7\tFLAG BRAZIL",
        f"{RULE} 1 found",
    ]
    family = lines(capsys, "family", "man", "woman", "girl")[0]
    assert family.split("\t")[1] == "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    thumbs = lines(capsys, "thumbs", "up", "medium", "skin")[0]
    assert thumbs.split("\t")[1] == "\U0001f44d\U0001f3fd"


def test_sequences_in_json_and_templates(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (row,) = json.loads("\n".join(lines(capsys, "--json", "flag", "brazil")))
    assert row == {
        "char": "\U0001f1e7\U0001f1f7",
        "code": "U+1F1E7 U+1F1F7",
        "name": "FLAG BRAZIL",
        "kind": "sequence",
        "via": "name",
    }
    out = lines(capsys, "--format", "{kind} {via} {code}", "--compact", "nbsp")
    assert out == ["char alias U+00A0"]


@pytest.mark.parametrize(
    ("argv", "first"),
    [
        (["nbsp"], "U+00A0"),
        (["bom"], "U+FEFF"),
        (["zwj"], "U+200D"),
        (["factorial"], "U+0021"),
        (["--lang", "fr", "tête", "de", "chat"], "U+1F431"),
        (["--lang", "DE", "katzengesicht"], "U+1F431"),
        (["-x", "cat", "face"], "U+1F431"),
        (["--exact", "red", "heart"], "U+2764"),
        (['"thumbs up"'], "U+1F44D"),
    ],
)
def test_queries_find_their_first(
    cached: Path, capsys: pytest.CaptureFixture[str], argv: list[str], first: str
) -> None:
    assert lines(capsys, *argv)[0].split("\t")[0] == first


def test_keywords_come_after_names(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = lines(capsys, "--jsonl", "sad")
    vias = [json.loads(line)["via"] for line in out]
    assert vias.index("keyword") > 0
    assert set(vias[vias.index("keyword") :]) == {"keyword"}
    crying = [json.loads(line) for line in out if "\U0001f622" in line]
    assert crying[0]["via"] == "keyword"


def test_lang_names_the_results(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        lines(capsys, "--lang", "fr", "cat", "face")[0]
        == "U+1F431\t\U0001f431\ttête de chat"
    )


def test_or_finds_any_word(cached: Path, capsys: pytest.CaptureFixture[str]) -> None:
    both = lines(capsys, "-o", "--compact", "cat", "dog")
    assert "U+1F408\t\U0001f408\tCAT" in both
    assert "U+1F415\t\U0001f415\tDOG" in both
    assert main(["find", "cat", "dog"]) == 1  # no name has both
    capsys.readouterr()


def test_exact_refuses_prefixes(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["find", "-x", "cat", "fac"]) == 1
    assert capsys.readouterr().out == f"{RULE} 0 found\n"


def test_filters_apply_before_paging(
    cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = lines(capsys, "--script", "Greek", "alpha")
    page = lines(capsys, "--script", "Greek", "--limit", "2", "alpha")
    assert page[:2] == everything[:2]
    assert page[-1] == everything[-1]  # the same filtered total


def test_unknown_lang_is_a_usage_error(index_cache_dir: Path) -> None:
    proc = run_cli(index_cache_dir, "--lang", "xx", "cat")
    assert proc.returncode == 2
    assert b"unknown language 'xx'; known: en, ar, de, es" in proc.stderr
    assert proc.stdout == b""
    picker = run_cli(index_cache_dir, "--lang", "xx", "--stdin-queries")
    assert picker.returncode == 2


def test_stdin_queries_take_lang_and_survive_bad_bytes(index_cache_dir: Path) -> None:
    import subprocess
    import sys

    stdin = b"t\xc3\xaate de chat\n\xff\xfe\xc3\n\xed\xa0\x80\nflag br\n"
    proc = subprocess.run(
        [sys.executable, "-m", "awaitkit", "find", "--stdin-queries", "--lang", "fr"],
        input=stdin,
        capture_output=True,
        env={"AWAITKIT_CACHE_DIR": str(index_cache_dir), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(answers) == 4
    assert answers[0]["matches"][0]["name"] == "tête de chat"
    assert answers[1]["error"] == answers[2]["error"] == "query is not valid UTF-8"
    assert answers[3]["matches"][0]["kind"] == "sequence"


def test_version_names_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    out = capsys.readouterr().out
    assert "CLDR 48" in out
    assert "emoji 2." in out
    assert "name aliases of Unicode 17" in out
