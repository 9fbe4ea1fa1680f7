"""`awaitkit probe` end to end against nsd: the book's columns, JSON, input files, exit codes."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import socket
import subprocess
import sys

import pytest

from awaitkit.cli import main

HEADER = ["FOUND\t\tNOT FOUND\tFAILED", "=====\t\t=========\t======"]


# Debug mode's own cost: every task and callback records its stack, which
# stretches the step that starts the probe's workers to 120-240 ms here.
# Without debug mode the same run's loop lag peaks under 2 ms (LagMonitor).
PROBE_HOLDS_THE_LOOP = pytest.mark.blocks_loop


def _lines(text: str) -> list[str]:
    return text.splitlines()


@PROBE_HOLDS_THE_LOOP
def test_tld_reproduces_domaincheck(nsd_port, capsys) -> None:
    status = main(["probe", "test", "--nameserver", f"127.0.0.1:{nsd_port}"])
    out, err = capsys.readouterr()
    lines = _lines(out)
    assert status == 0
    assert lines[:2] == HEADER
    body = set(lines[2:])
    # for.test and if.test have A records; with.test only AAAA (NODATA for A).
    assert {"for.test", "if.test"} <= body
    assert "\t\tdef.test" in body
    assert "\t\twith.test" in body
    assert len(body) == 18  # Python keywords of <= 4 letters
    assert "FOUND 2" in err
    assert "NXDOMAIN 15" in err
    assert "NODATA 1" in err


@PROBE_HOLDS_THE_LOOP
def test_json_only_found_both_types(nsd_port, capsys) -> None:
    status = main(
        [
            "probe",
            "TEST.",
            "--nameserver",
            f"127.0.0.1:{nsd_port}",
            "--type",
            "both",
            "--json",
            "--only",
            "found",
        ]
    )
    out, _ = capsys.readouterr()
    records = [json.loads(line) for line in _lines(out)]
    assert status == 0
    assert {r["domain"]: r["addresses"] for r in records} == {
        "for.test": ["192.0.2.5"],
        "if.test": ["192.0.2.6"],
        "with.test": ["2001:db8::6"],
    }
    assert all(r["found"] and r["status"] == "FOUND" for r in records)


@PROBE_HOLDS_THE_LOOP
def test_only_missing(nsd_port, capsys) -> None:
    main(
        ["probe", "test", "--nameserver", f"127.0.0.1:{nsd_port}", "--only", "missing"]
    )
    lines = _lines(capsys.readouterr().out)
    assert all(line.startswith("\t\t") for line in lines[2:])
    assert len(lines[2:]) == 16


@PROBE_HOLDS_THE_LOOP
def test_input_file_with_hostile_lines(nsd_port, tmp_path, capsys) -> None:
    names = tmp_path / "names.txt"
    names.write_bytes(
        b"found.test\n# a comment\n\nb\xc3\xbccher.test  # trailing comment\n"
        b"\xff\xfe.test\nnope.test\r\n" + b"x" * 5000 + b".test\nalias.test"
    )
    status = main(
        ["probe", "-i", str(names), "--nameserver", f"127.0.0.1:{nsd_port}", "--json"]
    )
    out, err = capsys.readouterr()
    got = {r["domain"]: r["status"] for r in map(json.loads, _lines(out))}
    assert status == 0
    assert got["found.test"] == "FOUND"
    assert got["bücher.test"] == "FOUND"
    assert got["nope.test"] == "NXDOMAIN"
    assert got["alias.test"] == "FOUND"
    assert got["\ufffd\ufffd.test"] == "INVALID"
    assert got["x" * 5000 + ".test"] == "INVALID"
    assert len(got) == 6
    assert "INVALID 2" in err


@PROBE_HOLDS_THE_LOOP
def test_stdin(nsd_port, monkeypatch, capsys) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"found.test\nv6only.test\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    status = main(["probe", "-i", "-", "--nameserver", f"127.0.0.1:{nsd_port}"])
    lines = _lines(capsys.readouterr().out)
    assert status == 0
    assert set(lines[2:]) == {"found.test", "\t\tv6only.test"}


@PROBE_HOLDS_THE_LOOP
def test_unanswered_names_fail_and_exit_1(capsys) -> None:
    """A server that never answers: FAILED column, exit 1, nothing 'NOT FOUND'."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        status = main(
            [
                "probe",
                "test",
                "--nameserver",
                f"127.0.0.1:{port}",
                "--timeout",
                "0.1",
                "--retries",
                "1",
            ]
        )
    out, err = capsys.readouterr()
    lines = _lines(out)
    assert status == 1
    assert len(lines) == 20
    assert all(
        line.startswith("\t\t\t\t") and line.endswith(" (TIMEOUT)")
        for line in lines[2:]
    )
    assert "TIMEOUT 18" in err


def test_system_resolver_on_invalid_tld(capsys) -> None:
    status = main(["probe", "invalid", "--timeout", "10"])
    lines = _lines(capsys.readouterr().out)
    assert status == 0
    assert lines[:2] == HEADER
    assert len(lines) == 20
    assert all(
        line.startswith("\t\t") and not line.startswith("\t\t\t") for line in lines[2:]
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["probe"],
        ["probe", "dev", "-i", "-"],
        ["probe", "dev", "--nameserver", "not-an-ip"],
        ["probe", "dev", "--nameserver", "127.0.0.1:99999"],
        ["probe", "dev", "--resolver", "system", "--nameserver", "127.0.0.1"],
        ["probe", "dev", "--concurrency", "0"],
        ["probe", "dev", "--timeout", "-1"],
        ["probe", "a..b"],
        ["probe", "-i", "/nonexistent/names.txt"],
    ],
)
def test_usage_errors_exit_2(argv, capsys) -> None:
    assert main(argv) == 2
    assert "awaitkit: error:" in capsys.readouterr().err


def test_system_resolver_error_names_the_offending_option(capsys) -> None:
    assert main(["probe", "dev", "--rate", "5"]) == 2
    assert "--rate needs --resolver direct" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["BOGUS", "", "A\u00c5", "mx\udcff", "x" * 300, "ANY"])
def test_bad_type_exits_2(bad, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["probe", "dev", "--type", bad])
    assert info.value.code == 2
    assert "unknown type" in capsys.readouterr().err


@PROBE_HOLDS_THE_LOOP
def test_progress_bar_only_on_a_tty(nsd_port, monkeypatch, capsys) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["probe", "test", "--nameserver", f"127.0.0.1:{nsd_port}"]) == 0
    assert "/18 [" in terminal.getvalue()  # tqdm drew the bar
    monkeypatch.undo()
    main(["probe", "test", "--nameserver", f"127.0.0.1:{nsd_port}"])
    assert "/18 [" not in capsys.readouterr().err


def test_resolv_conf_nameservers(tmp_path) -> None:
    from awaitkit.probe._command import system_nameservers

    conf = tmp_path / "resolv.conf"
    conf.write_bytes(
        b"# comment\nsearch example.com\nnameserver 192.0.2.53\n"
        b"nameserver fe80::1%eth0\nnameserver\n\xff\xfe garbage\n"
    )
    assert system_nameservers(conf) == ["192.0.2.53", "fe80::1"]
    assert system_nameservers(tmp_path / "missing") == []


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_stop_signal_ends_a_probe_cleanly(
    signum: signal.Signals, code: int, word: str
) -> None:
    """Ctrl-C or SIGTERM while every query waits on a silent server: 130 or 143,
    one line saying so, no traceback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        argv = ["probe", "test", "--nameserver", f"127.0.0.1:{port}", "--timeout", "30"]
        with subprocess.Popen(
            [sys.executable, "-m", "awaitkit", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            silent.settimeout(60)
            silent.recvfrom(512)  # the queries are out: the loop is running
            proc.send_signal(signum)
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"awaitkit: {word}" in err
    assert "Traceback" not in err


class _FailingResolver:
    """A resolver whose every lookup fails with a ResolveError."""

    async def lookup(self, name: str) -> object:
        from awaitkit.core import ResolveError

        await asyncio.sleep(0)
        raise ResolveError(f"no answer for {name}")


def test_an_error_in_a_probe_worker_is_one_clean_line(monkeypatch, capsys) -> None:
    from awaitkit.core import ResolveError
    from awaitkit.probe import _command

    monkeypatch.setattr(
        _command, "_make_resolver", lambda args: (_FailingResolver(), 4)
    )
    status = main(["probe", "test"])
    out, err = capsys.readouterr()
    assert status == ResolveError.exit_code
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("awaitkit: error: no answer for ")
    assert lines[0].endswith(".test")
    assert "Traceback" not in err
    assert out == ""  # not even the header: it waits for the first results


def test_a_group_of_awaitkit_errors_reaching_the_cli_is_its_first(
    monkeypatch, capsys
) -> None:
    from awaitkit.core import UsageError
    from awaitkit.probe import _command

    def raises_a_group(args: object) -> int:
        raise ExceptionGroup(
            "batch", [UsageError("first"), ExceptionGroup("inner", [UsageError("2")])]
        )

    monkeypatch.setattr(_command, "run_command", raises_a_group)
    assert main(["probe", "test"]) == UsageError.exit_code == 2
    _, err = capsys.readouterr()
    assert err == "awaitkit: error: first\n"


def test_a_group_with_a_bug_in_it_is_not_hidden(monkeypatch) -> None:
    from awaitkit.core import UsageError
    from awaitkit.probe import _command

    def raises_a_group(args: object) -> int:
        raise ExceptionGroup("batch", [UsageError("fine"), RuntimeError("bug")])

    monkeypatch.setattr(_command, "run_command", raises_a_group)
    with pytest.raises(ExceptionGroup) as info:
        main(["probe", "test"])
    assert info.group_contains(RuntimeError)


def test_json_lines_match_one_encoding_per_record() -> None:
    """A block of records encoded at once reads exactly as one line per record,
    however hostile the strings inside (boundaries, quotes, newlines, nesting)."""
    from awaitkit.probe._command import format_line, json_lines
    from awaitkit.probe._result import Result, Status

    hostile = [
        'a}, {"domain": "b',
        "}, {",
        'x"\n}, {"domain": y',
        "bücher.\u2028de",
        "\\",
    ]
    results = [Result(name, False, status=Status.INVALID) for name in hostile] + [
        Result("e1.test", True, status=Status.FOUND, addresses=("10.0.0.1",))
    ]
    expected = "".join(format_line(r, as_json=True) + "\n" for r in results)
    assert json_lines([r.to_dict() for r in results]) == expected
    nested: list[dict[str, object]] = [
        {"domain": "a", "answers": [{"domain": "x"}, {"domain": "y"}]},
        {"domain": "b", "answers": []},
        {"status": "FOUND", "domain": "c"},
    ]
    assert json_lines(nested) == "".join(
        json.dumps(r, ensure_ascii=False) + "\n" for r in nested
    )
    assert json_lines(nested[:2]) == "".join(
        json.dumps(r, ensure_ascii=False) + "\n" for r in nested[:2]
    )
    assert json_lines([]) == ""
    for line, record in zip(json_lines(nested).splitlines(), nested, strict=True):
        assert json.loads(line) == record


class _Trickle(io.RawIOBase):
    """A raw stream that gives at most ``size`` bytes per read, as a pipe might."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data = data
        self.size = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk, self.data = self.data[: self.size], self.data[self.size :]
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 3, 7, 1 << 16])
async def test_read_names_across_reads(size: int) -> None:
    """Lines cut anywhere by the reads, comment-only stretches, CRLF, a bad byte
    and a last line without a newline: the names come out whole, in order."""
    from awaitkit.probe._command import read_names

    data = (
        b"a.test\r\n" + b"# only comments\n" * 50 + b"\n\n"
        b"b\xc3\xbc.test  # with a comment\n\xff.test\nlast.test"
    )
    stream = io.BufferedReader(_Trickle(data, size))
    names = [name async for name in read_names(stream)]
    assert names == ["a.test", "bü.test", "\ufffd.test", "last.test"]


@pytest.mark.anyio
async def test_read_names_a_line_with_no_end_stays_bounded() -> None:
    """A 10 MB line is one (INVALID) name cut to at most 128 KiB, read in linear time."""
    from awaitkit.probe._command import read_names

    stream = io.BufferedReader(_Trickle(b"x" * 10_000_000 + b"\nok.test\n", 1 << 16))
    names = [name async for name in read_names(stream)]
    assert len(names) == 2
    assert 1 << 16 <= len(names[0]) <= 2 << 16
    assert set(names[0]) == {"x"}
    assert names[1] == "ok.test"


@pytest.mark.anyio
async def test_names_piped_in_are_read_as_they_come() -> None:
    """A name written to a pipe that stays open is read at once, not at 64 KiB."""
    import os

    from awaitkit.probe._command import read_names

    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as reader, os.fdopen(write_fd, "wb", 0) as writer:
        writer.write(b"first.test\n")
        names = read_names(reader)
        async with asyncio.timeout(5):
            assert await anext(names) == "first.test"
        writer.close()
        assert [n async for n in names] == []
