"""The client's error tree and the one table that maps foreign errors into it."""

from __future__ import annotations

import errno
import ssl

import httptools
import pytest

from awaitkit import core
from awaitkit.http import (
    BodyTooLarge,
    CertificateError,
    ConnectError,
    ConnectTimeout,
    HttpClient,
    HttpClientError,
    InvalidURL,
    ProtocolError,
    ReadTimeout,
    RedirectError,
    ServerDisconnected,
    TLSError,
    TooManyRedirects,
    TruncatedBody,
)
from awaitkit.http._errors import FOREIGN, translate

ALL = [
    BodyTooLarge,
    CertificateError,
    ConnectError,
    ConnectTimeout,
    InvalidURL,
    ProtocolError,
    ReadTimeout,
    RedirectError,
    ServerDisconnected,
    TLSError,
    TooManyRedirects,
    TruncatedBody,
]


@pytest.mark.parametrize("cls", ALL)
def test_every_client_error_is_in_the_core_tree(cls: type[Exception]) -> None:
    assert issubclass(cls, HttpClientError)
    assert issubclass(cls, core.TransportError)
    assert issubclass(cls, core.AwaitkitError)


@pytest.mark.parametrize("cls", [ConnectTimeout, ReadTimeout])
def test_timeouts_are_core_timeouts_and_builtin_ones(cls: type[Exception]) -> None:
    assert issubclass(cls, core.TimeoutExpired)
    assert issubclass(cls, TimeoutError)


def test_connect_error_is_also_the_core_one() -> None:
    assert issubclass(ConnectError, core.ConnectError)


def test_tls_errors_are_core_tls_errors_and_connect_errors() -> None:
    assert issubclass(TLSError, core.TLSError)
    assert issubclass(core.TLSError, core.ConnectError)
    assert issubclass(TLSError, ConnectError)
    assert issubclass(CertificateError, TLSError)


def _ssl_error(cls: type[ssl.SSLError], reason: str, text: str) -> ssl.SSLError:
    exc = cls(1, f"[SSL: {reason}] {text} (_ssl.c:1006)")
    exc.reason = reason  # what OpenSSL's errors carry
    return exc


@pytest.mark.parametrize(
    ("foreign", "ours", "words"),
    [
        (
            ssl.SSLCertVerificationError(1, "certificate verify failed"),
            CertificateError,
            "certificate verify failed",
        ),
        (
            _ssl_error(ssl.SSLError, "TLSV13_ALERT_CERTIFICATE_REQUIRED", "alert"),
            TLSError,
            "the server requires a client certificate",
        ),
        (
            _ssl_error(ssl.SSLError, "UNSUPPORTED_PROTOCOL", "unsupported protocol"),
            TLSError,
            "no TLS version in common (TLS 1.2 or later is required)",
        ),
        (
            _ssl_error(ssl.SSLError, "WRONG_VERSION_NUMBER", "wrong version number"),
            TLSError,
            "the reply is not TLS (is it an http:// server?)",
        ),
        (
            _ssl_error(ssl.SSLError, "BAD_LENGTH", "bad length"),
            TLSError,
            "TLS: [SSL: BAD_LENGTH] bad length",
        ),
        # The peer hanging up mid-handshake may not happen again: retryable.
        (
            _ssl_error(ssl.SSLEOFError, "UNEXPECTED_EOF_WHILE_READING", "EOF"),
            ConnectError,
            "the connection closed during the TLS handshake",
        ),
        (
            ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed"),
            ConnectError,
            "closed",
        ),
        (ssl.SSLSyscallError(5, "Some I/O error occurred"), ConnectError, "I/O error"),
    ],
)
def test_tls_failures_are_final_unless_the_peer_just_left(
    foreign: ssl.SSLError, ours: type[HttpClientError], words: str
) -> None:
    mapped = translate(foreign, "cannot connect to h:443")
    assert type(mapped) is ours
    assert mapped.__cause__ is foreign
    assert str(mapped).startswith("cannot connect to h:443: ")
    assert words in str(mapped)
    assert "_ssl.c" not in str(mapped)
    assert "\n" not in str(mapped)


def test_a_verification_failure_says_why_without_the_trailing_stop() -> None:
    exc = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] ...")
    exc.verify_message = "Hostname mismatch, certificate is not valid for 'h'."
    assert str(translate(exc, "cannot connect to h")) == (
        "cannot connect to h: certificate verify failed: "
        "Hostname mismatch, certificate is not valid for 'h'"
    )


@pytest.mark.parametrize(
    ("foreign", "ours"),
    [
        (TimeoutError(), ConnectTimeout),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            ConnectError,
        ),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), ConnectError),
        (
            ssl.SSLCertVerificationError(1, "certificate verify failed"),
            CertificateError,
        ),
        (ssl.SSLError(1, "wrong version number"), TLSError),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), ConnectError),
        (httptools.HttpParserError("invalid constant string"), ProtocolError),
        (httptools.HttpParserInvalidStatusError("bad status"), ProtocolError),
        (httptools.HttpParserUpgrade(5), ProtocolError),
    ],
)
def test_foreign_errors_map_to_ours_chained(
    foreign: BaseException, ours: type[HttpClientError]
) -> None:
    mapped = translate(foreign, "cannot connect to example.org")
    assert type(mapped) is ours
    assert mapped.__cause__ is foreign
    assert str(mapped).startswith("cannot connect to example.org")


def test_most_specific_entry_wins() -> None:
    # TimeoutError and SSLError are OSErrors too: their own entries win.
    assert issubclass(TimeoutError, OSError)
    assert type(translate(TimeoutError(), "x")) is ConnectTimeout
    assert FOREIGN[OSError] is ConnectError


def test_messages_carry_the_reason() -> None:
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    assert str(translate(refused, "cannot connect to h")) == (
        "cannot connect to h: Connection refused"
    )
    assert str(translate(TimeoutError(), "cannot connect to h")) == (
        "cannot connect to h: timed out"
    )
    assert "switched protocols" in str(translate(httptools.HttpParserUpgrade(0), "m"))


def test_connect_error_exposes_the_os_error() -> None:
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    mapped = translate(refused, "cannot connect to h")
    assert isinstance(mapped, ConnectError)
    assert mapped.os_error is refused
    assert ConnectError("given", refused).os_error is refused
    assert ConnectError("none").os_error is None


def test_our_errors_pass_through_and_unknown_ones_are_raised() -> None:
    ours = TruncatedBody("cut")
    assert translate(ours, "x") is ours
    with pytest.raises(KeyError):
        translate(KeyError("a bug"), "x")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit_per_host": 0},
        {"user_agent": "a\nb"},
        {"user_agent": "\u2603"},
    ],
)
def test_bad_constructor_arguments_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(core.UsageError):
        HttpClient(**kwargs)  # type: ignore[arg-type]
