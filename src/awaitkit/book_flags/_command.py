"""What ``awaitkit flags`` does once its arguments are parsed.

The book's flags2 (and, with ``--metadata``, flags3) client: it composes
the downloader (:mod:`awaitkit.download`) with the flags server
(:mod:`awaitkit.flags`), which it starts embedded on a loopback port when
no ``-s`` is given.  Neither of those packages knows the other.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from awaitkit.book_flags._vocab import (
    MAX_CONCUR_REQ,
    POP20_CC,
    SERVERS,
    CCUsageError,
    expand_cc_args,
    flag_jobs,
    initial_report,
    resolve_server,
)
from awaitkit.download import DownloadResult, DownloadStatus, download_many
from awaitkit.download._batch import (
    Batch,
    human_out,
    open_report,
    run_batch,
    usage,
)
from awaitkit.download._plan import options_from_args

__all__ = ["run_flags"]


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
        return usage(args, "*** Usage error: --max_req CONCURRENT must be >= 1")
    if args.limit < 1:
        return usage(args, "*** Usage error: --limit N must be >= 1")
    server = None
    if args.server is not None:
        server = resolve_server(args.server)
        if server is None:
            labels = ", ".join(sorted(SERVERS))
            return usage(
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
        return usage(args, str(exc))
    if not cc_list:
        cc_list = sorted(POP20_CC)
    actual_req = min(args.max_req, MAX_CONCUR_REQ, len(cc_list))
    options = options_from_args(args, actual_req)
    dest = Path(args.dest)
    report = open_report(args.report)
    show_bar = not (args.verbose or args.quiet) and sys.stderr.isatty()
    batch = Batch(
        total=len(cc_list),
        progress=show_bar,
        describe=_flag_line if args.verbose else None,
        report=report,
        out=human_out(report),
    )

    if server is None:
        # Imported before the loop starts: an import inside it holds the loop.
        from awaitkit.flags import serving_flags

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            label: str
            base: str
            if server is None:
                label, base = (
                    "EMBEDDED",
                    await stack.enter_async_context(serving_flags()),
                )
                base += "/flags"
            else:
                label, base = server
            if not args.quiet:
                initial_report(cc_list, actual_req, label, base, human_out(report))
            batch.start = time.perf_counter()
            jobs = flag_jobs(base, cc_list, metadata=args.metadata)
            await batch.run(
                download_many(jobs, dest, options=options, on_result=batch.record)
            )

    stopped = run_batch(main(), batch, report, "flag")
    if stopped is not None:
        return stopped
    return 1 if batch.counter[DownloadStatus.ERROR] else 0
