"""``awaitkit flags``: the book's CLI, run in-process against real flags servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from awaitkit.book_flags._vocab import POP20_CC
from awaitkit.cli import main
from awaitkit.flags import build_dataset, country_codes, country_name
from tests.download._servers import flags_servers_in_thread


def test_no_arguments_downloads_top20_from_the_embedded_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`awaitkit flags` works offline: embedded server, book reports, 20 flags."""
    dest = tmp_path / "downloaded"
    assert main(["flags", "--dest", str(dest)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("EMBEDDED site: http://127.0.0.1:")
    assert out[1] == "Searching for 20 flags: from BD to VN"
    assert out[2] == "5 concurrent connections will be used."
    assert " 20 flags downloaded." in out
    assert out[-1].startswith("Elapsed time: ")
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        f"{cc}.gif" for cc in POP20_CC
    )
    assert (dest / "BR.gif").read_bytes() == build_dataset()["flags/br/br.gif"].body


def test_verbose_lines_and_not_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-v prints a line per code; a 404 is 'not found', not an error (exit 0)."""
    assert main(["flags", "-v", "--dest", str(tmp_path), "br", "ZZ"]) == 0
    out = capsys.readouterr().out
    assert "BR OK" in out
    assert "ZZ not found: http://127.0.0.1:" in out
    assert "  1 flag downloaded.\n  1 not found." in out


def test_metadata_mode_names_files_after_countries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--metadata (flags3): <Country_Name>.gif."""
    assert (
        main(["flags", "-q", "--metadata", "--dest", str(tmp_path), "BR", "CI", "US"])
        == 0
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = sorted(
        country_name(cc).replace(" ", "_") + ".gif" for cc in ["BR", "CI", "US"]
    )
    assert names == expected
    assert (
        "Searching" not in capsys.readouterr().out
    )  # --quiet drops the opening report


def test_error_server_exits_1_and_counts_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-s URL: 418s are counted as errors, later codes still download, exit 1."""
    report = tmp_path / "r.jsonl"
    with flags_servers_in_thread(1, "ERROR", delay=0, seed=2) as (server,):
        code = main(
            [
                "flags",
                "-s",
                server.base_url,
                "-a",
                "-m",
                "20",
                "-q",
                "--dest",
                str(tmp_path / "d"),
                "--report",
                str(report),
            ]
        )
        served = server.stats.by_status
    assert code == 1
    out = capsys.readouterr().out
    assert f"{served[200]:3} flags downloaded." in out
    assert f"{served[418]:3} errors." in out
    assert len(report.read_text().splitlines()) == served[200] + served[418]
    assert len(list((tmp_path / "d").iterdir())) == served[200]


# Debug mode's own cost: every task and callback records its stack, which
# stretches a worker's step of a large batch to 130-240 ms under load.
# Without debug mode such a batch's loop lag stays near 1 ms (LagMonitor).
@pytest.mark.blocks_loop
def test_report_holds_every_item_once_past_one_write_batch(tmp_path: Path) -> None:
    """-e asks for 676 codes: more report lines than one background write holds."""
    import json

    report = tmp_path / "r.jsonl"
    with flags_servers_in_thread(1, "LOCAL", delay=0) as (server,):
        args = ["flags", "-s", server.base_url, "-e", "-m", "50", "-q"]
        code = main([*args, "--dest", str(tmp_path / "d"), "--report", str(report)])
    assert code == 0
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(lines) == 26 * 26
    codes = {line["url"].rsplit("/", 1)[1].split(".")[0].upper() for line in lines}
    assert len(codes) == 26 * 26
    ok = sum(line["status"] == "ok" for line in lines)
    assert ok == len(country_codes()) == len(list((tmp_path / "d").iterdir()))


def test_skip_existing_second_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second run with --skip-existing downloads nothing it already has."""
    have = len([cc for cc in country_codes() if cc.startswith("B")])
    args = ["flags", "-q", "--skip-existing", "--dest", str(tmp_path), "B"]
    assert main(args) == 0
    assert main(args) == 0
    second = capsys.readouterr().out.split("--------------------")[-1]
    assert (
        f"  0 flags downloaded.\n{have:3} already there.\n{26 - have:3} not found."
        in second
    )


# Starting 676 workers at once: ~50 ms of loop lag without debug mode
# (LagMonitor), 110-270 ms with it, where every task records its stack.
@pytest.mark.blocks_loop
def test_concurrency_is_capped_at_1000(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """-m above the book's MAX_CONCUR_REQ is capped; fewer codes use fewer connections."""
    assert main(["flags", "-m", "5000", "-e", "--dest", str(tmp_path / "a")]) == 0
    assert "676 concurrent connections will be used." in capsys.readouterr().out
    assert main(["flags", "-m", "50", "BR", "--dest", str(tmp_path / "b")]) == 0
    assert "1 connection will be used." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "0"], "*** Usage error: --max_req CONCURRENT must be >= 1"),
        (["-l", "0"], "*** Usage error: --limit N must be >= 1"),
        (
            ["-s", "nowhere"],
            "*** Usage error: --server LABEL must be one of DELAY, ERROR, LOCAL, REMOTE",
        ),
        (["BRA"], "*** Usage error: each CC argument must be A to Z or AA to ZZ."),
        (["1"], "*** Usage error: each CC argument must be A to Z or AA to ZZ."),
    ],
)
def test_usage_errors_exit_2_with_the_books_messages(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["flags", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "usage: awaitkit flags" in err


def test_fetch_needs_urls(capsys: pytest.CaptureFixture[str]) -> None:
    """fetch without URLs or -i is a usage error."""
    assert main(["fetch"]) == 2
    assert "give URLs or -i FILE" in capsys.readouterr().err


def test_fetch_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad --timeout, --max-size, input file or --processes is a usage error."""
    assert main(["fetch", "--timeout", "soon", "http://127.0.0.1:9/x"]) == 2
    assert main(["fetch", "--max-size", "lots", "http://127.0.0.1:9/x"]) == 2
    assert main(["fetch", "-i", "/nonexistent/urls.txt"]) == 2
    assert main(["fetch", "--processes", "0", "http://127.0.0.1:9/x"]) == 2
    assert main(["fetch", "--processes", "many", "http://127.0.0.1:9/x"]) == 2
    err = capsys.readouterr().err
    assert err.count("awaitkit: error:") == 5
    assert "--processes must be auto or 1 to 64, not 'many'" in err


def test_fetch_input_file_with_hostile_lines(tmp_path: Path) -> None:
    """-i FILE: non-UTF-8 bytes, a 100 KB line, blanks and comments; one result each."""
    import json

    urls = tmp_path / "urls.txt"
    report = tmp_path / "r.jsonl"
    with flags_servers_in_thread(1, "LOCAL", delay=0) as (server,):
        good = f"{server.base_url}/flags/br/br.gif"
        urls.write_bytes(
            b"# a comment\n\n"
            + good.encode()
            + b"\nhttp://127.0.0.1:9/\xff\xfe.gif\n"
            + b"http://127.0.0.1:9/"
            + b"a" * 100_000
            + b"\n   \n"
        )
        args = ["fetch", "-q", "--retries", "0", "-i", str(urls), "--report"]
        code = main([*args, str(report), "--dest", str(tmp_path / "d")])
    assert code == 1  # the two bad lines are errors
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(lines) == 3
    by_status = sorted(line["status"] for line in lines)
    assert by_status == ["error", "error", "ok"]
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["br.gif"]


def test_fetch_reads_a_files_first_block_up_front_and_the_rest_later(
    tmp_path: Path,
) -> None:
    """A regular file's first block is read before the loop; every line still counts once."""
    import asyncio
    import os

    from awaitkit.download._input import READ_LINES, all_items, first_lines

    lines = [f"http://h/{i}\n" if i % 7 else "# comment\n" for i in range(2500)]
    path = tmp_path / "urls.txt"
    path.write_text("".join(lines))
    with path.open() as stream:
        first = first_lines(stream)
        assert len(first) == READ_LINES

        async def collect() -> list[list[str]]:
            return [block async for block in all_items(["http://cli/x"], first, stream)]

        blocks = asyncio.run(collect())
    assert blocks[0] == ["http://cli/x"]
    got = [url for block in blocks[1:] for url in block]
    assert got == [line.strip() for line in lines if not line.startswith("#")]
    r, w = os.pipe()  # a pipe may block: nothing is read up front
    os.write(w, b"http://h/1\n")
    with os.fdopen(r) as pipe:
        assert first_lines(pipe) == []
    os.close(w)
