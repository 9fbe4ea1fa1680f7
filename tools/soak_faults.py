"""Soak `awaitkit serve flags` with every fault on: RSS stays flat, no stat is lost.

Starts the server as a child process on loopback (ephemeral ports, control
API on), runs N concurrent keep-alive clients for the given time, each asking
for flags, httpbin-style paths and rule-scheduled paths under its own
``X-Client-Id``, then checks that:

* the server's resident memory at the end is within ``--rss-slack`` of what it
  was once warm (after a fifth of the run);
* after the clients stop and stalls end, nothing is in flight, the server's
  ``requests`` equals the requests the clients sent, and its count per status
  equals the status lines the clients read (a reset, truncated or stalled
  response still begins with one).

::

    uv run python tools/soak_faults.py                  # 10 minutes, 200 clients
    uv run python tools/soak_faults.py --minutes 0.5 --clients 50

Exit status 0 when every check holds, 1 otherwise (the report says which).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

RULES = """\
[[rule]]
path = "/flags/b*.gif"   # GIFs are longer than the cuts
schedule = ["503", "reset@100", "close@200", "200"]

[[rule]]
path = "/flags/c*"
attempts = "2-3"
status = 429
retry_after = 0

[[rule]]
path = "/flags/d*.gif"
rate = 200000
"""
PATHS_EXTRA = ("/status/500", "/bytes/2048?seed=1", "/redirect/1", "/gzip", "/headers")
READ_TIMEOUT = 5.0  # longer than the server's --stall-timeout below


class Tally:
    """What the clients did and saw."""

    def __init__(self) -> None:
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.broken = 0  # connections ended: cut short, or Connection: close
        self.no_status = 0  # connection dropped before any status line


async def _read_response(reader: asyncio.StreamReader) -> tuple[int | None, bool]:
    """``(status, reusable)``: status None when not even the status line came;
    reusable when the whole response came and the connection stays open."""
    try:
        line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
    except (TimeoutError, ConnectionError):
        return None, False
    if not line.startswith(b"HTTP/1.1 "):
        return None, False
    status = int(line.split()[1])
    length = 0
    keep = True
    try:
        while True:
            header = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
            if header in (b"\r\n", b""):
                break
            name, _, value = header.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep = False
        if status in (204, 304) or 100 <= status < 200:
            return status, keep
        await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT)
    except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
        return status, False
    return status, keep


async def _client(
    n: int, host: str, port: int, paths: list[str], until: float, tally: Tally
) -> None:
    rng = random.Random(n)
    client_id = f"soak-{n}"
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    try:
        while time.monotonic() < until:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            path = rng.choice(paths)
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                f"X-Client-Id: {client_id}\r\n\r\n".encode()
            )
            tally.sent += 1
            status, reusable = await _read_response(reader)
            if status is None:
                tally.no_status += 1
            else:
                tally.statuses[status] += 1
            if not reusable:
                tally.broken += 1
                writer.close()
                writer = reader = None
    finally:
        if writer is not None:
            writer.close()


async def _control(port: int, token: str, method: str, path: str) -> object:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"control {path}: {head[:80]!r}")
    return json.loads(body)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _start_server(folder: Path, token: str) -> tuple[subprocess.Popen[str], int, int]:
    rules = folder / "rules.toml"
    rules.write_text(RULES)
    command = [
        sys.executable, "-m", "awaitkit", "--log-level", "WARNING", "serve", "flags",
        "--port", "0",
        "--control-port", "0", "--control-token", token, "--rules", str(rules),
        "--delay", "0-0.02", "--error-rate", "0.04", "--rate-limit-rate", "0.04",
        "--unavailable-rate", "0.04", "--reset-rate", "0.04",
        "--truncate-rate", "0.04", "--stall-rate", "0.01", "--stall-timeout", "1",
        "--retry-after", "0", "--seed", "7",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = control_port = 0
    deadline = time.monotonic() + 60
    while not (port and control_port):
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the server did not start")
        if line.startswith("serving "):
            port = int(line.split(" on ")[1].split()[0].rsplit(":", 1)[1])
        elif line.startswith("control API on "):
            control_port = int(line.split()[3].rsplit(":", 1)[1])
    return proc, port, control_port


async def soak(minutes: float, clients: int, rss_slack: float) -> int:
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="awaitkit-soak-") as folder:
        proc, port, control_port = _start_server(Path(folder), token)
        try:
            return await _soak(
                proc, port, control_port, token, minutes, clients, rss_slack
            )
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _soak(
    proc: subprocess.Popen[str],
    port: int,
    control_port: int,
    token: str,
    minutes: float,
    clients: int,
    rss_slack: float,
) -> int:
    from awaitkit.flags import country_codes

    codes = sorted(cc.lower() for cc in country_codes())
    paths = [f"/flags/{cc}/{cc}.gif" for cc in codes]
    paths += [f"/flags/{cc}/metadata.json" for cc in codes[:20]]
    paths += list(PATHS_EXTRA)
    seconds = minutes * 60
    tally = Tally()
    start = time.monotonic()
    until = start + seconds
    samples: list[tuple[float, float]] = []

    async def sample() -> None:
        while time.monotonic() < until:
            samples.append((time.monotonic() - start, _rss_mb(proc.pid)))
            await asyncio.sleep(min(5.0, seconds / 20))

    async with asyncio.TaskGroup() as group:
        group.create_task(sample())
        for n in range(clients):
            group.create_task(_client(n, "127.0.0.1", port, paths, until, tally))
    await asyncio.sleep(1.5)  # stalls (1 s) end
    stats = await _control(control_port, token, "GET", "/stats")
    assert isinstance(stats, dict)
    end_rss = _rss_mb(proc.pid)
    warm = [rss for t, rss in samples if t >= seconds / 5] or [end_rss]
    by_status = {int(k): v for k, v in stats["by_status"].items()}
    checks = {
        "nothing in flight": stats["in_flight"] == 0,
        "requests == requests sent": stats["requests"] == tally.sent,
        "by_status == status lines read": by_status == dict(tally.statuses),
        "requests == sum(by_status)": stats["requests"] == sum(by_status.values()),
        f"RSS end <= warm * {1 + rss_slack:g}": end_rss <= warm[0] * (1 + rss_slack),
    }
    print(
        f"{seconds:.0f} s, {clients} clients: {tally.sent} requests "
        f"({tally.sent / seconds:.0f}/s), {tally.broken} connections ended, "
        f"{tally.no_status} without a status line; by status {dict(tally.statuses)}"
    )
    print(f"server: {json.dumps(stats)}")
    print(
        f"RSS MB: warm {warm[0]:.1f}, max {max(r for _, r in samples):.1f}, "
        f"end {end_rss:.1f}"
    )
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument(
        "--rss-slack", type=float, default=0.10, help="allowed RSS growth (0.10)"
    )
    args = parser.parse_args()
    if args.minutes <= 0 or not 1 <= args.clients <= 5000:
        parser.error("need --minutes > 0 and 1 <= --clients <= 5000")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return asyncio.run(soak(args.minutes, args.clients, args.rss_slack))


if __name__ == "__main__":
    sys.exit(main())
