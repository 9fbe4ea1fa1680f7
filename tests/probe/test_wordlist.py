"""Brute force (-d DOMAIN -w WORDS, FUZZ patterns): streamed, bad words INVALID."""

from __future__ import annotations

import io
import json
import sys
import tracemalloc

import pytest

from awaitkit.cli import main
from awaitkit.core import UsageError
from awaitkit.probe import Answer, Status, multi_probe
from awaitkit.probe._wordlist import MAX_LINE, brute_names, brute_patterns, read_lines

pytestmark = pytest.mark.anyio

PROBE_HOLDS_THE_LOOP = pytest.mark.blocks_loop  # see test_cli.py


def test_brute_patterns() -> None:
    assert brute_patterns(["example.test.", " FUZZ.dev", "a-FUZZ-b.test"]) == [
        "FUZZ.example.test",
        "FUZZ.dev",
        "a-FUZZ-b.test",
    ]
    for bad in ["a..b", "", "FUZZ..dev", "x" * 64 + ".test", "b\xfcc her.test"]:
        with pytest.raises(UsageError, match="invalid domain"):
            brute_patterns([bad])


async def _collect(data: bytes) -> list[str]:
    return [line async for line in read_lines(io.BytesIO(data))]


async def test_read_lines_edges() -> None:
    data = b"www\r\n# comment\n\n  mail  \napi # trailing\n\xff\xfeok\nlast"
    assert await _collect(data) == ["www", "mail", "api", "\ufffd\ufffdok", "last"]


async def test_read_lines_cuts_an_overlong_line_across_chunks() -> None:
    """A 1 MB line (spanning chunks) yields its first MAX_LINE characters once."""
    data = b"a\n" + b"x" * 1_000_000 + b"\nb\n" + b"y" * 200_000
    lines = await _collect(data)
    assert lines == ["a", "x" * MAX_LINE, "b", "y" * MAX_LINE]


async def test_read_lines_line_ends_on_a_chunk_boundary() -> None:
    data = b"z" * ((1 << 16) - 1) + b"\nnext\n"
    lines = await _collect(data)
    assert [len(w) for w in lines] == [MAX_LINE, 4]


async def test_brute_names_word_major() -> None:
    async def words():
        for word in ["www", "", "mail"]:
            yield word

    patterns = brute_patterns(["a.test", "FUZZ-x.b.test"])
    names = [n async for n in brute_names(words(), patterns)]
    assert names == [
        "www.a.test",
        "www-x.b.test",
        ".a.test",
        "-x.b.test",
        "mail.a.test",
        "mail-x.b.test",
    ]


async def _peak(tmp_path, count: int) -> tuple[int, int]:
    path = tmp_path / f"words{count}.txt"
    with path.open("wb") as f:
        for start in range(0, count, 10_000):
            f.write(b"".join(b"w%d\n" % i for i in range(start, start + 10_000)))
    seen = 0
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            async for _ in brute_names(read_lines(stream), ["FUZZ.example.test"]):
                seen += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return seen, peak


@pytest.mark.blocks_loop  # tracemalloc's bookkeeping slows every step, not the code
async def test_a_million_words_cost_what_a_hundred_thousand_do(tmp_path) -> None:
    """Memory stays flat: the peak for 1M words is within 64 KiB of 100k words'.

    (Both span many 64 KiB chunks; the peak, ~1 MB, is one chunk split into
    lines.  A list that fits in one chunk peaks lower, so it is no baseline.)
    """
    small = await _peak(tmp_path, 100_000)
    large = await _peak(tmp_path, 1_000_000)
    assert (small[0], large[0]) == (100_000, 1_000_000)
    assert large[1] < small[1] + 64 * 1024, (small, large)


class _Instant:
    """A resolver answering every name at once, FOUND."""

    async def lookup(self, name: str) -> Answer:
        return Answer(Status.FOUND, ("192.0.2.1",))


async def test_the_prober_pulls_words_only_as_it_needs_them() -> None:
    """After the first result, at most ~2 x concurrency words have been read."""
    pulled = 0

    async def words():
        nonlocal pulled
        for i in range(1_000_000):
            pulled += 1
            yield f"w{i}"

    names = brute_names(words(), ["FUZZ.example.test"])
    results = multi_probe(names, concurrency=10, resolver=_Instant())
    first = await anext(results)
    await results.aclose()
    assert first.found
    assert pulled <= 40


@PROBE_HOLDS_THE_LOOP
def test_cli_brute_force_against_nsd(nsd_port, tmp_path, capsys) -> None:
    """-d twice, -w with bad words: FOUND/NXDOMAIN per the zone, bad words INVALID."""
    words = tmp_path / "words.txt"
    words.write_bytes(
        b"found\nnope\n# comment\n\nx.wild\n" + b"a" * 300 + b"\n..\n\xff\xfe\n"
    )
    argv = ["probe", "-w", str(words), "-d", "test", "-d", "FUZZ.wild.test"]
    status = main([*argv, "--nameserver", f"127.0.0.1:{nsd_port}", "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    got = {r["domain"]: r["status"] for r in map(json.loads, out.splitlines())}
    long = "a" * 300
    assert got == {
        "found.test": "FOUND",
        "found.wild.test": "FOUND",
        "nope.test": "NXDOMAIN",
        "nope.wild.test": "FOUND",
        "x.wild.test": "FOUND",
        "x.wild.wild.test": "FOUND",
        f"{long}.test": "INVALID",
        f"{long}.wild.test": "INVALID",
        "...test": "INVALID",
        "...wild.test": "INVALID",
        "\ufffd\ufffd.test": "INVALID",
        "\ufffd\ufffd.wild.test": "INVALID",
    }
    assert "INVALID 6" in err


@PROBE_HOLDS_THE_LOOP
def test_cli_fuzz_pattern_is_domaincheck_over_a_word_list(
    nsd_port, monkeypatch, capsys
) -> None:
    """`-w - FUZZ.test` (words on stdin): the book's columns for WORD.test."""
    monkeypatch.setattr(
        sys, "stdin", io.TextIOWrapper(io.BytesIO(b"for\nif\nwith\ndef\n"))
    )
    status = main(
        ["probe", "-w", "-", "FUZZ.test", "--nameserver", f"127.0.0.1:{nsd_port}"]
    )
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert set(lines[2:]) == {"for.test", "if.test", "\t\twith.test", "\t\tdef.test"}


@PROBE_HOLDS_THE_LOOP
def test_cli_positional_domain_with_wordlist(nsd_port, tmp_path, capsys) -> None:
    words = tmp_path / "words.txt"
    words.write_text("v4only\n")
    argv = ["probe", "test", "-w", str(words), "--nameserver", f"127.0.0.1:{nsd_port}"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[2:] == ["v4only.test"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-d", "example.test"], "-d/--domain needs -w/--wordlist FILE"),
        (["-w", "{words}"], "-w needs -d DOMAIN or a FUZZ pattern"),
        (["-w", "{words}", "-d", "a..b"], "invalid domain 'a..b'"),
        (["-w", "{words}", "-d", "x.test", "-i", "{words}"], "give -i FILE or -w FILE"),
        (["-w", "/nonexistent/words.txt", "-d", "x.test"], "cannot read -w"),
        (["FUZZ.dev"], "a FUZZ pattern needs -w/--wordlist FILE"),
    ],
)
def test_brute_force_usage_errors_exit_2(argv, message, tmp_path, capsys) -> None:
    words = tmp_path / "words.txt"
    words.write_text("www\n")
    argv = [a.replace("{words}", str(words)) for a in argv]
    assert main(["probe", *argv, "--nameserver", "127.0.0.1"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.splitlines()) == 1
