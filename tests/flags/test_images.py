"""The GIF encoder round-trips through a reference decoder; flags are sized and stable."""

from __future__ import annotations

import hashlib
import random

import pytest

from awaitkit.flags import build_dataset, country_codes
from awaitkit.flags._gif import encode_gif, lzw_encode
from awaitkit.flags._images import MAX_GIF_SIZE, MIN_GIF_SIZE, flag_gif
from tests.flags.lzw_reference import decode_gif, lzw_decode


@pytest.mark.parametrize("min_code_size", [2, 4, 8])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 257, 5_000, 70_000])
def test_lzw_round_trip(min_code_size: int, n: int) -> None:
    """Random, striped and sparse pixels decode back, across table resets."""
    rng = random.Random(n)
    top = 1 << min_code_size
    samples = [
        bytes(rng.randrange(top) for _ in range(n)),
        bytes((i // 37) % top for i in range(n)),
        bytes(rng.choice((0, 0, 0, 1)) for _ in range(n)),
    ]
    for pixels in samples:
        assert lzw_decode(lzw_encode(pixels, min_code_size), min_code_size) == pixels


def test_lzw_rejects_bad_code_size() -> None:
    """Code sizes outside 2..8 are refused."""
    with pytest.raises(ValueError, match="min_code_size"):
        lzw_encode(b"\x00", 1)


def test_encode_gif_structure() -> None:
    """A whole file decodes to the same size, palette and pixels."""
    pixels = bytes(i % 5 for i in range(30 * 20))
    palette = [(i, 2 * i, 3 * i) for i in range(5)]
    gif = encode_gif(30, 20, pixels, palette, comment="hi")
    width, height, pal, decoded = decode_gif(gif)
    assert (width, height, decoded) == (30, 20, pixels)
    assert pal[:5] == palette


def test_encode_gif_checks_pixel_count() -> None:
    """A pixel buffer of the wrong length is an error, not a corrupt file."""
    with pytest.raises(ValueError, match="pixels"):
        encode_gif(2, 2, b"\x00", [(0, 0, 0)])


def test_flag_is_deterministic_and_decodes() -> None:
    """The same code gives the same bytes; the image decodes; codes differ."""
    br = flag_gif("BR")
    assert br == flag_gif("BR")
    assert br != flag_gif("AR")
    width, height, _, pixels = decode_gif(br)
    assert len(pixels) == width * height
    assert len(set(pixels)) > 10  # texture, bands and letters


# Pinned digests: the served bytes must not change with speed-ups of the
# encoder or the drawing (caches, ETags and peers' copies rely on them).
_PINNED = {
    "AD": "d8c1873100140bf94ebd01ea52b97217",
    "BR": "98bb34c238eb12f666ebd4a28bbd196d",
    "CN": "8d86d67c3d3e5cd29ac85ef3ef5cb9b6",
    "GB": "c042c37b80182291863a5f99d8b8ac32",
    "US": "6c472d81accc574cdd519705e05b656f",
}


@pytest.mark.parametrize("cc", sorted(_PINNED))
def test_flag_bytes_are_pinned(cc: str) -> None:
    """Freshly drawn and served flags keep their exact bytes."""
    gif = flag_gif(cc)
    assert hashlib.sha256(gif).hexdigest()[:32] == _PINNED[cc]
    low = cc.lower()
    assert build_dataset()[f"flags/{low}/{low}.gif"].body == gif


def test_every_flag_has_a_realistic_size() -> None:
    """All flags are between 2 and 35 KB, and sizes spread over that range."""
    files = build_dataset()
    sizes = [
        len(files[f"flags/{cc.lower()}/{cc.lower()}.gif"].body)
        for cc in country_codes()
    ]
    assert all(MIN_GIF_SIZE <= s <= MAX_GIF_SIZE for s in sizes)
    assert min(sizes) < 6_000
    assert max(sizes) > 25_000


def test_flag_rejects_bad_codes() -> None:
    """Only two upper-case letters make a flag."""
    for bad in ("br", "B", "B1", "BRA"):
        with pytest.raises(ValueError, match="alpha-2"):
            flag_gif(bad)
