"""Hostile request heads and half-closed clients against the web server on real uvicorn.

Every test but the last few runs the real server on loopback, on both event
loops the server meets (asyncio in debug mode in the tests, uvloop in the
CLI), and talks to it over raw sockets.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from awaitkit.core.testing import exchange
from awaitkit.servers import _httptools_bounded as bounded, serving_web
from awaitkit.servers._http_limits import HeadLimits, uvicorn_options
from awaitkit.servers._serve import web_config
from tests.flags.loops import both_loops
from tests.servers._client import plain_client

pytestmark = pytest.mark.anyio

DEFAULT = HeadLimits()
SMALL = HeadLimits(max_target=100, max_head=1000, max_fields=5)
MiB = 1 << 20


anyio_backend = both_loops  # their transports differ in how they report EOF and resets


@pytest.fixture
async def port(web_app: FastAPI) -> AsyncIterator[int]:
    """A web server with the default limits."""
    async with serving_web(web_app) as url:
        yield int(url.rsplit(":", 1)[1])


@pytest.fixture(params=[DEFAULT, SMALL], ids=["default", "small"])
async def limited(
    web_app: FastAPI, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[int, HeadLimits]]:
    """A web server with the default limits, or small ones passed in."""
    limits: HeadLimits = request.param
    options = {} if limits is DEFAULT else {"limits": limits}
    async with serving_web(web_app, **options) as url:
        yield int(url.rsplit(":", 1)[1]), limits


# -- clients ---------------------------------------------------------------


def head(
    target: str = "/healthz",
    *,
    size: int | None = None,
    fields: int = 2,
    method: str = "GET",
) -> bytes:
    """A request head; ``size`` pads an ``X-Pad`` field to make it exactly that long."""
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: x", b"Connection: close"]
    lines += [b"X-F%d: v" % i for i in range(fields - 2)]
    data = b"\r\n".join(lines) + b"\r\n\r\n"
    if size is not None:
        pad = size - len(data) - len(b"X-Pad: \r\n")
        assert pad >= 0
        data = data[:-2] + b"X-Pad: " + b"p" * pad + b"\r\n\r\n"
        assert len(data) == size
    return data


def status(reply: bytes) -> int:
    """The status code of the first response in ``reply``."""
    assert reply.startswith(b"HTTP/1.1 "), reply[:80]
    return int(reply[9:12])


def responses(reply: bytes) -> list[int]:
    """Status codes of every response in ``reply`` (bodies are not scanned)."""
    return [int(reply[i + 9 : i + 12]) for i in _find_all(reply, b"HTTP/1.1 ")]


def _find_all(data: bytes, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


async def assert_healthy(port: int) -> None:
    async with plain_client(f"http://127.0.0.1:{port}") as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}


# -- bounded heads ---------------------------------------------------------


async def test_head_at_the_limit_is_served_one_over_is_431(
    limited: tuple[int, HeadLimits],
) -> None:
    port, limits = limited
    fields = 3 if limits.max_fields >= 3 else 2
    at_limit = await exchange(port, head(size=limits.max_head, fields=fields))
    assert status(at_limit) == 200
    over = await exchange(port, head(size=limits.max_head + 1, fields=fields))
    assert status(over) == 431
    assert b"connection: close\r\n" in over
    assert over.endswith(b"\r\n\r\nrequest head over %d bytes\n" % limits.max_head)
    await assert_healthy(port)


async def test_target_at_the_limit_is_served_one_over_is_414(
    limited: tuple[int, HeadLimits],
) -> None:
    port, limits = limited
    base = "/healthz?x="
    target = base + "t" * (limits.max_target - len(base))
    assert status(await exchange(port, head(target))) == 200
    reply = await exchange(port, head(target + "t"))
    assert reply.startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    assert reply.endswith(b"request target over %d bytes\n" % limits.max_target)
    await assert_healthy(port)


async def test_too_many_header_fields_is_431(limited: tuple[int, HeadLimits]) -> None:
    port, limits = limited
    assert status(await exchange(port, head(fields=limits.max_fields))) == 200
    reply = await exchange(port, head(fields=limits.max_fields + 1))
    assert status(reply) == 431
    assert reply.endswith(b"over %d header fields\n" % limits.max_fields)


async def test_oversized_search_query_is_414(port: int) -> None:
    """Parsing stops at the target limit; the rest is read and discarded."""
    query = b"x" * (200 * 1024)
    reply = await exchange(port, b"GET /search?q=" + query + b" HTTP/1.1\r\n\r\n")
    assert status(reply) == 414


def _stream_header(port: int, total: int) -> tuple[int, bytes, OSError | None]:
    """Send a head with one ``total``-byte header, 64 KiB a write, blocking.

    Returns (bytes the kernel accepted, whatever came back, the error that
    stopped the sending or ``None``).  A small send buffer keeps what the
    kernel holds for us, so ``sent`` follows what the server read.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sock.settimeout(10)
    sent, error = 0, None
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        chunk = b"a" * (64 * 1024)
        try:
            while sent < total:
                sent += sock.send(chunk)
        except OSError as exc:
            error = exc
        reply = b""
        try:
            while data := sock.recv(65536):
                reply += data
        except ConnectionResetError:
            pass  # the 431 is read before the reset, or lost with it
        return sent, reply, error
    finally:
        sock.close()


async def test_endless_header_is_cut_off_while_client_still_sends(port: int) -> None:
    total = 10 * MiB
    sent, reply, error = await asyncio.to_thread(_stream_header, port, total)
    # The server stopped reading and closed long before 10 MiB.
    assert error is not None
    assert error.errno in (errno.ECONNRESET, errno.EPIPE)
    assert sent < total // 4
    assert reply == b"" or status(reply) == 431
    await assert_healthy(port)


async def test_refusal_waits_for_the_pipelined_response_before_it(port: int) -> None:
    """A good request then an oversized one: 200, then 431, never interleaved."""
    good = b"GET /search?q=cat%20face&limit=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = await exchange(port, good + head(size=DEFAULT.max_head + 1))
    assert responses(reply) == [200, 431]
    first, second = reply.split(b"HTTP/1.1 431", 1)
    assert first.endswith(b'"name":"CAT FACE","kind":"char","via":"name"}]')
    assert second.endswith(b"bytes\n")


# -- bad bytes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"GET /search\xff\xfe?q=cat HTTP/1.1\r\nHost: x\r\n\r\n",  # path
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-\xff\xfe: v\r\n\r\n",  # field name
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",  # NUL in a value
        b"G\xc3\x89T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",  # method
    ],
    ids=["path", "field-name", "nul-value", "method"],
)
async def test_bad_bytes_in_head_are_400(port: int, data: bytes) -> None:
    reply = await exchange(port, data)
    assert status(reply) == 400
    assert b"connection: close\r\n" in reply
    await assert_healthy(port)


async def test_non_utf8_field_value_is_data(port: int) -> None:
    """obs-text (bytes 0x80-0xFF) is legal in a field value: served, not a crash."""
    reply = await exchange(
        port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Name: \xff\xfe\xc3\r\n\r\n"
    )
    assert status(reply) == 200


# -- half-close ----------------------------------------------------------------


async def test_request_then_half_close_is_answered(port: int) -> None:
    reply = await exchange(
        port,
        b"GET /search?q=cat%20face HTTP/1.1\r\nHost: x\r\n\r\n",
        half_close=True,
    )
    assert status(reply) == 200
    assert b"connection: close\r\n" in reply
    assert (
        b'{"char":"\xf0\x9f\x90\xb1","code":"U+1F431","name":"CAT FACE","kind":"char","via":"name"}'
        in reply
    )


async def test_pipelined_requests_then_half_close_are_all_answered(port: int) -> None:
    reply = await exchange(
        port,
        b"GET /search?q=cat%20face&limit=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /search?q=nothing%20matches%20this HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        half_close=True,
    )
    assert responses(reply) == [200, 200, 200]
    cat, nothing, health = reply.split(b"HTTP/1.1 ")[1:]
    assert cat.endswith(b'"name":"CAT FACE","kind":"char","via":"name"}]')
    assert nothing.endswith(b"\r\n\r\n[]")
    assert health.endswith(b'{"status":"ok"}')
    assert b"connection: close\r\n" in health  # only the last says so
    assert b"connection: close\r\n" not in cat


async def test_half_close_answers_complete_requests_only(port: int) -> None:
    """A partial second request cannot be answered: the first is, then close."""
    reply = await exchange(
        port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /search?q=cat HTTP/1.1\r\nHo",
        half_close=True,
    )
    assert responses(reply) == [200]
    assert await exchange(port, b"GET /healthz HTTP/1.1\r\nHo", half_close=True) == b""
    await assert_healthy(port)


async def test_half_close_mid_body_closes(port: int) -> None:
    """A body that can no longer arrive: the app sees a disconnect, nothing hangs."""
    reply = await exchange(
        port,
        b"POST /search?q=cat HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab",
        half_close=True,
    )
    assert reply == b"" or status(reply) in (405, 400)
    await assert_healthy(port)


async def test_half_close_on_idle_keep_alive_connection_closes(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        async with asyncio.timeout(10):
            first = await reader.readuntil(b'{"status":"ok"}')
            assert status(first) == 200
            writer.write_eof()
            assert await reader.read() == b""
    finally:
        writer.close()
        await writer.wait_closed()


# -- the h11 fallback --------------------------------------------------------


async def test_h11_fallback_is_bounded_too(web_app: FastAPI) -> None:
    async with serving_web(web_app, http="h11") as url:
        port = int(url.rsplit(":", 1)[1])
        assert status(await exchange(port, head(size=DEFAULT.max_head - 100))) == 200
        # h11 bounds what it buffers while a head is incomplete (max_head; a
        # head read whole passes), answering its own 400 and closing.
        sent, reply, error = await asyncio.to_thread(_stream_header, port, 10 * MiB)
        assert error is not None
        assert sent < 10 * MiB // 4
        assert reply == b"" or status(reply) == 400
        await assert_healthy(port)


# -- configuration and the guard against uvicorn changes ---------------------


def test_uvicorn_options_pick_the_bounded_protocol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = uvicorn_options("auto", DEFAULT)
    assert options == {
        "http": bounded.BoundedHttpToolsProtocol,
        "h11_max_incomplete_event_size": DEFAULT.max_head,
    }
    custom = uvicorn_options("httptools", SMALL)["http"]
    assert issubclass(custom, bounded.BoundedHttpToolsProtocol)
    assert custom.limits == SMALL
    assert uvicorn_options("h11", SMALL) == {
        "http": "h11",
        "h11_max_incomplete_event_size": SMALL.max_head,
    }
    # Without httptools, "auto" is uvicorn's h11, still bounded.
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert uvicorn_options("auto", SMALL)["http"] == "h11"


@pytest.mark.parametrize(
    "bad",
    [
        {"max_head": 0},
        {"max_fields": -1},
        {"max_target": 2000, "max_head": 1000},
    ],
)
def test_head_limits_reject_nonsense(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="max_"):
        HeadLimits(**bad)


# -- read boundaries -----------------------------------------------------------
# Over a real socket the test cannot choose how the server's reads split the
# bytes; these feed the protocol directly, with a transport that records.


class RecordingTransport(asyncio.Transport):
    """Just enough transport for the protocol: records writes and closing."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.eof = self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def write_eof(self) -> None:
        self.eof = True

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _no_content(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def connected(
    limits: HeadLimits = DEFAULT,
) -> tuple[bounded.BoundedHttpToolsProtocol, RecordingTransport]:
    config = web_config(_no_content, limits=limits)
    config.load()
    protocol = config.http_protocol_class(  # type: ignore[call-arg]
        config=config, server_state=ServerState(), app_state={}
    )
    assert isinstance(protocol, bounded.BoundedHttpToolsProtocol)
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


# -- uvicorn's hooks (not a public API: pyproject pins the releases) --------

# The hooks and attributes of uvicorn's protocol the bounded one builds on.
OVERRIDDEN = (
    "data_received",
    "eof_received",
    "on_headers_complete",
    "send_400_response",
)
CALLED = ("on_response_complete",)
PROTOCOL_STATE = ("client", "cycle", "flow", "headers", "loop", "parser", "scope")
PROTOCOL_STATE += ("server_state", "transport", "url")
CYCLE_STATE = ("keep_alive", "more_body", "response_complete", "response_started")


def test_the_uvicorn_hooks_it_overrides_are_there() -> None:
    for name in OVERRIDDEN + CALLED:
        assert callable(getattr(HttpToolsProtocol, name, None)), name
    for name in OVERRIDDEN:
        assert name in vars(bounded.BoundedHttpToolsProtocol), name


async def test_uvicorn_keeps_the_state_it_reads() -> None:
    """A request through uvicorn's own code: each attribute read is set as expected."""
    protocol, _ = connected()
    protocol.data_received(b"GET /x?q=1 HTTP/1.1\r\nHost: x\r\nA: b\r\n")
    for name in PROTOCOL_STATE:
        assert hasattr(protocol, name), name
    # While the head is open: a scope without "method", url and fields so far.
    assert protocol.scope is not None
    assert "method" not in protocol.scope
    assert protocol.url == b"/x?q=1"
    # (a field is complete once the next line begins)
    assert [name for name, _ in protocol.headers] == [b"host"]
    assert protocol.parser.get_method() == b"GET"
    protocol.data_received(b"\r\n")
    assert protocol.scope["method"] == "GET"  # the head is complete
    cycle = protocol.cycle
    assert cycle is not None
    for name in CYCLE_STATE:
        assert isinstance(getattr(cycle, name), bool), name
    assert callable(cycle.on_response)
    assert protocol.server_state.default_headers == []
    assert protocol.flow is not None


async def test_a_refusal_goes_through_uvicorns_parse_error_path() -> None:
    """A callback's exception reaches send_400_response, which answers 431 instead."""
    protocol, transport = connected(SMALL)
    fields = b"".join(b"F%d: v\r\n" % n for n in range(SMALL.max_fields + 1))
    protocol.data_received(b"GET / HTTP/1.1\r\n" + fields + b"\r\n")
    assert transport.written.startswith(b"HTTP/1.1 431 ")
    assert b"connection: close" in transport.written
    assert protocol.cycle is None


async def test_the_pipelined_answer_hook_is_still_called() -> None:
    """A refusal behind a request in flight waits for on_response, as uvicorn calls it."""
    protocol, transport = connected(SMALL)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    cycle = protocol.cycle
    assert cycle is not None
    protocol.data_received(b"GET /" + b"a" * (SMALL.max_target + 1) + b" HTTP/1.1\r\n")
    assert not transport.written  # the first request has not been answered
    for _ in range(1000):  # the app runs as a task of its own
        if b"HTTP/1.1 414 " in transport.written:
            break
        await asyncio.sleep(0)
    assert transport.written.startswith(b"HTTP/1.1 204 ")
    assert b"HTTP/1.1 414 " in transport.written


async def feed(
    protocol: bounded.BoundedHttpToolsProtocol, data: bytes, piece: int
) -> None:
    """``data`` to the protocol ``piece`` bytes a call, as reads would bring it.

    The loop runs between every 1,024 calls, as it would between reads: tens
    of thousands of calls in one step would hold it past the debug-mode bar.
    """
    for n, at in enumerate(range(0, len(data), piece)):
        if n and n % 1024 == 0:  # never after the last: the app would run
            await asyncio.sleep(0)
        protocol.data_received(data[at : at + piece])


@pytest.mark.parametrize("piece", [1, 1000, 4096, 65536])
async def test_head_at_the_limit_in_any_pieces_is_accepted(piece: int) -> None:
    data = head(size=DEFAULT.max_head, fields=50)
    protocol, transport = connected()
    await feed(protocol, data, piece)
    assert protocol.cycle is not None  # the request went to the app
    assert not transport.closed
    assert not transport.written  # nothing refused (the app has not run yet)


@pytest.mark.parametrize("piece", [1, 1000, 4096, 65536])
async def test_head_one_over_the_limit_in_any_pieces_is_refused(piece: int) -> None:
    data = head(size=DEFAULT.max_head + 1, fields=50)
    protocol, transport = connected()
    await feed(protocol, data, piece)
    assert protocol.cycle is None
    assert transport.written.startswith(b"HTTP/1.1 431 ")
    assert transport.eof


@pytest.mark.parametrize("method", ["GET", "OPTIONS", "PROPPATCH", "UNSUBSCRIBE"])
async def test_the_method_counts_toward_the_head(method: str) -> None:
    protocol, transport = connected(SMALL)
    protocol.data_received(head(size=SMALL.max_head, method=method))
    assert protocol.cycle is not None
    assert protocol.cycle.scope["method"] == method
    protocol, transport = connected(SMALL)
    protocol.data_received(head(size=SMALL.max_head + 1, method=method))
    assert protocol.cycle is None
    assert transport.written.startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize("piece", [1000, 65536, 256 * 1024])
async def test_endless_header_in_pieces_is_refused_within_one_read(piece: int) -> None:
    protocol, transport = connected()
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
    fed = 0
    while not transport.eof:
        protocol.data_received(b"a" * piece)
        fed += piece
        assert fed <= DEFAULT.max_head + piece, "fed past the limit"
    assert transport.written.startswith(b"HTTP/1.1 431 ")
    # Lingering: what follows is discarded, then the connection closed.
    assert protocol.cycle is None
    discarded = 0
    while not transport.closed:
        protocol.data_received(b"a" * piece)
        discarded += piece
        assert discarded <= bounded.LINGER_BYTES + piece
    assert transport.written.count(b"HTTP/1.1") == 1


async def test_body_bytes_after_a_head_never_count_as_head() -> None:
    """A request with a large body and the next head's start, read at once."""
    protocol, transport = connected(SMALL)
    body = b"b" * (10 * SMALL.max_head)
    post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    protocol.data_received(post + body + b"GET / HT")
    protocol.data_received(b"TP/1.1\r\nHost: x\r\n\r\n")
    assert len(protocol.pipeline) == 1  # the GET waits behind the POST
    assert not transport.eof
    assert not transport.closed


async def test_bad_chunk_mid_body_is_400_without_app_errors(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A parse error in a body already handed to the app: 400, close, no crash."""
    reply = await exchange(
        port,
        b"POST /search?q=cat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nnot a chunk\r\n",
    )
    assert status(reply) == 400
    await assert_healthy(port)
    assert "Exception in ASGI application" not in caplog.text


async def test_refusal_behind_a_response_in_flight_waits_then_lingers() -> None:
    """Input after a deferred refusal is discarded; the answers keep their order."""
    protocol, transport = connected(SMALL)
    good = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    protocol.data_received(good + head(size=SMALL.max_head + 1))
    assert protocol.cycle is not None  # the good request went to the app...
    assert not transport.written  # ...which has not run yet: the 431 waits
    protocol.data_received(b"junk" * 1000)  # discarded, within the linger budget
    assert not transport.closed
    await asyncio.gather(*protocol.tasks)
    assert responses(bytes(transport.written)) == [204, 431]
    assert transport.eof
    assert not transport.closed  # lingering...
    protocol.data_received(b"j" * bounded.LINGER_BYTES)
    assert transport.closed  # ...until the budget is spent


async def test_endless_target_or_fields_are_refused_early() -> None:
    protocol, transport = connected(SMALL)
    protocol.data_received(b"GET /")
    while not transport.eof:
        protocol.data_received(b"t" * 50)
        assert len(protocol.url) <= SMALL.max_target + 50
    assert transport.written.startswith(b"HTTP/1.1 414 ")
    protocol, transport = connected(SMALL)
    protocol.data_received(b"GET / HTTP/1.1\r\n")
    sent = 0
    while not transport.eof:
        protocol.data_received(b"A: b\r\n")
        sent += 1
        assert sent <= SMALL.max_fields + 2
    assert transport.written.endswith(b"over %d header fields\n" % SMALL.max_fields)
