"""A small GIF89a encoder: one image, a global palette, real LZW compression.

Pure Python and dependency-free, so the flags data set can be generated
offline.  The LZW coder follows giflib's ``EGifCompressLine``: codes are
written least-significant bit first, the code width grows right after the
code that makes the next free code reach ``1 << width``, and the table is
cleared (Clear code) before code 4095 is handed out.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

__all__ = ["encode_gif", "lzw_encode"]

_MAX_CODE = 4095  # giflib's LZ_MAX_CODE: clear before the 12-bit table overflows


def lzw_encode(pixels: bytes, min_code_size: int) -> bytes:
    """LZW-compress palette indices as GIF does; returns the raw code stream.

    ``min_code_size`` is the GIF "LZW minimum code size" (2..8); every pixel
    must be below ``1 << min_code_size``.
    """
    if not 2 <= min_code_size <= 8:
        raise ValueError(f"min_code_size must be 2..8, not {min_code_size}")
    clear = 1 << min_code_size
    end = clear + 1
    first_free = clear + 2
    out = bytearray()
    acc = 0  # bit accumulator, LSB first
    nbits = 0
    width = min_code_size + 1
    limit = 1 << width
    next_code = first_free
    table: dict[int, int] = {}
    # Emit the initial Clear code.
    acc |= clear << nbits
    nbits += width
    if not pixels:
        acc |= end << nbits
        nbits += width
        return bytes(out) + acc.to_bytes((nbits + 7) // 8, "little")
    prefix = pixels[0]
    get = table.get
    for byte in pixels[1:]:
        key = (prefix << 8) | byte
        code = get(key)
        if code is not None:
            prefix = code
            continue
        acc |= prefix << nbits
        nbits += width
        # Flush whole bytes in bulk, not bit by bit.
        if nbits >= 64:
            out += (acc & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
            acc >>= 64
            nbits -= 64
        if next_code >= limit and width < 12:
            width += 1
            limit <<= 1
        if next_code >= _MAX_CODE:
            acc |= clear << nbits
            nbits += width
            table.clear()
            next_code = first_free
            width = min_code_size + 1
            limit = 1 << width
        else:
            table[key] = next_code
            next_code += 1
        prefix = byte
    acc |= prefix << nbits
    nbits += width
    if next_code >= limit and width < 12:
        width += 1
    acc |= end << nbits
    nbits += width
    out += acc.to_bytes((nbits + 7) // 8, "little")
    return bytes(out)


def _sub_blocks(data: bytes) -> bytes:
    """Split ``data`` into GIF data sub-blocks (length byte + up to 255 bytes)."""
    parts = bytearray()
    for i in range(0, len(data), 255):
        chunk = data[i : i + 255]
        parts.append(len(chunk))
        parts += chunk
    parts.append(0)  # block terminator
    return bytes(parts)


def encode_gif(
    width: int,
    height: int,
    pixels: bytes,
    palette: Sequence[tuple[int, int, int]],
    *,
    comment: str | None = None,
) -> bytes:
    """Encode one ``width`` x ``height`` image of palette indices as a GIF89a file.

    ``palette`` holds up to 256 RGB triples; it is padded to a power of two.
    """
    if len(pixels) != width * height:
        raise ValueError(f"expected {width * height} pixels, got {len(pixels)}")
    if not 1 <= len(palette) <= 256:
        raise ValueError("palette must hold 1..256 colours")
    bits = max(1, (len(palette) - 1).bit_length())
    size = 1 << bits
    table = bytearray()
    for r, g, b in palette:
        table += bytes((r, g, b))
    table += b"\x00" * (3 * (size - len(palette)))
    min_code_size = max(2, bits)
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80 | (bits - 1), 0, 0)
    extension = b""
    if comment:
        extension = b"\x21\xfe" + _sub_blocks(comment.encode("ascii", "replace"))
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    data = bytes([min_code_size]) + _sub_blocks(lzw_encode(pixels, min_code_size))
    return head + bytes(table) + extension + descriptor + data + b"\x3b"
