"""The on-disk cache of the flag images: hits, misses, damage, and unwritable places."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from awaitkit.flags import _cache
from awaitkit.flags._cache import (
    CACHE_ENV,
    cache_file,
    dump_gifs,
    load_gifs,
    parse_gifs,
)
from awaitkit.flags._dataset import build_dataset
from awaitkit.flags._images import flag_gif
from tests.conftest import python_in_read_only_dir

CODES = ["BR", "CN", "IN"]


class CountingDraw:
    """``flag_gif`` that records which codes it was asked to draw."""

    def __init__(self) -> None:
        self.drawn: list[str] = []

    def __call__(self, cc: str) -> bytes:
        self.drawn.append(cc)
        return flag_gif(cc)


@pytest.fixture(scope="module")
def gifs() -> dict[str, bytes]:
    return {cc: flag_gif(cc) for cc in CODES}


def test_round_trip(gifs: dict[str, bytes]) -> None:
    """parse_gifs reads back exactly what dump_gifs wrote, in order."""
    back = parse_gifs(dump_gifs(gifs))
    assert back == gifs
    assert list(back) == CODES
    assert parse_gifs(dump_gifs({})) == {}


def test_miss_draws_and_writes_then_hit_draws_nothing(tmp_path: Path) -> None:
    """First call draws every image and writes the file; the second reads it."""
    first = CountingDraw()
    got = load_gifs(CODES, first, tmp_path)
    assert first.drawn == CODES
    assert cache_file(tmp_path).is_file()
    second = CountingDraw()
    again = load_gifs(CODES, second, tmp_path)
    assert second.drawn == []
    assert again == got == {cc: flag_gif(cc) for cc in CODES}
    # No temporary file is left behind by the atomic write.
    assert [p.name for p in tmp_path.iterdir()] == [cache_file(tmp_path).name]


def test_missing_codes_are_drawn_and_added(tmp_path: Path) -> None:
    """A file lacking some codes: only those are drawn, and the file gains them."""
    load_gifs(["BR"], flag_gif, tmp_path)
    draw = CountingDraw()
    got = load_gifs(["BR", "CN"], draw, tmp_path)
    assert draw.drawn == ["CN"]
    assert list(got) == ["BR", "CN"]
    assert set(parse_gifs(cache_file(tmp_path).read_bytes())) == {"BR", "CN"}


def _corruptions(data: bytes) -> dict[str, bytes]:
    end = data.index(b"\n")
    flipped = bytearray(data)
    flipped[end + 100] ^= 0x01
    return {
        "bit flip in payload": bytes(flipped),
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "garbage": os.urandom(4096),
        "no newline": data[:end],
        "not utf-8 header": b"AWAITKIT-FLAGS \xff\xfe crc32=1\n" + data[end + 1 :],
        "header only": data[: end + 1],
    }


@pytest.mark.parametrize(
    "damage",
    [
        "bit flip in payload",
        "truncated",
        "empty",
        "garbage",
        "no newline",
        "not utf-8 header",
        "header only",
    ],
)
def test_damaged_file_is_redrawn_and_rewritten(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Any damage is detected, logged, and repaired with the right bytes."""
    load_gifs(CODES, flag_gif, tmp_path)
    path = cache_file(tmp_path)
    good = path.read_bytes()
    bad = _corruptions(good)[damage]
    with pytest.raises(ValueError, match="flags cache"):
        parse_gifs(bad)
    path.write_bytes(bad)
    draw = CountingDraw()
    with caplog.at_level(logging.WARNING, logger="awaitkit.flags"):
        got = load_gifs(CODES, draw, tmp_path)
    assert draw.drawn == CODES
    assert got == {cc: flag_gif(cc) for cc in CODES}
    assert "redrawing the flag images" in caplog.text
    assert parse_gifs(path.read_bytes()) == got


def _signed(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with ``old`` replaced by ``new`` in its header, checksum redone."""
    head, _, payload = data.partition(b"\n")
    fields = head.rpartition(b" crc32=")[0].replace(old, new)
    return fields + b" crc32=%d\n" % zlib.crc32(payload, zlib.crc32(fields)) + payload


def test_hostile_but_checksummed_files_are_refused() -> None:
    """A file with a valid checksum whose content lies is refused all the same."""
    with pytest.raises(ValueError, match="not a GIF"):
        parse_gifs(dump_gifs({"BR": b"<html>not a gif</html>"}))
    data = dump_gifs({"BR": flag_gif("BR"), "CN": flag_gif("CN")})
    with pytest.raises(ValueError, match="checksum"):
        parse_gifs(data + b"extra")
    br, cn = len(flag_gif("BR")), len(flag_gif("CN"))
    sizes = b"sizes=%d,%d" % (br, cn)
    hostile = {
        "sizes that do not add up": (sizes, b"sizes=1,%d" % cn),
        "a zero size": (sizes, b"sizes=0,%d" % (br + cn)),
        "a negative size": (sizes, b"sizes=-1,%d" % (br + cn + 1)),
        "fewer sizes than codes": (b"codes=BR,CN", b"codes=BR,CN,US"),
        "a size that is not a number": (sizes, b"sizes=x,%d" % cn),
        "no sizes": (b" sizes=", b" sizez="),
        "another format": (b"format=1", b"format=999"),
    }
    for what, (old, new) in hostile.items():
        forged = _signed(data, old, new)
        assert forged != data, what
        with pytest.raises(ValueError, match="flags cache"):
            parse_gifs(forged)


def test_change_of_drawing_code_makes_the_file_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file records a digest of the drawing code; another digest means redraw."""
    load_gifs(CODES, flag_gif, tmp_path)
    monkeypatch.setattr(_cache, "source_digest", lambda: "0123456789abcdef")
    with pytest.raises(ValueError, match="stale"):
        parse_gifs(cache_file(tmp_path).read_bytes())
    draw = CountingDraw()
    load_gifs(CODES, draw, tmp_path)
    assert draw.drawn == CODES


def test_source_digest_covers_the_encoder_and_the_drawing() -> None:
    """The digest is that of _gif.py and _images.py, so editing either redraws."""
    folder = Path(_cache.__file__).parent
    h = hashlib.blake2b(digest_size=8)
    for name in ("_gif.py", "_images.py"):
        h.update((folder / name).read_bytes())
    assert _cache.source_digest() == h.hexdigest()


def test_unwritable_cache_directory_still_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache path that cannot be created: images drawn, a warning, no crash."""
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="awaitkit.flags"):
        got = load_gifs(["BR"], flag_gif, blocker / "cache")
    assert got == {"BR": flag_gif("BR")}
    assert "cannot cache the flag images" in caplog.text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_only_cache_directory_still_works(tmp_path: Path) -> None:
    """A read-only directory: the images are drawn in memory, nothing is written."""
    folder = tmp_path / "ro"
    folder.mkdir()
    script = (
        "import sys, hashlib; from awaitkit.flags._cache import load_gifs;"
        "from awaitkit.flags._images import flag_gif;"
        "gif = load_gifs(['BR'], flag_gif, sys.argv[1])['BR'];"
        "print(hashlib.sha256(gif).hexdigest())"
    )
    proc = python_in_read_only_dir(folder, script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == hashlib.sha256(flag_gif("BR")).hexdigest()
    assert "cannot cache the flag images" in proc.stderr
    assert list(folder.iterdir()) == []


def test_environment_variable_chooses_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$AWAITKIT_CACHE_DIR is where the file goes when no directory is given."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_file().parent == tmp_path
    load_gifs(["BR"], flag_gif)
    assert cache_file(tmp_path).is_file()


def test_dataset_images_match_a_fresh_drawing() -> None:
    """Whether cached or drawn, the served GIFs are byte-identical to flag_gif."""
    files = build_dataset()
    for cc in CODES:
        low = cc.lower()
        assert files[f"flags/{low}/{low}.gif"].body == flag_gif(cc)


def test_suite_never_uses_the_real_user_cache() -> None:
    """The test session points the cache at a private directory, not ~/.cache."""
    assert cache_file().parent == Path(os.environ[CACHE_ENV])
    assert cache_file().parent != Path(os.path.expanduser("~/.cache/awaitkit"))


def _export(cache: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "awaitkit", "serve", "flags", "--export", str(dest)],
        env={**os.environ, CACHE_ENV: str(cache)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
    }


def test_cli_first_run_draws_later_runs_read_the_same_bytes(tmp_path: Path) -> None:
    """End to end: a fresh cache is filled once; the next process only reads it,
    and both export byte-identical trees (those this process serves)."""
    cache = tmp_path / "cache"
    first = _export(cache, tmp_path / "one")
    assert "drawing the flag images (first run)" in first.stderr
    stamp = cache_file(cache).stat().st_mtime_ns
    second = _export(cache, tmp_path / "two")
    assert "drawing" not in second.stderr
    assert "redrawing" not in second.stderr
    assert cache_file(cache).stat().st_mtime_ns == stamp  # a hit rewrites nothing
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    assert one == two
    served = build_dataset()
    assert one == {key: res.body for key, res in served.items()}
