"""The work behind ``awaitkit probe``: pick a resolver, stream names, print results.

Output is written in batches by a thread (``asyncio.to_thread``): a slow
reader on stdout must stall only the printing, never the event loop, or
queries in flight would time out and be misreported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import IO, Any

from awaitkit.core import UsageError, run
from awaitkit.probe._direct import DirectResolver
from awaitkit.probe._names import candidate_names, to_ascii
from awaitkit.probe._probe import Resolver, multi_probe
from awaitkit.probe._result import FAILURES, Result, Status
from awaitkit.probe._system import SystemResolver

__all__ = [
    "format_line",
    "json_lines",
    "read_names",
    "run_command",
    "system_nameservers",
]

HEADER = "FOUND\t\tNOT FOUND\tFAILED\n=====\t\t=========\t======"
_NOT_FOUND = frozenset({Status.NXDOMAIN, Status.NODATA})
_FLUSH_LINES = 4096
# JSON is encoded a block at a time on the loop: 1,024 records take ~1.5 ms
# (4,096 took 6 ms, most of the 10 ms loop-lag budget).
_FLUSH_RECORDS = 1024
_READ_BLOCK = 1 << 16
_PROGRESS_EVERY = 64  # tqdm's update() costs more than probing a name
# One encoder for every line: json.dumps with any option builds a new
# JSONEncoder per call, which cost as much as the encoding itself.
_encode_json = json.JSONEncoder(ensure_ascii=False).encode


def format_line(result: Result, *, as_json: bool) -> str:
    """One output line: the book's columns (FOUND at 0, NOT FOUND at 2 tabs) or JSON."""
    if as_json:
        return _encode_json(result.to_dict())
    if result.found:
        return result.domain
    if result.status in _NOT_FOUND:
        return f"\t\t{result.domain}"
    return f"\t\t\t\t{result.domain} ({result.status.value})"


def json_lines(records: list[dict[str, object]]) -> str:
    """``records`` as JSON lines, each exactly as ``format_line`` writes it.

    One encoder call for the whole block (a call per line cost twice as
    much), cut back into lines at the record boundaries: ``}, {`` and the
    first key, which no JSON string can hold (its quotes would be escaped).
    A nested object with that key in that place would make the count
    disagree; then each record is encoded alone.
    """
    if not records:
        return ""
    first = next(iter(records[0]), None)
    if first is not None and all(next(iter(r), None) == first for r in records):
        key = _encode_json(first)
        text = _encode_json(records)[1:-1]
        boundary = "}, {" + key + ": "
        if text.count(boundary) == len(records) - 1:
            return text.replace(boundary, "}\n{" + key + ": ") + "\n"
    return "".join(_encode_json(r) + "\n" for r in records)


def _wanted(result: Result, only: str | None) -> bool:
    if only == "found":
        return result.found
    if only == "missing":
        return result.status in _NOT_FOUND
    return True


def system_nameservers(path: Path = Path("/etc/resolv.conf")) -> list[str]:
    """The ``nameserver`` entries of resolv.conf (zone ids dropped)."""
    servers = []
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "nameserver":
                servers.append(fields[1].split("%")[0])
    return servers


async def read_names(stream: IO[bytes]) -> AsyncIterator[str]:
    """Names from a binary stream, one per line, read in chunks off the loop.

    Blank lines and ``#`` comments are skipped; undecodable bytes become
    U+FFFD, which makes the name INVALID rather than stopping the run.
    """
    rest: bytes | None = b""
    while rest is not None:
        names, rest = await asyncio.to_thread(_read_block, stream, rest)
        for name in names:
            yield name


def _read_block(stream: IO[bytes], rest: bytes) -> tuple[list[str], bytes | None]:
    """The names of the next whole lines of ``stream``, and the partial line left.

    ``None`` for what is left means the end of the stream.

    A block is decoded at once (lines are cut at newline bytes, never part of
    a multi-byte character, so a bad byte still spoils only its line); at
    the end of the stream the partial line is the last line.  ``read1``
    returns what one read gives: names piped in slowly are probed as they
    come, not once 64 KiB have arrived.
    """
    read = stream.read1 if isinstance(stream, io.BufferedIOBase) else stream.read
    block = read(_READ_BLOCK)
    tail: bytes | None
    if not block:
        data, tail = rest, None
    else:
        cut = block.rfind(b"\n")
        if cut < 0:
            # A line this long is no name (INVALID all the same): keep its
            # start, so that a hostile input cannot make this quadratic.
            return [], (rest + block)[:_READ_BLOCK]
        data, tail = rest + block[: cut + 1], block[cut + 1 :]
    text = data.decode("utf-8", "replace")
    if "#" in text:
        lines = [line.split("#", 1)[0].strip() for line in text.split("\n")]
    else:
        lines = [line.strip() for line in text.split("\n")]
    return [name for name in lines if name], tail


def _make_resolver(args: argparse.Namespace) -> tuple[Resolver, int]:
    kind = args.resolver or ("direct" if args.nameserver else "system")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if args.retries is not None and args.retries < 0:
        raise UsageError("--retries must be >= 0")
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if kind == "system":
        given = [
            opt
            for opt, v in (("--nameserver", args.nameserver), ("--rate", args.rate))
            if v
        ]
        if given:
            verb = "needs" if len(given) == 1 else "need"
            raise UsageError(f"{' and '.join(given)} {verb} --resolver direct")
        system = SystemResolver(types=args.types or "both", timeout=args.timeout)
        return system, args.concurrency or 100
    nameservers = args.nameserver or system_nameservers()
    if not nameservers:
        raise UsageError("no nameserver: give --nameserver IP[:PORT]")
    direct = DirectResolver(
        nameservers,
        types=args.types or "A",
        timeout=args.timeout,
        retries=args.retries,
        rate=args.rate,
        max_in_flight=max(1000, 2 * (args.concurrency or 0)),
    )
    return direct, args.concurrency or 1000


def _open_source(args: argparse.Namespace) -> tuple[IO[bytes] | None, int | None]:
    """The input stream (``None`` for a TLD run) and the total when known."""
    if args.tld is not None and args.input is not None:
        raise UsageError("give a TLD or -i FILE, not both")
    if args.tld is None and args.input is None:
        raise UsageError("give a TLD (e.g. 'awaitkit probe dev') or -i FILE|-")
    if args.tld is not None:
        if to_ascii(f"x.{args.tld.strip('.')}") is None:
            raise UsageError(f"invalid TLD {args.tld!r}")
        return None, None
    if args.input == "-":
        return sys.stdin.buffer, None
    try:
        return open(args.input, "rb"), None
    except OSError as exc:
        raise UsageError(f"cannot read {args.input}: {exc.strerror}") from exc


def run_command(args: argparse.Namespace) -> int:
    """Run ``awaitkit probe``; returns the exit status (see the command's epilog)."""
    resolver, concurrency = _make_resolver(args)
    stream, _ = _open_source(args)
    try:
        names: Iterable[str] | AsyncIterator[str]
        if stream is None:
            names = list(candidate_names(args.tld))
            total: int | None = len(names)
        else:
            names = read_names(stream)
            total = None
        counts = run(
            _probe_all(args, resolver, names, concurrency, total), stop_on_sigterm=True
        )
    finally:
        if stream is not None and stream is not sys.stdin.buffer:
            stream.close()
    return 1 if any(counts[s] for s in FAILURES) else 0


async def _probe_all(
    args: argparse.Namespace,
    resolver: Resolver,
    names: Iterable[str] | AsyncIterator[str],
    concurrency: int,
    total: int | None,
) -> Counter[Status]:
    counts: Counter[Status] = Counter()
    out = sys.stdout
    lines: list[str] = []
    records: list[dict[str, object]] = []  # --json: encoded a block at a time
    if not args.json:
        lines.append(HEADER)
    progress = _progress(total)
    unshown = 0  # results not yet added to the progress bar
    start = time.perf_counter()
    # One block is written while the next one fills: the write (in a thread,
    # so a slow reader stalls only the printing) overlaps the probing.
    writing: asyncio.Future[None] | None = None

    async def flush() -> None:
        nonlocal writing
        if writing is not None:
            await writing
            writing = None
        if lines or records:
            text = "\n".join(lines) + "\n" if lines else json_lines(records)
            lines.clear()
            records.clear()
            writing = asyncio.ensure_future(asyncio.to_thread(_write, out, text))

    as_json = args.json
    only = args.only
    async with contextlib.AsyncExitStack() as stack:
        if isinstance(resolver, DirectResolver):
            await stack.enter_async_context(resolver)
        results = await stack.enter_async_context(
            contextlib.aclosing(
                multi_probe(names, concurrency=concurrency, resolver=resolver)
            )
        )
        try:
            async for result in results:
                counts[result.status] += 1
                if progress is not None:
                    unshown += 1
                    if unshown >= _PROGRESS_EVERY:
                        progress.update(unshown)
                        unshown = 0
                if only is None or _wanted(result, only):
                    if as_json:
                        records.append(result.to_dict())
                        if len(records) >= _FLUSH_RECORDS:
                            await flush()
                    else:
                        lines.append(format_line(result, as_json=False))
                        if len(lines) >= _FLUSH_LINES:
                            await flush()
            await flush()
            await flush()  # waits for the last block
        finally:
            if writing is not None:
                # Only on the way out with an error: a thread cannot be
                # cancelled, so let its write end (nothing may be printed
                # after the summary); the error on its way out is the one
                # reported.
                await asyncio.wait([writing])
                if not writing.cancelled():
                    writing.exception()  # retrieved: it must not be logged
            if progress is not None:
                progress.update(unshown)
                progress.close()
    _summary(counts, time.perf_counter() - start)
    return counts


def _write(out: IO[str], text: str) -> None:
    out.write(text)
    out.flush()


def _progress(total: int | None) -> Any:
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs shipped

    return tqdm(total=total, unit="name", file=sys.stderr, leave=False)


def _summary(counts: Counter[Status], elapsed: float) -> None:
    probed = sum(counts.values())
    parts = ", ".join(f"{s.value} {counts[s]}" for s in Status if counts[s])
    rate = probed / elapsed if elapsed > 0 else 0.0
    sys.stderr.write(
        f"awaitkit probe: {probed} name{'' if probed == 1 else 's'} in {elapsed:.2f} s ({rate:,.0f}/s): "
        f"{parts or 'nothing probed'}\n"
    )
