"""What a download command's arguments amount to: options, processes, shares.

Pure but for a look at the input file's size and the CPUs this process may
use; nothing here forks, reads URLs or opens a connection.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import re
import stat
import time
from typing import Any, TextIO

from awaitkit.core import UsageError
from awaitkit.download._options import DownloadOptions

__all__ = [
    "SPREAD_AT",
    "SPREAD_MAX",
    "file_size",
    "options_from_args",
    "parse_size",
    "parse_timeout",
    "processes_for",
    "shares",
]

SPREAD_AT = 128 * 1024
"""An input file this large spreads the batch over processes (``--processes auto``)."""
SPREAD_MAX = 4
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)


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


def options_from_args(
    args: argparse.Namespace, concurrency: int, **extra: Any
) -> DownloadOptions:
    """The :class:`DownloadOptions` of the arguments every download command shares."""
    connect, read = parse_timeout(args.timeout)
    deadline = None
    if args.deadline is not None:
        if not (math.isfinite(args.deadline) and args.deadline > 0):
            raise UsageError("--deadline must be > 0 seconds")
        deadline = time.monotonic() + args.deadline
    rate = None if args.limit_rate is None else parse_size(args.limit_rate)
    if rate == 0:
        raise UsageError("--limit-rate must be > 0")
    return DownloadOptions(
        concurrency=concurrency,
        retries=args.retries,
        connect_timeout=connect,
        read_timeout=read,
        max_size=None if args.max_size is None else parse_size(args.max_size),
        max_redirects=args.max_redirects,
        skip_existing=args.skip_existing,
        overwrite=args.overwrite,
        max_time=args.max_time,
        deadline=deadline,
        rate_limit=rate,
        hash_files=getattr(args, "report", None) is not None,
        resume=args.resume,
        compressed=getattr(args, "compressed", True),
        **extra,
    )


def file_size(stream: TextIO | None) -> int | None:
    """The size of ``stream`` if it is a regular file, else None (a pipe, a tty)."""
    if stream is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        info = os.fstat(stream.fileno())
        if stat.S_ISREG(info.st_mode):
            return info.st_size
    return None


def processes_for(text: str, urls: list[str], stream: TextIO | None) -> int:
    """How many processes ``--processes`` asks for.

    ``auto``: one per CPU (at most :data:`SPREAD_MAX`) for 2048 URLs on the
    command line or an input file of :data:`SPREAD_AT` bytes, else one.
    Whether forking is possible is the runner's to say.
    """
    if text == "auto":
        size = file_size(stream)
        big = len(urls) >= 2048 or (size is not None and size >= SPREAD_AT)
        return min(len(os.sched_getaffinity(0)), SPREAD_MAX) if big else 1
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= 64:
        raise UsageError(f"--processes must be auto or 1 to 64, not {text!r}")
    return count


def shares(options: DownloadOptions, processes: int) -> list[DownloadOptions]:
    """``options`` split over at most ``processes`` shards.

    The shares of ``concurrency`` (and of ``per_host`` and ``rate_limit``) add up to the whole,
    each at least 1, so the limits hold across the processes; there are
    never more shards than either allows.

    >>> [o.concurrency for o in shares(DownloadOptions(concurrency=5), 2)]
    [3, 2]
    """
    count = max(1, min(processes, options.concurrency))
    if options.per_host:
        count = min(count, options.per_host)

    def part(total: int, i: int) -> int:
        return total // count + (i < total % count)

    return [
        dataclasses.replace(
            options,
            concurrency=part(options.concurrency, i),
            per_host=part(options.per_host, i) if options.per_host else 0,
            rate_limit=None
            if options.rate_limit is None
            else options.rate_limit / count,
        )
        for i in range(count)
    ]
