"""The client's error tree and the one table that maps foreign errors into it."""

from __future__ import annotations

import errno
import ssl

import httptools
import pytest

from awaitkit import core
from awaitkit.http import (
    BodyTooLarge,
    ConnectError,
    ConnectTimeout,
    HttpClient,
    HttpClientError,
    InvalidURL,
    ProtocolError,
    ReadTimeout,
    RedirectError,
    ServerDisconnected,
    TooManyRedirects,
    TruncatedBody,
)
from awaitkit.http._errors import FOREIGN, translate

ALL = [
    BodyTooLarge,
    ConnectError,
    ConnectTimeout,
    InvalidURL,
    ProtocolError,
    ReadTimeout,
    RedirectError,
    ServerDisconnected,
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


@pytest.mark.parametrize(
    ("foreign", "ours"),
    [
        (TimeoutError(), ConnectTimeout),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            ConnectError,
        ),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), ConnectError),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), ConnectError),
        (ssl.SSLError(1, "wrong version number"), ConnectError),
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
