"""HTTP/1.1 responses as events: bytes in, events out, no I/O (over httptools).

:class:`ResponseParser` reads the responses of one connection, one at a
time: :meth:`~ResponseParser.expect` says a request went out,
:meth:`~ResponseParser.feed` takes the bytes that came in and
:meth:`~ResponseParser.feed_eof` the end of the stream.  Each returns the
events of that call as bit flags (an int, so that the hot path allocates no
event objects):

* ``HEAD``: the response head is complete (``status``, ``reason``, ``head``,
  ``keep_alive``); interim 1xx heads are skipped;
* ``BODY``: body bytes were appended to ``body``;
* ``END``: the response is complete;
* ``ERROR``: the response failed; ``error`` says why (the stream is unusable);
* ``EXTRA``: bytes nobody asked for (after a whole response, or with no
  request out): the stream no longer lines up with the requests, though the
  response itself is intact.

The asyncio side (:mod:`awaitkit.http._connection`) only moves bytes and
wakes readers; everything about the wire format is here, tested by feeding
bytes.
"""

from __future__ import annotations

import httptools

from awaitkit.http._errors import (
    BodyTooLarge,
    HttpClientError,
    ProtocolError,
    ServerDisconnected,
    TruncatedBody,
    translate,
)

__all__ = [
    "BODY",
    "BODY_EVENT",
    "DONE",
    "END",
    "ERROR",
    "EXTRA",
    "HEAD",
    "HEAD_EVENT",
    "IDLE",
    "ResponseParser",
]

IDLE, HEAD, BODY, DONE = range(4)  # ResponseParser.state: waiting for what
HEAD_EVENT, BODY_EVENT, END, ERROR, EXTRA = 1, 2, 4, 8, 16  # what feed() saw


class _Abort(Exception):
    """Raised in a parser callback to stop parsing; the reason is in ``error``."""


class _Discard(list[tuple[bytes, bytes]]):
    """Where trailer fields go: nobody reads them, so nothing is kept."""

    def append(self, item: tuple[bytes, bytes], /) -> None:
        pass


_TRAILERS = _Discard()


class ResponseParser:
    """The state of the response in progress on one connection.

    Read by the connection and the response: ``state`` (IDLE, HEAD, BODY,
    DONE), ``status``, ``reason``, ``head`` (raw fields), ``body`` (pieces
    appended as they come, taken by the reader), ``received`` (body bytes),
    ``head_bytes``, ``keep_alive``, ``error``.  ``limit`` caps the body.
    """

    __slots__ = (
        "_events",
        "_fields",
        "_parser",
        "body",
        "error",
        "head",
        "head_bytes",
        "keep_alive",
        "limit",
        "max_head",
        "reason",
        "received",
        "state",
        "status",
    )

    def __init__(self, max_head: int) -> None:
        self.max_head = max_head
        self._parser = httptools.HttpResponseParser(self)
        self.state = IDLE
        self.status = 0
        self.reason = b""
        self._fields: list[tuple[bytes, bytes]] = []
        self.head: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.received = 0
        self.head_bytes = 0
        self.keep_alive = False
        self.limit: int | None = None
        self.error: HttpClientError | None = None
        self._events = 0

    def expect(self) -> None:
        """A request went out: parse its response next (a fresh ``body`` list)."""
        self.state = HEAD
        self._fields = []
        self.body = []
        self.received = self.head_bytes = 0
        self.reason = b""
        self.limit = None
        self.keep_alive = False

    def feed(self, data: bytes) -> int:
        """Parse ``data``; the events it caused."""
        state = self.state
        if state == HEAD:
            self.head_bytes += len(data)
        elif state != BODY:
            self.keep_alive = False
            return EXTRA
        self._events = 0
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            # Our own _Abort arrives as an HttpParserCallbackError.
            self.keep_alive = False
            if self.state == DONE and self.error is None:
                return self._events | EXTRA  # a second response: keep the first
            if self.error is None:
                self.error = translate(exc, "malformed response")
            return self._events | ERROR
        if self.state == HEAD and self.head_bytes > self.max_head:
            # llhttp buffers nothing, but httptools gathers each field value:
            # stop a never-ending head here, a read at most past the limit.
            self.error = ProtocolError(
                f"response head larger than {self.max_head} bytes"
            )
            return self._events | ERROR
        return self._events

    def feed_eof(self, reset: bool) -> int:
        """The stream ended (``reset``: by an error): ``END`` or ``ERROR`` if in a response."""
        state = self.state
        self.keep_alive = False
        if self.error is not None:
            return 0
        if state == HEAD:
            self.error = ServerDisconnected(
                "the server closed the connection before the response head"
                if self.head_bytes
                else "the server closed the connection without responding"
            )
            return ERROR
        if state == BODY:
            if not reset and self.ends_at_eof():
                self.state = DONE
                return END
            self.error = TruncatedBody(
                f"connection {'reset' if reset else 'closed'} after "
                f"{self.received} body bytes"
            )
            return ERROR
        return 0

    def ends_at_eof(self) -> bool:
        """True when the body has no length and no chunking, so EOF ends it."""
        for name, value in self.head:
            lowered = name.lower()
            if lowered == b"content-length":
                return False
            if lowered == b"transfer-encoding" and value.rstrip(
                b" \t"
            ).lower().endswith(b"chunked"):
                return False
        return True

    # -- httptools callbacks ------------------------------------------------

    def on_message_begin(self) -> None:
        """A response starts: only one is expected (interim 1xx aside)."""
        if self.state != HEAD:
            raise _Abort

    def on_status(self, reason: bytes) -> None:
        """The reason phrase (possibly in pieces)."""
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        """One field of the head (or a trailer, discarded)."""
        self._fields.append((name, value))

    def on_headers_complete(self) -> None:
        """The head is in (interim 1xx heads are skipped)."""
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:
            self._fields = []
            self.reason = b""
            return
        self.status = status
        self.keep_alive = parser.should_keep_alive()
        self.head = self._fields
        self._fields = _TRAILERS
        self.state = BODY
        self._events |= HEAD_EVENT

    def on_body(self, piece: bytes) -> None:
        """Keep a body piece; stop past ``limit``."""
        self.body.append(piece)
        self.received += len(piece)
        if self.limit is not None and self.received > self.limit:
            self.error = BodyTooLarge(f"body larger than {self.limit} bytes")
            raise _Abort
        self._events |= BODY_EVENT

    def on_message_complete(self) -> None:
        """The body is complete (or an interim response ended)."""
        if self.state == BODY:
            self.state = DONE
            self._events |= END
