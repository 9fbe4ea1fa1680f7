"""``awaitkit find --stdin-queries``: a picker backend, one JSON line per query line.

A picker (fzf, rofi, an editor plugin) starts one process and writes the
query line each time the user types; the index is loaded once, so an answer
costs a query and a ``json.dumps`` instead of a whole interpreter start.
Every input line gets exactly one output line, in order, flushed at once::

    {"query": "cat face", "total": 10, "matches": [{"char": "🐱", ...}, ...]}
    {"query": "", "total": 0, "matches": []}               <- an empty line
    {"query": "  ", "error": "empty query"}                 <- a bad query
    {"query": null, "error": "line too long (...)"}          <- refused, skipped

so a reader can pair answers with questions by counting.  Bad input never
ends the loop: a line that is not UTF-8 or too long gets an error object;
only EOF on stdin (a last line without newline is still answered) or a
reader that closed stdout (``BrokenPipeError``, which the CLI turns into a
quiet exit 141) end it.  Memory stays bounded: a line is read at most
``max_line`` bytes at a time and the rest of an oversized one is skipped in
chunks, never held.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from awaitkit.core.errors import QueryError
from awaitkit.find._output import match_dict

if TYPE_CHECKING:
    from awaitkit.find._index import CharIndex

__all__ = ["MAX_LINE", "PICKER_LIMIT", "answer", "serve_queries"]

# A query may hold 1000 characters (MAX_QUERY_CHARS), up to 4 bytes each.
MAX_LINE = 4096
PICKER_LIMIT = 100  # matches per answer unless --limit says otherwise
_SKIP_CHUNK = 64 * 1024


def _dumps(obj: object) -> bytes:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if "\u2028" in text or "\u2029" in text:
        # Valid in JSON, but line breaks to str.splitlines() and JavaScript
        # readers: escaped, so an answer is one line for every reader.
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form: escape it
        return json.dumps(obj, separators=(",", ":")).encode("ascii") + b"\n"


def answer(
    index: CharIndex,
    line: bytes,
    *,
    limit: int,
    offset: int = 0,
    options: Mapping[str, Any] | None = None,
) -> bytes:
    """The JSON line answering one query ``line`` (without its newline).

    ``options``: more keyword arguments of ``CharIndex.query`` (``lang``...).
    """
    line = line.removesuffix(b"\r")
    try:
        query = line.decode("utf-8")
    except UnicodeDecodeError:
        return _dumps(
            {
                "query": line.decode("utf-8", "replace"),
                "error": "query is not valid UTF-8",
            }
        )
    if not query:
        # What a picker sends when its input is cleared: nothing to show.
        return _dumps({"query": "", "total": 0, "matches": []})
    try:
        result = index.query(query, limit=limit, offset=offset, **(options or {}))
    except QueryError as exc:
        return _dumps({"query": query, "error": str(exc)})
    return _dumps(
        {
            "query": query,
            "total": result.total,
            "matches": [match_dict(m) for m in result.matches],
        }
    )


def serve_queries(
    index: CharIndex,
    stdin: BinaryIO,
    stdout: BinaryIO,
    *,
    limit: int = PICKER_LIMIT,
    offset: int = 0,
    max_line: int = MAX_LINE,
    options: Mapping[str, Any] | None = None,
) -> int:
    """Answer every line of ``stdin`` on ``stdout`` until EOF; returns 0.

    Example use::

        serve_queries(load_index(), sys.stdin.buffer, sys.stdout.buffer)
    """
    too_long = _dumps(
        {"query": None, "error": f"line too long (over {max_line} bytes), ignored"}
    )
    while True:
        chunk = stdin.readline(max_line + 1)
        if not chunk:
            return 0
        if chunk.endswith(b"\n"):
            stdout.write(
                answer(index, chunk[:-1], limit=limit, offset=offset, options=options)
            )
        elif len(chunk) <= max_line:
            # EOF in the middle of a line: answer what there is, then stop.
            stdout.write(
                answer(index, chunk, limit=limit, offset=offset, options=options)
            )
        else:
            stdout.write(too_long)
            stdout.flush()
            while (rest := stdin.readline(_SKIP_CHUNK)) and not rest.endswith(b"\n"):
                pass
        stdout.flush()
