"""HttpClient URLs and request heads: encoding, hosts, ports, and no header injection."""

from __future__ import annotations

import asyncio
import socket

import pytest
from hypothesis import example, given, settings, strategies as st

from awaitkit.core import UsageError
from awaitkit.http import HttpClient, InvalidURL
from awaitkit.http._url import (
    _PLAIN_URL,
    _split_url,
    parse_origin,
    split_url,
)
from tests.http.test_client import RawServer, answering, ok


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://h", "/"),
        ("http://h?x=1", "/?x=1"),
        ("http://h/a/b?x=1&y=2#frag", "/a/b?x=1&y=2"),
        ("HTTP://h/A%2fB", "/A%2fB"),
        ("http://h/a b", "/a%20b"),
        ("http://h/caf\u00e9", "/caf%C3%A9"),
        ("http://h/\U0001f431", "/%F0%9F%90%B1"),
        ("http://h/100%", "/100%25"),
        ("http://h/%zz%4", "/%25zz%254"),
        ('http://h/a"<>\\^`{|}', "/a%22%3C%3E%5C%5E%60%7B%7C%7D"),
        ("http://h/?q=[1]", "/?q=%5B1%5D"),
        ("http://h/~user/!$&'()*+,;=:@", "/~user/!$&'()*+,;=:@"),
    ],
)
def test_targets_are_percent_encoded(url: str, target: str) -> None:
    assert split_url(url)[2] == target


_PIECES = [
    "/", "//", "?", "#", "%", "%4a", "%zz", "a", "Z9", "-._~", "!$&'()*+,;=:@",
    " ", "\t", "\x00", "\x7f", "é", "\U0001f431", '"<>', "[", "..", "",
]  # fmt: skip
_PATHS = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)
_URLS = st.one_of(
    # Near the fast path's edge: a plain head, then anything.
    st.builds(
        lambda *parts: "".join(parts),
        st.sampled_from(["http://", "https://"]),
        st.sampled_from(["h", "H.example", "h:8080", "[::1]:1", ""]),
        st.sampled_from(["/", ""]),
        _PATHS,
    ),
    # Anywhere: odd schemes, separators and authorities.
    st.builds(
        lambda *parts: "".join(parts),
        st.sampled_from(["http", "https", "HTTP", "ftp", ""]),
        st.sampled_from(["://", ":/", ""]),
        st.sampled_from(["h", "u@h", "h h", "h\x00", "h/", ""]),
        _PATHS,
    ),
)


@settings(max_examples=500)
@given(_URLS)
@example("http://h#x/a")  # the edges the shortcut must leave to the full parser
@example("http://h?x/a")
@example("http://h/a#b")
@example("http://h/a%zz")
@example("http://h/a%41")
@example("http://h/a b")
@example("http://h\x00/a")
@example("HTTP://h/a")
@example("http://h")
@example("http://u@h/a")
def test_the_one_regex_fast_path_splits_as_the_full_parser(url: str) -> None:
    """split_url's shortcut for plain URLs never disagrees with the full parser."""
    try:
        full: tuple[str, str, str] | str = _split_url(url)
    except InvalidURL as exc:
        full = f"InvalidURL: {exc}"
    try:
        fast: tuple[str, str, str] | str = split_url(url)
    except InvalidURL as exc:
        fast = f"InvalidURL: {exc}"
    assert fast == full


def test_the_fast_path_takes_plain_urls() -> None:
    url = "http://127.0.0.1:8080/files/00001/00001.bin?x=1"
    assert _PLAIN_URL.fullmatch(url)
    assert split_url(url) == ("http", "127.0.0.1:8080", "/files/00001/00001.bin?x=1")


@pytest.mark.parametrize(
    ("scheme", "authority", "expected"),
    [
        ("http", "Example.COM", ("example.com", 80, "example.com")),
        ("http", "example.com:80", ("example.com", 80, "example.com")),
        ("https", "example.com:443", ("example.com", 443, "example.com")),
        ("http", "example.com:443", ("example.com", 443, "example.com:443")),
        ("https", "example.com:8443", ("example.com", 8443, "example.com:8443")),
        ("http", "127.0.0.1:8080", ("127.0.0.1", 8080, "127.0.0.1:8080")),
        ("http", "[::1]", ("::1", 80, "[::1]")),
        ("http", "[::1]:8080", ("::1", 8080, "[::1]:8080")),
        ("http", "[2001:DB8::1]", ("2001:db8::1", 80, "[2001:db8::1]")),
        (
            "http",
            "bücher.example",
            ("xn--bcher-kva.example", 80, "xn--bcher-kva.example"),
        ),
        ("http", "h:", ("h", 80, "h")),
    ],
)
def test_origins(scheme: str, authority: str, expected: tuple[str, int, str]) -> None:
    assert parse_origin(scheme, authority) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://h/",
        "file:///etc/passwd",
        "h/path",
        "//h/path",
        "http:/h/",
        "http:///path",
        "http://:80/",
        "http://h:0/",
        "http://h:65536/",
        "http://h:-1/",
        "http://h:8o/",
        "http://h:١٢/",
        "http://h:000000080/",
        "http://user:pw@h/",
        "http://[::1/",
        "http://[::1]x/",
        "http://[nope]/",
        "http://exa mple/",
        "http://h\r\nX-Injected: 1/",
        "http://h/\r\nX-Injected: 1",
        "http://h/a\nb",
        "http://h/\x00",
        "http://h/\x7f",
        "http://h/\t",
        "http://h%0d%0a/",
        "http://" + "a" * 64 + ".example\u00e9/",
    ],
)
def test_bad_urls(url: str) -> None:
    def parse() -> None:
        scheme, authority, _ = split_url(url)
        parse_origin(scheme, authority)

    with pytest.raises(InvalidURL):
        parse()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-A": "ok\r\nX-Injected: 1"},
        {"X-A": "ok\nX-Injected: 1"},
        {"X-A": "ok\rX"},
        {"X-A": "nul\x00"},
        {"X-A\r\nX-Injected": "1"},
        {"X A": "1"},
        {"X:A": "1"},
        {"": "1"},
        {"X-A": "snowman \u2603"},
    ],
)
@pytest.mark.anyio
async def test_header_injection_is_refused(headers: dict[str, str]) -> None:
    async with HttpClient() as client:
        with pytest.raises(UsageError, match="header"):
            async with client.get("http://127.0.0.1:1/", headers=headers):
                pass
        assert client._pool.total == 0


def test_user_agent_injection_is_refused() -> None:
    with pytest.raises(UsageError, match="control character in user_agent"):
        HttpClient(user_agent="x\r\nX-Injected: 1")


@pytest.mark.anyio
async def test_request_head_on_the_wire() -> None:
    async with (
        RawServer(answering(ok(), ok(), then_close=False)) as server,
        HttpClient(user_agent="test-agent/1") as client,
    ):
        async with client.get(f"{server.url}/a b/caf\u00e9?x=[1]#frag") as resp:
            await resp.read()
        async with client.get(
            server.url,
            headers={"Range": "bytes=10-", "user-agent": "other", "X-Tab": "a\tb "},
        ) as resp:
            await resp.read()
    port = server.url.rsplit(":", 1)[1]
    assert server.requests[0] == (
        b"GET /a%20b/caf%C3%A9?x=%5B1%5D HTTP/1.1\r\n"
        b"Host: 127.0.0.1:" + port.encode() + b"\r\n"
        b"User-Agent: test-agent/1\r\n"
        b"Accept-Encoding: identity\r\n"
        b"\r\n"
    )
    assert server.requests[1] == (
        b"GET / HTTP/1.1\r\n"
        b"Host: 127.0.0.1:" + port.encode() + b"\r\n"
        b"Accept-Encoding: identity\r\n"
        b"Range: bytes=10-\r\n"
        b"user-agent: other\r\n"
        b"X-Tab: a\tb\r\n"
        b"\r\n"
    )
    assert server.connections == 1


@pytest.mark.anyio
async def test_ipv6_literal_on_the_wire() -> None:
    try:
        sock = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    sock.setblocking(False)
    port = sock.getsockname()[1]
    heads: list[bytes] = []

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(ok(b"v6"))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, sock=sock)
    try:
        async with HttpClient() as client, client.get(f"http://[::1]:{port}/x") as resp:
            assert await resp.read() == b"v6"
    finally:
        server.close()
        await server.wait_closed()
    assert heads[0].startswith(b"GET /x HTTP/1.1\r\nHost: [::1]:%d\r\n" % port)
