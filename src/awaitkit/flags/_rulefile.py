"""Rule files: ``--rules FILE`` in TOML (``[[rule]]`` tables) or JSON (a list).

The format follows the extension (``.toml``, ``.json``).  Errors name the
file and the line: syntax errors as the parser reports them, errors in a
rule at the line of its ``[[rule]]`` header (TOML) or of its object (JSON).
YAML is not read: it would need a dependency that TOML and JSON do not.

::

    [[rule]]
    path = "/flags/*/br.gif"
    schedule = ["503", "reset@1000", "200"]
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from awaitkit.flags._rules import Rule, RuleError, RuleSet

__all__ = ["MAX_RULE_FILE", "load_rules", "parse_rules"]

MAX_RULE_FILE = 1024 * 1024  # bytes

_TOML_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*rule[ \t]*\]\]", re.MULTILINE)


def load_rules(path: str | Path, *, seed: int | None = None) -> RuleSet:
    """Read and check the rule file ``path`` (blocking: call it from a thread)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_RULE_FILE + 1)
    except OSError as exc:
        raise RuleError(
            f"cannot read rule file {path}: {exc.strerror or exc}"
        ) from None
    if len(data) > MAX_RULE_FILE:
        raise RuleError(f"{path}: larger than {MAX_RULE_FILE // 1024} KiB")
    return RuleSet(parse_rules(data, name=str(path), suffix=path.suffix), seed=seed)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def parse_rules(
    data: bytes, *, name: str = "rules", suffix: str = ".toml"
) -> list[Rule]:
    """The rules of a file's bytes; ``suffix`` picks the format."""
    kind = suffix.lower()
    if kind in (".yaml", ".yml"):
        raise RuleError(
            f"{name}: YAML is not supported: write the rules as TOML or JSON"
        )
    if kind not in (".toml", ".json"):
        raise RuleError(
            f"{name}: unknown rule file type {suffix!r}: use .toml or .json"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RuleError(f"{name} line {line}: not UTF-8 (byte {exc.start})") from None
    if kind == ".toml":
        return _parse_toml(text, name)
    return _parse_json(text, name)


def _parse_toml(text: str, name: str) -> list[Rule]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{name}: {exc}") from None  # "... (at line 3, column 7)"
    except RecursionError:
        raise RuleError(f"{name}: nested too deeply") from None
    unknown = sorted(set(doc) - {"rule"})
    if unknown:
        raise RuleError(
            f"{_key_where(text, unknown[0], name)}: unknown top-level key(s) "
            f"{', '.join(unknown)}: rules go in [[rule]] tables"
        )
    tables = doc.get("rule", [])
    if not isinstance(tables, list):
        raise RuleError(
            f"{_key_where(text, 'rule', name)}: 'rule' must be [[rule]] tables"
        )
    headers = [m.start() for m in _TOML_HEADER.finditer(text)]
    lines = (
        [_line_of(text, pos) for pos in headers] if len(headers) == len(tables) else []
    )
    return _rules(tables, name, lines)


def _key_where(text: str, key: str, name: str) -> str:
    """``name line N`` of the first line that sets or opens top-level ``key``."""
    quoted = re.escape(key)
    found = re.search(
        rf"^[ \t]*(?:\[[ \t]*)?(?:{quoted}|\"{quoted}\"|'{quoted}')[ \t]*[=\].]",
        text,
        re.MULTILINE,
    )
    return f"{name} line {_line_of(text, found.start())}" if found else name


def _parse_json(text: str, name: str) -> list[Rule]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleError(
            f"{name} line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise RuleError(f"{name}: nested too deeply") from None
    if isinstance(doc, Mapping):
        unknown = sorted(set(doc) - {"rules"})
        if unknown:
            raise RuleError(f"{name}: unknown top-level key(s) {', '.join(unknown)}")
        doc = doc.get("rules", [])
    if not isinstance(doc, list):
        raise RuleError(
            f'{name}: must be a list of rule objects (or {{"rules": [...]}})'
        )
    return _rules(doc, name, _json_lines(text, len(doc)))


def _json_lines(text: str, count: int) -> list[int]:
    """The line of each element of the (first) list of rule objects, if found."""
    start = text.find("[")
    if start < 0:
        return []
    decoder = json.JSONDecoder()
    lines = []
    pos = start + 1
    try:
        for _ in range(count):
            while text[pos] in " \t\r\n,":
                pos += 1
            lines.append(_line_of(text, pos))
            _, pos = decoder.raw_decode(text, pos)
    except (ValueError, IndexError, RecursionError):
        return []
    return lines


def _rules(tables: list[object], name: str, lines: list[int]) -> list[Rule]:
    rules = []
    seen: set[str] = set()
    for i, table in enumerate(tables):
        where = (
            f"{name} line {lines[i]} (rule {i + 1})"
            if lines
            else f"{name} rule {i + 1}"
        )
        if not isinstance(table, Mapping):
            raise RuleError(f"{where}: must be a table, not {type(table).__name__}")
        rule = Rule.from_dict(table, where=where)
        if rule.id:
            if rule.id in seen:
                raise RuleError(f"{where}: id: {rule.id!r} is used twice")
            seen.add(rule.id)
        rules.append(rule)
    return rules
