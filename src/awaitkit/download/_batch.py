"""One CLI batch's bookkeeping: counts, progress, ``-v`` lines, the report, the summary.

:class:`Batch` is where every :class:`DownloadResult` of a run ends, in
whichever process it was downloaded: it counts it, moves the bar, prints
the ``-v`` line and writes the ``--report`` JSONL (each line the result's
:meth:`~DownloadResult.to_json`).  :func:`run_batch` runs the download and
prints the book's summary; Ctrl-C cancels the batch (complete files stay,
each interrupted body stays as its ``.part``) and gives exit status 130,
SIGTERM the same with 143.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import IO, TYPE_CHECKING, Any, TextIO

from awaitkit.core import Terminated, UsageError, run
from awaitkit.download._result import DownloadResult, DownloadStatus

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["Batch", "final_report", "human_out", "open_report", "run_batch", "usage"]

_REPORT_BATCH = 512


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

    async def run(self, download: Awaitable[object]) -> None:
        """Await ``download`` (which hands each result to :meth:`record`).

        Whatever ends it, the report lines already handed over reach the
        file, in order, before this returns.
        """
        try:
            await download
        finally:
            if self._writer is not None:
                import asyncio

                await asyncio.get_running_loop().run_in_executor(
                    None, self._writer.shutdown
                )
                self._writer = None
                for write in self._writes:
                    write.result()  # a failed write (disk full) is an error

    def record(self, result: DownloadResult) -> None:
        """Count ``result``, move the bar, print its line, queue its report line."""
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


def final_report(
    counter: Counter[DownloadStatus],
    elapsed: float,
    *,
    noun: str = "flag",
    file: TextIO | None = None,
) -> None:
    """The book's closing lines: downloaded, not found, errors, elapsed time."""
    file = file or sys.stdout
    file.write("-" * 20 + "\n")
    ok = counter[DownloadStatus.OK]
    plural = "s" if ok != 1 else ""
    file.write(f"{ok:3} {noun}{plural} downloaded.\n")
    if counter[DownloadStatus.SKIPPED]:
        file.write(f"{counter[DownloadStatus.SKIPPED]:3} already there.\n")
    if counter[DownloadStatus.NOT_FOUND]:
        file.write(f"{counter[DownloadStatus.NOT_FOUND]:3} not found.\n")
    if counter[DownloadStatus.ERROR]:
        plural = "s" if counter[DownloadStatus.ERROR] != 1 else ""
        file.write(f"{counter[DownloadStatus.ERROR]:3} error{plural}.\n")
    file.write(f"Elapsed time: {elapsed:.2f}s\n")


def usage(args: argparse.Namespace, message: str) -> int:
    """Print ``message`` and the command's usage line to stderr; return status 2."""
    sys.stderr.write(message + "\n")
    args.print_usage(sys.stderr)
    return 2


def open_report(path: str | None) -> IO[str] | None:
    """The ``--report`` file opened for writing, if one was asked for; ``-``: stdout.

    Standard output is handed over through a duplicate of its descriptor,
    so closing the report leaves ``sys.stdout`` open; the human summary
    then goes to stderr (:func:`human_out`).
    """
    if path is None:
        return None
    if path == "-":
        sys.stdout.flush()
        return _StdoutReport(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write report {path}: {exc}") from None


class _StdoutReport(io.TextIOWrapper):
    """The report written to standard output (``--report -``)."""

    def __init__(self, fd: int, mode: str, encoding: str) -> None:
        super().__init__(io.FileIO(fd, mode), encoding=encoding)


def human_out(report: IO[str] | None) -> TextIO:
    """Where the summary and ``-v`` lines go: stdout, unless the report has it."""
    return sys.stderr if isinstance(report, _StdoutReport) else sys.stdout


def run_batch(
    main: Coroutine[Any, Any, None], batch: Batch, report: IO[str] | None, noun: str
) -> int | None:
    """Run ``main``, then print the summary; close ``report`` either way.

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
        elapsed = batch.close()
        final_report(batch.counter, elapsed, noun=noun, file=human_out(report))
        if stopped_by is not None:
            sys.stderr.write(
                f"{stopped_by} after {batch.counter.total()} items; "
                "partial downloads kept as .part files for resume.\n"
            )
    finally:
        if report is not None:
            report.close()
    return status
