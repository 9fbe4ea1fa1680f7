"""The work behind ``awaitkit probe``: pick a resolver, stream names, print results.

Output is written in batches by a thread (``asyncio.to_thread``): a slow
reader on stdout must stall only the printing, never the event loop, or
queries in flight would time out and be misreported.  Files the run needs
whole (the resolver list, resolv.conf, a ``--resume`` file) are read
before the event loop starts; names and words are streamed in chunks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from awaitkit.core import UsageError, parse_cluster, run
from awaitkit.probe._direct import DirectResolver, parse_nameserver
from awaitkit.probe._names import candidate_names, to_ascii
from awaitkit.probe._output import (
    HEADER,
    REGISTERED_HEADER,
    OutputFile,
    Resumed,
    read_resume,
)
from awaitkit.probe._probe import Resolver
from awaitkit.probe._refine import Refinement, refinement_from_args
from awaitkit.probe._registered import RegisteredCheck
from awaitkit.probe._resolvers import (
    ServerStats,
    format_server,
    format_server_stats,
    parse_resolver,
    read_resolv_conf,
    read_resolver_file,
)
from awaitkit.probe._result import FAILURES, Registration, Result, Status
from awaitkit.probe._spread import (
    Prober,
    fork_probers,
    probe_results,
    processes_for,
    reap_probers,
    shares,
)
from awaitkit.probe._system import SystemResolver
from awaitkit.probe._wordlist import FUZZ, brute_names, brute_patterns, read_lines

__all__ = [
    "format_line",
    "json_data",
    "json_lines",
    "read_names",
    "run_command",
    "system_nameservers",
]

_ADDRESS_TYPES = frozenset({"A", "AAAA", "both"})
_NOT_FOUND = frozenset({Status.NXDOMAIN, Status.NODATA})
_LIST_SERVERS = 16  # per-resolver lines in the summary up to this many, or --stats
_WORST_SERVERS = 5  # past that, the resolvers that failed most
RESOLV_CONF = Path("/etc/resolv.conf")
_DEFAULT_TIMEOUT = 2.0
_LOCAL_STORE = (
    100 * 1024 * 1024
)  # a local Ray's object store: results only pass through
_DEFAULT_RETRIES = 2
_FLUSH_LINES = 4096
# JSON is encoded a block at a time on the loop: 1,024 records take ~1.5 ms
# (4,096 took 6 ms, most of the 10 ms loop-lag budget).
_FLUSH_RECORDS = 1024
_READ_BLOCK = 1 << 16
_PROGRESS_EVERY = 64  # tqdm's update() costs more than probing a name
# One encoder for every line: json.dumps with any option builds a new
# JSONEncoder per call, which cost as much as the encoding itself.
_encode_json = json.JSONEncoder(ensure_ascii=False).encode


def format_line(
    result: Result, *, as_json: bool, registered: bool = False, full: bool = False
) -> str:
    """One output line: the book's columns (FOUND at 0, NOT FOUND at 2 tabs) or JSON.

    ``registered``: the TAKEN / FREE / UNKNOWN columns (and a
    ``registration`` key in JSON); ``full``: every JSON key on every line.
    """
    if as_json:
        return _encode_json(json_data(result, registered=registered, full=full))
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
    if result.status is Status.WILDCARD:
        return f"\t\t{result.domain} (WILDCARD)"
    return f"\t\t\t\t{result.domain} ({result.status.value})"


def json_data(
    result: Result, *, registered: bool = False, full: bool = False
) -> dict[str, object]:
    """What a JSON line holds for ``result`` (see :func:`format_line`)."""
    data = result.to_dict(full=full)
    if registered:
        data["registration"] = result.status.registration.value
    return data


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


def _wanted(result: Result, only: str | None, registered: bool = False) -> bool:
    if registered and only is not None:
        wanted = Registration.TAKEN if only == "found" else Registration.FREE
        return result.status.registration is wanted
    if only == "found":
        return result.found
    if only == "missing":
        return result.status in _NOT_FOUND or result.status is Status.WILDCARD
    return True


def system_nameservers(path: Path = Path("/etc/resolv.conf")) -> list[str]:
    """The ``nameserver`` entries of resolv.conf (zone ids dropped)."""
    return read_resolv_conf(path).nameservers


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
    kind = args.resolver or (
        "direct" if args.nameserver or args.resolvers or needs_direct else "system"
    )
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if args.retries is not None and args.retries < 0:
        raise UsageError("--retries must be >= 0")
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.rate is not None and args.rate <= 0:
        raise UsageError("--rate must be positive")
    if args.rate_per_resolver is not None and args.rate_per_resolver <= 0:
        raise UsageError("--rate-per-resolver must be positive")
    if kind == "system":
        given = [
            opt
            for opt, v in (
                ("--nameserver", args.nameserver),
                ("--resolvers", args.resolvers),
                ("--rate", args.rate),
                ("--rate-per-resolver", args.rate_per_resolver),
                ("--stats", args.stats),
            )
            if v
        ]
        given += needs_direct
        if given:
            verb = "needs" if len(given) == 1 else "need"
            raise UsageError(f"{' and '.join(given)} {verb} --resolver direct")
        system_types = "both" if not types or len(types) == 2 else types[0]
        system = SystemResolver(
            types=system_types,  # type: ignore[arg-type]  # A, AAAA: checked above
            timeout=args.timeout or _DEFAULT_TIMEOUT,
            details=args.json,
        )
        return system, args.concurrency or 100
    if args.check and types:
        raise UsageError(f"--check {args.check} picks its own types: drop --type")
    nameservers, timeout, retries, rotate = _direct_settings(args)
    direct = DirectResolver(
        nameservers,
        types=types or "A",
        records=args.json,
        timeout=timeout,
        retries=retries,
        rate=args.rate,
        rate_per_server=args.rate_per_resolver,
        rotate=rotate,
        max_in_flight=max(1000, 2 * (args.concurrency or 0)),
    )
    if args.check == "registered":
        return RegisteredCheck(direct), args.concurrency or 1000
    return direct, args.concurrency or 1000


def _direct_settings(
    args: argparse.Namespace,
) -> tuple[list[str], float, int, bool]:
    """Nameservers, timeout, retries and rotation for the direct resolver.

    ``--nameserver`` and ``-r`` add up (duplicates dropped, order kept) and
    rotate as massdns does; only without either does resolv.conf speak,
    with its options where ``--timeout``/``--retries`` are not given.
    """
    servers: dict[tuple[str, int], None] = {}
    for spec in args.nameserver or ():
        servers[parse_nameserver(spec)] = None
    if args.resolvers is not None:
        listed = read_resolver_file(args.resolvers)
        for number, text in listed.skipped:
            sys.stderr.write(
                f"awaitkit probe: {args.resolvers}:{number}: {text!r} is not "
                "a valid resolver (IP[:PORT]); skipped\n"
            )
        if (more := listed.skipped_count - len(listed.skipped)) > 0:
            sys.stderr.write(
                f"awaitkit probe: {args.resolvers}: {more} more invalid lines skipped\n"
            )
        servers.update(dict.fromkeys(listed.servers))
    timeout = args.timeout or _DEFAULT_TIMEOUT
    retries = _DEFAULT_RETRIES if args.retries is None else args.retries
    if servers:
        return [format_server(s) for s in servers], timeout, retries, True
    conf = read_resolv_conf(RESOLV_CONF, env_options=os.environ.get("RES_OPTIONS"))
    for spec in conf.nameservers:
        if (server := parse_resolver(spec)) is not None:
            servers[server] = None
    if not servers:
        raise UsageError("no nameserver: give --nameserver IP[:PORT] or -r FILE")
    if args.timeout is None and conf.timeout is not None:
        timeout = conf.timeout
    if args.retries is None and conf.attempts is not None:
        # glibc: each of the servers is tried ``attempts`` times in all.
        retries = conf.attempts * len(servers) - 1
    return [format_server(s) for s in servers], timeout, retries, conf.rotate


def _open_source(
    args: argparse.Namespace,
) -> tuple[IO[bytes] | None, list[str] | None]:
    """The input stream (``None`` for a TLD run) and, for -w, the name patterns."""
    if args.wordlist is not None:
        if args.input is not None:
            raise UsageError("give -i FILE or -w FILE, not both")
        domains = [*(args.domains or ()), *([args.tld] if args.tld else [])]
        if not domains:
            raise UsageError("-w needs -d DOMAIN or a FUZZ pattern (e.g. FUZZ.dev)")
        patterns = brute_patterns(domains)  # before opening: it may raise
        return _open_input(args.wordlist, "-w"), patterns
    if args.domains:
        raise UsageError("-d/--domain needs -w/--wordlist FILE")
    if args.tld is not None and args.input is not None:
        raise UsageError("give a TLD or -i FILE, not both")
    if args.tld is None and args.input is None:
        raise UsageError("give a TLD (e.g. 'awaitkit probe dev') or -i FILE|-")
    if args.tld is not None:
        if FUZZ in args.tld:
            raise UsageError(f"a {FUZZ} pattern needs -w/--wordlist FILE")
        if to_ascii(f"x.{args.tld.strip('.')}") is None:
            raise UsageError(f"invalid TLD {args.tld!r}")
        return None, None
    return _open_input(args.input, "-i"), None


def _open_input(path: str, option: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read {option} {path}: {exc.strerror}") from exc


def run_command(args: argparse.Namespace) -> int:
    """Run ``awaitkit probe``; returns the exit status (see the command's epilog)."""
    if args.stream and args.output is None:
        raise UsageError("--stream needs -o/--output FILE")
    resolver, concurrency = _make_resolver(args)
    output = OutputFile(args.output, stream=args.stream) if args.output else None
    stage = refinement_from_args(args, resolver, concurrency)
    stream, patterns = _open_source(args)
    children: list[Prober] = []
    cluster: ClusterRun | None = None
    try:
        if args.cluster is not None:
            cluster = _join_cluster(args, resolver)
        else:
            resolver, concurrency, children = _spread_over_processes(
                args, resolver, concurrency, stream, patterns
            )
        if output is not None:
            output.open()
        write = output.write if output is not None else partial(_write, sys.stdout)
        header = not args.json
        resumed: Resumed | None = None
        if args.resume is not None:
            resumed = _resume(args, write)
            header = False
        if output is not None:
            output.start()
        names: Iterable[str] | AsyncIterable[str]
        total: int | None = None
        if stream is None:
            names = list(candidate_names(args.tld))
            if resumed is not None:
                names = [n for n in names if n not in resumed.settled]
            total = len(names)
        else:
            names = (
                read_names(stream)
                if patterns is None
                else brute_names(read_lines(stream), patterns)
            )
            if resumed is not None:
                names = _unsettled(names, resumed.settled)
        counts = run(
            _probe_all(
                args,
                resolver,
                names,
                concurrency,
                total,
                write,
                header,
                salvage=None if output is None else output.write,
                stage=stage,
                children=children,
                cluster=cluster,
            ),
            stop_on_sigterm=True,
        )
    except BaseException as exc:
        if output is not None:
            kept = output.abort(keep=not isinstance(exc, UsageError))
            if kept is not None:
                sys.stderr.write(
                    f"awaitkit probe: stopped; results so far are in {kept} "
                    f"({args.output} untouched)\n"
                )
        raise
    finally:
        reap_probers(children)
        if cluster is not None:
            cluster.ray.shutdown()  # a local Ray's processes end with the run
        if stream is not None and stream is not sys.stdin.buffer:
            stream.close()
    if output is not None:
        output.commit()
        sys.stderr.write(f"awaitkit probe: results written to {args.output}\n")
    return 1 if any(counts[s] for s in FAILURES) else 0


def _spread_over_processes(
    args: argparse.Namespace,
    resolver: Resolver,
    concurrency: int,
    stream: IO[bytes] | None,
    patterns: list[str] | None,
) -> tuple[Resolver, int, list[Prober]]:
    """``--processes``: fork the probing children (before any loop or thread).

    Returns this process's resolver and concurrency (its share, when
    children were forked) and the children; see :mod:`._spread`.
    """
    size = _input_size(stream)
    if size is not None and patterns is not None:
        size *= len(patterns)
    if isinstance(resolver, RegisteredCheck):
        # Its several queries per name run in one process for now.
        if args.processes not in ("auto", "1"):
            raise UsageError("--processes above 1 does not go with --check registered")
        return resolver, concurrency, []
    direct = isinstance(resolver, DirectResolver)
    processes = processes_for(args.processes, direct=direct, size=size)
    if processes < 2 or not isinstance(resolver, DirectResolver):
        return resolver, concurrency, []
    (mine, my_share), *others = shares(resolver, concurrency, processes)
    children = fork_probers(others)
    if not children:
        return resolver, concurrency, []
    return mine, my_share, children


@dataclass(frozen=True, slots=True)
class ClusterRun:
    """``--cluster``: the joined ``ray`` module and how many actors to start."""

    ray: ModuleType
    actors: int | None


def _join_cluster(args: argparse.Namespace, resolver: Resolver) -> ClusterRun:
    """Check what ``--cluster`` goes with, then join it (before any loop starts)."""
    spec = parse_cluster(args.cluster)
    if not isinstance(resolver, DirectResolver):
        raise UsageError(
            "--cluster needs --resolver direct (and not --check registered)"
        )
    if args.processes not in ("auto", "1"):
        raise UsageError("give --cluster or --processes, not both")
    if args.cluster_actors is not None and not 1 <= args.cluster_actors <= 4096:
        raise UsageError("--cluster-actors must be 1 to 4096")
    from awaitkit.core import connect_cluster

    return ClusterRun(
        connect_cluster(spec, object_store_memory=_LOCAL_STORE), args.cluster_actors
    )


def _input_size(stream: IO[bytes] | None) -> int | None:
    """The size of ``stream`` if it is a regular file, else None (a pipe, a TLD run)."""
    if stream is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        info = os.fstat(stream.fileno())
        if stat.S_ISREG(info.st_mode):
            return info.st_size
    return None


def _resume(args: argparse.Namespace, write: Callable[[str], None]) -> Resumed:
    """Copy the settled lines of ``--resume`` (header first) to the output."""
    columns = REGISTERED_HEADER if args.check == "registered" else HEADER
    block: list[str] = [columns + "\n"] if not args.json else []

    def keep(status: str) -> bool:
        if args.only == "found":
            return status == "FOUND"
        if args.only == "missing":
            return status != "FOUND"
        return True

    def add(line: str) -> None:
        block.append(line)
        if len(block) >= _FLUSH_LINES:
            write("".join(block))
            block.clear()

    resumed = read_resume(args.resume, as_json=args.json, keep=keep, write=add)
    if block:
        write("".join(block))
    sys.stderr.write(
        f"awaitkit probe: --resume {args.resume}: {len(resumed.settled)} settled "
        f"name{'' if len(resumed.settled) == 1 else 's'} skipped "
        f"({resumed.kept} kept in the output)"
        + (
            f", {resumed.unreadable} unreadable line"
            f"{'' if resumed.unreadable == 1 else 's'} ignored"
            if resumed.unreadable
            else ""
        )
        + "\n"
    )
    return resumed


async def _unsettled(
    names: AsyncIterable[str], settled: set[str]
) -> AsyncIterator[str]:
    async for name in names:
        if name not in settled:
            yield name


async def _probe_all(
    args: argparse.Namespace,
    resolver: Resolver,
    names: Iterable[str] | AsyncIterable[str],
    concurrency: int,
    total: int | None,
    write: Callable[[str], None],
    header: bool,
    *,
    salvage: Callable[[str], None] | None = None,
    stage: Refinement | None = None,
    children: Sequence[Prober] = (),
    cluster: ClusterRun | None = None,
) -> Counter[Status]:
    counts: Counter[Status] = Counter()
    lines: list[str] = []
    registered = args.check == "registered"
    full = args.json
    # A full answer's line is several times a plain one's: smaller blocks
    # keep each encoding step as short on the loop.
    flush_records = _FLUSH_RECORDS // 4 if full else _FLUSH_RECORDS
    records: list[dict[str, object]] = []  # --json: encoded a block at a time
    if header:
        lines.append(REGISTERED_HEADER if registered else HEADER)
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
            writing = asyncio.ensure_future(asyncio.to_thread(write, text))

    as_json = args.json
    only = args.only
    async with contextlib.AsyncExitStack() as stack:
        if isinstance(resolver, DirectResolver):
            await stack.enter_async_context(resolver)
        elif isinstance(resolver, RegisteredCheck):
            await stack.enter_async_context(resolver.resolver)
        source: AsyncGenerator[Result, None]
        if cluster is not None:
            from awaitkit.probe._cluster import probe_cluster

            assert isinstance(resolver, DirectResolver)  # _join_cluster checked
            source = probe_cluster(
                cluster.ray,
                names,
                concurrency=concurrency,
                resolver=resolver,
                actors=cluster.actors,
            )
        else:
            source = probe_results(
                names, concurrency=concurrency, resolver=resolver, children=children
            )
        results = await stack.enter_async_context(contextlib.aclosing(source))
        if stage is not None:
            results = await stack.enter_async_context(
                contextlib.aclosing(stage.run(results))
            )
        try:
            async for result in results:
                counts[result.status] += 1
                if progress is not None:
                    unshown += 1
                    if unshown >= _PROGRESS_EVERY:
                        progress.update(unshown)
                        unshown = 0
                if only is None or _wanted(result, only, registered):
                    if as_json:
                        records.append(
                            json_data(result, registered=registered, full=full)
                        )
                        if len(records) >= flush_records:
                            await flush()
                    else:
                        lines.append(
                            format_line(result, as_json=False, registered=registered)
                        )
                        if len(lines) >= _FLUSH_LINES:
                            await flush()
            await flush()
            await flush()  # waits for the last block
        except BaseException:
            # Stopped (Ctrl-C, SIGTERM, an error): the results of the block
            # not yet written are as true as the rest.  ``salvage`` writes
            # them at once, on the loop (it is winding down; the file's lock
            # waits for a block still being written by a thread).
            if salvage is not None and (lines or records):
                salvage("\n".join(lines) + "\n" if lines else json_lines(records))
            raise
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
    if stage is not None and stage.filtered:
        # Left out of the output, not out of the account: every name shows
        # in the summary's counts.
        counts[Status.WILDCARD] += stage.filtered
    _summary(counts, time.perf_counter() - start)
    if isinstance(resolver, DirectResolver):
        _server_summary(resolver.server_stats, every=args.stats)
    if stage is not None:
        sys.stderr.write(
            "".join(f"awaitkit probe: {line}\n" for line in stage.summary())
        )
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


def _server_summary(
    stats: Mapping[tuple[str, int], ServerStats], *, every: bool
) -> None:
    """Per-resolver counts: listed for 2-16 resolvers, or for all with --stats.

    Past 16 without --stats, only the few that failed most are listed: with
    a public resolver list, those are the ones worth dropping.
    """
    if every or 2 <= len(stats) <= _LIST_SERVERS:
        lines = format_server_stats(stats)
        sys.stderr.write("awaitkit probe: per resolver:\n" + "\n".join(lines) + "\n")
        return
    if len(stats) <= _LIST_SERVERS:
        return
    worst = sorted(
        ((server, counts) for server, counts in stats.items() if _failed(counts)),
        key=lambda item: _failed(item[1]) / item[1].sent,
        reverse=True,
    )[:_WORST_SERVERS]
    sys.stderr.write(
        f"awaitkit probe: {len(stats)} resolvers (--stats lists each one's counts)"
        + ("; failing most:\n" if worst else "\n")
    )
    if worst:
        sys.stderr.write("\n".join(format_server_stats(dict(worst))) + "\n")


def _failed(counts: ServerStats) -> int:
    return counts.timeouts + counts.servfail + counts.refused
