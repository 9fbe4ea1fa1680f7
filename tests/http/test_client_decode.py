"""HttpClient with accept_encoding: bodies decoded as they stream, from a loopback server."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest

from awaitkit.core import UsageError
from awaitkit.http import (
    ACCEPT_ENCODING,
    BodyTooLarge,
    DecodingError,
    HttpClient,
    UnsupportedEncoding,
)
from awaitkit.http._decode import load_zstd
from tests.http.test_client import RawServer, answering

zstd = load_zstd()

pytestmark = pytest.mark.anyio

BODY = b"".join(b"line %d of a body that compresses well\n" % i for i in range(20000))


def _encode(coding: str, data: bytes = BODY) -> bytes:
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "br":
        return bytes(brotli.compress(data, quality=4))
    return bytes(zstd.compress(data))


# Made once, at import: compressing inside a test would hold its event loop.
_ENCODED = {coding: _encode(coding) for coding in ("gzip", "deflate", "br", "zstd")}
_BOMB = gzip.compress(bytes(10_000_000))
_STACKED = brotli.compress(gzip.compress(BODY), quality=4)


def encoded(coding: str) -> bytes:
    return _ENCODED[coding]


def sized(blob: bytes, coding: str, close: bool = False) -> bytes:
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Length: {len(blob)}\r\n"
        f"Content-Encoding: {coding}\r\n"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    )
    return head.encode("latin-1") + blob


def chunked(blob: bytes, coding: str, size: int = 1000) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Encoding: {coding}\r\n\r\n"
    ).encode()
    parts = [
        b"%x\r\n%s\r\n" % (len(blob[i : i + size]), blob[i : i + size])
        for i in range(0, len(blob), size)
    ]
    return head + b"".join(parts) + b"0\r\n\r\n"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("how", ["read", "chunks"])
async def test_bodies_come_decoded(coding: str, framing: str, how: str) -> None:
    """Each coding, framed by Content-Length or chunked, reads back as the original."""
    blob = encoded(coding)
    response = sized(blob, coding) if framing == "length" else chunked(blob, coding)
    async with (
        RawServer(answering(response, response)) as server,
        HttpClient(accept_encoding=ACCEPT_ENCODING) as client,
    ):
        for _ in range(2):  # the second one reuses the connection
            async with client.get(f"{server.url}/f") as resp:
                assert resp.content_encoding == (coding,)
                if how == "read":
                    body = await resp.read()
                else:
                    pieces = [piece async for piece in resp.chunks()]
                    assert max(map(len, pieces)) <= 512 * 1024
                    body = b"".join(pieces)
                assert body == BODY
                assert resp.raw_bytes == len(blob) < len(BODY)
        assert server.connections == 1
    assert b"Accept-Encoding: gzip, deflate, br, zstd\r\n" in server.requests[0]


async def test_stacked_codings() -> None:
    """Content-Encoding: gzip, br is br over gzip: both come off."""
    blob = _STACKED
    async with (
        RawServer(answering(chunked(blob, "gzip, br"))) as server,
        HttpClient(accept_encoding="gzip, br") as client,
        client.get(f"{server.url}/f") as resp,
    ):
        assert resp.content_encoding == ("gzip", "br")
        assert await resp.read() == BODY


async def test_default_client_sends_identity_and_passes_bodies_through() -> None:
    """Without accept_encoding nothing is decoded: the bytes come as sent."""
    blob = encoded("gzip")
    async with (
        RawServer(answering(sized(blob, "gzip"))) as server,
        HttpClient() as client,
        client.get(f"{server.url}/f") as resp,
    ):
        assert resp.content_encoding == ()
        assert await resp.read() == blob
    assert b"Accept-Encoding: identity\r\n" in server.requests[0]


@pytest.mark.parametrize("how", ["read", "chunks"])
async def test_decode_false_gives_the_body_as_sent(how: str) -> None:
    """read(decode=False) and chunks(decode=False) skip decoding for one response."""
    blob = encoded("br")
    async with (
        RawServer(answering(chunked(blob, "br"))) as server,
        HttpClient(accept_encoding="br") as client,
        client.get(f"{server.url}/f") as resp,
    ):
        if how == "read":
            assert await resp.read(decode=False) == blob
        else:
            assert b"".join([p async for p in resp.chunks(decode=False)]) == blob
        assert resp.raw_bytes == len(blob)


async def test_caller_header_replaces_accept_encoding() -> None:
    """A caller's Accept-Encoding (identity for a Range) replaces the client's."""
    plain = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    async with (
        RawServer(answering(plain)) as server,
        HttpClient(accept_encoding=ACCEPT_ENCODING) as client,
        client.get(f"{server.url}/f", headers={"Accept-Encoding": "identity"}) as resp,
    ):
        assert await resp.read() == b"hello"
    assert server.requests[0].count(b"Accept-Encoding") == 1
    assert b"Accept-Encoding: identity\r\n" in server.requests[0]


async def body_of(client: HttpClient, url: str, how: str) -> bytes:
    """GET ``url``; its body through read() or chunks()."""
    async with client.get(url) as resp:
        if how == "read":
            return await resp.read()
        return b"".join([piece async for piece in resp.chunks()])


@pytest.mark.parametrize("how", ["read", "chunks"])
async def test_corrupt_body(how: str) -> None:
    """A body that is not its coding's data raises DecodingError; the connection is dropped."""
    blob = b"\x1f\x8b" + b"not really gzip" * 100
    async with (
        RawServer(answering(sized(blob, "gzip"), sized(blob, "gzip"))) as server,
        HttpClient(accept_encoding=ACCEPT_ENCODING) as client,
    ):
        with pytest.raises(DecodingError, match="corrupt gzip"):
            await body_of(client, f"{server.url}/f", how)
        async with client.get(f"{server.url}/f") as resp:
            assert await resp.read(decode=False) == blob
        assert server.connections == 2


@pytest.mark.parametrize("framing", ["length", "eof"])
async def test_truncated_stream(framing: str) -> None:
    """A complete HTTP body holding a cut-short stream is a DecodingError, not a short file."""
    blob = encoded("zstd")[:-20]
    if framing == "length":
        response = sized(blob, "zstd")
    else:  # no length: the body ends when the server closes
        response = b"HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\n\r\n" + blob
    async with (
        RawServer(answering(response)) as server,
        HttpClient(accept_encoding="zstd") as client,
        client.get(f"{server.url}/f") as resp,
    ):
        with pytest.raises(DecodingError, match="truncated zstd"):
            await resp.read()


async def test_unknown_coding() -> None:
    """An unknown Content-Encoding raises UnsupportedEncoding when the body is asked for."""
    response = sized(b"whatever", "compress")
    async with (
        RawServer(answering(response)) as server,
        HttpClient(accept_encoding="gzip") as client,
        client.get(f"{server.url}/f") as resp,
    ):
        with pytest.raises(UnsupportedEncoding, match="'compress'"):
            _ = resp.content_encoding
        with pytest.raises(UnsupportedEncoding):
            await resp.read()
        with pytest.raises(UnsupportedEncoding):
            resp.chunks()
        assert await resp.read(decode=False) == b"whatever"


async def test_bomb_stops_at_the_limit() -> None:
    """read(limit) on 10 MB of gzipped zeros stops just past the limit: BodyTooLarge."""
    blob = _BOMB
    async with (
        RawServer(answering(sized(blob, "gzip"))) as server,
        HttpClient(accept_encoding="gzip") as client,
        client.get(f"{server.url}/f") as resp,
    ):
        with pytest.raises(BodyTooLarge, match="decoded body larger than 1000000"):
            await resp.read(limit=1_000_000)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("compress", "cannot decode 'compress'"),
        ("gzip, *", r"cannot decode '\*'"),
        (" , ", "empty"),
        ("gzip\r\nX-Evil: 1", "control character"),
        ("gzip, \u00e9\u4e2d", "not Latin-1"),
    ],
)
def test_bad_accept_encoding(value: str, message: str) -> None:
    """accept_encoding may name only codings the client decodes; a clear UsageError otherwise."""
    with pytest.raises(UsageError, match=message):
        HttpClient(accept_encoding=value)


def test_good_accept_encoding() -> None:
    """q-values, identity and x-gzip are fine."""
    HttpClient(accept_encoding="gzip;q=1.0, identity; q=0.5, x-gzip")
    HttpClient(accept_encoding="identity")
