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
import logging
import os
import ssl
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TextIO

from awaitkit.core import ClusterSpec, UsageError, parse_cluster, reap_workers
from awaitkit.download._batch import (
    Batch,
    human_out,
    open_report,
    run_batch,
    usage,
)
from awaitkit.download._engine import download_many
from awaitkit.download._files import run_stamp
from awaitkit.download._input import (
    all_items,
    first_lines,
    items_of,
    report_items,
    until,
)
from awaitkit.download._job import Job
from awaitkit.download._options import DownloadOptions
from awaitkit.download._plan import options_from_args, processes_for, shares
from awaitkit.download._request import request_options, save_cookies
from awaitkit.download._result import DownloadResult, DownloadStatus
from awaitkit.download._spread import download_spread, fork_downloaders
from awaitkit.http import proxy_settings, tls_context

__all__ = ["run_fetch", "tls_from_args"]

_LOCAL_STORE = (
    100 * 1024 * 1024
)  # a local Ray's object store: results only pass through


def parse_checksum(text: str) -> str:
    """``sha256=HEX`` (or aria2c's ``sha-256=HEX``) -> the hex digest."""
    algorithm, _, digest = text.partition("=")
    if algorithm.lower() not in ("sha256", "sha-256"):
        raise UsageError(f"--checksum: use sha256=HEX, not {text!r}")
    try:
        return Job("http://x", sha256=digest.strip()).sha256 or ""
    except ValueError as exc:
        raise UsageError(f"--checksum: {exc}") from None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one is not there yet: not the same
        return False


def _stamp(dest: Path) -> int:
    try:
        dest.mkdir(parents=True, exist_ok=True)
        return run_stamp(dest)
    except OSError as exc:
        raise UsageError(f"cannot write in {dest}: {exc}") from None


def tls_from_args(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The context of ``--cacert``, ``--capath``, ``-k``, ``--cert``, ``--key``; None if none.

    Built here, before the loop starts and before the children are forked
    (they inherit it): the files are read once, and bad ones are a usage
    error before any download starts.
    """
    if args.key is not None and args.cert is None:
        raise UsageError("--key needs --cert (the certificate it is the key of)")
    given = (args.cacert, args.capath, args.cert)
    if all(path is None for path in given) and not args.insecure:
        return None  # HttpClient loads the system's CAs in a thread when needed
    if args.insecure:
        sys.stderr.write(
            "awaitkit fetch: warning: -k/--insecure: server certificates and host "
            "names are not checked\n"
        )
    return tls_context(
        cafile=args.cacert,
        capath=args.capath,
        verify=not args.insecure,
        certfile=args.cert,
        keyfile=args.key,
    )


def _fetch_line(result: DownloadResult, node: str | None = None) -> str:
    if result.status is not DownloadStatus.OK:
        detail = result.error
    elif node is None or result.fspath is None:
        detail = result.fspath
    else:
        detail = f"{node}:{result.fspath}"  # as scp names a file on a host
    return f"{result.status.name:9} {result.url} {detail or ''}".rstrip()


def _cluster_of(args: argparse.Namespace, options: DownloadOptions) -> ClusterSpec:
    """``--cluster``'s spec, refusing what cannot cross to other machines."""
    spec = parse_cluster(args.cluster)
    if args.cluster_actors is not None and not 1 <= args.cluster_actors <= 4096:
        raise UsageError("--cluster-actors must be 1 to 4096")
    if options.cookie_jar is not None:
        raise UsageError("-b/-c (a cookie jar) work in one process, not with --cluster")
    if options.ssl_context is not None:
        raise UsageError(
            "--cacert, --capath, -k and --cert are not carried to a cluster's "
            "nodes yet: drop them or --cluster"
        )
    if args.checksum is not None:
        raise UsageError("--checksum checks one URL here: drop --cluster")
    return spec


def run_fetch(args: argparse.Namespace) -> int:
    """``awaitkit fetch``: download URLs from the command line and/or a file."""
    if args.from_report is not None and args.input is not None:
        return usage(
            args, "awaitkit fetch: give -i FILE or --from-report FILE, not both"
        )
    source = args.input if args.from_report is None else args.from_report
    if not args.urls and source is None:
        return usage(args, "awaitkit fetch: give URLs or -i FILE (-i - reads stdin)")
    if args.max_req < 1:
        return usage(args, "awaitkit fetch: -j N must be >= 1")
    checked: Job | None = None
    if args.checksum is not None:
        if len(args.urls) != 1 or source is not None:
            return usage(args, "awaitkit fetch: --checksum checks one URL: give one")
        checked = Job(args.urls[0], sha256=parse_checksum(args.checksum))
    ssl_context = tls_from_args(args)
    # curl's rules; parsed here, so a bad proxy is a usage error before any start.
    proxies = proxy_settings(args.proxy, args.noproxy, os.environ) or None
    stream: TextIO | None = None
    if source == "-":
        # As a file given with -i: a bad byte is one bad item, not the end.
        sys.stdin.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[union-attr]
        stream = sys.stdin
    elif source is not None:
        try:
            stream = open(source, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc}") from None
        if args.report not in (None, "-") and _same_file(source, args.report):
            stream.close()
            return usage(
                args,
                f"awaitkit fetch: --report {args.report} would overwrite the input",
            )
    options = options_from_args(
        args,
        args.max_req,
        per_host=args.per_host,
        content_disposition=args.content_disposition,
        naming=args.naming,
        ssl_context=ssl_context,
        proxies=proxies,
        **request_options(args),
    )
    cluster = None if args.cluster is None else _cluster_of(args, options)
    processes = (
        1 if checked or cluster else processes_for(args.processes, args.urls, stream)
    )
    if processes > 1 and options.cookie_jar is not None:
        # Processes cannot share one jar: a cookie set in one would be
        # missing from the others' requests and from the written file.
        logging.getLogger(__name__).info(
            "cookies (-b/-c): downloading in one process, not %d", processes
        )
        processes = 1
    first = first_lines(stream)
    # What start-up built stays: the collector's full passes skip it, and a
    # forked child shares those pages instead of copying them as it counts.
    gc.freeze()
    dest = Path(args.dest)
    report = open_report(args.report)
    children = []
    ray = None
    try:
        if cluster is not None:
            from awaitkit.core import connect_cluster

            # Before the bar and the loop: a local Ray starts its processes here.
            ray = connect_cluster(cluster, object_store_memory=_LOCAL_STORE)
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
        node: list[str | None] = [None]  # the node of the result being recorded
        batch = Batch(
            total=None if stream is not None else len(args.urls),
            progress=show_bar,
            describe=(lambda r: _fetch_line(r, node[0])) if args.verbose else None,
            report=report,
            out=human_out(report),
        )
        read = items_of if args.from_report is None else report_items
        urls = all_items(args.urls, first, stream, read)
        cut: list[bool] = []
        if options.deadline is not None:
            urls = until(options.deadline, urls, cut)
        download: Coroutine[Any, Any, object]
        if checked is not None:
            download = download_many(
                [checked], dest, options=options, on_result=batch.record
            )
        elif ray is not None:
            from awaitkit.download._cluster import download_cluster

            def record(result: DownloadResult, where: str) -> None:
                node[0] = where
                batch.record(result)

            download = download_cluster(
                ray, urls, dest, options, record, actors=args.cluster_actors
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
        if ray is not None:
            ray.shutdown()  # a local Ray's processes end with the run
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
