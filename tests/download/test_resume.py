"""Atomic writes, resume with Range, skip-existing, and Ctrl-C on a real process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from awaitkit.download import (
    DownloadOptions,
    DownloadResult,
    DownloadStatus,
    iter_downloads,
)
from awaitkit.download._fetch import Fetcher
from awaitkit.download._filethread import FileThread
from awaitkit.download._job import Job
from awaitkit.http import HttpClient
from tests.download._servers import BODY, RangeServer

pytestmark = pytest.mark.anyio

FAST = DownloadOptions(backoff_base=0.001, retries=3)


async def fetch_one(
    url: str, dest: Path, options: DownloadOptions = FAST
) -> DownloadResult:
    results = [r async for r in iter_downloads([url], dest, options=options)]
    assert len(results) == 1
    return results[0]


@contextlib.asynccontextmanager
async def slow_fetch(
    dest: Path,
) -> AsyncIterator[tuple[Callable[[], asyncio.Future[DownloadResult]], FileThread]]:
    """A Fetcher on ``/slow`` (half a body, then a stall) and its file thread.

    Yields a function that starts the fetch as a task, and the file thread,
    so a test can queue work ahead of the fetch's own.
    """
    async with (
        RangeServer() as server,
        HttpClient(limit=2) as client,
        FileThread() as files,
    ):
        fetcher = Fetcher(client, dest, FAST, files=files)
        job = Job(f"{server.base_url}/slow")
        yield lambda: asyncio.ensure_future(fetcher.fetch(job)), files


async def test_cancel_during_a_streamed_write_never_writes_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while a streamed chunk is being written: written once, then kept.

    The write still completes after the cancel (file work is never cut
    short); the .part must hold a prefix of the body, never a chunk twice,
    or the next Range resume would build a corrupt file.  The real write is
    held at a gate so the cancel lands while it is in progress.
    """
    from awaitkit.download import _files

    entered, gate = threading.Event(), threading.Event()
    real_write_all = _files.PartFile.write_all

    def gated_write_all(self: _files.PartFile, chunks: list[bytes]) -> None:
        entered.set()
        gate.wait(30)
        real_write_all(self, chunks)

    monkeypatch.setattr(_files.PartFile, "write_all", gated_write_all)
    loop = asyncio.get_running_loop()
    async with slow_fetch(tmp_path) as (start, _):
        task = start()
        assert await loop.run_in_executor(None, entered.wait, 30)
        task.cancel()
        await asyncio.sleep(0.05)  # the cancelled fetch queues its abort
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
    kept = (tmp_path / ".slow.part").read_bytes()
    assert 0 < len(kept) <= len(BODY) // 2
    assert kept == BODY[: len(kept)]
    assert not (tmp_path / "slow").exists()


async def test_cancel_while_the_part_opens_leaks_nothing(tmp_path: Path) -> None:
    """Cancelled while the .part is being opened: no open descriptor, no empty .part."""
    gate = threading.Event()
    fds_before = len(os.listdir("/proc/self/fd"))
    async with slow_fetch(tmp_path) as (start, files):
        blocker = files.run(gate.wait, 30)  # the open queues behind this
        task = start()
        async with asyncio.timeout(30):
            while files.pending < 2:  # noqa: ASYNC110  # nothing to await on
                await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()
        assert await blocker is True
        await files.run(lambda: None)  # what the cancel queued has run
    assert not (tmp_path / ".slow.part").exists()
    assert len(os.listdir("/proc/self/fd")) <= fds_before


async def test_truncated_stream_is_retried_whole(tmp_path: Path) -> None:
    """A body cut in half is retried (from the .part when bytes reached it) until whole.

    Whether the retry resumes with Range or starts over depends on what
    reached the .part before the cut was seen; either way the final file is
    exact and no .part is left.
    """
    async with RangeServer() as server:
        server.truncate_next = 1
        result = await fetch_one(f"{server.base_url}/file", tmp_path)
    assert result.status is DownloadStatus.OK
    assert result.attempts == 2
    assert server.ranges[0] is None
    assert server.ranges[1] is None or server.ranges[1].startswith("bytes=")
    assert server.ranges[1] != "bytes=0-"
    assert (tmp_path / "file").read_bytes() == BODY
    assert not (tmp_path / ".file.part").exists()


async def test_leftover_part_is_resumed(tmp_path: Path) -> None:
    """A .part from an earlier run is continued where it stopped."""
    (tmp_path / ".file.part").write_bytes(BODY[:100_000])
    async with RangeServer() as server:
        result = await fetch_one(f"{server.base_url}/file", tmp_path)
    assert server.ranges == ["bytes=100000-"]
    assert result.status is DownloadStatus.OK
    assert result.http_status == 206
    assert (tmp_path / "file").read_bytes() == BODY


async def test_server_ignoring_range_restarts_cleanly(tmp_path: Path) -> None:
    """A 200 to a Range request replaces the .part rather than appending to it."""
    (tmp_path / ".norange.part").write_bytes(b"garbage" * 1000)
    async with RangeServer() as server:
        result = await fetch_one(f"{server.base_url}/norange", tmp_path)
    assert server.ranges[0] == "bytes=7000-"
    assert result.status is DownloadStatus.OK
    assert result.http_status == 200
    assert (tmp_path / "norange").read_bytes() == BODY


async def test_416_drops_the_part_and_starts_over(tmp_path: Path) -> None:
    """Range Not Satisfiable: the stale .part goes and the next attempt is whole."""
    (tmp_path / ".416.part").write_bytes(b"x" * 10)
    async with RangeServer() as server:
        result = await fetch_one(f"{server.base_url}/416", tmp_path)
    assert server.ranges == ["bytes=10-", None]
    assert result.status is DownloadStatus.OK
    assert result.attempts == 2
    assert (tmp_path / "416").read_bytes() == BODY


async def test_mismatched_content_range_is_refused(tmp_path: Path) -> None:
    """A 206 from the wrong offset would corrupt the file: ERROR, nothing final."""
    (tmp_path / ".badrange.part").write_bytes(BODY[:5000])
    async with RangeServer() as server:
        result = await fetch_one(f"{server.base_url}/badrange", tmp_path)
    assert result.status is DownloadStatus.ERROR
    assert not (tmp_path / "badrange").exists()


async def test_no_resume_restarts_and_cleans_up(tmp_path: Path) -> None:
    """With resume off, retries start from byte 0 and failures leave no .part."""
    opts = DownloadOptions(resume=False, retries=1, backoff_base=0.001)
    async with RangeServer() as server:
        server.truncate_next = 1
        ok = await fetch_one(f"{server.base_url}/file", tmp_path, opts)
        server.truncate_next = 2
        failed = await fetch_one(f"{server.base_url}/norange", tmp_path, opts)
    assert server.ranges == [None] * 4
    assert ok.status is DownloadStatus.OK
    assert failed.status is DownloadStatus.ERROR
    assert names(tmp_path) == ["file"]


async def test_skip_existing_makes_no_request(tmp_path: Path) -> None:
    """--skip-existing: the final file is there, so nothing is asked for."""
    (tmp_path / "file").write_bytes(b"mine")
    opts = DownloadOptions(skip_existing=True)
    async with RangeServer() as server:
        result = await fetch_one(f"{server.base_url}/file", tmp_path, opts)
    assert result.status is DownloadStatus.SKIPPED
    assert result.attempts == 0
    assert server.ranges == []
    assert (tmp_path / "file").read_bytes() == b"mine"


def names(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def part_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


async def run_cli(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "awaitkit",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGINT, 130, "Interrupted"), (signal.SIGTERM, 143, "Terminated")],
    ids=["SIGINT", "SIGTERM"],
)
async def test_a_stop_signal_keeps_part_never_final_then_resumes(
    tmp_path: Path, signum: signal.Signals, code: int, word: str
) -> None:
    """Ctrl-C (or SIGTERM) on a real process: exit 130 (143), summary, only a
    .part; the rerun resumes."""
    dest = tmp_path / "out"
    async with RangeServer() as server:
        url = f"{server.base_url}/slow"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "awaitkit",
            "fetch",
            "-q",
            "--dest",
            str(dest),
            url,
            f"{server.base_url}/file",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        part = dest / ".slow.part"
        async with asyncio.timeout(60):
            await server.stalled.wait()  # half the body is on its way
            # The file system offers no event to await: poll, under the deadline.
            while not part_size(part):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        proc.send_signal(signum)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == code, err.decode()
        assert "files downloaded." in out.decode() or "file downloaded." in out.decode()
        assert f"{word} after" in err.decode()
        assert "Traceback" not in err.decode()
        assert not (dest / "slow").exists()
        kept = part_size(part)
        assert 0 < kept < len(BODY)

        server.stall = False
        code, _out2, err2 = await run_cli("fetch", "-q", "--dest", str(dest), url)
        assert code == 0, err2
        assert server.ranges[-1] == f"bytes={kept}-"
    assert (dest / "slow").read_bytes() == BODY
    assert not part.exists()


async def test_fetch_cli_reads_stdin_and_writes_report(tmp_path: Path) -> None:
    """fetch -i -: URLs from stdin; --report has one JSON line per URL; exit 1 on 404."""
    report = tmp_path / "report.jsonl"
    async with RangeServer() as server:
        urls = f"{server.base_url}/file\n# a comment\n\n{server.base_url}/norange\nftp://x/y\n"
        code, out, err = await run_cli(
            "fetch",
            "-i",
            "-",
            "-q",
            "--dest",
            str(tmp_path / "d"),
            "--report",
            str(report),
            stdin=urls.encode(),
        )
    assert code == 1, err
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(line["status"] for line in lines) == ["error", "ok", "ok"]
    ok = [line for line in lines if line["status"] == "ok"]
    assert all(line["bytes"] == len(BODY) and line["attempts"] == 1 for line in ok)
    assert all(line["seconds"] >= 0 for line in lines)
    bad = next(line for line in lines if line["status"] == "error")
    assert bad["url"] == "ftp://x/y"
    assert "http" in bad["error"]
    assert "  2 files downloaded." in out
    assert "  1 error." in out
