"""The SOCKS5 handshake, sans I/O: bytes in, bytes out, every refusal a ProxyError."""

from __future__ import annotations

import pytest

from awaitkit.http import ProxyError
from awaitkit.http._socks import REPLIES, Socks5Handshake

OK_V4 = b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"  # bound to 127.0.0.1:1080


def connected(shake: Socks5Handshake) -> Socks5Handshake:
    assert shake.feed(b"\x05\x00").startswith(b"\x05\x01\x00")
    return shake


def test_a_name_is_sent_for_the_proxy_to_resolve() -> None:
    shake = Socks5Handshake("example.org", 443)
    assert shake.greeting() == b"\x05\x01\x00"
    assert shake.feed(b"\x05\x00") == b"\x05\x01\x00\x03\x0bexample.org\x01\xbb"
    assert shake.feed(OK_V4) == b""
    assert shake.done
    assert shake.bound == ("127.0.0.1", 1080)


@pytest.mark.parametrize(
    ("host", "where"),
    [
        ("10.1.2.3", b"\x01\x0a\x01\x02\x03"),
        ("::1", b"\x04" + bytes(15) + b"\x01"),
    ],
)
def test_an_address_is_sent_as_one(host: str, where: bytes) -> None:
    shake = Socks5Handshake(host, 80)
    assert shake.feed(b"\x05\x00") == b"\x05\x01\x00" + where + b"\x00\x50"


def test_credentials() -> None:
    shake = Socks5Handshake("h", 1, (b"user", b"pw"))
    assert shake.greeting() == b"\x05\x02\x00\x02"
    assert shake.feed(b"\x05\x02") == b"\x01\x04user\x02pw"
    assert shake.feed(b"\x01\x00") == b"\x05\x01\x00\x03\x01h\x00\x01"
    shake.feed(OK_V4)
    assert shake.done


def test_refused_credentials() -> None:
    shake = Socks5Handshake("h", 1, (b"user", b"pw"), "SOCKS5 proxy P")
    shake.feed(b"\x05\x02")
    with pytest.raises(ProxyError) as info:
        shake.feed(b"\x01\x01")
    assert (
        str(info.value)
        == "SOCKS5 proxy P refused the user name and password (status 1)"
    )


def test_no_acceptable_method() -> None:
    with pytest.raises(ProxyError, match="accepts none of our authentication methods"):
        Socks5Handshake("h", 1).feed(b"\x05\xff")
    with pytest.raises(ProxyError, match="we did not offer: 2"):
        Socks5Handshake("h", 1).feed(b"\x05\x02")  # no credentials given


@pytest.mark.parametrize("code", [*sorted(REPLIES), 9, 255])
def test_every_reply_code(code: int) -> None:
    shake = connected(Socks5Handshake("h", 443, proxy="SOCKS5 proxy P"))
    with pytest.raises(ProxyError) as info:
        shake.feed(bytes((5, code)))  # refused as soon as the code is read
    reason = REPLIES.get(code, "unknown reply code")
    assert (
        str(info.value)
        == f"SOCKS5 proxy P could not connect to h:443: {reason} (reply {code})"
    )
    assert info.value.reply == code
    assert info.value.status is None


def test_reply_words() -> None:
    assert REPLIES[1] == "general SOCKS server failure"
    assert REPLIES[2] == "connection not allowed by ruleset"
    assert REPLIES[5] == "connection refused"
    assert REPLIES[6] == "TTL expired"
    assert REPLIES[8] == "address type not supported"


@pytest.mark.parametrize("first", [b"\x04\x00", b"HTTP/1.1 400"])
def test_wrong_version(first: bytes) -> None:
    with pytest.raises(
        ProxyError, match=f"not a SOCKS5 proxy: it replied with version {first[0]}"
    ):
        Socks5Handshake("h", 1).feed(first)
    shake = connected(Socks5Handshake("h", 1))
    with pytest.raises(ProxyError, match="not a SOCKS5 proxy"):
        shake.feed(first)


@pytest.mark.parametrize(
    ("reply", "bound"),
    [
        (OK_V4, ("127.0.0.1", 1080)),
        (b"\x05\x00\x00\x04" + bytes(15) + b"\x01\x00\x50", ("::1", 80)),
        (b"\x05\x00\x00\x03\x09proxy.lan\x00\x50", ("proxy.lan", 80)),
        (b"\x05\x00\x00\x03\x00\x00\x50", ("", 80)),
    ],
)
def test_split_one_byte_at_a_time(reply: bytes, bound: tuple[str, int]) -> None:
    shake = Socks5Handshake("h", 1, (b"u", b""))
    assert shake.feed(b"\x05") == b""
    assert shake.feed(b"\x02") == b"\x01\x01u\x00"
    assert shake.feed(b"\x01") == b""
    assert shake.feed(b"\x00").startswith(b"\x05\x01")
    for i in range(len(reply)):
        assert not shake.done
        assert shake.feed(reply[i : i + 1]) == b""
    assert shake.done
    assert shake.bound == bound


def test_an_unknown_address_type() -> None:
    shake = connected(Socks5Handshake("h", 1))
    with pytest.raises(ProxyError, match="unknown address type 2"):
        shake.feed(b"\x05\x00\x00\x02\x00")


def test_bytes_after_the_reply_are_refused() -> None:
    shake = connected(Socks5Handshake("h", 1))
    with pytest.raises(ProxyError, match="sent data after its reply"):
        shake.feed(OK_V4 + b"HTTP/1.1 200 OK\r\n")
    shake = connected(Socks5Handshake("h", 1))
    shake.feed(OK_V4)
    with pytest.raises(ProxyError, match="sent data after its reply"):
        shake.feed(b"x")
    with pytest.raises(ProxyError, match="replied with version 0"):
        Socks5Handshake("h", 1).feed(b"\x05\x00\x00")  # before our request


def test_truncated_replies_wait() -> None:
    shake = connected(Socks5Handshake("h", 1))
    assert shake.feed(OK_V4[:-1]) == b""
    assert not shake.done


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="host name"):
        Socks5Handshake("a" * 256, 1)
    with pytest.raises(ValueError, match="bad length"):
        Socks5Handshake("h", 1, (b"", b"p"))
    with pytest.raises(ValueError, match="bad length"):
        Socks5Handshake("h", 1, (b"u", b"p" * 256))
