"""The response side of the HTTP client: :class:`Response`, :class:`Headers`, body pieces."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TypeVar, overload

from awaitkit.core import HTTPStatusError
from awaitkit.http._connection import Connection
from awaitkit.http._decode import ContentDecoder, parse_content_encoding
from awaitkit.http._errors import (
    BodyTooLarge,
    HttpClientError,
    ProtocolError,
)
from awaitkit.http._parser import DONE
from awaitkit.http._pool import Pool

__all__ = ["Headers", "Response"]

_T = TypeVar("_T")


class Headers(Mapping[str, str]):
    """Response fields, case-insensitive; repeated fields joined with ", ".

    Decoded as Latin-1, which maps every byte to one character, so nothing
    is lost and nothing fails.  Built on first use.
    """

    __slots__ = ("_fields", "_map")

    def __init__(self, fields: list[tuple[bytes, bytes]]) -> None:
        self._fields = fields
        self._map: dict[str, str] | None = None

    def _build(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for raw_name, raw_value in self._fields:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1").strip(
                " \t"
            )  # llhttp keeps trailing spaces
            old = merged.get(name)
            merged[name] = value if old is None else f"{old}, {value}"
        self._map = merged
        return merged

    def __getitem__(self, name: str) -> str:
        fields = self._map if self._map is not None else self._build()
        return fields[name.lower()]

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, /, default: str | _T) -> str | _T: ...
    def get(self, name: str, /, default: object = None) -> object:
        """The field's value, or ``default`` when absent."""
        fields = self._map if self._map is not None else self._build()
        return fields.get(name.lower(), default)

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        """Every value of field ``name``, in order, unjoined; ``default`` when absent.

        For fields whose values cannot be joined with commas, as Set-Cookie
        (``email.message.Message.get_all`` has the same shape, so
        :mod:`http.cookiejar` can read these headers).
        """
        wanted = name.lower().encode("latin-1", "replace")
        values = [
            value.decode("latin-1").strip(" \t")
            for field, value in self._fields
            if len(field) == len(wanted) and field.lower() == wanted
        ]
        return values or default

    def __contains__(self, name: object) -> bool:
        fields = self._map if self._map is not None else self._build()
        return isinstance(name, str) and name.lower() in fields

    def __iter__(self) -> Iterator[str]:
        fields = self._map if self._map is not None else self._build()
        return iter(fields)

    def __len__(self) -> int:
        fields = self._map if self._map is not None else self._build()
        return len(fields)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class Response:
    """The response to one GET, valid inside its ``async with`` block.

    ``status``, ``reason``, ``url`` (after redirects), ``headers`` and
    ``content_length`` are known on entry; the body comes from :meth:`read`
    or :meth:`chunks`.  A body already complete when the block ends can
    still be read afterwards.

    When the client asked for compression (``HttpClient(accept_encoding=...)``),
    a body with a ``Content-Encoding`` comes out decoded (``decode=False``:
    as sent); ``content_encoding`` names its codings and ``raw_bytes``
    counts the bytes as received, for progress and rate limits.  Without a
    ``Content-Encoding`` nothing is added to the path of a body.
    """

    __slots__ = (
        "_body",
        "_coding",
        "_complete",
        "_conn",
        "_fields",
        "_headers",
        "_parser",
        "_parts",
        "_pool",
        "_raw",
        "_reason",
        "status",
        "url",
    )

    def __init__(
        self, conn: Connection, url: str, pool: Pool, decode: bool = False
    ) -> None:
        self._conn: Connection | None = conn
        self._pool = pool
        self._parser = parser = conn.parser
        self.status: int = parser.status
        self._reason = parser.reason
        self._fields = parser.head
        self._parts = parser.body  # shared with the parser while it fills it
        self.url: str = url
        self._headers: Headers | None = None
        self._body: bytes | None = None
        self._complete = False
        self._raw = 0
        # The raw Content-Encoding, looked for only when the client decodes.
        coding: bytes | None = None
        if decode:
            for name, value in self._fields:
                if len(name) == 16 and name.lower() == b"content-encoding":
                    coding = value if coding is None else coding + b"," + value
        self._coding = coding

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.url}>"

    @property
    def reason(self) -> str:
        """The reason phrase of the status line ("" when absent)."""
        return self._reason.decode("latin-1")

    @property
    def headers(self) -> Headers:
        """The response fields (case-insensitive)."""
        if self._headers is None:
            self._headers = Headers(self._fields)
        return self._headers

    def raise_for_status(self) -> Response:
        """Raise :class:`~awaitkit.core.HTTPStatusError` for a 4xx or 5xx status; else ``self``.

        A status is a value, as in httpx: nothing raises until the caller asks.

        ::

            async with client.get(url) as resp:
                body = await resp.raise_for_status().read()
        """
        status = self.status
        if 400 <= status < 600:
            kind = "client error" if status < 500 else "server error"
            text = f"{status} {self.reason}".rstrip()
            raise HTTPStatusError(
                f"{kind} {text} for {self.url}", status_code=status, url=self.url
            )
        return self

    @property
    def content_encoding(self) -> tuple[str, ...]:
        """The codings the body is decoded from, in the order the server applied them.

        Empty when the body comes as sent: no ``Content-Encoding`` (or only
        ``identity``), or a client that does not decode.  Raises
        :class:`UnsupportedEncoding` for a coding it cannot decode.
        """
        coding = self._coding
        if coding is None:
            return ()
        return parse_content_encoding(coding.decode("latin-1"))

    @property
    def body_received(self) -> bool:
        """True once the whole body is here: :meth:`read` will not wait."""
        return self._complete or (self._conn is not None and self._parser.state == DONE)

    @property
    def raw_bytes(self) -> int:
        """Body bytes taken so far as they came off the wire (before decoding)."""
        return self._raw

    @property
    def content_length(self) -> int | None:
        """The declared Content-Length (of the body as sent, encoded), or None (absent, chunked)."""
        for name, value in self._fields:
            if len(name) == 14 and name.lower() == b"content-length":
                text = value.strip(b" \t")
                if not text.isdigit():  # llhttp checks it; this guards the int()
                    raise ProtocolError(f"bad Content-Length {value!r}")
                return int(text)
        return None

    async def read(self, limit: int | None = None, *, decode: bool = True) -> bytes:
        """The whole body (what :meth:`chunks` has not taken yet), decoded.

        More than ``limit`` bytes, declared or received, raises
        :class:`BodyTooLarge` and closes the connection; for a decoded body
        the limit is on the decoded bytes, and decoding stops as soon as it
        is passed.  ``decode=False``: the body as sent.  The first read
        decides: a later one returns the same bytes.
        """
        body = self._body
        if body is None and decode and self._coding is not None:
            codings = self.content_encoding
            if codings:
                return await self._read_decoded(ContentDecoder(codings), limit)
        conn = self._conn
        if body is None:
            parser = self._parser
            if conn is not None and parser.state != DONE:
                declared = self.content_length
                if limit is not None and (
                    (declared is not None and declared > limit)
                    or parser.received > limit
                ):
                    exc = BodyTooLarge(f"body of {declared} bytes, over {limit}")
                    conn.fail(exc)
                    raise exc
                conn.collect(limit)  # the parser stops at once past it
                while parser.state != DONE:
                    if conn.exc is not None:
                        raise conn.exc
                    await conn.wait(False)
            elif conn is None and not self._complete:
                raise HttpClientError(
                    "the response was closed before its body was read"
                )
            parts = self._parts
            body = parts[0] if len(parts) == 1 else b"".join(parts)
            parts.clear()  # nothing to tell the connection: collect() never pauses
            self._raw += len(body)
            self._body = body
        if limit is not None and len(body) > limit:
            exc = BodyTooLarge(f"body of {len(body)} bytes, over {limit}")
            if conn is not None:
                conn.fail(exc)
            raise exc
        return body

    async def _read_decoded(self, decoder: ContentDecoder, limit: int | None) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for piece in _Decoded(self, decoder):
            size += len(piece)
            if limit is not None and size > limit:
                exc = BodyTooLarge(f"decoded body larger than {limit} bytes")
                if self._conn is not None:
                    self._conn.fail(exc)
                raise exc
            parts.append(piece)
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        self._body = body
        return body

    def chunks(self, *, decode: bool = True) -> AsyncIterator[bytes]:
        """The body in pieces as they arrive (pieces waiting are joined into one).

        Reading pauses while more than 1 MiB is buffered unread and resumes
        below 256 KiB, so a slow consumer holds memory bounded.  A decoded
        body comes in pieces of at most 256 KiB however well it compressed
        (``decode=False``: as sent); a corrupt or truncated one raises
        :class:`DecodingError`.
        """
        if decode and self._coding is not None:
            codings = self.content_encoding
            if codings:
                return _Decoded(self, ContentDecoder(codings))
        return _Pieces(self)

    def _finish(self, failed: bool) -> None:
        # Back to the pool only after a whole body, keep-alive, and no error.
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        parser = self._parser
        if parser.state == DONE and conn.exc is None:
            self._complete = True
            if not failed and parser.keep_alive:
                self._pool.release(conn)
                return
        self._pool.discard(conn)

    def _location(self) -> bytes | None:
        for name, value in self._fields:
            if name.lower() == b"location":
                return value.strip(b" \t")
        return None


class _Pieces:
    """Async iterator over the body pieces of one response."""

    __slots__ = ("_response",)

    def __init__(self, response: Response) -> None:
        self._response = response

    def __aiter__(self) -> _Pieces:
        return self

    async def __anext__(self) -> bytes:
        response = self._response
        parts = response._parts
        while True:
            conn = response._conn
            if parts:
                piece = parts[0] if len(parts) == 1 else b"".join(parts)
                parts.clear()
                size = len(piece)
                response._raw += size
                if conn is not None:
                    conn.consumed(size)
                return piece
            if response._body is not None or response._complete:
                raise StopAsyncIteration
            if conn is None:
                raise HttpClientError(
                    "the response was closed before its body was read"
                )
            if conn.exc is not None:
                raise conn.exc
            if response._parser.state == DONE:
                raise StopAsyncIteration
            await conn.wait(True)


class _Decoded:
    """Async iterator over the decoded pieces of one response."""

    __slots__ = ("_decoder", "_ended", "_raw")

    def __init__(self, response: Response, decoder: ContentDecoder) -> None:
        self._raw = _Pieces(response)
        self._decoder = decoder
        self._ended = False

    def __aiter__(self) -> _Decoded:
        return self

    async def __anext__(self) -> bytes:
        decoder = self._decoder
        while True:
            piece = decoder.pull()
            if piece:
                return piece
            if self._ended:
                raise StopAsyncIteration
            try:
                data = await self._raw.__anext__()
            except StopAsyncIteration:
                self._ended = True
                decoder.close()  # a stream cut short raises here
                raise
            decoder.feed(data)
