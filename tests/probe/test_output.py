"""-o FILE (atomic or --stream) and --resume: files are whole or untouched."""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from awaitkit.cli import main
from awaitkit.core import AwaitkitError, UsageError
from awaitkit.probe._output import OutputFile, parse_output_line, read_resume

PROBE_HOLDS_THE_LOOP = pytest.mark.blocks_loop  # see test_cli.py
HEADER = "FOUND\t\tNOT FOUND\tFAILED\n=====\t\t=========\t======\n"


def test_atomic_output_replaces_the_target_only_on_commit(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    output = OutputFile(str(target))
    output.open()
    output.write("new\n")
    assert target.read_text() == "old\n"
    output.commit()
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_atomic_abort_keeps_the_target_and_a_partial_file(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    output = OutputFile(str(target))
    output.open()
    output.write("half\n")
    partial = output.abort(keep=True)
    assert partial == tmp_path / "out.txt.partial"
    assert partial.read_text() == "half\n"
    assert target.read_text() == "old\n"
    second = OutputFile(str(target))
    second.open()
    assert second.abort(keep=False) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "out.txt.partial"]


def test_stream_output_is_in_place_after_start(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    output = OutputFile(str(target), stream=True)
    output.open()
    output.write("kept from the resume file\n")
    assert target.read_text() == "old\n"  # not yet: the copy must be whole
    output.start()
    output.write("block 1\n")
    assert target.read_text() == "kept from the resume file\nblock 1\n"  # flushed
    assert output.abort(keep=True) is None
    assert target.read_text().endswith("block 1\n")


def test_output_into_a_missing_directory_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(UsageError, match="cannot write"):
        OutputFile(str(tmp_path / "no" / "out.txt")).open()
    with pytest.raises(UsageError, match="is a directory"):
        OutputFile(str(tmp_path)).open()


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("found.test", ("found.test", "FOUND", False)),
        ("\t\tnope.test", ("nope.test", "NOT FOUND", False)),
        ("\t\t\t\tslow.test (TIMEOUT)", ("slow.test", "TIMEOUT", False)),
        ("\t\t\t\ta b (c).test (INVALID)", ("a b (c).test", "INVALID", False)),
        ('{"domain": "a.test", "status": "NODATA"}', ("a.test", "NODATA", True)),
        ('{"name": "b.test", "status": "FOUND"}', ("b.test", "FOUND", True)),
        ("FOUND\t\tNOT FOUND\tFAILED", None),
        ("=====\t\t=========\t======", None),
        ("\tone.test", None),
        ("\t\t\tthree.test", None),
        ("\t\t\t\tno-status.test", None),
        ("found.test\textra", None),
        ("not a name!", None),
        ('{"domain": "a.test", "status": "NODA', None),
        ('{"domain": 5, "status": "FOUND"}', None),
        ('{"status": "FOUND"}', None),
        ("[1, 2]", None),
        ('{"a": ' + "[" * 100_000, None),
        ("{" + "[" * 100_000 + "]" * 100_000 + "}", None),
    ],
)
def test_parse_output_line(line, parsed) -> None:
    assert parse_output_line(line) == parsed


def _resume(path, *, as_json=False, keep=lambda status: True):
    written: list[str] = []
    resumed = read_resume(str(path), as_json=as_json, keep=keep, write=written.append)
    return resumed, written


def test_resume_a_hostile_plain_file(tmp_path) -> None:
    """Garbage, non-UTF-8 and a cut last line are skipped; failures are not settled."""
    old = tmp_path / "old.txt"
    old.write_bytes(
        HEADER.encode()
        + b"found.test\n\t\tnope.test\n\t\t\t\tslow.test (TIMEOUT)\n"
        + b"\xff\xfe garbage \x00\n\t\t\t\tbad..test (INVALID)\n"
        + b"found.test\n"  # twice: kept once
        + b"x" * 3_000_000  # a 3 MB line, overlong
        + b"\n\t\tcut.te"  # the last line, cut short
    )
    resumed, written = _resume(old)
    assert resumed.settled == {"found.test", "nope.test"}
    assert written == ["found.test\n", "\t\tnope.test\n"]
    assert (resumed.kept, resumed.unreadable) == (2, 3)


def test_resume_json_takes_a_complete_last_line(tmp_path) -> None:
    old = tmp_path / "old.jsonl"
    old.write_bytes(
        b'{"domain": "a.test", "status": "FOUND", "addresses": ["192.0.2.1"]}\n'
        b'{"domain": "b.test", "status": "SERVFAIL"}\n'
        b"found.test\n"  # a plain line in a JSON file
        b'{"domain": "c.test", "status": "NXDOMAIN"}\n'
        b'{"domain": "d.test", "status": "NODATA"}'  # no newline, but whole
    )
    resumed, written = _resume(old, as_json=True, keep=lambda s: s != "NODATA")
    assert resumed.settled == {"a.test", "c.test", "d.test"}
    assert [json.loads(w)["domain"] for w in written] == ["a.test", "c.test"]
    assert resumed.unreadable == 1


def test_resume_in_the_other_format_is_a_usage_error(tmp_path) -> None:
    old = tmp_path / "old.txt"
    old.write_text(HEADER + "found.test\n")
    with pytest.raises(UsageError, match="holds plain columns; give plain"):
        _resume(old, as_json=True)
    with pytest.raises(UsageError, match="cannot read --resume"):
        _resume(tmp_path / "missing.txt")


@PROBE_HOLDS_THE_LOOP
def test_cli_output_file_and_resume_against_nsd(nsd_port, tmp_path, capsys) -> None:
    """-o writes the file, not stdout; --resume skips what it settled and the
    new output holds the old settled lines plus the new results."""
    names = tmp_path / "names.txt"
    names.write_text("found.test\nnope.test\nv6only.test\nalias.test\nnew.test\n")
    old = tmp_path / "old.jsonl"
    old.write_bytes(
        b'{"domain": "found.test", "status": "FOUND", "addresses": ["192.0.2.99"]}\n'
        b'{"domain": "nope.test", "status": "TIMEOUT"}\n'
        b'{"domain": "v6only.test", "status": "NODATA"}\n'
        b'{"domain": "alias.test", "sta'
    )
    out = tmp_path / "out.jsonl"
    argv = ["probe", "-i", str(names), "--nameserver", f"127.0.0.1:{nsd_port}"]
    status = main([*argv, "--json", "-o", str(out), "--resume", str(old)])
    stdout, err = capsys.readouterr()
    assert status == 0, err
    assert stdout == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    # The old FOUND is kept as it was (not probed again: its address says so).
    assert records[:2] == [
        {"domain": "found.test", "status": "FOUND", "addresses": ["192.0.2.99"]},
        {"domain": "v6only.test", "status": "NODATA"},
    ]
    assert {r["domain"]: r["status"] for r in records[2:]} == {
        "nope.test": "NXDOMAIN",
        "alias.test": "FOUND",
        "new.test": "NXDOMAIN",
    }
    assert "awaitkit probe: 3 names in" in err
    assert "2 settled names skipped (2 kept in the output), 1 unreadable line" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "names.txt",
        "old.jsonl",
        "out.jsonl",
    ]


@PROBE_HOLDS_THE_LOOP
def test_cli_resume_into_the_same_file_plain_and_streamed(
    nsd_port, tmp_path, capsys
) -> None:
    """--stream -o F --resume F: F is rewritten whole with its settled lines first."""
    out = tmp_path / "out.txt"
    out.write_text(HEADER + "for.test\n\t\t\t\tdef.test (TIMEOUT)\n\t\tif.test\n")
    argv = ["probe", "test", "--nameserver", f"127.0.0.1:{nsd_port}"]
    assert main([*argv, "--stream", "-o", str(out), "--resume", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[:4] == [*HEADER.splitlines(), "for.test", "\t\tif.test"]
    assert len(lines) == 20  # 18 names once each, after the header
    assert "\t\tdef.test" in lines[4:]
    assert "for.test" not in lines[4:]  # skipped: already settled
    assert "awaitkit probe: 16 names in" in capsys.readouterr().err


@PROBE_HOLDS_THE_LOOP
def test_cli_resume_to_stdout_honours_only(nsd_port, tmp_path, capsys) -> None:
    old = tmp_path / "old.txt"
    old.write_text(HEADER + "for.test\n\t\tdef.test\n")
    argv = ["probe", "test", "--nameserver", f"127.0.0.1:{nsd_port}"]
    assert main([*argv, "--only", "found", "--resume", str(old)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [*HEADER.splitlines(), "for.test", "if.test"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stream"], "--stream needs -o/--output FILE"),
        (["-o", "/nonexistent/dir/out.txt"], "cannot write /nonexistent/dir/out.txt"),
        (["--resume", "/nonexistent/old.txt"], "cannot read --resume"),
        (["--resume", "{old}", "--json"], "holds plain columns"),
    ],
)
def test_output_usage_errors_exit_2(argv, message, tmp_path, capsys) -> None:
    old = tmp_path / "old.txt"
    old.write_text("for.test\n")
    argv = [a.replace("{old}", str(old)) for a in argv]
    assert main(["probe", "test", "--nameserver", "127.0.0.1", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]


@pytest.mark.parametrize("stream", [False, True], ids=["atomic", "stream"])
def test_ctrl_c_keeps_every_result_and_never_half_a_target(tmp_path, stream) -> None:
    """SIGINT mid-run.  Atomic: the old FILE is as it was and every result
    so far is in FILE.partial; streaming: they are in FILE itself."""
    out = tmp_path / "out.txt"
    out.write_text("previous run\n")
    names = tmp_path / "names.txt"
    names.write_text("".join(f"n{i}.test\n" for i in range(10_000)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        argv = ["probe", "-i", str(names), "--nameserver", f"127.0.0.1:{port}"]
        argv += ["--timeout", "0.05", "--retries", "0", "-c", "100", "-o", str(out)]
        with subprocess.Popen(
            [
                sys.executable,
                "-m",
                "awaitkit",
                *argv,
                *(["--stream"] if stream else []),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            silent.settimeout(60)
            for _ in range(2900):  # well past the first 2000-line block
                silent.recvfrom(512)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    partial = tmp_path / "out.txt.partial"
    if stream:
        assert not partial.exists()
        lines = out.read_text().splitlines()
    else:
        assert out.read_text() == "previous run\n"
        assert f"results so far are in {partial}" in err
        lines = partial.read_text().splitlines()
    assert lines[:2] == HEADER.splitlines()
    # 2,900 queries sent 100 at a time: at least 2,800 had ended, all but
    # at most 100 (the prober's result queue) reached the writer, and the
    # block not yet written when the signal came is written too.
    assert len(lines) - 2 >= 2700
    assert len(set(lines)) == len(lines)
    assert all(line.endswith(" (TIMEOUT)") for line in lines[2:])
    assert len(list(tmp_path.iterdir())) == (2 if stream else 3)


class _FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_write_error_is_one_clean_error_and_the_target_is_kept(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    output = OutputFile(str(target))
    output.open()
    real, output._file = output._file, _FullDisk()  # the disk fills up
    assert real is not None
    real.close()
    with pytest.raises(AwaitkitError, match=r"cannot write .*No space left on device"):
        output.write("x\n")
    assert output.abort(keep=True) is not None
    assert target.read_text() == "old\n"


@PROBE_HOLDS_THE_LOOP
def test_cli_write_error_exits_1(nsd_port, tmp_path, monkeypatch, capsys) -> None:
    def full(self: OutputFile, text: str) -> None:
        raise AwaitkitError(f"cannot write {self.path}: No space left on device")

    monkeypatch.setattr(OutputFile, "write", full)
    out = tmp_path / "out.txt"
    argv = ["probe", "test", "--nameserver", f"127.0.0.1:{nsd_port}", "-o", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"awaitkit: error: cannot write {out}: No space left on device" in err
    assert not out.exists()
