"""Bulk download with gzip: awaitkit fetch (decoding) against curl --compressed --parallel.

10,000 text files of 2-30 KB (deterministic, compressible about 3:1,
sha256 manifest of the decoded bytes) are generated once under
``bench/out/download-cache/text`` and served by nginx with the
bench-recipes configuration plus ``gzip on; gzip_types *;
gzip_min_length 0;`` (so every body comes gzip-encoded and chunked).  Both
tools download all of them at concurrency 100 into a fresh folder on tmpfs
(the checkout's disk where there is none), interleaved round by round, and
every run is checked file by file against the manifest: a tool that saved a
compressed body, or lost a file, fails the benchmark (checking is not timed).
The goal: ours within 1.2x curl's time.

    uv run python bench/bench_download_gzip.py [--rounds N] [--quick]
    uv run python bench/run.py download_gzip
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, main_for, median, per_round_ratios
from _peers import require, serving_nginx
from bench_download import AWAITKIT, CACHE, CONCURRENCY, timed_run

DEFAULT_ROUNDS = 5
GZIP = "gzip on; gzip_types *; gzip_min_length 0;"
_WORDS = [
    "async",
    "await",
    "loop",
    "task",
    "future",
    "stream",
    "socket",
    "buffer",
    "request",
    "response",
    "header",
    "body",
    "gzip",
    "deflate",
    "chunk",
    "window",
    "member",
    "frame",
    "server",
    "client",
    "pool",
    "limit",
    "retry",
    "timeout",
    "error",
    "status",
    "range",
    "resume",
    "file",
    "name",
    "path",
    "folder",
    "report",
    "digest",
    "byte",
    "block",
]


def make_text_files(count: int) -> dict[str, str]:
    """Create ``count`` compressible text files once (seeded); {relative path: sha256}."""
    root = CACHE / "text"
    manifest_path = CACHE / f"manifest-text-{count}.json"
    if manifest_path.exists():
        return dict(json.loads(manifest_path.read_text()))
    rng = random.Random(20261203)
    manifest: dict[str, str] = {}
    for i in range(count):
        size = rng.randint(2 * 1024, 30 * 1024)
        words: list[str] = []
        length = 0
        while length < size:
            word = rng.choice(_WORDS) if rng.random() < 0.9 else f"{rng.random():.6f}"
            words.append(word)
            length += len(word) + 1
        body = " ".join(words).encode()[:size]
        rel = f"{i:05d}/{i:05d}.txt"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        manifest[rel] = hashlib.sha256(body).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    return manifest


def commands(base: str, work: Path, out: Path, rels: list[str]) -> dict[str, list[str]]:
    urls = work / "urls.txt"
    urls.write_text("".join(f"{base}/text/{rel}\n" for rel in rels))
    curlrc = work / "urls.curlrc"
    curlrc.write_text("".join(f'url = "{base}/text/{rel}"\n' for rel in rels))
    m = str(CONCURRENCY)
    return {
        "awaitkit": [*AWAITKIT, "fetch", "-q", "-m", m, "-i", str(urls), "--dest", str(out)],
        "curl --compressed": [require("curl"), "-s", "-f", "--compressed", "--remote-name-all", "--output-dir", str(out), "--parallel", "--parallel-immediate", "--parallel-max", m, "-K", str(curlrc)],
    }  # fmt: skip


def check_gzip(base: str, rel: str) -> float:
    """The server really sends gzip: the ratio of decoded to sent bytes of one file."""
    request = urllib.request.Request(
        f"{base}/text/{rel}", headers={"Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # loopback only
        if resp.headers.get("Content-Encoding") != "gzip":
            raise SystemExit(f"nginx did not gzip {rel}: {dict(resp.headers)}")
        sent = resp.read()
    return len(gzip.decompress(sent)) / len(sent)


def gzip_rows(rounds: int, count: int) -> list[Row]:
    manifest = make_text_files(count)
    rels = list(manifest)
    shm = Path("/dev/shm")
    medium, root = (
        ("tmpfs", shm)
        if shm.is_dir() and os.access(shm, os.W_OK)
        else ("disk", CACHE.parent / "runs")
    )
    root.mkdir(parents=True, exist_ok=True)
    times: dict[str, list[float]] = {}
    work = Path(tempfile.mkdtemp(prefix="awaitkit-bench-gzip-", dir=root))
    try:
        with serving_nginx(CACHE, extra=GZIP) as base:
            squeeze = check_gzip(base, rels[0])
            names = list(commands(base, work, work / "out", rels))
            warm = work / "warm-up"  # untimed: nginx's and the page cache
            timed_run(
                commands(base, work, warm, rels)["curl --compressed"], warm, manifest
            )
            shutil.rmtree(warm)
            for round_no in range(rounds):
                shift = round_no % len(names)
                for i, name in enumerate(names[shift:] + names[:shift]):
                    out = work / f"out-{round_no}-{i}"
                    argv = commands(base, work, out, rels)[name]
                    times.setdefault(name, []).append(timed_run(argv, out, manifest))
                    if medium == "tmpfs":
                        shutil.rmtree(out)
    finally:
        shutil.rmtree(work)
    ours = times.pop("awaitkit")
    peer = times.pop("curl --compressed")
    return [
        Row(
            bench="download",
            metric=f"{count:,} files gzip, -m {CONCURRENCY}, {medium}",
            ours=median(ours),
            peer_name="curl --compressed",
            peer=median(peer),
            unit="s",
            goal=1 / 1.2,
            note=f"nginx gzip, {squeeze:.1f}:1",
            round_ratios=per_round_ratios(ours, peer, higher_is_better=False),
        )
    ]


def run(rounds: int, quick: bool) -> list[Row]:
    """10,000 gzip-encoded files (1,000 with --quick)."""
    return gzip_rows(rounds, 1_000 if quick else 10_000)


if __name__ == "__main__":
    main_for(run, DEFAULT_ROUNDS)
