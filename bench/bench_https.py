"""Bulk download over HTTPS: awaitkit fetch against curl --parallel and wget2.

The 10,000 files of ``bench_download`` (2-30 KB, sha256 manifest), served by
nginx with TLS 1.3 only, keep-alive and a session cache, under a certificate
made for the run by ``trustme`` (a CA of its own, given to every tool:
``--cacert``, wget2's ``--ca-certificate``).  Every tool downloads all of them
at concurrency 100 into tmpfs (or the checkout's disk without one),
interleaved round by round, each run checked file by file.  Goal: at most
1.1x curl's time.

    uv run python bench/bench_https.py [--rounds N] [--quick]
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _harness import Row, main_for, median, per_round_ratios
from _peers import NGINX_CONF, free_port, require, serving_process
from bench_download import AWAITKIT, CACHE, CONCURRENCY, make_files, media, timed_run

DEFAULT_ROUNDS = 3


@contextlib.contextmanager
def serving_nginx_tls(root: Path, work: Path) -> Iterator[tuple[str, Path]]:
    """nginx over TLS 1.3 on 127.0.0.1; yield its base URL and the CA's PEM file."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_pem, chain_pem, key_pem = work / "ca.pem", work / "chain.pem", work / "key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    cert.private_key_pem.write_to_path(str(key_pem))
    with chain_pem.open("wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    binary = require("nginx")
    port = free_port()
    conf_text = NGINX_CONF.format(
        tmp=work, port=port, root=root.resolve(), extra=""
    ).replace(
        f"listen 127.0.0.1:{port} backlog=4096;",
        f"listen 127.0.0.1:{port} ssl backlog=4096;\n"
        "        ssl_protocols TLSv1.3;\n"
        f"        ssl_certificate {chain_pem};\n"
        f"        ssl_certificate_key {key_pem};\n"
        "        ssl_session_cache shared:SSL:10m;",
    )
    if "ssl_protocols" not in conf_text:
        raise SystemExit("the nginx configuration has no listen line to extend")
    conf = work / "nginx.conf"
    conf.write_text(conf_text)
    with serving_process(
        [binary, "-p", str(work), "-c", str(conf), "-g", "daemon off;"],
        port,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as url:
        yield url.replace("http://", "https://", 1), ca_pem


def commands(
    base: str, ca: Path, work: Path, out: Path, rels: list[str]
) -> dict[str, list[str]]:
    urls = work / "urls.txt"
    urls.write_text("".join(f"{base}/files/{rel}\n" for rel in rels))
    curlrc = work / "urls.curlrc"
    curlrc.write_text("".join(f'url = "{base}/files/{rel}"\n' for rel in rels))
    m = str(CONCURRENCY)
    return {
        "awaitkit": [*AWAITKIT, "fetch", "-q", "-j", m, "--cacert", str(ca), "-i", str(urls), "--dest", str(out)],
        "awaitkit, 1 process": [*AWAITKIT, "fetch", "-q", "-j", m, "--processes", "1", "--cacert", str(ca), "-i", str(urls), "--dest", str(out)],
        "curl": [require("curl"), "-s", "-f", "--cacert", str(ca), "--remote-name-all", "--output-dir", str(out), "--parallel", "--parallel-immediate", "--parallel-max", m, "-K", str(curlrc)],
        "wget2": [require("wget2"), f"--max-threads={m}", f"--ca-certificate={ca}", "-i", str(urls), "-P", str(out), "-q", "-nd", "--progress=none"],
    }  # fmt: skip


def https_rows(rounds: int, count: int) -> list[Row]:
    manifest = make_files(count)
    rels = list(manifest)
    medium, root = next(iter(media().items()))
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="awaitkit-bench-https-", dir=root))
    times: dict[str, list[float]] = {}
    try:
        with serving_nginx_tls(CACHE, work) as (base, ca):
            names = list(commands(base, ca, work, work / "out", rels))
            warm = work / "warm-up"  # untimed: nginx's caches and the page cache
            timed_run(commands(base, ca, work, warm, rels)["curl"], warm, manifest)
            shutil.rmtree(warm)
            for round_no in range(rounds):
                shift = round_no % len(names)
                for i, name in enumerate(names[shift:] + names[:shift]):
                    out = work / f"out-{round_no}-{i}"
                    argv = commands(base, ca, work, out, rels)[name]
                    times.setdefault(name, []).append(timed_run(argv, out, manifest))
                    shutil.rmtree(out)
    finally:
        shutil.rmtree(work)
    ours = times.pop("awaitkit")
    return [
        Row(
            bench="https",
            metric=f"{count:,} files, TLS 1.3, -j {CONCURRENCY}, {medium}",
            ours=median(ours),
            peer_name=peer,
            peer=median(peer_times),
            unit="s",
            goal=1 / 1.1 if peer == "curl" else None,
            round_ratios=per_round_ratios(ours, peer_times, higher_is_better=False),
        )
        for peer, peer_times in times.items()
    ]


def run(rounds: int, quick: bool) -> list[Row]:
    """10,000 files over HTTPS (1,000 with --quick)."""
    return https_rows(rounds, 1_000 if quick else 10_000)


if __name__ == "__main__":
    main_for(run, DEFAULT_ROUNDS)
