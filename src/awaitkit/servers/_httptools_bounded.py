"""uvicorn's httptools protocol with bounded request heads and half-close support.

:class:`BoundedHttpToolsProtocol` changes two things and leaves the rest
(parsing, the request/response cycle, pipelining, keep-alive) to uvicorn:

* **Bounded heads.**  Once llhttp has parsed a head, and before uvicorn
  hands it to the app, :meth:`on_headers_complete` checks the request
  target, the head's size and its field count against :class:`HeadLimits`;
  over a limit it raises, which stops llhttp, and uvicorn's parse-error path
  (which calls :meth:`send_400_response`) sends ``414`` or ``431`` instead
  of ``400``.  A head still incomplete is checked after every read: its
  target, field count and the raw bytes received while it was open, so
  one endless header stops after ``max_head`` plus a socket read or two.
  (Nothing runs per header field: a callback per field would cost the hot
  path about a quarter of a microsecond per field.)  After
  the answer, the connection lingers (nginx's lingering close): our side is
  shut and input discarded, at most ``LINGER_BYTES`` for ``LINGER_SECONDS``,
  so the client can read the answer instead of losing it to a reset.
* **Half-close.**  uvicorn treats a client's EOF as the connection lost, so
  a client that sends a request and then shuts down its write side
  (``nc -N``, some HTTP/1.0 clients) got no answer.  Here EOF keeps the
  transport open for writing when complete requests are waiting: the
  newest is marked ``Connection: close``, so every request received is
  answered in order and the connection closes after the last response.

Error answers never interleave with a response in flight: a refusal while
pipelined requests are being answered is written after their responses.

This builds on uvicorn's protocol hooks and attributes, which are not a
public API: pyproject pins the uvicorn releases it is tested with, and
``tests/servers/test_web_limits.py`` fails if a release renames a hook or an
attribute used here, or stops calling a hook where the limits need it.
"""

from __future__ import annotations

import http
import logging
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from awaitkit.servers._head_limits import HeadLimits

__all__ = ["BoundedHttpToolsProtocol"]

log = logging.getLogger("awaitkit.servers.http")

# The request line's fixed bytes (two spaces, "HTTP/1.1", CRLF) and the
# blank line ending the head, in its canonical size.
_LINE_OVERHEAD = 1 + 1 + len("HTTP/1.1") + 2 + 2
_FIELD_OVERHEAD = len(": \r\n")
# After a refusal, input is read and discarded for at most this long and
# this much (a client sending a slightly oversized head gets to read the
# answer); then the connection is closed.
LINGER_SECONDS = 2.0
LINGER_BYTES = 256 * 1024
# RFC 9110's phrase (Python 3.11 still says "Request-URI Too Long").
_PHRASES = {414: b"URI Too Long"}


class _Refused(Exception):
    """Raised in a parser callback to stop parsing at the offending byte."""


def _error_response(
    status: int, reason: str, default_headers: list[tuple[bytes, bytes]]
) -> bytes:
    body = reason.encode("ascii", "replace") + b"\n"
    phrase = _PHRASES.get(status) or http.HTTPStatus(status).phrase.encode("ascii")
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, phrase)]
    lines += [name + b": " + value + b"\r\n" for name, value in default_headers]
    lines += [
        b"content-type: text/plain; charset=utf-8\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n\r\n",
        body,
    ]
    return b"".join(lines)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` refusing oversized heads and answering half-closed clients."""

    limits: ClassVar[HeadLimits] = HeadLimits()
    # A head no larger than this (in raw bytes) is within every limit once
    # its field count is: the canonical size exceeds the raw one by at most
    # one byte per field (a missing space after the colon).
    _quick: ClassVar[int] = min(limits.max_target, limits.max_head - limits.max_fields)

    @classmethod
    def with_limits(cls, limits: HeadLimits) -> type[BoundedHttpToolsProtocol]:
        """This class, or a subclass of it enforcing other ``limits``."""
        if limits == cls.limits:
            return cls
        quick = min(limits.max_target, limits.max_head - limits.max_fields)
        return type(cls.__name__, (cls,), {"limits": limits, "_quick": quick})

    # Per-connection state, as class defaults: an instance gets its own
    # only when it needs it.  uvicorn's protocol holds 28 attributes, and
    # CPython (3.11+) shares the key table of instance dicts, which keeps
    # attribute access fast, only up to 30 keys: past that, every attribute
    # read in uvicorn's per-request code gets slower (a few % of req/s).
    _read: tuple[object, int] = (None, 0)  # (scope, size) of the read being parsed
    _fed = 0  # bytes of reads spent wholly inside the open head
    _fed_max = 0  # ... plus the read it began in
    _refusal: tuple[int, str] | None = None  # set by a callback that raised
    _refused = False
    _deferred: bytes | None = None  # a refusal waiting on responses
    _linger_left = 0  # bytes still discarded after a refusal

    # -- limits ------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Parse ``data``; refuse an open head that grew past the limits."""
        if self._refused:
            self._discard(len(data))
            return
        # uvicorn makes a scope per request and sets its "method" once the
        # head is complete, so "a head is open" is: scope without "method".
        before = self.scope
        self._read = (before, len(data))
        super().data_received(data)
        scope = self.scope
        if scope is None or "method" in scope or self._refused:
            return  # no head open: the common case ends here
        if scope is before:  # the whole read went to the open head
            self._fed += len(data)
            self._fed_max += len(data)
        else:  # the head began within this read, at an unknown offset
            self._fed = 0
            self._fed_max = len(data)
        limits = self.limits
        if len(self.url) > limits.max_target:
            self._refuse(414, f"request target over {limits.max_target} bytes")
        elif self._fed > limits.max_head:
            self._refuse(431, f"request head over {limits.max_head} bytes")
        elif len(self.headers) > limits.max_fields:
            self._refuse(431, f"over {limits.max_fields} header fields")

    def on_headers_complete(self) -> None:
        """The head is complete: check it before uvicorn hands it to the app."""
        limits = self.limits
        if len(self.headers) > limits.max_fields:
            self._refuse_in_parser(431, f"over {limits.max_fields} header fields")
        before, raw = self._read
        if self.scope is before:  # the head began in an earlier read
            raw += self._fed_max
        if raw > self._quick:  # maybe over a limit: count exactly
            if len(self.url) > limits.max_target:
                self._refuse_in_parser(
                    414, f"request target over {limits.max_target} bytes"
                )
            size = (
                _LINE_OVERHEAD
                + len(self.parser.get_method())
                + len(self.url)
                + sum(len(name) + len(value) for name, value in self.headers)
                + _FIELD_OVERHEAD * len(self.headers)
            )
            if size > limits.max_head:
                self._refuse_in_parser(
                    431, f"request head over {limits.max_head} bytes"
                )
        super().on_headers_complete()

    def _refuse_in_parser(self, status: int, reason: str) -> None:
        """Stop llhttp at once: uvicorn's parse-error path then calls send_400_response."""
        self._refusal = (status, reason)
        raise _Refused(reason)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parse error; a limit a callback hit answers instead."""
        status, reason = self._refusal or (400, msg)
        self._refuse(status, reason)

    def _refuse(self, status: int, reason: str) -> None:
        """Answer ``status`` and close, after any responses still in flight."""
        self._refused = True
        self._linger_left = LINGER_BYTES  # from now on input is discarded
        if status != 400:  # uvicorn has already logged its 400s
            client = "{}:{} - ".format(*self.client) if self.client else ""
            log.warning("%s%d %s", client, status, reason)
        if self.headers:
            self.headers.clear()  # up to one read of fields: free them now
        response = _error_response(status, reason, self.server_state.default_headers)
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            self._answer_and_close(response)
        elif not cycle.more_body:
            # Requests fully received are still being answered: the newest
            # one (self.cycle, even while it waits in the pipeline) answers
            # last, and writes the refusal after its response.
            self._deferred = response
            cycle.on_response = self._respond_then_refuse
        else:
            # A body cut short by bad bytes, its app already running: as
            # uvicorn does, answer unless it has, and close at once, so the
            # app sees a disconnect (lingering would fail its next write).
            if not cycle.response_started:
                self.transport.write(response)
            self.transport.close()

    def _respond_then_refuse(self) -> None:
        self.on_response_complete()
        if self._deferred is not None:
            self._answer_and_close(self._deferred)
            self._deferred = None

    def _answer_and_close(self, response: bytes) -> None:
        """Write ``response``, then close without making the client lose it.

        Closing with input unread makes the kernel reset the connection,
        and a reset can destroy the answer before the client reads it (a
        browser shows "connection reset" instead of the 431).  So, like
        nginx's lingering close: shut our side, discard what the client is
        still sending for a bounded time and amount, then close.
        """
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(response)
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.flow.resume_reading()  # paused by pipelining: drain anyway
        self.loop.call_later(LINGER_SECONDS, transport.close)

    def _discard(self, size: int) -> None:
        self._linger_left -= size
        if self._linger_left < 0:
            self.transport.close()

    # -- half-close ------------------------------------------------------------

    def eof_received(self) -> bool:  # type: ignore[override]
        """The client sent all it will: answer complete requests, then close.

        Returning ``True`` keeps the transport open for writing.  ``False``
        (nothing to answer, or a request body that can no longer arrive)
        closes it at once, as uvicorn does.
        """
        if self._refused:
            # A refusal waiting on responses is written, then the connection
            # closed, by on_response_complete; one already written was
            # lingering for exactly this EOF.
            return self._deferred is not None
        cycle = self.cycle
        if cycle is None or cycle.response_complete or cycle.more_body:
            return False
        # self.cycle is the newest request, even while it waits in the
        # pipeline: once it is answered, uvicorn closes the connection.
        cycle.keep_alive = False
        return True
