"""The on-disk index cache: built once, then loaded; anything doubtful is rebuilt."""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from awaitkit.find import CACHE_ENV, CharIndex, cache_file, load_index
from awaitkit.find._cache import dump_index, parse_index
from tests.conftest import python_in_read_only_dir


@pytest.fixture(scope="module")
def good_bytes(index_cache_dir: Path) -> bytes:
    """A valid cache file's content."""
    return cache_file(index_cache_dir).read_bytes()


def _resigned(data: bytes, old: bytes, new: bytes) -> bytes:
    """Edit the header and recompute a valid checksum: the other checks must catch it."""
    end = data.index(b"\n")
    head = data[:end].rpartition(b" crc32=")[0].replace(old, new, 1)
    payload = data[end + 1 :]
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + b" crc32=%d\n" % crc + payload


def fingerprint(path: Path) -> tuple[int, int]:
    """Inode and mtime: a rebuild writes a new file and renames it over the old."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def assert_works(index: CharIndex) -> None:
    assert index.query("cat face").matches[0].code == "U+1F431"


def test_first_run_builds_second_run_loads(tmp_path: Path) -> None:
    path = cache_file(tmp_path)
    assert not path.exists()
    assert_works(load_index(tmp_path))
    assert path.exists()
    before = fingerprint(path)
    second = load_index(tmp_path)
    assert fingerprint(path) == before  # loaded, not rebuilt
    assert_works(second)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left


def test_round_trip_keeps_every_table(full_index: CharIndex) -> None:
    assert parse_index(dump_index(full_index)).parts() == full_index.parts()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:-1], id="one-byte-short"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: os.urandom(4096), id="garbage"),
        pytest.param(lambda data: b"\x80\x04\x95" + data, id="pickle-like"),
        pytest.param(
            lambda data: data[:-100] + bytes([data[-100] ^ 1]) + data[-99:],
            id="bit-flip",
        ),
        pytest.param(
            lambda data: data.replace(b"package=", b"package=0", 1), id="stale-package"
        ),
        pytest.param(
            lambda data: data.replace(b"unicode=", b"unicode=1", 1), id="stale-unicode"
        ),
        pytest.param(
            lambda data: data.replace(b"format=", b"format=9", 1), id="stale-format"
        ),
        pytest.param(
            lambda data: data.replace(b"chunks=", b"chunks=x", 1), id="bad-header"
        ),
        pytest.param(lambda data: data.replace(b" crc32=", b" crc32", 1), id="no-crc"),
        pytest.param(
            lambda data: data.replace(b"chunks=seq.chars:", b"chunks=seq.chars:1", 1),
            id="bad-size",
        ),
        pytest.param(
            lambda data: _resigned(data, b"format=", b"format=9"), id="stale-signed"
        ),
        pytest.param(
            lambda data: _resigned(data, b"emoji=", b"emoji=0"), id="stale-emoji"
        ),
        pytest.param(
            lambda data: _resigned(data, b"seq.chars:", b"seq.chars:1"),
            id="size-signed",
        ),
    ],
)
def test_damaged_or_stale_cache_is_rebuilt(
    tmp_path: Path, good_bytes: bytes, damage: Callable[[bytes], bytes]
) -> None:
    bad = damage(good_bytes)
    with pytest.raises(ValueError, match="index"):
        parse_index(bad)
    path = cache_file(tmp_path)
    path.write_bytes(bad)
    assert_works(load_index(tmp_path))
    assert path.read_bytes() == good_bytes  # rewritten, valid again


def test_cache_directory_is_created(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    load_index(folder)
    assert cache_file(folder).exists()


def test_unwritable_cache_location_still_works(tmp_path: Path) -> None:
    """A cache "directory" that cannot be created (a file is in the way)."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert_works(load_index(blocker / "cache"))
    assert blocker.read_text() == "not a directory"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_only_cache_directory_still_works(tmp_path: Path) -> None:
    """An unwritable cache directory: the index is built in memory, nothing written."""
    folder = tmp_path / "ro"
    folder.mkdir()
    script = (
        "import sys; from pathlib import Path; from awaitkit.find import load_index;"
        "r = load_index(Path(sys.argv[1])).query('cat face');"
        "print(r.total, r.matches[0].char)"
    )
    proc = python_in_read_only_dir(folder, script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["11", "🐱"]  # 10 names, 1 keyword
    assert list(folder.iterdir()) == []


def test_environment_variable_chooses_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_file().parent == tmp_path
    load_index()
    assert cache_file(tmp_path).exists()


@pytest.mark.skipif(sys.platform != "linux", reason="the shortcut is Linux-only")
@pytest.mark.parametrize("xdg", [None, "/tmp/xdg-cache-test"])
def test_default_directory_is_platformdirs_user_cache(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    import platformdirs

    monkeypatch.delenv(CACHE_ENV, raising=False)
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert cache_file().parent == Path(platformdirs.user_cache_dir("awaitkit"))


def test_cache_file_is_compact(index_cache_dir: Path) -> None:
    """Well under the book's 67 MiB of sets: MBs of arrays, 14 languages included."""
    assert cache_file(index_cache_dir).stat().st_size < 16_000_000


def test_inconsistent_tables_are_refused(full_index: CharIndex) -> None:
    """Tables that passed the checksum but do not fit together are still refused."""
    parts = full_index.parts()
    words = bytes(parts["name.words"])
    with pytest.raises(ValueError, match="offsets"):
        CharIndex(
            parts | {"name.words": words.rpartition(b"\n")[0]}, start=32, stop=0x110000
        )
    with pytest.raises(ValueError, match="sequence"):
        CharIndex(
            parts | {"seq.labels": bytes(parts["seq.labels"]) + b"\nX"},
            start=32,
            stop=0x110000,
        )
    with pytest.raises(ValueError, match="missing"):
        CharIndex(
            {k: v for k, v in parts.items() if k != "seq.chars"},
            start=32,
            stop=0x110000,
        )


def test_unaligned_table_sizes_are_refused(good_bytes: bytes) -> None:
    """Sizes that add up but cut a uint32 table mid-item (checksum made valid)."""
    head = good_bytes[: good_bytes.index(b"\n")].rpartition(b" crc32=")[0]
    listed = head.split(b"chunks=")[1].split(b" ")[0]
    sizes = [entry.split(b":") for entry in listed.split(b",")]
    names = [name for name, _ in sizes]
    i = names.index(b"name.offsets")
    shifted = [[n, int(s)] for n, s in sizes]
    shifted[i - 1][1] -= 1  # name.words one byte shorter, name.offsets one longer
    shifted[i][1] += 1
    new = b",".join(n + b":%d" % s for n, s in shifted)
    with pytest.raises(ValueError, match="wrong size"):
        parse_index(_resigned(good_bytes, listed, new))


def test_header_records_every_version(good_bytes: bytes) -> None:
    """The emoji data version is read without importing emoji, and is right."""
    from importlib.metadata import version

    from awaitkit import __version__
    from awaitkit.find import unicode_version
    from awaitkit.find._cache import emoji_version

    assert emoji_version() == version("emoji")
    header = good_bytes[: good_bytes.index(b"\n")].decode()
    for field in (
        "format=2",
        f"unicode={unicode_version()}",
        f"package={__version__}",
        f"emoji={version('emoji')}",
    ):
        assert f" {field} " in header
