"""Raw bytes to a server on loopback, for input no HTTP client would send."""

from __future__ import annotations

import asyncio
import contextlib


async def exchange(port: int, data: bytes, *, half_close: bool = False) -> bytes:
    """Send ``data``; return all the server sends until it closes (10 s at most)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        if half_close:
            writer.write_eof()
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):  # a refused client may be reset
            await writer.wait_closed()
