"""Rule files (TOML, JSON): good ones load, bad ones fail naming the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from awaitkit.flags import Fault, RuleError, load_rules
from awaitkit.flags._rulefile import MAX_RULE_FILE, parse_rules

EXAMPLE = """\
# Faults for the flags server.
[[rule]]
id = "flaky-br"
path = "/flags/*/br.gif"
schedule = ["503", "reset@1000", "200"]

[[rule]]
path = "re:^/flags/f[a-z]/"
method = "GET"
headers = { "x-client-id" = "slow-*" }
delay = "0.1-0.3"
rate = 2048

[[rule]]
path = "/flags/de/*"
attempts = [1, 2]
status = 429
retry_after = 3
response_headers = { "X-Fault" = "rate" }
"""


def test_toml_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(EXAMPLE)
    rules = load_rules(path, seed=1)
    assert [r.id for r in rules.rules()] == ["flaky-br", "r1", "r2"]
    assert rules.seed == 1
    first = rules.decide("c", "GET", "/flags/br/br.gif", {})
    assert first is not None
    assert first.fault is Fault.UNAVAILABLE
    slow = rules.decide("c", "GET", "/flags/fr/fr.gif", {"x-client-id": "slow-1"})
    assert slow is not None
    assert slow.rate == 2048
    assert 0.1 <= slow.delay <= 0.3
    limited = rules.decide("c", "GET", "/flags/de/de.gif", {})
    assert limited is not None
    assert limited.retry_after == 3


def test_json_list_and_object_forms(tmp_path: Path) -> None:
    rules = [{"path": "/a", "status": 500}, {"path": "/b", "reset": 10}]
    for doc in (rules, {"rules": rules}):
        path = tmp_path / "rules.json"
        path.write_text(json.dumps(doc, indent=2))
        loaded = load_rules(path)
        assert [r.path for r in loaded.rules()] == ["/a", "/b"]


def test_an_empty_file_is_no_rules(tmp_path: Path) -> None:
    (tmp_path / "e.toml").write_text("")
    assert len(load_rules(tmp_path / "e.toml")) == 0


def error(data: str | bytes, suffix: str = ".toml") -> str:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(RuleError) as info:
        parse_rules(raw, name="r" + suffix, suffix=suffix)
    return str(info.value)


def test_toml_syntax_error_names_the_line() -> None:
    msg = error('[[rule]]\npath = "/a"\nstatus = \n')
    assert msg.startswith("r.toml: ")
    assert "line 3" in msg


def test_json_syntax_error_names_the_line() -> None:
    msg = error('[\n {"path": "/a"},\n {"path": }\n]', ".json")
    assert msg.startswith("r.json line 3 column")


def test_semantic_error_names_the_rule_table_line() -> None:
    text = EXAMPLE + '\n[[rule]]\npath = "/x"\nstatus = "teapot"\n'
    line = text.splitlines().index("[[rule]]", 20) + 1
    msg = error(text)
    assert msg.startswith(f"r.toml line {line} (rule 4): ")
    assert "status: must be an integer, not str" in msg


def test_json_semantic_error_names_the_object_line() -> None:
    text = '[\n  {"path": "/a"},\n\n  {"path": "/b",\n   "reset": "x"}\n]'
    msg = error(text, ".json")
    assert msg.startswith("r.json line 4 (rule 2): ")
    assert "reset" in msg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rule]]\ncolour = "red"\n', "unknown field(s): colour"),
        ('path = "/a"\n', "unknown top-level key(s) path"),
        ('rule = "x"\n', "must be [[rule]] tables"),
        ("[rule]\npath = '/a'\n", "must be [[rule]] tables"),
        ("[[rule]]\nschedule = 503\n", "schedule: must be a list"),
        ("[[rule]]\nheaders = 'x'\n", "headers: must be a table"),
        ("[[rule]]\nid = 'a'\n[[rule]]\nid = 'a'\n", "used twice"),
        ("[[rule]]\nattempts = [1.5]\n", "attempts: must be an integer"),
        ("[[rule]]\npath = 're:(a+)+'\n", "can take forever"),
        ("[[rule]]\ndelay = 1e400\n", "delay"),
    ],
)
def test_toml_semantic_errors(text: str, message: str) -> None:
    msg = error(text)
    assert message in msg
    assert msg.startswith("r.toml line ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"rules"', "must be a list of rule objects"),
        ("[1]", "r.json line 1 (rule 1): must be a table, not int"),
        ('{"rules": [], "x": 1}', "unknown top-level key(s) x"),
        ("[" * 100_000, "r.json"),
    ],
)
def test_json_wrong_types(text: str, message: str) -> None:
    assert message in error(text, ".json")


def test_non_utf8_file_names_the_line() -> None:
    assert error(b'[[rule]]\npath = "/\xff"\n') == "r.toml line 2: not UTF-8 (byte 18)"


def test_yaml_and_other_extensions_are_refused() -> None:
    assert "YAML is not supported" in error("- path: /a", ".yaml")
    assert "use .toml or .json" in error("x", ".ini")


def test_oversized_and_missing_files(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (MAX_RULE_FILE + 1))
    with pytest.raises(RuleError, match="larger than"):
        load_rules(big)
    with pytest.raises(RuleError, match="cannot read rule file"):
        load_rules(tmp_path / "missing.toml")
    with pytest.raises(RuleError, match="cannot read rule file"):
        load_rules(tmp_path)  # a directory


def test_deeply_nested_toml_is_an_error_not_a_crash() -> None:
    msg = error("[[rule]]\nheaders = " + "[" * 5000 + "]" * 5000 + "\n")
    assert msg.startswith("r.toml")


def test_readme_example_loads() -> None:
    """The TOML example in README.md is a valid rule file."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    rules = parse_rules(block.encode(), name="README", suffix=".toml")
    assert [r.id for r in rules] == ["", "slow-ci", ""]
    assert rules[0].schedule == ("503", "reset@1000", "200")
