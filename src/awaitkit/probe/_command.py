"""The work behind ``awaitkit probe``: pick a resolver, stream names, print results.

Output is written in batches by a thread (``asyncio.to_thread``): a slow
reader on stdout must stall only the printing, never the event loop, or
queries in flight would time out and be misreported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from awaitkit.probe._registered import RegisteredCheck
from awaitkit.probe._result import FAILURES, Registration, Result, Status
from awaitkit.probe._system import SystemResolver

__all__ = ["format_line", "read_names", "run_command", "system_nameservers"]

HEADER = "FOUND\t\tNOT FOUND\tFAILED\n=====\t\t=========\t======"
REGISTERED_HEADER = "TAKEN\t\tFREE\t\tUNKNOWN\n=====\t\t====\t\t======="
_ADDRESS_TYPES = frozenset({"A", "AAAA", "both"})
_NOT_FOUND = frozenset({Status.NXDOMAIN, Status.NODATA})
_FLUSH_LINES = 2000


def format_line(
    result: Result, *, as_json: bool, registered: bool = False, full: bool = False
) -> str:
    """One output line: the book's columns (FOUND at 0, NOT FOUND at 2 tabs) or JSON.

    ``registered``: the TAKEN / FREE / UNKNOWN columns (and a
    ``registration`` key in JSON); ``full``: every JSON key on every line.
    """
    if as_json:
        data = result.to_dict(full=full)
        if registered:
            data["registration"] = result.status.registration.value
        return json.dumps(data, ensure_ascii=False)
    if registered:
        registration = result.status.registration
        if registration is Registration.TAKEN:
            return result.domain
        if registration is Registration.FREE:
            return f"\t\t{result.domain}"
        return f"\t\t\t\t{result.domain} ({result.status.value})"
    if result.found:
        return result.domain
    if result.status in _NOT_FOUND:
        return f"\t\t{result.domain}"
    return f"\t\t\t\t{result.domain} ({result.status.value})"


def _wanted(result: Result, only: str | None, registered: bool = False) -> bool:
    if registered and only is not None:
        wanted = Registration.TAKEN if only == "found" else Registration.FREE
        return result.status.registration is wanted
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
    while True:
        lines = await asyncio.to_thread(stream.readlines, 1 << 16)
        if not lines:
            return
        for raw in lines:
            name = raw.decode("utf-8", "replace").split("#", 1)[0].strip()
            if name:
                yield name


def _types(args: argparse.Namespace) -> tuple[str, ...] | None:
    """The -t values, ``both`` expanded; ``None`` when none was given."""
    if not args.types:
        return None
    types: dict[str, None] = {}
    for given in args.types:
        for name in ("A", "AAAA") if given == "both" else (given,):
            types[name] = None
    return tuple(types)


def _make_resolver(args: argparse.Namespace) -> tuple[Resolver, int]:
    types = _types(args)
    needs_direct = [f"--type {t}" for t in types or () if t not in _ADDRESS_TYPES]
    if args.check:
        needs_direct.append(f"--check {args.check}")
    kind = args.resolver or ("direct" if args.nameserver or needs_direct else "system")
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
        given += needs_direct
        if given:
            verb = "needs" if len(given) == 1 else "need"
            raise UsageError(f"{' and '.join(given)} {verb} --resolver direct")
        system_types = "both" if not types or len(types) == 2 else types[0]
        system = SystemResolver(
            types=system_types,  # type: ignore[arg-type]  # A, AAAA: checked above
            timeout=args.timeout,
        )
        return system, args.concurrency or 100
    nameservers = args.nameserver or system_nameservers()
    if not nameservers:
        raise UsageError("no nameserver: give --nameserver IP[:PORT]")
    if args.check and types:
        raise UsageError(f"--check {args.check} picks its own types: drop --type")
    direct = DirectResolver(
        nameservers,
        types=types or "A",
        records=args.json,
        timeout=args.timeout,
        retries=args.retries,
        rate=args.rate,
        max_in_flight=max(1000, 2 * (args.concurrency or 0)),
    )
    if args.check == "registered":
        return RegisteredCheck(direct), args.concurrency or 1000
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
    registered = args.check == "registered"
    full = args.json and not isinstance(resolver, SystemResolver)
    if not args.json:
        lines.append(REGISTERED_HEADER if registered else HEADER)
    progress = _progress(total)
    start = time.perf_counter()

    async def flush() -> None:
        if lines:
            text = "\n".join(lines) + "\n"
            lines.clear()
            await asyncio.to_thread(_write, out, text)

    async with contextlib.AsyncExitStack() as stack:
        if isinstance(resolver, DirectResolver):
            await stack.enter_async_context(resolver)
        elif isinstance(resolver, RegisteredCheck):
            await stack.enter_async_context(resolver.resolver)
        results = await stack.enter_async_context(
            contextlib.aclosing(
                multi_probe(names, concurrency=concurrency, resolver=resolver)
            )
        )
        try:
            async for result in results:
                counts[result.status] += 1
                if progress is not None:
                    progress.update()
                if _wanted(result, args.only, registered):
                    lines.append(
                        format_line(
                            result, as_json=args.json, registered=registered, full=full
                        )
                    )
                    if len(lines) >= _FLUSH_LINES:
                        await flush()
            await flush()
        finally:
            if progress is not None:
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
