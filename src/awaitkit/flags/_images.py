"""Synthetic flag images: deterministic GIFs that show the country code.

No maintained, permissively licensed package ships flag images we could rely
on offline, so each flag is drawn from its code alone: two or three bands in
colours picked by a seeded PRNG, a "dithered" texture whose density sets the
file size (log-uniform between about 2.4 and 33 KB, like real flag GIFs), and
the code in a 5x7 bitmap font on a plain box.  The same code always gives the
same bytes on every machine (``random.Random`` seeded with a string is stable).
"""

from __future__ import annotations

import functools
import math
import random

from awaitkit.flags._gif import encode_gif

__all__ = ["MAX_GIF_SIZE", "MIN_GIF_SIZE", "flag_gif"]

MIN_GIF_SIZE = 2_000
MAX_GIF_SIZE = 35_000

# 5x7 glyphs, one string of five bits per row ("#" = ink).
_FONT: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
}

# Colours common on real flags.
_COLOURS = (
    (206, 17, 38),  # red
    (255, 255, 255),  # white
    (0, 56, 147),  # blue
    (0, 122, 61),  # green
    (252, 209, 22),  # yellow
    (0, 0, 0),  # black
    (255, 130, 0),  # orange
    (117, 170, 219),  # sky blue
    (128, 0, 32),  # maroon
)
_SHADES = 64  # each band colour comes in 64 shades for the texture
_INK = 3 * _SHADES  # palette index of the letters
_BOX = _INK + 1  # palette index of the box behind them


def _shade(rgb: tuple[int, int, int], step: int) -> tuple[int, int, int]:
    """A slightly lighter or darker variant of ``rgb`` (step 0 is the colour itself)."""
    delta = (1 if step % 2 else -1) * ((step + 1) // 2) * 2
    return tuple(max(0, min(255, c + delta)) for c in rgb)  # type: ignore[return-value]


@functools.cache
def _band_palette(colour: int) -> tuple[tuple[int, int, int], ...]:
    """The ``_SHADES`` shades of ``_COLOURS[colour]`` (shared by every flag using it)."""
    return tuple(_shade(_COLOURS[colour], s) for s in range(_SHADES))


@functools.lru_cache(maxsize=64)  # nearly every flag is drawn once, at density 0.6
def _texture_table(band: int, density: float) -> bytes:
    """Map a random byte to a shade of ``band``: shade 0 unless the byte is below the density."""
    cut = round(density * 256)
    return bytes(
        band * _SHADES + (1 + v % (_SHADES - 1) if v < cut else 0) for v in range(256)
    )


def _draw(
    cc: str, rng: random.Random, width: int, height: int, density: float
) -> tuple[bytes, list[tuple[int, int, int]]]:
    """Pixels (palette indices, row by row) and palette of one flag."""
    colours = rng.sample(range(len(_COLOURS)), 3)
    vertical = rng.random() < 0.4
    nbands = rng.choice((2, 3, 3))
    tables = [_texture_table(b, density) for b in range(3)]
    noise = random.Random(f"texture:{cc}")  # own stream: density changes nothing else
    rows: list[bytearray] = []
    for y in range(height):
        raw = noise.randbytes(width)
        if vertical:
            row = bytearray(width)
            for b in range(nbands):
                lo, hi = width * b // nbands, width * (b + 1) // nbands
                row[lo:hi] = raw[lo:hi].translate(tables[b])
        else:
            row = bytearray(raw.translate(tables[y * nbands // height]))
        rows.append(row)
    # The code, scaled to about half the height, on a box of its own.
    scale = max(1, height // 16)
    text_w, text_h = (2 * 5 + 1) * scale, 7 * scale
    pad = 2 * scale
    x0, y0 = (width - text_w) // 2, (height - text_h) // 2
    for y in range(y0 - pad, y0 + text_h + pad):
        rows[y][x0 - pad : x0 + text_w + pad] = bytes([_BOX]) * (text_w + 2 * pad)
    for i, letter in enumerate(cc):
        glyph = _FONT[letter]
        gx = x0 + i * 6 * scale
        for gy, line in enumerate(glyph):
            ink = bytearray()
            for bit in line:
                ink += bytes([_INK if bit == "#" else _BOX]) * scale
            for dy in range(scale):
                rows[y0 + gy * scale + dy][gx : gx + 5 * scale] = ink
    palette = [rgb for c in colours for rgb in _band_palette(c)]
    light = sum(_COLOURS[colours[0]]) > 380
    palette += (
        [(0, 0, 0), (255, 255, 255)] if not light else [(255, 255, 255), (0, 0, 0)]
    )
    return b"".join(rows), palette


def flag_gif(cc: str) -> bytes:
    """The synthetic flag GIF for the upper-case alpha-2 code ``cc`` (deterministic)."""
    if len(cc) != 2 or not all(c in _FONT for c in cc):
        raise ValueError(f"not an upper-case alpha-2 code: {cc!r}")
    params = random.Random(f"flag:{cc}")
    target = math.exp(params.uniform(math.log(2_400), math.log(33_000)))
    # Bigger files come from bigger pictures, as with real flags: at a texture
    # density of 0.6 a pixel costs about 0.57 byte once compressed.
    width = max(96, round(math.sqrt(1.5 * target / 0.57)) // 2 * 2)
    height = width * 2 // 3
    density = 0.6
    seed = params.random()
    for _ in range(6):
        pixels, palette = _draw(cc, random.Random(seed), width, height, density)
        gif = encode_gif(width, height, pixels, palette, comment=f"synthetic flag {cc}")
        if MIN_GIF_SIZE <= len(gif) <= MAX_GIF_SIZE:
            return gif
        # Off target: move the texture density and draw again.
        density = max(0.0, min(1.0, density * (target / len(gif)) ** 1.33))
    raise RuntimeError(f"could not size the flag of {cc}: {len(gif)} bytes")
