"""An LZW decoder written from the GIF89a specification, to check the encoder."""

from __future__ import annotations

import struct


def lzw_decode(data: bytes, min_code_size: int) -> bytes:
    """Decode a GIF LZW code stream (no sub-blocks) into palette indices."""
    clear = 1 << min_code_size
    end = clear + 1
    width = min_code_size + 1
    table: list[bytes] = [bytes([i]) for i in range(clear)] + [b"", b""]
    prev: bytes | None = None
    out = bytearray()
    pos = 0
    total = len(data) * 8
    while pos + width <= total:
        chunk = int.from_bytes(data[pos // 8 : pos // 8 + 3], "little")
        code = (chunk >> (pos % 8)) & ((1 << width) - 1)
        pos += width
        if code == clear:
            table = table[: clear + 2]
            width = min_code_size + 1
            prev = None
            continue
        if code == end:
            return bytes(out)
        if prev is None:
            entry = table[code]
        elif code < len(table):
            entry = table[code]
            table.append(prev + entry[:1])
        elif code == len(table):
            entry = prev + prev[:1]
            table.append(entry)
        else:
            raise ValueError(f"code {code} beyond table of {len(table)}")
        out += entry
        prev = entry
        if len(table) >= (1 << width) and width < 12:
            width += 1
    raise ValueError("code stream ends without the End code")


def decode_gif(gif: bytes) -> tuple[int, int, list[tuple[int, int, int]], bytes]:
    """Width, height, palette and pixels of a single-image GIF89a."""
    assert gif[:6] == b"GIF89a"
    width, height, flags = struct.unpack("<HHB", gif[6:11])
    assert flags & 0x80, "global colour table expected"
    size = 2 << (flags & 7)
    pos = 13
    palette = [tuple(gif[pos + 3 * i : pos + 3 * i + 3]) for i in range(size)]
    pos += 3 * size
    while gif[pos] == 0x21:  # extensions: skip their sub-blocks
        pos += 2
        while gif[pos]:
            pos += gif[pos] + 1
        pos += 1
    assert gif[pos] == 0x2C, "image descriptor expected"
    w, h = struct.unpack("<4x2H", gif[pos + 1 : pos + 9])
    assert (w, h) == (width, height)
    pos += 10
    min_code_size = gif[pos]
    pos += 1
    data = bytearray()
    while gif[pos]:
        data += gif[pos + 1 : pos + 1 + gif[pos]]
        pos += gif[pos] + 1
    assert gif[pos + 1 :] == b"\x3b", "trailer expected right after the image"
    pixels = lzw_decode(bytes(data), min_code_size)
    return width, height, palette, pixels  # type: ignore[return-value]
