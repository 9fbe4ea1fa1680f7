"""Length-prefixed JSON frames: how worker processes and their parent talk.

A frame is a 4-byte big-endian length, then that many bytes of JSON holding
a list.  A list, because a frame carries a block of items (or of results):
one write and one parse per block rather than per item.  A frame cut short
by the other side closing is the end of the stream, not an error; a frame
announcing more than :data:`MAX_FRAME` bytes, or whose payload is not a JSON
list, is a :class:`ValueError` (the peer is broken, not merely gone).
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["MAX_FRAME", "encode_frame", "read_frames"]

_HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024
"""The largest payload accepted: far above any block, far below a runaway length."""


def encode_frame(items: list[Any]) -> bytes:
    """``items`` as one frame, ready to write.

    >>> encode_frame(["a", 1])
    b'\\x00\\x00\\x00\\x07["a",1]'
    """
    payload = json.dumps(items, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload)) + payload


async def read_frames(reader: asyncio.StreamReader) -> AsyncIterator[list[Any]]:
    """The frames the other side sends, until it closes its end."""
    while True:
        try:
            (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
            if size > MAX_FRAME:
                raise ValueError(f"frame of {size} bytes (at most {MAX_FRAME})")
            payload = await reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        frame = json.loads(payload)
        if not isinstance(frame, list):
            raise ValueError("frame is not a list")
        yield frame
