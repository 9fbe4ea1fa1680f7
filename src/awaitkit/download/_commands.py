"""What ``awaitkit fetch`` does once its arguments are parsed.

It reads top to bottom: the plan (:mod:`._plan`: options, processes,
shares), the children forked before any loop or thread exists, then one
batch (:mod:`._batch` counts, reports and summarises) run by
:func:`download_spread`, which downloads in this process and in the
children.  Ctrl-C cancels the batch: workers stop, complete files stay,
each interrupted body stays as its ``.part`` (resumed by the next run
unless ``--no-resume``), the summary is printed and the exit status is 130.
SIGTERM does the same with exit status 143.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import itertools
import logging
import sys
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TextIO

from awaitkit.core import UsageError, reap_workers
from awaitkit.download._batch import (
    Batch,
    human_out,
    open_report,
    run_batch,
    usage,
)
from awaitkit.download._engine import download_many
from awaitkit.download._files import run_stamp
from awaitkit.download._job import Job
from awaitkit.download._plan import file_size, options_from_args, processes_for, shares
from awaitkit.download._request import request_options, save_cookies
from awaitkit.download._result import DownloadResult, DownloadStatus
from awaitkit.download._spread import download_spread, fork_downloaders

__all__ = ["run_fetch"]

_READ_LINES = 1024  # input lines read at a time


async def _read_urls(stream: TextIO) -> AsyncIterator[list[str]]:
    """Blocks of URLs from the lines of ``stream``, read in a thread (stdin may block)."""
    import asyncio

    loop = asyncio.get_running_loop()
    while True:
        lines = await loop.run_in_executor(
            None, lambda: list(itertools.islice(stream, _READ_LINES))
        )
        if not lines:
            return
        if urls := _urls_of(lines):
            yield urls


async def _until(
    deadline: float, blocks: AsyncIterator[list[str]], cut: list[bool]
) -> AsyncIterator[list[str]]:
    """``blocks`` until ``deadline`` (``time.monotonic()``); ``cut`` gets ``True`` if it came first.

    A read still waiting then (a quiet pipe) is given up: the run ends on time.
    """
    import asyncio
    import time

    loop = asyncio.get_running_loop()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                cut.append(True)
                return
            try:
                async with asyncio.timeout_at(loop.time() + left):
                    block = await anext(blocks, None)
            except TimeoutError:
                cut.append(True)
                return
            if block is None:
                return
            yield block
    finally:
        await blocks.aclose()  # type: ignore[attr-defined]


def _urls_of(lines: list[str]) -> list[str]:
    return [url for line in lines if (url := line.strip()) and url[0] != "#"]


def _first_lines(stream: TextIO | None) -> list[str]:
    """The first block of a regular input file, read before the event loop starts.

    Once the loop runs, reads go to a thread (a pipe may block); a thread's
    start and the hand-offs cost milliseconds that every downloading
    process would wait for.  A file on disk does not block.
    """
    if stream is None or file_size(stream) is None:
        return []
    return list(itertools.islice(stream, _READ_LINES))


async def _all_urls(
    urls: list[str], first: list[str], stream: TextIO | None
) -> AsyncIterator[list[str]]:
    if urls:
        yield urls
    if block := _urls_of(first):
        yield block
    if stream is not None:
        async for block in _read_urls(stream):
            yield block


def parse_checksum(text: str) -> str:
    """``sha256=HEX`` (or aria2c's ``sha-256=HEX``) -> the hex digest."""
    algorithm, _, digest = text.partition("=")
    if algorithm.lower() not in ("sha256", "sha-256"):
        raise UsageError(f"--checksum: use sha256=HEX, not {text!r}")
    try:
        return Job("http://x", sha256=digest.strip()).sha256 or ""
    except ValueError as exc:
        raise UsageError(f"--checksum: {exc}") from None


def _stamp(dest: Path) -> int:
    try:
        dest.mkdir(parents=True, exist_ok=True)
        return run_stamp(dest)
    except OSError as exc:
        raise UsageError(f"cannot write in {dest}: {exc}") from None


def _fetch_line(result: DownloadResult) -> str:
    detail = result.fspath if result.status is DownloadStatus.OK else result.error
    return f"{result.status.name:9} {result.url} {detail or ''}".rstrip()


def run_fetch(args: argparse.Namespace) -> int:
    """``awaitkit fetch``: download URLs from the command line and/or a file."""
    if not args.urls and args.input is None:
        return usage(args, "awaitkit fetch: give URLs or -i FILE (-i - reads stdin)")
    if args.max_req < 1:
        return usage(args, "awaitkit fetch: -j N must be >= 1")
    checked: Job | None = None
    if args.checksum is not None:
        if len(args.urls) != 1 or args.input is not None:
            return usage(args, "awaitkit fetch: --checksum checks one URL: give one")
        checked = Job(args.urls[0], sha256=parse_checksum(args.checksum))
    stream: TextIO | None = None
    if args.input == "-":
        stream = sys.stdin
    elif args.input is not None:
        try:
            stream = open(args.input, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"cannot read {args.input}: {exc}") from None
    options = options_from_args(
        args,
        args.max_req,
        per_host=args.per_host,
        content_disposition=args.content_disposition,
        naming=args.naming,
        **request_options(args),
    )
    processes = 1 if checked else processes_for(args.processes, args.urls, stream)
    if processes > 1 and options.cookie_jar is not None:
        # Processes cannot share one jar: a cookie set in one would be
        # missing from the others' requests and from the written file.
        logging.getLogger(__name__).info(
            "cookies (-b/-c): downloading in one process, not %d", processes
        )
        processes = 1
    first = _first_lines(stream)
    # What start-up built stays: the collector's full passes skip it, and a
    # forked child shares those pages instead of copying them as it counts.
    gc.freeze()
    dest = Path(args.dest)
    report = open_report(args.report)
    children = []
    try:
        if processes > 1:
            if options.overwrite or options.skip_existing:
                # One start for every process: what one writes, the others
                # must see as this run's (never replaced, never skipped).
                options = dataclasses.replace(options, started_ns=_stamp(dest))
            mine, *others = shares(options, processes)
            # Forked before the bar, the report thread or the loop exist.
            children = fork_downloaders(dest, others)
            if children:
                options = mine
        show_bar = not (args.verbose or args.quiet) and sys.stderr.isatty()
        batch = Batch(
            total=None if stream is not None else len(args.urls),
            progress=show_bar,
            describe=_fetch_line if args.verbose else None,
            report=report,
            out=human_out(report),
        )
        urls = _all_urls(args.urls, first, stream)
        cut: list[bool] = []
        if options.deadline is not None:
            urls = _until(options.deadline, urls, cut)
        download: Coroutine[Any, Any, object]
        if checked is not None:
            download = download_many(
                [checked], dest, options=options, on_result=batch.record
            )
        else:
            download = download_spread(urls, dest, options, children, batch.record)
        job = batch.run(download)
        stopped = run_batch(job, batch, report, "file")
        if args.cookie_jar is not None and options.cookie_jar is not None:
            save_cookies(options.cookie_jar, args.cookie_jar)  # Ctrl-C too, as curl
        if stopped is not None:
            return stopped
    finally:
        reap_workers([worker for worker, _ in children])
        if stream is not None and stream is not sys.stdin:
            stream.close()
    failed = (
        batch.counter[DownloadStatus.ERROR] + batch.counter[DownloadStatus.NOT_FOUND]
    )
    if cut:
        sys.stderr.write(
            f"--deadline reached after {args.deadline:g} s: "
            "the rest of the input was not read\n"
        )
    return 1 if failed or cut else 0
