"""Content-Encoding, sans-I/O: the field parsed, the body decoded in bounded pieces.

:func:`parse_content_encoding` turns a ``Content-Encoding`` value into the
codings in the order the server applied them; :class:`ContentDecoder`
takes them off in reverse.  Bytes go in with :meth:`~ContentDecoder.feed`,
decoded pieces come out of :meth:`~ContentDecoder.pull`, and
:meth:`~ContentDecoder.close` says the body ended.  No I/O: it is tested by
feeding bytes split at every offset.

Memory stays bounded whatever the ratio: every decompressor is asked for at
most ``piece`` bytes a call (zlib's ``max_length``, brotli's
``output_buffer_limit``, zstd's ``max_length``), keeping the rest of its
input for the next call, so 10 KB of gzipped zeros that would inflate to
10 GB come out 256 KiB at a time, and a caller that stops pulling (a size
limit passed) stops the work there.

What counts as what:

* ``gzip`` (and its alias ``x-gzip``): one or more members in a row, as
  ``cat a.gz b.gz`` makes, perhaps padded with zero bytes; ``deflate``: the zlib format of RFC 1950, or a
  raw RFC 1951 stream as some servers send it (told apart by the first two
  bytes, as browsers do); ``br``; ``zstd`` (one or more frames);
* ``identity`` is no coding and is skipped; any other name, or more than
  :data:`MAX_CODINGS` codings, raises :class:`UnsupportedEncoding`;
* bytes that are not valid data of their coding, or that follow the end of
  a deflate or br stream, raise :class:`DecodingError`; so does a body that
  ends inside a stream (truncated).  An empty body is an empty body.
"""

from __future__ import annotations

import importlib
import sys
import zlib
from collections.abc import Sequence
from types import ModuleType

from awaitkit.http._errors import DecodingError, UnsupportedEncoding

TYPE_CHECKING = False
if TYPE_CHECKING:
    import brotli

    if sys.version_info >= (3, 14):
        from compression import zstd
    else:
        from backports import zstd

__all__ = [
    "ACCEPT_ENCODING",
    "CODINGS",
    "MAX_CODINGS",
    "PIECE",
    "ContentDecoder",
    "load_brotli",
    "load_zstd",
    "parse_content_encoding",
]

CODINGS = ("gzip", "deflate", "br", "zstd")
"""The content codings the client decodes."""
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
"""An ``Accept-Encoding`` value offering all of them (curl's ``--compressed``)."""
MAX_CODINGS = 5  # stacked codings; more is a hostile server, not a real one
PIECE = 256 * 1024  # most bytes one pull returns
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 8.4.1.3


# brotli and zstd are imported on first use: most bodies are gzip or none,
# and every process of a bulk download would pay for the imports at start.
def load_brotli() -> ModuleType:
    """The ``brotli`` module (imported on first use)."""
    return importlib.import_module("brotli")


def load_zstd() -> ModuleType:
    """The stdlib's ``compression.zstd`` on 3.14, else ``backports.zstd`` (imported on first use)."""
    if sys.version_info >= (3, 14):
        from compression import zstd
    else:
        from backports import zstd
    return zstd


def parse_content_encoding(value: str) -> tuple[str, ...]:
    """The codings of a ``Content-Encoding`` value, in the order they were applied.

    >>> parse_content_encoding("gzip, identity, BR")
    ('gzip', 'br')

    Raises :class:`UnsupportedEncoding` for a coding not in :data:`CODINGS`.
    """
    codings: list[str] = []
    for item in value.split(","):
        name = item.strip(" \t").lower()
        if not name or name == "identity":
            continue
        name = _ALIASES.get(name, name)
        if name not in CODINGS:
            shown = item.strip(" \t")
            shown = shown if len(shown) <= 40 else shown[:40] + "..."
            raise UnsupportedEncoding(f"unsupported Content-Encoding {shown!r}")
        codings.append(name)
    if len(codings) > MAX_CODINGS:
        raise UnsupportedEncoding(
            f"Content-Encoding stacks {len(codings)} codings, more than {MAX_CODINGS}"
        )
    return tuple(codings)


def _truncated(name: str) -> DecodingError:
    return DecodingError(f"truncated {name} body: it ended inside the {name} stream")


class _Zlib:
    """gzip (members in a row) or deflate (zlib-wrapped or raw)."""

    __slots__ = ("_full", "_gzip", "_input", "_obj", "_touched", "name")

    def __init__(self, gzip: bool) -> None:
        self.name = "gzip" if gzip else "deflate"
        self._gzip = gzip
        # deflate: which format waits for the first two bytes.
        self._obj = zlib.decompressobj(31) if gzip else None
        self._input = b""
        self._touched = False  # the current stream has had input
        self._full = False  # the last call filled its output: more may be inside

    def feed(self, data: bytes) -> None:
        self._input = self._input + data if self._input else data

    def pull(self, limit: int) -> bytes:
        while True:
            obj = self._obj
            data = self._input
            if obj is None:
                if len(data) < 2:
                    return b""
                # RFC 1950: CM 8 in the low nibble, the pair a multiple of 31.
                wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
                obj = self._obj = zlib.decompressobj(15 if wrapped else -15)
            if obj.eof:
                extra = obj.unused_data + data
                if self._gzip:
                    # Zero bytes may pad a gzip file (as the gzip module allows).
                    extra = extra.lstrip(b"\x00")
                if not extra:
                    self._input = b""
                    return b""
                if not self._gzip:
                    raise DecodingError("data after the end of the deflate stream")
                obj = self._obj = zlib.decompressobj(31)  # the next gzip member
                data = extra
                self._full = False
            if not data and not self._full:
                return b""
            if data:
                self._touched = True
            try:
                out = obj.decompress(data, limit)
            except zlib.error as exc:
                raise DecodingError(f"corrupt {self.name} body: {exc}") from None
            self._input = obj.unconsumed_tail
            self._full = len(out) >= limit
            if out:
                return out

    def close(self) -> None:
        obj = self._obj
        if obj is None:
            if self._input:
                raise _truncated(self.name)
        elif self._touched and not obj.eof:
            raise _truncated(self.name)


class _Brotli:
    """br: one stream; nothing may follow it."""

    __slots__ = ("_input", "_module", "_more", "_obj", "_touched", "name")

    def __init__(self) -> None:
        self.name = "br"
        self._module = load_brotli()
        self._obj: brotli.Decompressor = self._module.Decompressor()
        self._input = b""
        self._more = False  # output waits inside: call again with no input
        self._touched = False

    def feed(self, data: bytes) -> None:
        self._input = self._input + data if self._input else data

    def pull(self, limit: int) -> bytes:
        obj = self._obj
        while True:
            if obj.is_finished():
                if self._input:
                    raise DecodingError("data after the end of the br stream")
                return b""
            if self._more:
                data = b""
            else:
                data, self._input = self._input, b""
                if not data:
                    return b""
                self._touched = True
            try:
                out: bytes = obj.process(data, output_buffer_limit=limit)
            except self._module.error as exc:
                raise DecodingError(f"corrupt br body: {exc}") from None
            # Output may wait inside even once it takes input again: ask
            # with no input until a call gives nothing.
            self._more = bool(out) or not obj.can_accept_more_data()
            if out:
                return out

    def close(self) -> None:
        if self._touched and not self._obj.is_finished():
            raise _truncated(self.name)


class _Zstd:
    """zstd: one or more frames in a row."""

    __slots__ = ("_input", "_module", "_obj", "_touched", "name")

    def __init__(self) -> None:
        self.name = "zstd"
        self._module = load_zstd()
        self._obj: zstd.ZstdDecompressor = self._module.ZstdDecompressor()
        self._input = b""
        self._touched = False

    def feed(self, data: bytes) -> None:
        self._input = self._input + data if self._input else data

    def pull(self, limit: int) -> bytes:
        while True:
            obj = self._obj
            if obj.eof:
                extra = obj.unused_data + self._input
                if not extra:
                    return b""
                obj = self._obj = self._module.ZstdDecompressor()  # the next frame
                self._input = extra
            if obj.needs_input:
                data, self._input = self._input, b""
                if not data:
                    return b""
                self._touched = True
            else:
                data = b""  # output waits inside; new input stays queued
            try:
                out = obj.decompress(data, limit)
            except self._module.ZstdError as exc:
                raise DecodingError(f"corrupt zstd body: {exc}") from None
            if out:
                return out

    def close(self) -> None:
        if self._touched and not self._obj.eof:
            raise _truncated(self.name)


_Stage = _Zlib | _Brotli | _Zstd


def _stage(coding: str) -> _Stage:
    if coding == "gzip":
        return _Zlib(gzip=True)
    if coding == "deflate":
        return _Zlib(gzip=False)
    if coding == "br":
        return _Brotli()
    if coding == "zstd":
        return _Zstd()
    raise UnsupportedEncoding(f"unsupported Content-Encoding {coding!r}")


class ContentDecoder:
    """Decodes one body of ``codings`` (as :func:`parse_content_encoding` gives them).

    ::

        decoder = ContentDecoder(("gzip",))
        for data in received:
            decoder.feed(data)
            while piece := decoder.pull():
                write(piece)
        decoder.close()  # raises DecodingError if the body was cut short

    ``pull`` returns at most ``piece`` bytes (br: up to about twice that,
    its buffer grows in steps), ``b""`` once it needs more input; ``consumed`` counts the bytes fed, ``produced`` those pulled.
    """

    __slots__ = ("_piece", "_stages", "codings", "consumed", "produced")

    def __init__(self, codings: Sequence[str], *, piece: int = PIECE) -> None:
        if piece < 1:
            raise ValueError(f"piece must be >= 1, not {piece}")
        if not codings:
            raise ValueError("no codings to decode")
        self.codings = tuple(codings)
        # The last coding applied is the first to come off.
        self._stages = [_stage(coding) for coding in reversed(self.codings)]
        self._piece = piece
        self.consumed = 0
        self.produced = 0

    def __repr__(self) -> str:
        return (
            f"<ContentDecoder {', '.join(self.codings)} "
            f"consumed={self.consumed} produced={self.produced}>"
        )

    def feed(self, data: bytes) -> None:
        """Queue ``data``, the next bytes of the body as received."""
        self.consumed += len(data)
        self._stages[0].feed(data)

    def pull(self) -> bytes:
        """The next decoded piece (at most ``piece`` bytes); ``b""``: feed more."""
        out = self._pull(len(self._stages) - 1)
        self.produced += len(out)
        return out

    def _pull(self, index: int) -> bytes:
        stage = self._stages[index]
        while True:
            out = stage.pull(self._piece)
            if out or index == 0:
                return out
            inner = self._pull(index - 1)
            if not inner:
                return b""
            stage.feed(inner)

    def close(self) -> None:
        """The body ended (call once :meth:`pull` returned ``b""``).

        Raises :class:`DecodingError` when a stream is unfinished: truncated.
        """
        for stage in self._stages:
            stage.close()
