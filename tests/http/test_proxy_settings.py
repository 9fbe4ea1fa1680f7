"""Proxy URLs, no-proxy lists, the environment and CONNECT answers: pure functions, by table."""

from __future__ import annotations

import base64

import pytest

from awaitkit.core import UsageError
from awaitkit.http import Proxy, ProxyError, ProxySettings, proxy_settings
from awaitkit.http._proxy import connect_status, parse_no_proxy, parse_proxy


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("text", "host", "port", "field"),
    [
        ("http://proxy.example:3128", "proxy.example", 3128, "proxy.example:3128"),
        ("proxy.example:3128", "proxy.example", 3128, "proxy.example:3128"),
        ("proxy.example", "proxy.example", 1080, "proxy.example:1080"),
        ("HTTP://Proxy.Example/", "proxy.example", 1080, "proxy.example:1080"),
        ("http://proxy:80", "proxy", 80, "proxy:80"),
        ("http://[::1]:8080", "::1", 8080, "[::1]:8080"),
        ("[::1]", "::1", 1080, "[::1]:1080"),
        ("127.0.0.1:3128", "127.0.0.1", 3128, "127.0.0.1:3128"),
    ],
)
def test_proxy_urls(text: str, host: str, port: int, field: str) -> None:
    proxy = parse_proxy(text)
    assert (proxy.host, proxy.port, proxy.host_field) == (host, port, field)
    assert proxy.authorization is None
    assert str(proxy) == f"http://{field}"


def test_proxy_credentials_are_percent_decoded() -> None:
    proxy = parse_proxy("http://us%40er:p%3Ass@proxy:3128")
    assert proxy.authorization == basic("us@er", "p:ss")
    assert "p%3Ass" not in repr(proxy)
    assert "Basic" not in repr(proxy)
    assert str(proxy) == "http://proxy:3128"  # never the credentials
    assert parse_proxy("u@proxy").authorization == basic("u", "")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no host"),
        ("http://", "no host"),
        ("http://proxy:99999", "bad port"),
        ("http://proxy:abc", "bad port"),
        ("http://proxy:3128/path", "no path"),
        ("http://proxy:3128?x", "no path"),
        ("http://pro xy:3128", "space"),
        ("http://proxy\r\nX: y", "control character"),
        ("https://proxy:3128", "https:// proxies"),
        ("socks4://proxy:1080", "SOCKS4 proxies are not supported"),
        ("socks4a://proxy:1080", "SOCKS4 proxies are not supported"),
        ("socks5h://:pw@proxy", "user name cannot be empty"),
        (
            "socks5h://" + "u" * 256 + ":pw@proxy",
            "user name is at most 255 bytes, not 256",
        ),
        (
            "socks5://u:" + "é" * 128 + "@proxy",
            "password is at most 255 bytes, not 256",
        ),
        ("socks5://u:%00@proxy", "control character"),
        ("socks5h://u:%ff@proxy", "not UTF-8"),
        ("ftp://proxy", "unsupported proxy scheme ftp://"),
        ("http://%ff:x@proxy", "not UTF-8"),
        ("http://[::1:3128", "IPv6"),
        ("http://" + "a" * 5000, "over 4096"),
        ("http://prøxy\udcff:1", "bad host"),
    ],
)
def test_bad_proxy_urls_are_usage_errors(text: str, words: str) -> None:
    with pytest.raises(UsageError, match=r"^-x: ") as info:
        parse_proxy(text, "-x")
    message = str(info.value)
    assert words in message
    assert "\n" not in message
    assert "\r" not in message


@pytest.mark.parametrize(
    ("entries", "host", "direct"),
    [
        ("example.com", "example.com", True),
        ("example.com", "www.example.com", True),
        (".example.com", "example.com", True),
        (".example.com", "a.b.example.com", True),
        ("example.com", "notexample.com", False),
        ("example.com", "example.com.org", False),
        ("ample.com", "www.example.com", False),
        ("Example.COM.", "www.example.com", True),
        ("example.com:8080", "example.com", True),
        ("*.example.com", "www.example.com", True),  # the port is ignored
        ("localhost, 127.0.0.1", "localhost", True),
        ("localhost 127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "127.0.0.2", False),
        ("10.0.0.0/8", "10.1.2.3", True),
        ("10.0.0.0/8", "11.1.2.3", False),
        ("::1", "::1", True),
        ("[::1]:8080", "::1", True),
        ("fd00::/8", "fd12::5", True),
        ("fd00::/8", "fe80::1", False),
        ("10.0.0.0/8", "ten.example", False),
        ("*", "anything.example", True),
        ("a.example,*", "b.example", True),
        ("", "example.com", False),
        (" , ,", "example.com", False),
    ],
)
def test_no_proxy_matching(entries: str, host: str, direct: bool) -> None:
    assert parse_no_proxy(entries).matches(host) is direct


@pytest.mark.parametrize(
    "entries", ["exa mple/x", "a/b", "ex|ample", "ex\x00ample", "é\udcff", "ex%mple"]
)
def test_bad_no_proxy_entries_are_usage_errors(entries: str) -> None:
    with pytest.raises(UsageError, match=r"^--noproxy: not a host name") as info:
        parse_no_proxy(entries, "--noproxy")
    assert "\n" not in str(info.value)


def test_an_oversized_no_proxy_list_is_refused() -> None:
    with pytest.raises(UsageError, match="over"):
        parse_no_proxy("a," * 10_000)


P = Proxy("p", 3128, "p:3128")
Q = Proxy("q", 8080, "q:8080")


@pytest.mark.parametrize(
    ("env", "http", "https"),
    [
        ({}, None, None),
        ({"http_proxy": "p:3128"}, P, None),
        ({"HTTP_PROXY": "p:3128"}, None, None),  # httpoxy: never upper case
        ({"https_proxy": "q:8080"}, None, Q),
        ({"HTTPS_PROXY": "q:8080"}, None, Q),
        ({"https_proxy": "q:8080", "HTTPS_PROXY": "p:3128"}, None, Q),
        ({"all_proxy": "p:3128"}, P, P),
        ({"ALL_PROXY": "p:3128"}, P, P),
        ({"all_proxy": "p:3128", "https_proxy": "q:8080"}, P, Q),
        ({"ALL_PROXY": "q:8080", "http_proxy": "p:3128"}, P, Q),
        ({"http_proxy": "", "all_proxy": "q:8080"}, Q, Q),  # empty is unset
    ],
)
def test_the_environment(
    env: dict[str, str], http: Proxy | None, https: Proxy | None
) -> None:
    settings = proxy_settings(env=env)
    assert (settings.http, settings.https) == (http, https)
    assert bool(settings) is (http is not None or https is not None)


def test_an_explicit_proxy_overrides_the_environment() -> None:
    env = {"http_proxy": "q:8080", "https_proxy": "q:8080", "no_proxy": "*"}
    settings = proxy_settings("p:3128", env=env)
    assert settings.http == settings.https == P
    # no_proxy still applies (as curl's does with -x), --noproxy replaces it
    assert settings.proxy_for("http", "example.org") is None
    settings = proxy_settings("p:3128", noproxy="", env=env)
    assert settings.proxy_for("http", "example.org") == P
    assert proxy_settings("", env=env) == ProxySettings()  # -x '': none


def test_no_proxy_from_the_environment_and_noproxy() -> None:
    env = {"all_proxy": "p:3128", "NO_PROXY": "internal.example"}
    settings = proxy_settings(env=env)
    assert settings.proxy_for("https", "a.internal.example") is None
    assert settings.proxy_for("https", "example.org") == P
    env["no_proxy"] = "other.example"  # lower case first
    assert proxy_settings(env=env).proxy_for("http", "internal.example") == P
    settings = proxy_settings(noproxy="example.org", env=env)
    assert settings.proxy_for("http", "other.example") == P
    assert settings.proxy_for("http", "example.org") is None


def test_bad_environment_values_name_their_variable() -> None:
    with pytest.raises(UsageError, match=r"^https_proxy: SOCKS4"):
        proxy_settings(env={"https_proxy": "socks4://p"})
    with pytest.raises(UsageError, match=r"^NO_PROXY: not a host name"):
        proxy_settings(env={"all_proxy": "p", "NO_PROXY": "a/b"})
    # no proxy at all: a bad no_proxy does not matter
    assert not proxy_settings(env={"no_proxy": "a/b"})


@pytest.mark.parametrize(
    ("head", "words", "status"),
    [
        (b"HTTP/1.1 403 Forbidden\r\n", "refused CONNECT to h:443: 403 Forbidden", 403),
        (b"HTTP/1.0 407 Proxy Authentication Required\r\nX: y\r\n", ": 407 Proxy", 407),
        (b"HTTP/1.1 502\r\n", "refused CONNECT to h:443: 502", 502),
        (b"HTTP/1.1 403 \xff\xfe\x1b[31m\r\n", "403 ???[31m", 403),
        (b"HTTP/1.1 403 " + b"x" * 500 + b"\r\n", "403 " + "x" * 80, 403),
        (b"\xff\xfe nonsense\r\n", "no HTTP status line: b'\\xff\\xfe nonsense'", None),
        (b"HTTP/2 200\r\n", "no HTTP status line", None),
        (b"", "no HTTP status line", None),
        (b"HTTP/1.1 2000 OK\r\n", "no HTTP status line", None),
    ],
)
def test_connect_answers_refused(head: bytes, words: str, status: int | None) -> None:
    with pytest.raises(ProxyError) as info:
        connect_status(head, "h:443")
    assert words in str(info.value)
    assert info.value.status == status
    assert len(str(info.value)) < 200
    assert str(info.value).isprintable()


def test_connect_answers_accepted() -> None:
    assert connect_status(b"HTTP/1.1 200 Connection established\r\n", "h:1") == 200
    assert connect_status(b"HTTP/1.0 204\r\nVia: x\r\n", "h:1") == 204


def test_socks5_proxies() -> None:
    proxy = parse_proxy("SOCKS5H://us%65r:p%20w@[::1]")
    assert (proxy.scheme, proxy.host, proxy.port) == ("socks5h", "::1", 1080)
    assert proxy.credentials == (b"user", b"p w")
    assert proxy.authorization is None
    assert proxy.is_socks
    assert str(proxy) == "socks5h://[::1]:1080"
    assert parse_proxy("socks5://h:80").host_field == "h:80"
    assert not parse_proxy("h:3128").is_socks
    settings = proxy_settings(env={"all_proxy": "socks5://s", "no_proxy": "local"})
    assert settings.proxy_for("https", "x.example") == parse_proxy("socks5://s")
    assert settings.proxy_for("http", "local") is None
    assert proxy_settings(env={"http_proxy": "socks5h://s"}).https is None
