"""No two items of a run share a file, and no file there before a run is replaced.

``--naming basename|path|hash`` decides the name a URL wants; a name taken
(by a file there before the run, or by another item of this run) gets
``.1``, ``.2``... before its extension; ``--overwrite`` alone replaces a
file older than the run; ``--skip-existing`` skips an item whose file was
there before the run.  Served by the flags server from a folder on
loopback, through the CLI in this process and in subprocesses.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.core import UsageError
from awaitkit.download import DownloadOptions
from awaitkit.download._dispatch import key
from awaitkit.download._engine import iter_downloads
from awaitkit.download._files import Placement, run_stamp
from awaitkit.download._names import UnsafeName
from awaitkit.download._naming import candidates, check_relative, name_for
from awaitkit.download.cli import register
from tests.download._servers import BODY, RangeServer, flags_servers_in_thread

# -- names, pure ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/flags/br/metadata.json", "h/flags/br/metadata.json"),
        ("http://H:80/a/", "h/a/index.html"),
        ("https://h:443/a", "h/a"),
        ("http://h:8001/a/b.gif?x=1#f", "h_8001/a/b.gif"),
        ("http://user:pw@h/a.gif", "h/a.gif"),
        ("http://h/../../etc/passwd", "h/etc/passwd"),
        ("http://h/a/%2E%2E/%2e%2e/b", "h/b"),
        ("http://h/a%2Fb/c", "h/a_b/c"),
        ("http://h/a/./b//c.txt", "h/a/b/c.txt"),
        ("http://h/.hidden/x", "h/hidden/x"),
        ("http://h/CON/x", "h/_CON/x"),
        ("http://h/a%00b/c", "h/a_b/c"),
        ("http://h/\udcff/c", "h/_/c"),  # undecodable argv bytes
        ("http://[::1]:8080/x", "[__1]_8080/x"),
        ("http://h", "h/index.html"),
    ],
)
def test_path_naming_keeps_host_and_folders_and_only_safe_parts(
    url: str, expected: str
) -> None:
    name = name_for(url, "path")
    assert name == expected
    assert check_relative(name) == name


def test_hash_naming_is_one_name_per_url_with_its_extension() -> None:
    a = name_for("http://h/a/metadata.json", "hash")
    b = name_for("http://h/b/metadata.json", "hash")
    assert a != b
    assert a.endswith(".json")
    assert len(a) == 32 + len(".json")
    assert name_for("http://h/x.tar.gz", "hash").endswith(".tar.gz")
    assert check_relative(name_for("http://h/\udcff", "hash"))


def test_basename_naming_is_the_last_segment() -> None:
    assert name_for("http://h/flags/br/metadata.json", "basename") == "metadata.json"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("metadata.json", ["metadata.json", "metadata.1.json", "metadata.2.json"]),
        ("README", ["README", "README.1", "README.2"]),
        ("a.tar.gz", ["a.tar.gz", "a.1.tar.gz", "a.2.tar.gz"]),
        ("h/x/a.b.c", ["h/x/a.b.c", "h/x/a.b.1.c", "h/x/a.b.2.c"]),
    ],
)
def test_candidates_put_the_number_before_the_extension(
    name: str, expected: list[str]
) -> None:
    assert list(itertools.islice(candidates(name), 3)) == expected
    assert next(candidates(name, 2)) == expected[2]


@pytest.mark.parametrize("bad", ["", "/etc/x", "a/../b", "a//b", "a/./b", "a/\0"])
def test_check_relative_refuses_anything_but_safe_parts(bad: str) -> None:
    with pytest.raises(UnsafeName):
        check_relative(bad)


def test_the_dispatch_key_follows_the_naming() -> None:
    url = "http://h/flags/br/metadata.json"
    assert key(url) == "metadata.json"
    assert key(url, "path") == "h/flags/br/metadata.json"
    assert key(url, "hash") == name_for(url, "hash")


def test_an_unknown_naming_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="naming must be one of"):
        DownloadOptions(naming="flat")  # type: ignore[arg-type]


def test_the_cli_offers_exactly_the_namings() -> None:
    import argparse

    from awaitkit.download._naming import NAMINGS

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    fetch = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    ).choices["fetch"]
    naming = next(a for a in fetch._actions if a.dest == "naming")
    assert tuple(naming.choices or ()) == NAMINGS


# -- placing a finished file ---------------------------------------------------


def test_placement_never_replaces_and_counts_on(tmp_path: Path) -> None:
    prefix = os.path.join(tmp_path, "")
    (tmp_path / "f.txt").write_text("old")
    place = Placement(prefix, overwrite=False, stamp=None).place
    for body in ("one", "two"):
        (tmp_path / ".f.txt.part").write_text(body)
        place(str(tmp_path / ".f.txt.part"), "f.txt")
    assert (tmp_path / "f.txt").read_text() == "old"
    assert (tmp_path / "f.1.txt").read_text() == "one"
    assert (tmp_path / "f.2.txt").read_text() == "two"
    assert not (tmp_path / ".f.txt.part").exists()


def test_overwrite_replaces_only_what_is_older_than_the_run(tmp_path: Path) -> None:
    prefix = os.path.join(tmp_path, "")
    (tmp_path / "f").write_text("old")
    (tmp_path / "d").mkdir()  # not a regular file: never replaced
    # Stamps come from the file system's coarse clock: the run starts once
    # it has moved past the old file's (a file of the same tick is kept).
    old = (tmp_path / "f").stat().st_ctime_ns
    while (stamp := run_stamp(tmp_path)) <= old:
        pass
    place = Placement(prefix, overwrite=True, stamp=stamp).place
    assert place(_part(tmp_path, "new"), "f") == ("f", 0)
    assert place(_part(tmp_path, "newer"), "f") == ("f.1", 1)  # "f" is this run's
    assert place(_part(tmp_path, "dir"), "d") == ("d.1", 1)
    assert (tmp_path / "f").read_text() == "new"
    assert (tmp_path / "f.1").read_text() == "newer"


def _part(folder: Path, body: str) -> str:
    part = folder / ".x.part"
    part.write_text(body)
    return str(part)


def test_without_hard_links_a_name_is_reserved_then_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system with no hard links (FAT, some network ones): simulated, none here."""

    def no_links(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "f").write_text("old")
    place = Placement(os.path.join(tmp_path, ""), overwrite=False, stamp=None).place
    assert place(_part(tmp_path, "new"), "f") == ("f.1", 1)
    assert (tmp_path / "f").read_text() == "old"
    assert (tmp_path / "f.1").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["f", "f.1"]


# -- whole runs ----------------------------------------------------------------

NAMES = [f"name{j}.txt" for j in range(10)]
FETCH = [sys.executable, "-m", "awaitkit", "fetch", "-q"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 folders holding the same 10 file names, every body different."""
    root = tmp_path_factory.mktemp("site")
    for i in range(100):
        folder = root / "d" / str(i)
        folder.mkdir(parents=True)
        for name in NAMES:
            (folder / name).write_bytes(f"{i}/{name}\n".encode() * 50)
    (root / "flags" / "br").mkdir(parents=True)
    (root / "flags" / "fr").mkdir(parents=True)
    (root / "flags" / "br" / "metadata.json").write_text('{"country": "Brazil"}')
    (root / "flags" / "fr" / "metadata.json").write_text('{"country": "France"}')
    return root


@pytest.fixture(scope="module")
def base(site: Path) -> Iterator[str]:
    with flags_servers_in_thread(1, directory=site) as servers:
        yield servers[0].base_url


def shared_urls(base: str) -> list[str]:
    return [f"{base}/d/{i}/{name}" for i in range(100) for name in NAMES]


def report_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_each_item_has_its_own_file(
    lines: list[dict[str, object]], site: Path, base: str, count: int
) -> None:
    assert len(lines) == count
    assert {line["status"] for line in lines} == {"ok"}
    paths = [str(line["path"]) for line in lines]
    assert len(set(paths)) == count  # no two items name one file
    for line in lines:
        served = site / str(line["url"]).removeprefix(base + "/")
        assert Path(str(line["path"])).read_bytes() == served.read_bytes(), line


def run_fetch_here(*args: str) -> int:
    return main(["fetch", "-q", *args])


def test_two_metadata_json_urls_make_two_files(
    tmp_path: Path, base: str, site: Path
) -> None:
    """The example that lost France's or Brazil's data."""
    dest, report = tmp_path / "out", tmp_path / "r.jsonl"
    urls = [f"{base}/flags/br/metadata.json", f"{base}/flags/fr/metadata.json"]
    assert run_fetch_here(*urls, "--dest", str(dest), "--report", str(report)) == 0
    lines = report_of(report)
    assert sorted(str(line["path"]) for line in lines) == [
        str(dest / "metadata.1.json"),
        str(dest / "metadata.json"),
    ]
    assert_each_item_has_its_own_file(lines, site, base, 2)


@pytest.mark.parametrize("processes", ["1", "2", "3"])
def test_a_thousand_urls_sharing_ten_basenames_make_a_thousand_files(
    tmp_path: Path, base: str, site: Path, processes: str
) -> None:
    urls, dest, report = tmp_path / "urls.txt", tmp_path / "out", tmp_path / "r.jsonl"
    urls.write_text("\n".join(shared_urls(base)) + "\n")
    done = subprocess.run(
        [
            *FETCH,
            "-m",
            "30",
            "--processes",
            processes,
            "-i",
            str(urls),
            "--dest",
            str(dest),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = report_of(report)
    assert_each_item_has_its_own_file(lines, site, base, 1000)
    names = {p.name for p in dest.iterdir()}
    assert len(names) == 1000
    assert names == {
        f"name{j}.txt" if n == 0 else f"name{j}.{n}.txt"
        for j in range(10)
        for n in range(100)
    }


@pytest.mark.parametrize("naming", ["path", "hash"])
def test_path_and_hash_naming_give_every_url_its_own_name(
    tmp_path: Path, base: str, site: Path, naming: str
) -> None:
    dest, report = tmp_path / "out", tmp_path / "r.jsonl"
    urls = shared_urls(base)[:200]
    args = ["--naming", naming, "--dest", str(dest), "--report", str(report)]
    assert run_fetch_here(*urls, *args) == 0
    lines = report_of(report)
    assert_each_item_has_its_own_file(lines, site, base, 200)
    for line in lines:
        expected = name_for(str(line["url"]), naming)  # type: ignore[arg-type]
        assert line["path"] == str(dest / expected)  # no suffix was needed
    if naming == "path":
        host = base.removeprefix("http://").replace(":", "_")
        assert (dest / host / "d" / "7" / "name3.txt").is_file()


def test_a_file_there_before_the_run_is_kept_and_the_item_saved_beside_it(
    tmp_path: Path, base: str, site: Path
) -> None:
    dest, report = tmp_path / "out", tmp_path / "r.jsonl"
    dest.mkdir()
    (dest / "name0.txt").write_text("mine")
    url = f"{base}/d/5/name0.txt"
    assert run_fetch_here(url, "--dest", str(dest), "--report", str(report)) == 0
    assert (dest / "name0.txt").read_text() == "mine"
    [line] = report_of(report)
    assert line["path"] == str(dest / "name0.1.txt")
    assert (dest / "name0.1.txt").read_bytes() == (site / "d/5/name0.txt").read_bytes()


def test_overwrite_replaces_an_old_file_but_never_one_of_this_run(
    tmp_path: Path, base: str, site: Path
) -> None:
    dest, report = tmp_path / "out", tmp_path / "r.jsonl"
    dest.mkdir()
    (dest / "name0.txt").write_text("old")
    urls = [f"{base}/d/{i}/name0.txt" for i in range(3)]
    args = ["--overwrite", "--dest", str(dest), "--report", str(report), "-m", "1"]
    assert run_fetch_here(*urls, *args) == 0
    lines = report_of(report)
    assert_each_item_has_its_own_file(lines, site, base, 3)
    assert sorted(str(line["path"]) for line in lines) == [
        str(dest / n) for n in ("name0.1.txt", "name0.2.txt", "name0.txt")
    ]
    assert "old" not in (dest / "name0.txt").read_text()


@pytest.mark.parametrize("processes", ["1", "2"])
def test_skip_existing_skips_old_files_only(
    tmp_path: Path, base: str, site: Path, processes: str
) -> None:
    """An item whose file was there before is SKIPPED; one written by this run is not."""
    dest, report = tmp_path / "out", tmp_path / "r.jsonl"
    urls = tmp_path / "urls.txt"
    dest.mkdir()
    (dest / "name1.txt").write_text("kept")
    urls.write_text("".join(f"{base}/d/{i}/name2.txt\n" for i in range(20)))
    urls.write_text(urls.read_text() + f"{base}/d/0/name1.txt\n")
    done = subprocess.run(
        [
            *FETCH,
            "--skip-existing",
            "--processes",
            processes,
            "-m",
            "4",
            "-i",
            str(urls),
            "--dest",
            str(dest),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = report_of(report)
    skipped = [line for line in lines if line["status"] == "skipped"]
    assert [(s["url"], s["path"]) for s in skipped] == [
        (f"{base}/d/0/name1.txt", str(dest / "name1.txt"))
    ]
    assert (dest / "name1.txt").read_text() == "kept"
    ok = [line for line in lines if line["status"] == "ok"]
    assert_each_item_has_its_own_file(ok, site, base, 20)


def test_path_naming_refuses_a_folder_that_leads_outside(
    tmp_path: Path, base: str
) -> None:
    """A symlink planted where a host folder goes is never written through."""
    dest, report, outside = tmp_path / "out", tmp_path / "r.jsonl", tmp_path / "else"
    outside.mkdir()
    dest.mkdir()
    host = base.removeprefix("http://").replace(":", "_")
    (dest / host).symlink_to(outside, target_is_directory=True)
    args = ["--naming", "path", "--dest", str(dest), "--report", str(report)]
    assert run_fetch_here(f"{base}/d/1/name1.txt", *args) == 1
    [line] = report_of(report)
    assert line["status"] == "error"
    assert "outside the destination" in str(line["error"])
    assert list(outside.iterdir()) == []


@pytest.mark.anyio
async def test_path_naming_resumes_a_part_in_a_subfolder(tmp_path: Path) -> None:
    """A leftover ``.part`` under the host's folders is found and continued with Range."""
    dest = tmp_path / "out"
    async with RangeServer() as server:
        url = f"{server.base_url}/file"
        rel = Path(name_for(url, "path"))
        make_part(dest / rel.parent / f".{rel.name}.part", BODY[:1000])
        options = DownloadOptions(naming="path")
        [result] = [r async for r in iter_downloads([url], dest, options=options)]
    assert server.ranges == ["bytes=1000-"]
    assert result.fspath == str(dest / rel)
    assert read(dest / rel) == BODY
    assert not (dest / rel.parent / f".{rel.name}.part").exists()


def make_part(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(data)


def read(path: Path) -> bytes:
    return path.read_bytes()
