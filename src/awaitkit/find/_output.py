"""How ``awaitkit find`` prints matches: the book's lines, ``--format`` templates, JSON.

A ``--format`` template is parsed here by hand rather than handed to
:meth:`str.format`: ``str.format`` would evaluate ``{char.__class__}`` or
``{name[0]}`` and accept format specs, so the template is checked against a
closed set of fields first and refused with a :class:`UsageError` naming the
problem.  Only plain ``{field}`` references, ``{{``/``}}`` and the escapes
``\\t \\n \\r \\0 \\\\`` are accepted.  Format specs (``{name:30}``) are refused
on purpose: they pad by code points, which mis-aligns wide characters and
emoji sequences; ``\\t`` separates columns instead.

JSON (``--json``, ``--jsonl`` and the picker backend) carries every field of
:class:`~awaitkit.find.Match`: ``char, code, name, kind, via``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from awaitkit.core.errors import QueryError, UsageError

if TYPE_CHECKING:
    import argparse

    from awaitkit.find._index import CharIndex
    from awaitkit.find._results import Match

__all__ = [
    "FIELDS",
    "Template",
    "match_dict",
    "parse_template",
    "print_matches",
    "write_json",
    "write_jsonl",
    "write_lines",
]

FIELDS = ("char", "code", "name", "kind", "via")
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "\\": "\\"}


class Template:
    """A checked ``--format`` template: literal text and field names, alternating.

    >>> parse_template("{char}\\\\t{name}").render_fields(char="🐱", name="CAT FACE")
    '🐱\\tCAT FACE'
    """

    __slots__ = ("_format", "fields")

    def __init__(self, parts: Sequence[tuple[str, str | None]]) -> None:
        # Re-spelled as a str.format string holding only names from FIELDS:
        # checked, so formatting it cannot reach anything but those values.
        pieces = []
        fields = []
        for literal, field in parts:
            pieces.append(literal.replace("{", "{{").replace("}", "}}"))
            if field is not None:
                pieces.append("{" + field + "}")
                fields.append(field)
        self._format = "".join(pieces)
        self.fields = tuple(fields)

    def __repr__(self) -> str:
        return f"<Template fields={','.join(self.fields)}>"

    def render(self, match: Match) -> str:
        """The template filled in with ``match``'s fields."""
        return self._format.format_map(
            {f: getattr(match, f) for f in FIELDS if f in self.fields}
        )

    def render_fields(self, **values: str) -> str:
        """The template filled in with ``values`` (every field it names)."""
        return self._format.format_map(values)


def parse_template(text: str) -> Template:
    """Check and parse a ``--format`` template; :class:`UsageError` when it is bad."""
    parts: list[tuple[str, str | None]] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= n:
                raise UsageError("--format: the template ends with a lone backslash")
            escape = text[i + 1]
            if escape not in _ESCAPES:
                raise UsageError(
                    f"--format: unknown escape \\{escape} (known: \\t \\n \\r \\0 \\\\)"
                )
            literal.append(_ESCAPES[escape])
            i += 2
        elif c == "{":
            if text.startswith("{{", i):
                literal.append("{")
                i += 2
                continue
            end = text.find("}", i)
            if end < 0:
                raise UsageError(f"--format: unclosed '{{' at position {i}")
            field = text[i + 1 : end]
            if field not in FIELDS:
                raise UsageError(f"--format: {_field_problem(field)}")
            parts.append(("".join(literal), field))
            literal.clear()
            i = end + 1
        elif c == "}":
            if not text.startswith("}}", i):
                raise UsageError(
                    f"--format: single '}}' at position {i} (write '}}}}')"
                )
            literal.append("}")
            i += 2
        else:
            literal.append(c)
            i += 1
    parts.append(("".join(literal), None))
    return Template(parts)


def _field_problem(field: str) -> str:
    known = ", ".join(FIELDS)
    if "{" in field:
        return f"nested '{{' in {{{field}}}"
    if ":" in field or "!" in field:
        return (
            f"{{{field}}}: format specs and conversions are not supported "
            f"(use \\t between fields); fields: {known}"
        )
    if any(c in field for c in ".[]"):
        return (
            f"{{{field}}}: attribute and index access are not allowed; fields: {known}"
        )
    return f"unknown field {{{field}}}; fields: {known}"


def match_dict(match: Match) -> dict[str, str]:
    """``match`` as a JSON object: ``{"char", "code", "name", "kind", "via"}``."""
    return {
        "char": match.char,
        "code": match.code,
        "name": match.name,
        "kind": match.kind,
        "via": match.via,
    }


def _ensure_ascii(out: TextIO) -> bool:
    """Escape non-ASCII where the stream cannot carry UTF-8: the JSON stays valid."""
    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
    return encoding not in ("utf8", "utf_8")


def write_lines(out: TextIO, matches: Iterable[Match], template: Template) -> None:
    """One templated line per match."""
    out.write("".join(template.render(m) + "\n" for m in matches))


def write_json(out: TextIO, matches: Iterable[Match]) -> None:
    """One JSON array of match objects."""
    import json  # here: a plain --format run never needs it

    rows = [match_dict(m) for m in matches]
    out.write(json.dumps(rows, ensure_ascii=_ensure_ascii(out)) + "\n")


def write_jsonl(out: TextIO, matches: Iterable[Match]) -> None:
    """One JSON object per line (for pickers): nothing else, no count line."""
    import json

    ascii_only = _ensure_ascii(out)
    out.write(
        "".join(
            json.dumps(match_dict(m), ensure_ascii=ascii_only) + "\n" for m in matches
        )
    )


def print_matches(
    args: argparse.Namespace,
    index: CharIndex,
    template: Template | None,
    rule: str,
    predicates: Sequence[Callable[[str], bool]] = (),
    *,
    options: Mapping[str, Any] | None = None,
) -> int:
    """``find --json``, ``--jsonl`` or ``--format``: every field of each match.

    ``predicates`` (``--block``, ``--script``, ``--category`` on a query) keep
    the matches whose string passes them all, tested by the index before it
    pages (its ``where=``); the total counts those.  ``options`` are more
    keyword arguments of ``CharIndex.query`` (``lang``, ``any_word``,
    ``exact``; a ``where`` in them wins over ``predicates``).
    Returns the exit status: 0 when something was found, else 1.
    """
    import sys

    out = sys.stdout
    text = " ".join(args.words)
    try:
        extra = dict(options or {})
        if predicates and "where" not in extra:
            extra["where"] = lambda s: all(p(s) for p in predicates)
        result = index.query(text, limit=args.limit, offset=args.offset, **extra)
        total, matches = result.total, list(result.matches)
    except QueryError as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        write_json(out, matches)
    elif args.jsonl:
        write_jsonl(out, matches)
    else:
        assert template is not None
        write_lines(out, matches, template)
        if not args.compact:
            out.write(f"{rule} {total} found\n")
    return 0 if total else 1
