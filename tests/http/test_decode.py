"""Content-Encoding decoding, sans-I/O: fed bytes split at every offset, no sockets."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
from hypothesis import given, settings, strategies as st

from awaitkit.core import (
    DecodingError as CoreDecodingError,
    TransportError,
    UnsupportedEncoding as CoreUnsupported,
)
from awaitkit.http import (
    ContentDecoder,
    DecodingError,
    HttpClientError,
    UnsupportedEncoding,
    parse_content_encoding,
)
from awaitkit.http._decode import MAX_CODINGS, load_zstd

zstd = load_zstd()

BODY = b"The quick brown fox jumps over the lazy dog. " * 4 + bytes(range(40))


def raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-15)
    return obj.compress(data) + obj.flush()


def encode(data: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(data, mtime=0)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "raw-deflate":
        return raw_deflate(data)
    if coding == "br":
        return bytes(brotli.compress(data))
    assert coding == "zstd"
    return bytes(zstd.compress(data))


ENCODED = {
    "gzip": ("gzip", encode(BODY, "gzip")),
    "deflate": ("deflate", encode(BODY, "deflate")),
    "raw-deflate": ("deflate", encode(BODY, "raw-deflate")),
    "br": ("br", encode(BODY, "br")),
    "zstd": ("zstd", encode(BODY, "zstd")),
}


def decode(
    codings: tuple[str, ...], pieces: list[bytes], *, piece: int = 1 << 18
) -> bytes:
    """Feed ``pieces`` one by one, pulling everything after each; close at the end."""
    decoder = ContentDecoder(codings, piece=piece)
    out: list[bytes] = []
    for data in pieces:
        decoder.feed(data)
        while chunk := decoder.pull():
            out.append(chunk)
    decoder.close()
    return b"".join(out)


# -- the field ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "codings"),
    [
        ("gzip", ("gzip",)),
        ("GZip", ("gzip",)),
        ("x-gzip", ("gzip",)),
        (" gzip ,\tbr ", ("gzip", "br")),
        ("identity", ()),
        ("identity, zstd", ("zstd",)),
        ("deflate,,", ("deflate",)),
        ("", ()),
    ],
)
def test_parse_content_encoding(value: str, codings: tuple[str, ...]) -> None:
    """Codings come in the order applied; identity and empty items are dropped."""
    assert parse_content_encoding(value) == codings


@pytest.mark.parametrize(
    "value", ["compress", "gzip, lzma", "*", "gz\x00ip", "\xe9" * 200]
)
def test_unknown_coding_is_refused(value: str) -> None:
    """A coding we cannot decode is an UnsupportedEncoding naming it (shortened)."""
    with pytest.raises(
        UnsupportedEncoding, match="unsupported Content-Encoding"
    ) as info:
        parse_content_encoding(value)
    assert len(str(info.value)) < 80


def test_too_many_codings_are_refused() -> None:
    """More stacked codings than MAX_CODINGS is hostile, not a real server."""
    assert len(parse_content_encoding(", ".join(["gzip"] * MAX_CODINGS))) == MAX_CODINGS
    with pytest.raises(UnsupportedEncoding, match="stacks"):
        parse_content_encoding(", ".join(["gzip"] * (MAX_CODINGS + 1)))


def test_errors_sit_in_both_trees() -> None:
    """The decoding errors are the client's and the core's, and not retried as transport noise."""
    assert issubclass(DecodingError, HttpClientError)
    assert issubclass(DecodingError, CoreDecodingError)
    assert issubclass(UnsupportedEncoding, CoreUnsupported)
    assert issubclass(UnsupportedEncoding, DecodingError)
    assert issubclass(CoreDecodingError, TransportError)


# -- whole bodies, split at every offset -------------------------------------------


@pytest.mark.parametrize("kind", sorted(ENCODED))
def test_split_at_every_offset(kind: str) -> None:
    """Two pieces, cut anywhere (one byte at a time too), decode to the same body."""
    coding, blob = ENCODED[kind]
    for cut in range(len(blob) + 1):
        assert decode((coding,), [blob[:cut], blob[cut:]]) == BODY, cut
    assert decode((coding,), [bytes([b]) for b in blob]) == BODY


@pytest.mark.parametrize("kind", sorted(ENCODED))
def test_small_pieces_out(kind: str) -> None:
    """A tiny output bound still yields the whole body, in pieces no larger than asked."""
    coding, blob = ENCODED[kind]
    decoder = ContentDecoder((coding,), piece=7)
    decoder.feed(blob)
    pieces = list(iter(decoder.pull, b""))
    decoder.close()
    assert b"".join(pieces) == BODY
    if coding != "br":  # brotli's bound is soft (its buffer grows in steps)
        assert max(map(len, pieces)) <= 7
    assert (decoder.consumed, decoder.produced) == (len(blob), len(BODY))


@pytest.mark.parametrize("kind", sorted(ENCODED))
def test_truncated_at_every_offset(kind: str) -> None:
    """Every proper, non-empty prefix of a stream is a truncated body at close."""
    coding, blob = ENCODED[kind]
    for cut in range(1, len(blob)):
        with pytest.raises(DecodingError, match=f"truncated {coding}"):
            decode((coding,), [blob[:cut]])


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_empty_body_is_empty(coding: str) -> None:
    """No bytes at all (a 200 with an empty body) decode to nothing, without error."""
    assert decode((coding,), []) == b""
    assert decode((coding,), [b""]) == b""


@pytest.mark.parametrize(
    ("coding", "blob"),
    [
        ("gzip", b"this is not gzip at all"),
        ("gzip", encode(BODY, "gzip")[:10] + b"\xff" * 40),
        ("deflate", b"\xff\xff\xff\xff not deflate"),
        ("br", b"\xff" * 40),
        ("zstd", b"not a zstd frame, surely"),
    ],
)
def test_corrupt_data(coding: str, blob: bytes) -> None:
    """Bytes that are not the coding's format raise DecodingError naming it."""
    with pytest.raises(DecodingError, match=f"corrupt {coding}"):
        decode((coding,), [blob])


@pytest.mark.parametrize(("coding", "trail"), [("deflate", b"x"), ("br", b"xx")])
def test_data_after_the_end(coding: str, trail: bytes) -> None:
    """deflate and br streams end where they end: more bytes after them are an error."""
    with pytest.raises(DecodingError):
        decode((coding,), [encode(BODY, coding) + trail])


def test_gzip_members_in_a_row() -> None:
    """Several gzip members (cat a.gz b.gz) decode to the bodies in a row."""
    blob = encode(b"first ", "gzip") + encode(b"second", "gzip")
    for cut in range(len(blob) + 1):
        assert decode(("gzip",), [blob[:cut], blob[cut:]]) == b"first second"
    with pytest.raises(DecodingError, match="corrupt gzip"):
        decode(("gzip",), [blob + b"garbage"])


def test_gzip_zero_padding() -> None:
    """Zero bytes after a gzip member are padding (as the gzip module allows), not a member."""
    blob = encode(BODY, "gzip") + bytes(9)
    for cut in range(len(blob) - 20, len(blob) + 1):
        assert decode(("gzip",), [blob[:cut], blob[cut:]]) == BODY
    padded = encode(b"a", "gzip") + bytes(3) + encode(b"b", "gzip")
    assert decode(("gzip",), [padded]) == b"ab"


def test_zstd_frames_in_a_row() -> None:
    """Several zstd frames decode to the bodies in a row."""
    blob = encode(b"first ", "zstd") + encode(b"second", "zstd")
    for cut in range(len(blob) + 1):
        assert decode(("zstd",), [blob[:cut], blob[cut:]]) == b"first second"


def test_stacked_codings_come_off_in_reverse() -> None:
    """Content-Encoding: gzip, br means gzip first, then br: br comes off first."""
    blob = encode(encode(encode(BODY, "gzip"), "br"), "zstd")
    codings = parse_content_encoding("gzip, br, zstd")
    for cut in range(len(blob) + 1):
        assert decode(codings, [blob[:cut], blob[cut:]], piece=16) == BODY
    with pytest.raises(DecodingError):
        decode(("br", "gzip", "zstd"), [blob])  # the wrong order is corrupt data


def test_stacked_truncated() -> None:
    """A stacked body cut short is truncated too (the outer stream unfinished)."""
    blob = encode(encode(BODY, "gzip"), "br")
    with pytest.raises(DecodingError, match="truncated"):
        decode(("gzip", "br"), [blob[:-3]])


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_bomb_comes_out_bounded(coding: str) -> None:
    """10 MB of zeros packed small come out a bounded piece at a time, never all at once."""
    bomb = encode(bytes(10_000_000), coding)
    assert len(bomb) < 40_000
    decoder = ContentDecoder((coding,), piece=64 * 1024)
    decoder.feed(bomb)
    first = decoder.pull()
    assert 0 < len(first) <= 2 * 64 * 1024
    # A caller that stops pulling leaves the rest undone.
    assert decoder.produced == len(first)
    total = len(first) + sum(len(p) for p in iter(decoder.pull, b""))
    decoder.close()
    assert total == 10_000_000


def test_decoder_arguments() -> None:
    """No codings, or a piece bound below 1, is a programming error."""
    with pytest.raises(ValueError, match="no codings"):
        ContentDecoder(())
    with pytest.raises(ValueError, match="piece"):
        ContentDecoder(("gzip",), piece=0)
    assert "gzip" in repr(ContentDecoder(("gzip",)))


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=3000),
    codings=st.lists(
        st.sampled_from(["gzip", "deflate", "br", "zstd"]), min_size=1, max_size=3
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=8),
    piece=st.integers(min_value=1, max_value=5000),
)
def test_round_trip(
    body: bytes, codings: list[str], cuts: list[int], piece: int
) -> None:
    """Any body under any stack of codings, cut anywhere, pulled in any bound, round-trips."""
    blob = body
    for coding in codings:
        blob = encode(blob, coding)
    bounds = sorted({min(c, len(blob)) for c in cuts})
    pieces = [
        blob[a:b] for a, b in zip([0, *bounds], [*bounds, len(blob)], strict=True)
    ]
    assert decode(tuple(codings), pieces, piece=piece) == body
