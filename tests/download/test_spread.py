"""``fetch --processes N``: one batch over forked processes, every item once.

The dispatcher is tested in-process; the processes themselves through the
real CLI in a subprocess (forking pytest, which runs threads, is refused).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from awaitkit.download import DownloadOptions
from awaitkit.download._dispatch import BLOCK, Dispatch, Shard
from awaitkit.download._plan import shares
from awaitkit.download._spread import fork_downloaders
from awaitkit.flags import FlagsServer, build_dataset, country_codes

pytestmark = pytest.mark.anyio


# -- shares --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("concurrency", "per_host", "processes", "expect"),
    [
        (100, 0, 2, [(50, 0), (50, 0)]),
        (5, 0, 2, [(3, 0), (2, 0)]),
        (2, 0, 4, [(1, 0), (1, 0)]),  # never a shard with nothing to do
        (10, 3, 4, [(4, 1), (3, 1), (3, 1)]),  # per-host 3: at most 3 shards
        (10, 1, 4, [(10, 1)]),
        (7, 0, 1, [(7, 0)]),
    ],
)
def test_shares_add_up_to_the_limits(
    concurrency: int, per_host: int, processes: int, expect: list[tuple[int, int]]
) -> None:
    opts = DownloadOptions(concurrency=concurrency, per_host=per_host, retries=7)
    got = shares(opts, processes)
    assert [(o.concurrency, o.per_host) for o in got] == expect
    assert all(o.retries == 7 for o in got)


def test_fork_refused_with_other_threads_running_says_so_and_forks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another thread (an embedding program's): one process, and a WARNING why."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with caplog.at_level("WARNING"):
            assert fork_downloaders(tmp_path, [DownloadOptions()]) == []
    finally:
        stop.set()
        thread.join()
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "other threads are running" in caplog.text


# -- the dispatcher, in-process --------------------------------------------------


async def blocks_of(*blocks: list[str]):  # type: ignore[no-untyped-def]
    for block in blocks:
        yield block


async def test_take_hands_out_blocks_within_room_then_none() -> None:
    urls = [f"http://h/{i}.bin" for i in range(10)]
    dispatch = Dispatch(blocks_of(urls[:7], urls[7:]))
    shard = Shard(room=4)
    first = await dispatch.take(shard)
    assert first == urls[:4]  # its room, no more
    waiter = asyncio.ensure_future(dispatch.take(shard))
    await asyncio.sleep(0)
    assert not waiter.done()  # full: waits for a result
    dispatch.done(shard, urls[0])
    assert await waiter == [urls[4]]
    for url in urls[1:5]:
        dispatch.done(shard, url)
    assert await dispatch.take(shard) == urls[5:9]  # across the input's blocks
    for url in urls[5:9]:
        dispatch.done(shard, url)
    assert await dispatch.take(shard) == [urls[9]]
    ending = asyncio.ensure_future(dispatch.take(shard))
    await asyncio.sleep(0)
    assert not ending.done()  # it holds an item: more may yet be pinned to it
    dispatch.done(shard, urls[9])
    assert await ending is None


async def test_a_name_in_flight_goes_to_the_shard_writing_it() -> None:
    """Two processes must never write one .part: same name, same shard."""
    a, b = Shard(room=2), Shard(room=10)
    dispatch = Dispatch(
        blocks_of(["http://one/x.gif", "http://one/y.gif"], ["http://two/x.gif"])
    )
    assert await dispatch.take(a) == ["http://one/x.gif", "http://one/y.gif"]
    # b reads the next block; its x.gif is being written by a.
    b_take = asyncio.ensure_future(dispatch.take(b))
    await asyncio.sleep(0)
    assert list(a.pinned) == ["http://two/x.gif"]
    assert a.count == 3
    assert await dispatch.take(a) == ["http://two/x.gif"]
    # Nothing left for b: once the input is known to be over, it ends.
    assert await b_take is None
    for url in ["http://one/x.gif", "http://one/y.gif", "http://two/x.gif"]:
        dispatch.done(a, url)
    assert a.count == 0
    assert not a.names
    assert await dispatch.take(a) is None


async def test_a_name_is_free_again_once_done() -> None:
    a, b = Shard(room=1), Shard(room=10)
    dispatch = Dispatch(blocks_of(["http://h/x.gif"], ["http://h/x.gif"]))
    assert await dispatch.take(a) == ["http://h/x.gif"]
    dispatch.done(a, "http://h/x.gif")
    assert await dispatch.take(b) == ["http://h/x.gif"]


async def test_a_long_run_of_one_name_waits_instead_of_queueing() -> None:
    """A million copies of one URL must not pile up in memory."""
    same = ["http://h/same.bin"] * 100
    a, b = Shard(room=3), Shard(room=3)
    dispatch = Dispatch(blocks_of(same))
    assert await dispatch.take(a) == same[:3]
    b_take = asyncio.ensure_future(dispatch.take(b))
    await asyncio.sleep(0)
    assert not b_take.done()
    assert a.count == 2 * a.room  # pinned up to twice its room, no more
    for _ in range(3):
        dispatch.done(a, same[0])
    await asyncio.sleep(0)
    assert not b_take.done()  # still the only writer of that name: more pins
    assert a.count == 2 * a.room
    b_take.cancel()


async def test_close_releases_every_hold_and_returns_what_was_never_sent() -> None:
    """A dead shard's taken items are the runner's to report; its pinned ones, ours."""
    a, b = Shard(room=3), Shard(room=10)
    dispatch = Dispatch(
        blocks_of(["http://h/1", "http://h/2", "http://h/1"], ["http://g/1"])
    )
    taken = await dispatch.take(a)
    assert taken == ["http://h/1", "http://h/2", "http://h/1"]
    dispatch.done(a, "http://h/2")
    b_take = asyncio.ensure_future(dispatch.take(b))
    await asyncio.sleep(0)
    assert list(a.pinned) == ["http://g/1"]  # name "1" is a's
    assert dispatch.close(a) == ["http://g/1"]
    assert (a.count, a.held, a.names, list(a.pinned)) == (0, {}, {}, [])
    assert await dispatch.take(a) is None
    assert dispatch.close(a) == []  # once
    assert await b_take is None  # the input is over and b holds nothing


async def test_block_size_caps_a_take() -> None:
    urls = [f"http://h/{i}" for i in range(3 * BLOCK)]
    dispatch = Dispatch(blocks_of(urls))
    assert len(await dispatch.take(Shard(room=10_000)) or []) == BLOCK


# -- real processes -------------------------------------------------------------


def every_code_urls(base: str) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [f"{base}/flags/{a}{b}/{a}{b}.gif".lower() for a in letters for b in letters]


def children_of(pid: int) -> list[int]:
    """Live child processes of ``pid``, from /proc (zombies excluded)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


async def start_fetch(*args: str, group: bool = False) -> asyncio.subprocess.Process:
    """``awaitkit fetch ARGS`` in a subprocess (``group``: in its own process group)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "awaitkit",
        "fetch",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=group,
    )


def read_report(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def body_of(path: str) -> bytes:
    return Path(path).read_bytes()


def assert_files_whole(dest: Path) -> None:
    """Every final-named file is a whole flag; only .part files may be short."""
    data = build_dataset()
    for path in dest.iterdir():
        if path.name.endswith(".part"):
            continue
        cc = path.stem
        assert path.read_bytes() == data[f"flags/{cc}/{cc}.gif"].body, path


async def test_three_processes_every_item_once_and_within_m(tmp_path: Path) -> None:
    """676 URLs over 3 processes: one report line each, files whole, -m held."""
    report, dest = tmp_path / "r.jsonl", tmp_path / "d"
    async with FlagsServer("LOCAL", delay="0.01-0.03") as server:
        urls = tmp_path / "urls.txt"
        urls.write_text("\n".join(every_code_urls(server.base_url)) + "\n")
        proc = await start_fetch(
            "-q", "--processes", "3", "-m", "6", "-i", str(urls),
            "--dest", str(dest), "--report", str(report),
        )  # fmt: skip
        async with asyncio.timeout(120):
            # The children exist while the batch runs.
            while proc.returncode is None and not children_of(proc.pid):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            forked = len(children_of(proc.pid))
            out, err = await proc.communicate()
        assert server.stats.max_in_flight <= 6
    assert forked == 2
    assert proc.returncode == 1, err.decode()  # the 404s
    lines = read_report(report)
    assert Counter(line["url"] for line in lines) == Counter(
        every_code_urls(server.base_url)
    )
    ok = {line["url"] for line in lines if line["status"] == "ok"}
    assert len(ok) == len(country_codes())
    for line in lines:  # as one process would report them
        name = str(line["url"]).rsplit("/", 1)[1]
        saved = str(dest / name) if line["status"] == "ok" else None
        assert (line["path"], line["bytes"] > 0) == (saved, saved is not None)
    assert {p.name for p in dest.iterdir()} == {u.rsplit("/", 1)[1] for u in ok}
    assert_files_whole(dest)
    assert f"{len(ok)} files downloaded." in out.decode()


async def test_one_name_from_two_servers_is_written_by_one_process_at_a_time(
    tmp_path: Path,
) -> None:
    """Same file name, different bodies, over 2 processes: 80 files, each one whole body.

    Were the two processes to write one ``.part`` at once, the bodies (larger
    than one write, so streamed) would mix, or a rename would publish a file
    that the other process is still writing; were they to give two items one
    name, a body would be lost.
    """
    bodies = {"a": b"a" * 600_000, "b": b"b" * 400_000}
    for tag, body in bodies.items():
        (tmp_path / tag / "files").mkdir(parents=True)
        (tmp_path / tag / "files" / "big.bin").write_bytes(body)
    report, dest = tmp_path / "r.jsonl", tmp_path / "d"
    async with (
        FlagsServer("LOCAL", directory=tmp_path / "a") as one,
        FlagsServer("LOCAL", directory=tmp_path / "b") as two,
    ):
        urls = [f"{s.base_url}/files/big.bin" for s in (one, two)] * 40
        (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
        proc = await start_fetch(
            "-q", "--processes", "2", "-m", "20", "-i", str(tmp_path / "urls.txt"),
            "--dest", str(dest), "--report", str(report),
        )  # fmt: skip
        _out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    lines = read_report(report)
    assert [line["status"] for line in lines] == ["ok"] * 80
    # Each item has a file of its own, whole, and its report line names it.
    names = {"big.bin"} | {f"big.{n}.bin" for n in range(1, 80)}
    assert {p.name for p in dest.iterdir()} == names
    assert {line["path"] for line in lines} == {str(dest / n) for n in names}
    for line in lines:
        server = "a" if str(line["url"]).startswith(one.base_url) else "b"
        assert body_of(str(line["path"])) == bodies[server]


async def test_a_killed_child_ends_its_items_as_errors_once(tmp_path: Path) -> None:
    """SIGKILL one child mid-batch: its items are ERROR, every URL reported once."""
    report, dest = tmp_path / "r.jsonl", tmp_path / "d"
    async with FlagsServer("LOCAL", delay="0.05-0.1") as server:
        urls = tmp_path / "urls.txt"
        all_urls = every_code_urls(server.base_url)
        urls.write_text("\n".join(all_urls) + "\n")
        proc = await start_fetch(
            "-q", "--processes", "2", "-m", "20", "--retries", "0", "-i", str(urls),
            "--dest", str(dest), "--report", str(report),
        )  # fmt: skip
        async with asyncio.timeout(120):
            while proc.returncode is None and server.stats.requests < 100:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            (child,) = children_of(proc.pid)
            os.kill(child, signal.SIGKILL)
            _out, err = await proc.communicate()
    assert proc.returncode == 1, err.decode()
    lines = read_report(report)
    assert Counter(line["url"] for line in lines) == Counter(all_urls)
    lost = [line for line in lines if "download process" in str(line["error"])]
    assert lost, "the killed child held items"
    assert all(f"{child} ended (killed by SIGKILL)" in str(x["error"]) for x in lost)
    assert all(line["status"] == "error" for line in lost)
    assert_files_whole(dest)
    # The survivor took the rest of the input.
    assert sum(line["status"] == "ok" for line in lines) > 100


STOPS = {signal.SIGINT: (130, "Interrupted"), signal.SIGTERM: (143, "Terminated")}


@pytest.mark.parametrize("signum", list(STOPS), ids=lambda sig: sig.name)
@pytest.mark.parametrize("whole_group", [False, True], ids=["parent", "group"])
async def test_a_stop_signal_stops_every_process_cleanly(
    tmp_path: Path, whole_group: bool, signum: signal.Signals
) -> None:
    """SIGINT or SIGTERM to the parent, or to the whole process group (Ctrl-C at
    a terminal, a service manager): children stopped once and reaped, summary,
    exit 130 (SIGINT) or 143 (SIGTERM)."""
    code, word = STOPS[signum]
    dest = tmp_path / "d"
    async with FlagsServer("LOCAL", delay="0.2-0.4") as server:
        urls = tmp_path / "urls.txt"
        urls.write_text("\n".join(every_code_urls(server.base_url)) + "\n")
        proc = await start_fetch(
            "-q", "--processes", "2", "-m", "40", "-i", str(urls), "--dest", str(dest),
            group=whole_group,
        )  # fmt: skip
        async with asyncio.timeout(120):
            while proc.returncode is None and server.stats.requests < 80:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            (child,) = children_of(proc.pid)
            if whole_group:
                os.killpg(proc.pid, signum)
            else:
                proc.send_signal(signum)
            out, err = await proc.communicate()
    assert proc.returncode == code, err.decode()
    assert f"{word} after" in err.decode()
    assert "Traceback" not in err.decode()
    assert "downloaded." in out.decode()
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # reaped: neither running nor a zombie
    done = int(err.decode().split(f"{word} after ")[1].split()[0])
    assert 0 < done < len(every_code_urls(server.base_url))
    assert_files_whole(dest)


IGNORING_SIGTERM = """
import os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.execv(sys.executable, [sys.executable, "-m", "awaitkit", "fetch", *sys.argv[1:]])
"""


async def test_started_ignoring_sigterm_it_keeps_to_that_and_its_children_still_stop(
    tmp_path: Path,
) -> None:
    """A parent started with SIGTERM ignored goes on through a SIGTERM; on Ctrl-C
    its children still take its SIGTERM as the stop request, and stop cleanly
    rather than being killed when their time is up."""
    report, dest = tmp_path / "r.jsonl", tmp_path / "d"
    async with FlagsServer("LOCAL", delay="0.2-0.4") as server:
        urls = tmp_path / "urls.txt"
        urls.write_text("\n".join(every_code_urls(server.base_url)) + "\n")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", IGNORING_SIGTERM,
            "-q", "--processes", "2", "-m", "40", "-i", str(urls),
            "--dest", str(dest), "--report", str(report),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(120):
            while proc.returncode is None and server.stats.requests < 80:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            proc.send_signal(signal.SIGTERM)
            # Still downloading: more requests come.
            while proc.returncode is None and server.stats.requests < 160:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            assert proc.returncode is None
            proc.send_signal(signal.SIGINT)
            at_stop = server.stats.requests
            _, err = await proc.communicate()
            after_stop = server.stats.requests - at_stop
    assert proc.returncode == 130, err.decode()
    # Only the few started before the stop reached the child: a child that
    # missed it would finish the block it holds (64 URLs).
    assert after_stop < 16
    assert "Interrupted after" in err.decode()
    lines = read_report(report)
    # At least the 160 requests made, less the 40 that may be in flight.
    assert 160 - 40 <= len(lines) < len(every_code_urls(server.base_url))
    assert not [x for x in lines if "ended" in str(x["error"])]
    assert_files_whole(dest)


# -- --processes auto ------------------------------------------------------------


AUTO_PROBE = """
import os, sys
from awaitkit.download._plan import SPREAD_AT, SPREAD_MAX, processes_for
big, small = sys.argv[1:]
cpus = min(len(os.sched_getaffinity(0)), SPREAD_MAX)
with open(big) as b, open(small) as s:
    assert processes_for("auto", [], b) == cpus
    assert processes_for("auto", [], s) == 1
    assert processes_for("auto", ["http://h/x"] * 2048, None) == cpus
    assert processes_for("3", [], s) == 3
r, w = os.pipe()  # a pipe has no size to judge by
os.close(w)
with os.fdopen(r) as pipe:
    assert processes_for("auto", [], pipe) == 1
print("checked", cpus)
"""


def test_auto_spreads_a_large_input_file_only(tmp_path: Path) -> None:
    """Checked in a fresh, single-threaded interpreter, as the CLI runs."""
    import subprocess

    from awaitkit.download._plan import SPREAD_AT

    big, small = tmp_path / "big.txt", tmp_path / "small.txt"
    big.write_text("http://h/x\n" * (SPREAD_AT // 11 + 1))
    small.write_text("http://h/x\n" * 100)
    probe = [sys.executable, "-c", AUTO_PROBE, str(big), str(small)]
    done = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("checked")


FORK_FAILS_PROBE = """
import errno, os, sys
from awaitkit.cli import main
real_fork, forked = os.fork, []
def fork():  # the second fork fails, as at a process limit
    if forked:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
    pid = real_fork()
    if pid:
        forked.append(pid)
    return pid
os.fork = fork
code = main(["fetch", "-q", "--processes", "3", "--retries", "0", "--dest", sys.argv[1],
             "http://127.0.0.1:9/a", "http://127.0.0.1:9/b"])
try:
    os.kill(forked[0], 0)
    print("first child still there")
except ProcessLookupError:
    print("first child reaped")
sys.exit(code)
"""


def test_a_failed_fork_falls_back_to_one_process(tmp_path: Path) -> None:
    """No half-made team: the forked child is reaped, one process does it all."""
    import subprocess

    probe = [sys.executable, "-c", FORK_FAILS_PROBE, str(tmp_path / "d")]
    done = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr  # both URLs refused: errors
    assert "WARNING awaitkit.core._shards: fork failed ([Errno 11]" in done.stderr
    assert done.stdout.splitlines()[-1] == "first child reaped"
    assert "  2 errors." in done.stdout


async def test_hostile_urls_each_get_one_result_overprocesses_for(
    tmp_path: Path,
) -> None:
    """Non-UTF-8 argv bytes, a 100 KB URL, a newline inside a URL: one result each."""
    report, dest = tmp_path / "r.jsonl", tmp_path / "d"
    async with FlagsServer("LOCAL") as server:
        good = f"{server.base_url}/flags/br/br.gif"
        argv = [
            good.encode(),
            b"http://127.0.0.1:9/\xff\xfe.gif",  # not UTF-8: a surrogate escape
            b"http://127.0.0.1:9/" + b"a" * 100_000,
            b"http://127.0.0.1:9/a\nb.gif",
        ]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "awaitkit", "fetch", "-q", "--processes", "2",
            "--retries", "0", "--dest", str(dest), "--report", str(report), *argv,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, err.decode()
    assert "Traceback" not in err.decode()
    lines = read_report(report)
    assert len(lines) == 4
    assert sorted(str(line["status"]) for line in lines) == ["error"] * 3 + ["ok"]
    assert [p.name for p in dest.iterdir()] == ["br.gif"]


INPUT_FAILS_PROBE = """
import asyncio, os, sys
from pathlib import Path
from awaitkit.core import run
from awaitkit.download import DownloadOptions
from awaitkit.download._plan import shares
from awaitkit.download._spread import download_spread, fork_downloaders

dest = Path(sys.argv[1])
mine, other = shares(DownloadOptions(concurrency=4, retries=0), 2)
children = fork_downloaders(dest, [other])
results = []

async def blocks():
    for i in range(3):
        yield [f"http://127.0.0.1:9/{i}-{j}" for j in range(64)]
        await asyncio.sleep(0.3)  # time for every item so far to fail (port 9)
    raise RuntimeError("the input broke")

try:
    run(download_spread(blocks(), dest, mine, children, results.append))
except* RuntimeError as group:
    print("raised:", group.exceptions[0])
print("results:", len(results), len({r.url for r in results}))
worker = children[0][0]
os.kill(worker.pid, 0) if worker.status is None else print("child reaped")
"""


def test_an_input_error_ends_the_batch_and_every_process(tmp_path: Path) -> None:
    """The input fails after 3 blocks: raised, no hang, each item it gave once."""
    import subprocess

    probe = [sys.executable, "-c", INPUT_FAILS_PROBE, str(tmp_path / "d")]
    done = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == "raised: the input broke"
    assert out[1] == "results: 192 192"  # every item handed out, reported once
    assert out[2] == "child reaped"
