"""``awaitkit find --stdin-queries``: one JSON line per query line, whatever the input."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from awaitkit.find import CharIndex
from awaitkit.find._picker import MAX_LINE, answer, serve_queries


def run_lines(index: CharIndex, data: bytes, **kwargs: int) -> list[dict[str, object]]:
    out = io.BytesIO()
    assert serve_queries(index, io.BytesIO(data), out, **kwargs) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


class CountingReader(io.BytesIO):
    """Records the largest read asked for: the loop must never ask for a whole line."""

    largest = 0

    def readline(self, size: int | None = -1, /) -> bytes:
        assert size is not None
        assert size > 0
        self.largest = max(self.largest, size)
        return super().readline(size)


def test_one_answer_per_line_in_order(full_index: CharIndex) -> None:
    answers = run_lines(full_index, b"cat face\r\nU+1F431\nxyzzy\n", limit=3)
    assert [a["query"] for a in answers] == ["cat face", "U+1F431", "xyzzy"]
    assert answers[0]["total"] == 11
    first = answers[0]["matches"][0]  # type: ignore[index]
    assert first == {
        "char": "\U0001f431",
        "code": "U+1F431",
        "name": "CAT FACE",
        "kind": "char",
        "via": "name",
    }
    assert len(answers[0]["matches"]) == 3  # type: ignore[arg-type]
    assert answers[2] == {"query": "xyzzy", "total": 0, "matches": []}


def test_offset_pages(full_index: CharIndex) -> None:
    whole = run_lines(full_index, b"cat face\n", limit=10)[0]["matches"]
    page = run_lines(full_index, b"cat face\n", limit=2, offset=3)[0]["matches"]
    assert page == whole[3:5]  # type: ignore[index]


def test_empty_blank_and_bad_lines_never_end_the_loop(full_index: CharIndex) -> None:
    data = b"\n   \n\xff\xfe cat\n\r\na\x00b\n" + b"x" * 1001 + b"\ncat face\n"
    answers = run_lines(full_index, data, limit=1)
    assert answers[0] == {"query": "", "total": 0, "matches": []}
    assert answers[1] == {"query": "   ", "error": "empty query"}
    assert answers[2] == {
        "query": "\ufffd\ufffd cat",
        "error": "query is not valid UTF-8",
    }
    assert answers[3] == {"query": "", "total": 0, "matches": []}
    assert answers[4]["query"] == "a\x00b"  # NUL: pasted text, answered as data
    assert "too long" in str(answers[5]["error"])  # over MAX_QUERY_CHARS
    assert answers[6]["total"] == 11
    assert len(answers) == 7


def test_oversized_line_is_refused_and_skipped_in_bounded_reads(
    full_index: CharIndex,
) -> None:
    data = b"cat\n" + b"y" * 10_000_000 + b"\ncat face\n"
    reader = CountingReader(data)
    out = io.BytesIO()
    assert serve_queries(full_index, reader, out, limit=1) == 0
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert answers[1] == {
        "query": None,
        "error": f"line too long (over {MAX_LINE} bytes), ignored",
    }
    assert [a["query"] for a in answers] == ["cat", None, "cat face"]
    assert reader.largest <= 64 * 1024


def test_line_just_under_and_over_the_limit(full_index: CharIndex) -> None:
    ok = b"a" * 8 + b"\n"
    over = b"a" * 9 + b"\n"
    answers = run_lines(full_index, ok + over + ok, limit=1, max_line=8)
    assert "error" not in answers[0]
    assert answers[1]["query"] is None
    assert "error" not in answers[2]


def test_eof_mid_line_answers_the_fragment(full_index: CharIndex) -> None:
    assert [a["query"] for a in run_lines(full_index, b"cat\ncat fa", limit=1)] == [
        "cat",
        "cat fa",
    ]
    assert run_lines(full_index, b"", limit=1) == []
    oversized_at_eof = run_lines(full_index, b"z" * 100_000, limit=1)
    assert [a["query"] for a in oversized_at_eof] == [None]


def test_answer_is_one_line_of_utf8(full_index: CharIndex) -> None:
    """U+2028 is a line break to str.splitlines() and JavaScript: escaped."""
    line = answer(full_index, b"U+2028 U+1F431", limit=5)
    text = line.decode("utf-8")
    assert len(text.splitlines()) == 1
    assert text.endswith("}\n")
    assert [m["char"] for m in json.loads(text)["matches"]] == ["\u2028", "\U0001f431"]


def _picker(cache: Path, *args: str) -> subprocess.Popen[bytes]:
    env = os.environ | {"AWAITKIT_CACHE_DIR": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-m", "awaitkit", "find", "--stdin-queries", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_each_answer_is_flushed_before_the_next_query(index_cache_dir: Path) -> None:
    """A picker writes a line and waits: the answer comes with stdin still open."""
    with _picker(index_cache_dir, "--limit", "2") as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        for query, total in [(b"cat face", 11), (b"cat", 25), (b"xyzzy", 0)]:
            proc.stdin.write(query + b"\n")
            proc.stdin.flush()
            reply = json.loads(proc.stdout.readline())
            assert reply["query"] == query.decode()
            assert reply["total"] == total
        proc.stdin.close()
        assert proc.stdout.read() == b""
        assert proc.wait(timeout=60) == 0
        assert proc.stderr is not None
        assert proc.stderr.read() == b""


def test_reader_closing_stdout_exits_quietly(index_cache_dir: Path) -> None:
    with _picker(index_cache_dir) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(b"cat\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["query"] == "cat"
        proc.stdout.close()
        try:
            for _ in range(100):  # until the picker's write fails
                proc.stdin.write(b"sign\n" * 100)
                proc.stdin.flush()
        except BrokenPipeError:
            pass
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        assert proc.wait(timeout=60) == 141
        assert proc.stderr is not None
        assert proc.stderr.read() == b""


def test_hostile_stdin_through_the_cli(index_cache_dir: Path) -> None:
    data = b"\xc3\x28\n\x00\x00\n" + b"q" * 10_000_000 + b"\ncat face"
    with _picker(index_cache_dir, "--limit", "1") as proc:
        out, err = proc.communicate(data, timeout=120)
    assert proc.returncode == 0, err
    answers = [json.loads(line) for line in out.splitlines()]
    assert [a.get("error") is None for a in answers] == [False, True, False, True]
    assert answers[-1]["total"] == 11


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cat"], "reads its queries from stdin only"),
        (["--json"], "not allowed with argument"),
        (["--format", "{char}"], "not allowed with argument"),
    ],
)
def test_stdin_queries_with_words_or_a_shape_is_a_usage_error(
    index_cache_dir: Path, args: list[str], message: str
) -> None:
    with _picker(index_cache_dir, *args) as proc:
        _, err = proc.communicate(b"cat\n", timeout=60)
    assert proc.returncode == 2
    assert message in err.decode()
