"""Items with options of their own: JSON Lines input, ``--from-report``, pipes.

An input line may be a URL or a JSON object (``{"url", "name", "headers",
"sha256"}``); a line that is neither is reported as an ERROR item, never
dropped.  ``--from-report`` retries what an earlier run's report says did
not end OK, with the options each item had.  A pipe's lines are downloaded
as they come.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from awaitkit.download import DownloadResult, DownloadStatus, Job
from awaitkit.download._dispatch import Dispatch, Shard
from awaitkit.download._input import all_items, items_of, report_items
from tests.download._servers import flags_servers_in_thread
from tests.recording import RecordingServer, recording_in_thread

FETCH = [sys.executable, "-m", "awaitkit", "fetch", "-q"]


# -- lines to items, sans I/O --------------------------------------------------


def test_a_line_is_a_url_or_a_json_object() -> None:
    lines = [
        "http://h/a\n",
        "  # a comment\n",
        "\n",
        '{"url": "http://h/b", "name": "b.bin", "headers": {"X-Token": "t"}}\n',
        '{"url": " http://h/c ", "sha256": "' + "AB" * 32 + '"}\n',
    ]
    assert items_of(lines) == [
        "http://h/a",
        Job("http://h/b", name="b.bin", headers=(("X-Token", "t"),)),
        Job("http://h/c", sha256="ab" * 32),
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "Expecting property name"),
        ('{"url": "http://h/a", "nmae": "x"}', "unknown key 'nmae'"),
        ('{"name": "x"}', "'url' must be a non-empty string"),
        ('{"url": 7}', "'url' must be a non-empty string"),
        ('{"url": "http://h/a", "name": ""}', "'name' must be a non-empty string"),
        ('{"url": "http://h/a", "headers": ["X: y"]}', "'headers' must be an object"),
        ('{"url": "http://h/a", "headers": {"X": 1}}', "its value must be a string"),
        ('{"url": "http://h/a", "headers": {"X Y": "1"}}', "is not a token"),
        ('{"url": "http://h/a", "headers": {"X": "a\\r\\nEvil: 1"}}', "CR, LF or NUL"),
        ('{"url": "http://h/a", "headers": {"Host": "other"}}', "client's own"),
        ('{"url": "http://h/a", "headers": {"X": "' + "v" * 9000 + '"}}', "longer"),
        ('{"url": "http://h/a", "sha256": "abc"}', "64 hex digits"),
        ('{"url": "http://h/a", "sha256": 12}', "64 hex digits"),
        ('{"url": ' + "[" * 100_000, "nested too deep"),
        ('{"url": "http://h/' + "a" * 70_000 + '"}', "longer than"),
    ],
)
def test_a_bad_json_line_is_an_item_refused_with_its_line_number(
    line: str, why: str
) -> None:
    [item] = items_of(["http://h/ok\n", line + "\n"], number=41)[1:]
    assert isinstance(item, Job)
    assert item.refused is not None
    assert item.refused.startswith("input line 42: ")
    assert why in item.refused
    assert len(item.url) <= 200


def test_too_many_headers_are_refused() -> None:
    headers = {f"X-{i}": "v" for i in range(101)}
    [item] = items_of([json.dumps({"url": "http://h/a", "headers": headers})])
    assert isinstance(item, Job)
    assert item.refused == "input line 1: more than 100 headers"


def test_a_job_round_trips_through_its_json_form() -> None:
    job = Job("http://h/a", name="n", headers=(("A", "1"), ("B", "")), sha256="0" * 64)
    assert Job.from_json(json.loads(json.dumps(job.to_json()))) == job
    assert Job("http://h/a").to_json() == {"url": "http://h/a"}


def test_report_lines_give_back_what_did_not_end_ok() -> None:
    def line(result: DownloadResult) -> str:
        return json.dumps(result.to_json()) + "\n"

    job = Job("http://h/b", name="b", headers=(("X", "1"),))
    lines = [
        line(DownloadResult("http://h/ok", DownloadStatus.OK, "/d/ok", 3)),
        line(DownloadResult("http://h/skip", DownloadStatus.SKIPPED, "/d/s")),
        line(DownloadResult("http://h/a", DownloadStatus.ERROR, error="boom")),
        line(
            DownloadResult("http://h/b", DownloadStatus.NOT_FOUND, item=job.to_json())
        ),
        "\n",
        '{"url": "http://h/x"}\n',  # an input line, not a report record
        "[]\n",
    ]
    items = report_items(lines, number=1)
    assert items[:2] == ["http://h/a", job]
    refused = items[2:]
    assert [type(item) for item in refused] == [Job, Job]
    assert refused[0].refused.startswith("report line 6: download record fields")  # type: ignore[union-attr]
    assert refused[1].refused.startswith("report line 7: download record is not")  # type: ignore[union-attr]


def test_a_report_record_with_a_bad_item_is_refused() -> None:
    record = DownloadResult("http://h/a", DownloadStatus.ERROR).to_json()
    record["item"] = {"url": "http://h/a", "headers": {"Host": "x"}}
    with pytest.raises(ValueError, match="'item': header Host"):
        DownloadResult.from_json(record)


# -- the dispatcher: one URL under two names -----------------------------------


def test_one_url_under_two_names_holds_both_names_until_its_last_copy_ends() -> None:
    async def scenario() -> None:
        async def blocks() -> Any:
            yield [
                Job("http://h/x", name="a"),
                Job("http://h/x", name="b"),
                "http://h/b",
            ]

        dispatch = Dispatch(blocks())
        one = Shard(10)
        assert await dispatch.take(one) == [
            Job("http://h/x", name="a"),
            Job("http://h/x", name="b"),
            "http://h/b",  # name "b" is one's: pinned there, never to two
        ]
        assert one.names == {"a": 1, "b": 2}
        dispatch.done(one, "http://h/x")  # which copy? unknown: both names stay
        assert one.names == {"a": 1, "b": 2}
        dispatch.done(one, "http://h/b")
        assert one.names == {"a": 1, "b": 1}
        dispatch.done(one, "http://h/x")
        assert one.names == {}
        assert one.count == 0
        assert one.held == {}

    asyncio.run(scenario())


# -- through the CLI, against real servers ---------------------------------------


@pytest.fixture
def recorder() -> Iterator[tuple[RecordingServer, str]]:
    """A recording server on its own loop (the CLI runs in a subprocess)."""
    with recording_in_thread("127.0.0.1") as [server]:
        yield server, server.url


def fetch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``awaitkit fetch -q ARGS`` in a fresh process, its output kept as text."""
    return subprocess.run(
        [*FETCH, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def report_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def body(path: str) -> bytes:
    return path.encode()  # what the recording server answers


def test_json_lines_carry_names_headers_and_checksums(
    tmp_path: Path, recorder: tuple[RecordingServer, str]
) -> None:
    rec, base = recorder
    good = hashlib.sha256(body("/c")).hexdigest()
    lines = [
        f"{base}/a",
        json.dumps({"url": f"{base}/b", "name": "named.bin", "headers": {"X-T": "1"}}),
        json.dumps({"url": f"{base}/c", "sha256": good}),
        json.dumps({"url": f"{base}/d", "sha256": "0" * 64}),
        "{broken",
    ]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    report = tmp_path / "r.jsonl"
    out = tmp_path / "out"
    run = fetch(
        "-i", str(tmp_path / "in.txt"), "--dest", str(out), "--report", str(report)
    )
    assert run.returncode == 1, run.stderr
    got = {
        line["url"][-2:] if line["url"].startswith(base) else "bad": line
        for line in report_of(report)
    }
    assert got["/a"]["status"] == "ok"
    assert got["/a"]["item"] is None
    assert got["/b"]["status"] == "ok"
    assert got["/b"]["path"] == str(out / "named.bin")
    assert got["/b"]["item"] == {
        "url": f"{base}/b",
        "name": "named.bin",
        "headers": {"X-T": "1"},
    }
    assert (out / "named.bin").read_bytes() == body("/b")
    assert got["/c"]["status"] == "ok"
    assert got["/c"]["sha256"] == good
    assert got["/d"]["status"] == "error"
    assert "sha256" in got["/d"]["error"].lower()
    assert not (out / "d").exists()
    assert got["bad"]["status"] == "error"
    assert got["bad"]["error"].startswith("input line 5: ")
    assert got["bad"]["attempts"] == 0
    assert rec.fields("/b")[0]["x-t"] == ["1"]
    assert "x-t" not in rec.fields("/a")[0]
    assert len(report_of(report)) == 5  # every line accounted for, once


def test_from_report_retries_only_what_failed_with_its_own_options(
    tmp_path: Path, recorder: tuple[RecordingServer, str]
) -> None:
    rec, base = recorder
    rec.missing = {"/b", "/c"}
    lines = [
        f"{base}/a",
        json.dumps({"url": f"{base}/b", "name": "bee", "headers": {"X-T": "2"}}),
        f"{base}/c",
    ]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    first = tmp_path / "first.jsonl"
    args = ["--dest", str(out), "--retries", "0"]
    run = fetch("-i", str(tmp_path / "in.txt"), "--report", str(first), *args)
    assert run.returncode == 1, run.stderr
    rec.missing = set()
    rec.requests.clear()
    second = tmp_path / "second.jsonl"
    run = fetch("--from-report", str(first), "--report", str(second), *args)
    assert run.returncode == 0, run.stderr
    assert sorted(path for path, _ in rec.requests) == ["/b", "/c"]
    assert rec.fields("/b")[0]["x-t"] == ["2"]
    assert sorted(line["status"] for line in report_of(second)) == ["ok", "ok"]
    assert (out / "bee").read_bytes() == body("/b")
    assert (out / "c").read_bytes() == body("/c")


@pytest.mark.parametrize("option", ["-i", "--from-report"])
def test_the_report_may_not_be_the_input(tmp_path: Path, option: str) -> None:
    report = tmp_path / "r.jsonl"
    report.write_text("http://127.0.0.1:9/a\n")
    run = fetch(option, str(report), "--report", str(report))
    assert run.returncode == 2
    assert "would overwrite the input" in run.stderr
    assert report.read_text() == "http://127.0.0.1:9/a\n"


def test_input_and_from_report_are_one_or_the_other(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("")
    run = fetch("-i", str(tmp_path / "a"), "--from-report", str(tmp_path / "a"))
    assert run.returncode == 2
    assert "not both" in run.stderr


def test_from_report_of_a_file_not_there_is_a_usage_error(tmp_path: Path) -> None:
    run = fetch("--from-report", str(tmp_path / "none.jsonl"))
    assert run.returncode == 2
    assert "cannot read" in run.stderr


def test_json_lines_over_several_processes(tmp_path: Path) -> None:
    """300 jobs sharing 10 names (and one URL under two names), over 2 processes."""
    with flags_servers_in_thread(1) as servers:
        base = servers[0].base_url
        lines = []
        for i in range(300):
            url = f"{base}/flags/{['br', 'fr', 'jp'][i % 3]}/{['br', 'fr', 'jp'][i % 3]}.gif"
            lines.append(json.dumps({"url": url, "name": f"n{i % 10}.gif"}))
        # A padded regular file of 128 KiB or more gets several processes.
        text = "\n".join(lines) + "\n" + "#" * 140_000 + "\n"
        (tmp_path / "in.txt").write_text(text)
        report = tmp_path / "r.jsonl"
        out = tmp_path / "out"
        run = fetch(
            "-i",
            str(tmp_path / "in.txt"),
            "--processes",
            "2",
            "--dest",
            str(out),
            "--report",
            str(report),
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    records = report_of(report)
    assert len(records) == 300
    paths = {record["path"] for record in records}
    assert len(paths) == 300  # every item its own file
    assert {os.path.basename(p).split(".")[0] for p in paths} == {
        f"n{i}" for i in range(10)
    }
    for record in records:
        assert Path(record["path"]).stat().st_size == record["bytes"] > 0


def test_a_pipe_line_is_fetched_before_the_pipe_ends(tmp_path: Path) -> None:
    """A line downloads when it arrives, not when a block of 1,024 has (tail -f | fetch)."""
    out = tmp_path / "out"
    with flags_servers_in_thread(1) as servers:
        proc = subprocess.Popen(
            [*FETCH, "-i", "-", "--dest", str(out)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(f"{servers[0].base_url}/flags/br/br.gif\n")
            proc.stdin.flush()
            deadline = time.monotonic() + 30
            while not (out / "br.gif").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert (out / "br.gif").exists()
            assert proc.poll() is None  # still reading its pipe
        finally:
            proc.stdin.close()
            status = proc.wait(30)
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    assert status == 0, err


def test_a_bad_byte_in_stdin_is_one_bad_item(tmp_path: Path) -> None:
    """As with -i FILE: the line is an ERROR item, the next line still counts."""
    report = tmp_path / "r.jsonl"
    with flags_servers_in_thread(1) as servers:
        good = f"{servers[0].base_url}/flags/br/br.gif"
        run = subprocess.run(
            [*FETCH, "-i", "-", "--dest", str(tmp_path), "--report", str(report)],
            input=b"http://127.0.0.1:9/\xff\xfe\n" + good.encode() + b"\n",
            capture_output=True,
            timeout=60,
            env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"},
        )
    assert run.returncode == 1, run.stderr
    assert b"Traceback" not in run.stderr
    statuses = sorted(line["status"] for line in report_of(report))
    assert statuses == ["error", "ok"]


def test_the_pipe_reader_hands_lines_over_in_order_and_ends() -> None:
    """5,000 lines, more than the reader holds ahead, written in bursts."""
    r, w = os.pipe()

    def feed() -> None:
        with os.fdopen(w, "w", encoding="utf-8") as writer:
            for i in range(5000):
                writer.write(f"http://h/{i}\n")
                if i % 1000 == 0:
                    writer.flush()
                    time.sleep(0.01)

    async def scenario() -> list[Any]:
        with os.fdopen(r, encoding="utf-8") as stream:
            feeding = asyncio.create_task(asyncio.to_thread(feed))
            blocks = [block async for block in all_items([], [], stream)]
            await feeding
        return [item for block in blocks for item in block]

    assert asyncio.run(scenario()) == [f"http://h/{i}" for i in range(5000)]
