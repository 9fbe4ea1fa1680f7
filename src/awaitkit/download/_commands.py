"""What ``awaitkit flags`` and ``awaitkit fetch`` do once their arguments are parsed.

Both drive one :func:`download_many` batch through :class:`Batch`, which
counts outcomes, moves the progress bar, prints ``-v`` lines and writes the
``--report`` JSONL; ``fetch`` may spread it over forked processes first
(``--processes``, see :mod:`._spread`).  Ctrl-C cancels the batch: workers
stop, complete files stay, each interrupted body stays as its ``.part``
(resumed by the next run unless ``--no-resume``), the summary is printed and
the exit status is 130.  SIGTERM does the same with exit status 143.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import re
import stat
import sys
import time
from collections import Counter
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Sequence,
)
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

from awaitkit.core import Terminated, UsageError, run
from awaitkit.download._engine import Batched, Source, download_many
from awaitkit.download._flags import (
    MAX_CONCUR_REQ,
    POP20_CC,
    SERVERS,
    CCUsageError,
    expand_cc_args,
    final_report,
    flag_jobs,
    initial_report,
    resolve_server,
)
from awaitkit.download._options import DownloadOptions
from awaitkit.download._result import DownloadResult, DownloadStatus

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from awaitkit.download._spread import Child

__all__ = ["Batch", "parse_size", "parse_timeout", "run_fetch", "run_flags"]

# An input file this large spreads the batch over processes (--processes auto).
_SPREAD_AT = 128 * 1024
_SPREAD_MAX = 4
_READ_LINES = 1024  # input lines read at a time
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)
_REPORT_BATCH = 512


def parse_size(text: str) -> int:
    """``"512"``, ``"64K"``, ``"10M"``, ``"1.5GiB"`` -> bytes (binary multiples)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"bad size {text!r}: use e.g. 500K, 10M, 2G")
    power = " kmgt".index(match[2].lower() or " ")
    return int(float(match[1]) * 1024**power)


def parse_timeout(text: str) -> tuple[float, float]:
    """``"10"`` -> (10, 10); ``"5,30"`` -> connect 5 s, read 30 s."""
    first, _, second = text.partition(",")
    try:
        connect = float(first)
        read = float(second) if second else connect
    except ValueError:
        raise UsageError(f"bad timeout {text!r}: use SECONDS or CONNECT,READ") from None
    return connect, read


def _options(
    args: argparse.Namespace, concurrency: int, **extra: Any
) -> DownloadOptions:
    connect, read = parse_timeout(args.timeout)
    return DownloadOptions(
        concurrency=concurrency,
        retries=args.retries,
        connect_timeout=connect,
        read_timeout=read,
        max_size=None if args.max_size is None else parse_size(args.max_size),
        max_redirects=args.max_redirects,
        skip_existing=args.skip_existing,
        resume=args.resume,
        **extra,
    )


class Batch:
    """Counts, progress, ``-v`` lines and the JSONL report of one CLI run."""

    def __init__(
        self,
        *,
        total: int | None,
        progress: bool,
        describe: Callable[[DownloadResult], str | None] | None = None,
        report: IO[str] | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.counter: Counter[DownloadStatus] = Counter()
        self.start = time.perf_counter()
        self._describe = describe
        self._report = report
        self._lines: list[str] = []
        self._out = out or sys.stdout
        self._bar: Any = None
        self._writer: ThreadPoolExecutor | None = None
        self._writes: list[Future[None]] = []
        if progress:
            import tqdm  # type: ignore[import-untyped]  # tqdm ships no types

            self._bar = tqdm.tqdm(total=total, file=sys.stderr, unit="file")

    def __repr__(self) -> str:
        return f"<Batch done={self.counter.total()}>"

    async def run(
        self,
        items: Source,
        dest: Path,
        options: DownloadOptions,
        children: Sequence[Child] = (),
    ) -> None:
        """Download ``items``; every result is counted as it arrives.

        With ``children`` (see :mod:`._spread`), ``items`` must be blocks of
        URLs, shared between this process and them.
        """
        try:
            if children:
                from awaitkit.download._spread import download_spread

                assert isinstance(items, Batched)  # of URLs: see run_fetch
                blocks = cast("AsyncIterator[Sequence[str]]", aiter(items.batches))
                await download_spread(blocks, dest, options, children, self._record)
            else:
                await download_many(
                    items, dest, options=options, on_result=self._record
                )
        finally:
            if self._writer is not None:
                # Report lines already handed over reach the file, in order.
                import asyncio

                await asyncio.get_running_loop().run_in_executor(
                    None, self._writer.shutdown
                )
                self._writer = None
                for write in self._writes:
                    write.result()  # a failed write (disk full) is an error

    def _record(self, result: DownloadResult) -> None:
        self.counter[result.status] += 1
        if self._bar is not None:
            self._bar.update(1)
        if self._describe is not None:
            line = self._describe(result)
            if line:
                self._out.write(line + "\n")
        if self._report is not None:
            self._lines.append(json.dumps(result.to_json()))
            if len(self._lines) >= _REPORT_BATCH:
                lines, self._lines = self._lines, []
                if self._writer is None:
                    from concurrent.futures import ThreadPoolExecutor

                    # One thread: batches reach the file in order.
                    self._writer = ThreadPoolExecutor(1, "awaitkit-report")
                # Keep only writes still running or failed, to check at the end.
                self._writes = [
                    w for w in self._writes if not w.done() or w.exception()
                ]
                self._writes.append(self._writer.submit(self._write, lines))

    def _write(self, lines: list[str]) -> None:
        if self._report is not None and lines:
            self._report.write("\n".join(lines) + "\n")

    def close(self) -> float:
        """Stop the bar, write what the report still holds; return elapsed seconds."""
        if self._bar is not None:
            self._bar.close()
        self._write(self._lines)
        self._lines = []
        if self._report is not None:
            self._report.flush()
        return time.perf_counter() - self.start


def _usage(args: argparse.Namespace, message: str) -> int:
    sys.stderr.write(message + "\n")
    args.print_usage(sys.stderr)
    return 2


def _open_report(path: str | None) -> IO[str] | None:
    if path is None:
        return None
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write report {path}: {exc}") from None


def _finish(batch: Batch, noun: str, stopped_by: str | None) -> None:
    elapsed = batch.close()
    final_report(batch.counter, elapsed, noun=noun)
    if stopped_by is not None:
        sys.stderr.write(
            f"{stopped_by} after {batch.counter.total()} items; "
            "partial downloads kept as .part files for resume.\n"
        )


def _run_batch(
    main: Coroutine[Any, Any, None], batch: Batch, report: IO[str] | None, noun: str
) -> int | None:
    """Run ``main``, then print the summary.

    Returns the exit status when Ctrl-C (130) or SIGTERM (143) cut the batch
    short, else ``None``.
    """
    status: int | None = None
    stopped_by = None
    try:
        try:
            run(main, stop_on_sigterm=True)
        except Terminated:
            status, stopped_by = 143, "Terminated"
        except KeyboardInterrupt:
            status, stopped_by = 130, "Interrupted"
        _finish(batch, noun, stopped_by)
    finally:
        if report is not None:
            report.close()
    return status


def _flag_line(result: DownloadResult) -> str:
    cc = Path(result.url).stem.upper()
    if result.status is DownloadStatus.OK:
        return f"{cc} OK"
    if result.status is DownloadStatus.SKIPPED:
        return f"{cc} already there"
    if result.status is DownloadStatus.NOT_FOUND:
        return f"{cc} not found: {result.url}"
    return f"*** Error for {cc}: {result.error}"


def run_flags(args: argparse.Namespace) -> int:
    """``awaitkit flags``: the book's flags2 (and, with --metadata, flags3) client."""
    if args.max_req < 1:
        return _usage(args, "*** Usage error: --max_req CONCURRENT must be >= 1")
    if args.limit < 1:
        return _usage(args, "*** Usage error: --limit N must be >= 1")
    server = None
    if args.server is not None:
        server = resolve_server(args.server)
        if server is None:
            labels = ", ".join(sorted(SERVERS))
            return _usage(
                args,
                f"*** Usage error: --server LABEL must be one of {labels} or a URL",
            )
    data_set: list[str] = []
    if args.all:
        from awaitkit.flags import country_codes

        data_set = country_codes()
    try:
        cc_list = expand_cc_args(args.every, args.all, args.cc, args.limit, data_set)
    except CCUsageError as exc:
        return _usage(args, str(exc))
    if not cc_list:
        cc_list = sorted(POP20_CC)
    actual_req = min(args.max_req, MAX_CONCUR_REQ, len(cc_list))
    options = _options(args, actual_req)
    dest = Path(args.dest)
    report = _open_report(args.report)
    show_bar = not (args.verbose or args.quiet) and sys.stderr.isatty()
    batch = Batch(
        total=len(cc_list),
        progress=show_bar,
        describe=_flag_line if args.verbose else None,
        report=report,
    )

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            if server is None:
                from awaitkit.flags import serving_flags

                label, base = (
                    "EMBEDDED",
                    await stack.enter_async_context(serving_flags()),
                )
                base += "/flags"
            else:
                label, base = server
            if not args.quiet:
                initial_report(cc_list, actual_req, label, base)
            batch.start = time.perf_counter()
            await batch.run(
                flag_jobs(base, cc_list, metadata=args.metadata), dest, options
            )

    stopped = _run_batch(main(), batch, report, "flag")
    if stopped is not None:
        return stopped
    return 1 if batch.counter[DownloadStatus.ERROR] else 0


async def _read_urls(stream: TextIO) -> AsyncIterator[list[str]]:
    """Blocks of URLs from the lines of ``stream``, read in a thread (stdin may block)."""
    import asyncio
    import itertools

    loop = asyncio.get_running_loop()
    while True:
        lines = await loop.run_in_executor(
            None, lambda: list(itertools.islice(stream, _READ_LINES))
        )
        if not lines:
            return
        if urls := _urls_of(lines):
            yield urls


def _urls_of(lines: list[str]) -> list[str]:
    return [url for line in lines if (url := line.strip()) and url[0] != "#"]


def _file_size(stream: TextIO | None) -> int | None:
    """The size of ``stream`` if it is a regular file, else None (a pipe, a tty)."""
    import os

    if stream is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        info = os.fstat(stream.fileno())
        if stat.S_ISREG(info.st_mode):
            return info.st_size
    return None


def _first_lines(stream: TextIO | None) -> list[str]:
    """The first block of a regular input file, read before the event loop starts.

    Once the loop runs, reads go to a thread (a pipe may block); a thread's
    start and the hand-offs cost milliseconds that every downloading
    process would wait for.  A file on disk does not block.
    """
    import itertools

    if stream is None or _file_size(stream) is None:
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


def _processes(text: str, urls: list[str], stream: TextIO | None) -> int:
    """How many processes ``--processes`` asks for (1 where forking is unsafe)."""
    import os
    import threading

    if text == "auto":
        size = _file_size(stream)
        big = len(urls) >= 2048 or (size is not None and size >= _SPREAD_AT)
        count = min(len(os.sched_getaffinity(0)), _SPREAD_MAX) if big else 1
    else:
        try:
            count = int(text)
        except ValueError:
            count = 0
        if not 1 <= count <= 64:
            raise UsageError(f"--processes must be auto or 1 to 64, not {text!r}")
    # fork() copies only the calling thread: with others running (an
    # embedding program), a lock one of them holds could stay locked forever.
    if threading.active_count() > 1 or not hasattr(os, "fork"):
        return 1
    return count


def _fetch_line(result: DownloadResult) -> str:
    detail = result.path if result.status is DownloadStatus.OK else result.error
    return f"{result.status.name:9} {result.url} {detail or ''}".rstrip()


def run_fetch(args: argparse.Namespace) -> int:
    """``awaitkit fetch``: download URLs from the command line and/or a file."""
    if not args.urls and args.input is None:
        return _usage(args, "awaitkit fetch: give URLs or -i FILE (-i - reads stdin)")
    if args.max_req < 1:
        return _usage(args, "awaitkit fetch: -m N must be >= 1")
    stream: TextIO | None = None
    if args.input == "-":
        stream = sys.stdin
    elif args.input is not None:
        try:
            stream = open(args.input, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"cannot read {args.input}: {exc}") from None
    options = _options(
        args,
        args.max_req,
        per_host=args.per_host,
        content_disposition=args.content_disposition,
    )
    processes = _processes(args.processes, args.urls, stream)
    first = _first_lines(stream)
    # What start-up built stays: the collector's full passes skip it, and a
    # forked child shares those pages instead of copying them as it counts.
    gc.freeze()
    dest = Path(args.dest)
    report = _open_report(args.report)
    children: list[Child] = []
    try:
        if processes > 1:
            from awaitkit.download._spread import fork_children, shares

            mine, *others = shares(options, processes)
            try:
                # Forked before the bar, the report thread or the loop exist.
                children = fork_children(dest, others)
                options = mine
            except OSError as exc:
                sys.stderr.write(f"awaitkit fetch: one process only: {exc}\n")
        show_bar = not (args.verbose or args.quiet) and sys.stderr.isatty()
        batch = Batch(
            total=None if stream is not None else len(args.urls),
            progress=show_bar,
            describe=_fetch_line if args.verbose else None,
            report=report,
        )
        urls = _all_urls(args.urls, first, stream)
        job = batch.run(Batched(urls), dest, options, children)
        stopped = _run_batch(job, batch, report, "file")
        if stopped is not None:
            return stopped
    finally:
        if children:
            from awaitkit.download._spread import reap_children

            reap_children(children)
        if stream is not None and stream is not sys.stdin:
            stream.close()
    failed = (
        batch.counter[DownloadStatus.ERROR] + batch.counter[DownloadStatus.NOT_FOUND]
    )
    return 1 if failed else 0
