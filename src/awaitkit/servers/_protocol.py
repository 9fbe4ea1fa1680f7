"""The Mojifinder TCP line protocol, without any networking (sans-I/O).

A :class:`Session` is fed the bytes a client sends and hands back, per input
line, the bytes to send (:class:`Reply`) or the search to run (:class:`Search`).  It never touches a
socket, so every rule below is unit-tested by feeding it data, and the stream
handler in :mod:`awaitkit.servers.tcp` stays a small read/write loop.

The protocol is the book's, so ``nc`` and ``telnet`` work as clients::

    ?> cat face                          <- the prompt, then a query line
    U+1F431\t🐱\tCAT FACE                <- one CRLF line per match
    ────── ... ──────── 1 found          <- '─' * 66 and the count
    ?>                                   <- the prompt again

A result may be an emoji sequence: its line's first column then lists every
code point, space-separated (``U+1F1E7 U+1F1F7<TAB>🇧🇷<TAB>flag: Brazil``), so
the tab-separated columns stay three.

Additions that make it safe to expose:

* at most ``page_size`` matches per reply; the status line then says
  ``first 100 of 3358 found; send + for more`` and a line holding just ``+``
  shows the next page of the previous query;
* a line longer than ``max_line`` bytes gets an error line and the rest of
  it is discarded up to its newline (the buffer never grows past the limit);
* a line that is not UTF-8 gets an error line and the session continues;
* a line starting with a control character, or with the telnet IAC byte
  0xFF (what telnet sends for Ctrl-C / Ctrl-D), ends the session, as EOF does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from awaitkit.core import QueryError

if TYPE_CHECKING:
    from awaitkit.find import QueryResult

__all__ = [
    "BUSY",
    "CRLF",
    "MAX_LINE",
    "MORE",
    "PAGE_SIZE",
    "PROMPT",
    "RULE",
    "Reply",
    "Search",
    "Session",
    "render",
]

PROMPT = b"?> "
CRLF = b"\r\n"
RULE = "\u2500" * 66
MORE = "+"
MAX_LINE = 1024
PAGE_SIZE = 100
BUSY = b"busy: too many clients, try again later" + CRLF
_MAX_RENDERED = 4096

_TELNET_IAC = 0xFF
_ERR_TOO_LONG = b"error: line too long (max %d bytes), ignored" + CRLF
_ERR_NOT_UTF8 = b"error: input is not valid UTF-8, ignored" + CRLF
_ERR_NO_MORE = b"error: nothing more to show; send a query first" + CRLF


def _ends_session(byte: int) -> bool:
    """A control character or telnet's IAC byte (never valid UTF-8) at a line's start."""
    return byte < 0x20 or byte in (0x7F, _TELNET_IAC)


def _first_byte(data: bytearray) -> int:
    """The first byte of ``data`` that is not a space or tab; ``\\n`` if none."""
    byte = data[0]
    if byte == 0x20 or byte == 0x09:  # rare: no copy of the buffer otherwise
        rest = data.lstrip(b" \t")
        byte = rest[0] if rest else 0x0A
    return byte


@dataclass(frozen=True, slots=True)
class Reply:
    """Bytes to send for one input line, and whether to close afterwards.

    ``query`` and ``found`` describe a search that was run, for logging.
    """

    data: bytes
    close: bool = False
    query: str | None = None
    found: int | None = None


@dataclass(frozen=True, slots=True)
class Search:
    """A line asks for a search: run it, then pass the outcome to :meth:`Session.answer`."""

    query: str
    limit: int
    offset: int


class Session:
    """One client's protocol state: its input buffer and its last query.

    The session never searches itself: a query line comes out as a
    :class:`Search` event, the caller runs it however it likes (cache,
    thread) and hands the result back, h11-style.

    Example use::

        session = Session()
        send(session.greeting())
        session.feed(b"cat face\\r\\n")
        while (event := session.next_event()) is not None:
            if isinstance(event, Search):
                try:
                    event = session.answer(event, index.query(
                        event.query, limit=event.limit, offset=event.offset))
                except QueryError as exc:
                    event = session.answer(event, exc)
            send(event.data)
            if event.close:
                break
    """

    def __init__(
        self,
        *,
        page_size: int = PAGE_SIZE,
        max_line: int = MAX_LINE,
        rendered: dict[tuple[str, int, int], Reply] | None = None,
    ) -> None:
        if page_size < 1 or max_line < 1:
            raise ValueError("page_size and max_line must be positive")
        # Replies already rendered, shared by a server's sessions: the index is
        # immutable, so a page's reply depends only on (query, limit, offset).
        self._rendered = rendered
        self.page_size = page_size
        self.max_line = max_line
        self._buffer = bytearray()
        # True while skipping the tail of an over-long line up to its newline.
        self._discarding = False
        self._eof = False
        self.closed = False
        # The previous query and the offset of its next page, for ``+``.
        self._more: tuple[str, int] | None = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Session {state} buffered={len(self._buffer)}>"

    def greeting(self) -> bytes:
        """What to send as soon as the client connects: the prompt."""
        return PROMPT

    def feed(self, data: bytes) -> None:
        """Add received bytes; ``b""`` means the client will send no more (EOF)."""
        if not data:
            self._eof = True
            return
        self._buffer += data

    def next_event(self) -> Reply | Search | None:
        """What the next complete line asks for, or ``None`` until more data arrives.

        After EOF the session answers what is buffered, then gives a closing
        :class:`Reply`; a :class:`Search` answered after EOF closes too.
        """
        if self.closed:
            return None
        while self._discarding:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                self._buffer.clear()
                return self._close() if self._eof else None
            del self._buffer[: newline + 1]
            self._discarding = False
        if not self._buffer:  # the usual end of a batch of lines
            return self._close() if self._eof else None
        head = _first_byte(self._buffer)
        if head not in b"\r\n" and _ends_session(head):
            # Telnet sends Ctrl-C/Ctrl-D as IAC sequences with no newline after.
            return self._close()
        newline = self._buffer.find(b"\n")
        if newline >= 0:
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            if len(line) > self.max_line:
                return Reply(_ERR_TOO_LONG % self.max_line + PROMPT)
            return self.respond(line)
        if len(self._buffer) > self.max_line:
            # No newline within the limit: answer now, skip the rest of the line.
            self._buffer.clear()
            self._discarding = not self._eof
            self.closed = self._eof
            return Reply(_ERR_TOO_LONG % self.max_line + PROMPT, close=self._eof)
        if not self._eof:
            return None
        if self._buffer:  # a last line without its newline, then EOF
            line = bytes(self._buffer)
            self._buffer.clear()
            return self.respond(line)
        return self._close()

    def respond(self, line: bytes) -> Reply | Search:
        """What one line (without its newline) asks for: the protocol's core."""
        line = line.removesuffix(b"\r")
        first = line.lstrip(b" \t")[:1]
        if first and _ends_session(first[0]):
            return self._close()
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            return Reply(_ERR_NOT_UTF8 + PROMPT)
        if not text:
            return Reply(PROMPT)
        if text != MORE:
            return Search(text, self.page_size, 0)
        if self._more is None:
            return Reply(_ERR_NO_MORE + PROMPT)
        query, offset = self._more
        return Search(query, self.page_size, offset)

    def answer(self, search: Search, outcome: QueryResult | QueryError) -> Reply:
        """The reply to a :class:`Search`, given its result or its ``QueryError``."""
        close = self._eof and not self._buffer
        if isinstance(outcome, QueryError):
            self._more = None
            data = f"error: {outcome}".encode() + CRLF + PROMPT
            return Reply(data, close=close, query=search.query)
        offset = search.offset
        end = offset + len(outcome.matches)
        total = outcome.total
        self._more = (search.query, end) if end < total else None
        key = (search.query, search.limit, offset)
        rendered = self._rendered
        reply = rendered.get(key) if rendered is not None else None
        if reply is None:
            reply = Reply(render(outcome, offset), False, search.query, total)
            if rendered is not None:
                if len(rendered) >= _MAX_RENDERED:
                    rendered.clear()  # crude, but bounded and rare
                rendered[key] = reply
        if close:
            self.closed = True
            return Reply(reply.data, True, search.query, total)
        return reply

    def _close(self) -> Reply:
        self.closed = True
        return Reply(b"", close=True)


def render(result: QueryResult, offset: int = 0) -> bytes:
    """The bytes of one page of results: match lines, status line, prompt."""
    shown = len(result.matches)
    end = offset + shown
    total = result.total
    if end < total:
        span = f"first {shown}" if offset == 0 else f"{offset + 1}-{end}"
        status = f"{RULE} {span} of {total} found; send + for more"
    else:
        span = f"{offset + 1}-{end} of " if offset else ""
        status = f"{RULE} {span}{total} found"
    lines = [f"{m.code}\t{m.char}\t{m.name}" for m in result.matches]
    lines.append(status)
    lines.append("")
    # "replace": a lone surrogate (query U+D800) has no UTF-8 form.
    return "\r\n".join(lines).encode("utf-8", "replace") + PROMPT
