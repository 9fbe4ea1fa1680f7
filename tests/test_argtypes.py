"""argparse converters: good values pass, bad ones are usage errors (exit 2)."""

from __future__ import annotations

import argparse

import pytest

from awaitkit._argtypes import (
    fraction,
    non_negative_int,
    port,
    positive_float,
    positive_int,
)
from awaitkit.cli import main


@pytest.mark.parametrize(
    ("convert", "good", "bad"),
    [
        (non_negative_int, ["0", "7"], ["-1"]),
        (positive_int, ["1", "1000"], ["0", "-3"]),
        (positive_float, ["0.001", "5"], ["0", "-1", "nan"]),
        (fraction, ["0", "0.25", "1"], ["-0.1", "1.5", "nan"]),
        (port, ["0", "8000", "65535"], ["-1", "65536"]),
    ],
)
def test_bounds(convert, good, bad) -> None:
    for text in good:
        assert convert(text) == type(convert(text))(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            convert(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "tcp", "--port", "70000"],
        ["serve", "web", "--port", "-5"],
        ["serve", "flags", "--port", "65536"],
        ["serve", "--tcp-port", "99999"],
        ["serve", "flags", "--error-rate", "2"],
        ["serve", "tcp", "--idle-timeout", "0"],
        ["find", "--offset", "-1", "cat"],
    ],
)
def test_bad_values_exit_2_naming_the_option(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    option = next(a for a in argv if a.startswith("--"))
    assert option in capsys.readouterr().err
