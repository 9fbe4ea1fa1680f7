"""Resolver lists (-r), resolv.conf options, per-resolver rates and counts."""

from __future__ import annotations

import socket
import time

import pytest

from awaitkit.cli import build_parser, main
from awaitkit.core import UsageError
from awaitkit.probe import DirectResolver, Status, multi_probe
from awaitkit.probe._resolvers import (
    MAX_RESOLVERS,
    ServerStats,
    parse_resolver,
    parse_resolver_lines,
    read_resolv_conf,
    read_resolver_file,
)
from tests.probe._servers import FaultServer

pytestmark = pytest.mark.anyio

PROBE_HOLDS_THE_LOOP = pytest.mark.blocks_loop  # see test_cli.py


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("192.0.2.1", ("192.0.2.1", 53)),
        ("192.0.2.1:5353", ("192.0.2.1", 5353)),
        ("2001:db8::1", ("2001:db8::1", 53)),
        ("[2001:db8::1]:5353", ("2001:db8::1", 5353)),
        ("[2001:DB8:0::1]", ("2001:db8::1", 53)),
        ("::1", ("::1", 53)),
        ("[::ffff:192.0.2.1]:54", ("192.0.2.1", 54)),  # replies come from the v4 form
        ("dns.google", None),
        ("192.0.2.1:0", None),
        ("192.0.2.1:65536", None),
        ("192.0.2.1:\uff15\uff13", None),  # fullwidth digits: isdigit() but not a port
        ("192.0.2.1:", None),
        ("[2001:db8::1", None),
        ("[2001:db8::1]x", None),
        ("fe80::1%eth0", None),
        ("256.0.0.1", None),
        ("1.2.3.4:53:53", None),
    ],
)
def test_parse_resolver(text, server) -> None:
    assert parse_resolver(text) == server


def test_resolver_lines_skip_junk_and_name_its_lines() -> None:
    """Comments, blanks, CRLF and duplicates are fine; junk is skipped and quoted."""
    parsed = parse_resolver_lines(
        [
            b"# public resolvers\n",
            b"\n",
            b"192.0.2.1\r\n",
            b"192.0.2.2:5353  # a comment\n",
            b"resolver.example\n",
            b"\xff\xfe\xfa\n",
            b"[2001:db8::53]:53\n",
            b"2001:db8::54\n",
            b"192.0.2.1:53\n",  # the first one again
            b"9" * 600 + b"\n",
        ]
    )
    assert parsed.servers == [
        ("192.0.2.1", 53),
        ("192.0.2.2", 5353),
        ("2001:db8::53", 53),
        ("2001:db8::54", 53),
    ]
    assert [n for n, _ in parsed.skipped] == [5, 6, 10]
    assert parsed.skipped[0][1] == "resolver.example"
    assert parsed.skipped[1][1] == "\ufffd\ufffd\ufffd"
    assert len(parsed.skipped[2][1]) == 60  # quoted, but cut short
    assert parsed.skipped_count == 3


def test_only_ten_junk_lines_are_quoted_the_rest_counted() -> None:
    parsed = parse_resolver_lines([b"junk\n"] * 1000 + [b"192.0.2.1\n"])
    assert len(parsed.skipped) == 10
    assert parsed.skipped_count == 1000
    assert parsed.servers == [("192.0.2.1", 53)]


def test_too_many_resolvers_is_a_usage_error() -> None:
    lines = (
        f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n".encode()
        for i in range(MAX_RESOLVERS + 1)
    )
    with pytest.raises(UsageError, match="more than 100,000 resolvers"):
        parse_resolver_lines(lines)


def test_resolver_file_errors(tmp_path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"# nothing\nnot a resolver\n\xff\n")
    with pytest.raises(UsageError, match="no resolver in"):
        read_resolver_file(str(junk))
    with pytest.raises(UsageError, match="cannot read resolvers"):
        read_resolver_file(str(tmp_path / "missing.txt"))
    with pytest.raises(UsageError, match="cannot read resolvers"):
        read_resolver_file(str(tmp_path))  # a directory


def test_a_huge_line_without_newline_is_read_past_in_bounded_memory(tmp_path) -> None:
    """A 20 MB line is junk, read past in chunks; the line after it still counts."""
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:
        f.write(b"1" * 20_000_000 + b"\n192.0.2.7\n")
    parsed = read_resolver_file(str(path))
    assert parsed.servers == [("192.0.2.7", 53)]
    assert parsed.skipped_count == 1


def test_resolv_conf_options(tmp_path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_bytes(
        b"nameserver 192.0.2.53\n; comment\n# options timeout:9\n"
        b"options ndots:2 timeout:3 attempts:4\n"
        b"options rotate attempts:9 timeout:x\n\xff\xfe\n"
        b"nameserver 192.0.2.54\n"
    )
    parsed = read_resolv_conf(conf)
    assert parsed.nameservers == ["192.0.2.53", "192.0.2.54"]
    assert parsed.timeout == 3.0  # a bad value keeps the earlier one
    assert parsed.attempts == 5  # glibc caps attempts at 5
    assert parsed.rotate


def test_resolv_conf_without_options_and_bounds(tmp_path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 192.0.2.53\noptions timeout:100 attempts:0\n")
    parsed = read_resolv_conf(conf)
    assert (parsed.timeout, parsed.attempts, parsed.rotate) == (30.0, 1, False)
    empty = read_resolv_conf(tmp_path / "missing")
    assert (empty.nameservers, empty.timeout, empty.attempts) == ([], None, None)


def test_res_options_come_after_the_file(tmp_path) -> None:
    """RES_OPTIONS, as glibc reads it: applied after the file's options."""
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 192.0.2.53\noptions timeout:3 attempts:4\n")
    parsed = read_resolv_conf(conf, env_options="attempts:2 rotate bogus:1")
    assert (parsed.timeout, parsed.attempts, parsed.rotate) == (3.0, 2, True)
    missing = read_resolv_conf(tmp_path / "missing", env_options="timeout:7")
    assert (missing.nameservers, missing.timeout) == ([], 7.0)


def _args(*argv: str):
    return build_parser().parse_args(["probe", "test", *argv])


def test_resolv_conf_options_apply_unless_given(tmp_path, monkeypatch) -> None:
    """glibc: attempts are per server, so 2 servers x attempts:3 = 6 tries."""
    from awaitkit.probe import _command

    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "nameserver 192.0.2.53\nnameserver 192.0.2.54\n"
        "nameserver bogus\noptions timeout:4 attempts:3\n"
    )
    monkeypatch.setattr(_command, "RESOLV_CONF", conf)
    monkeypatch.delenv("RES_OPTIONS", raising=False)
    servers, timeout, retries, rotate = _command._direct_settings(_args())
    assert servers == ["192.0.2.53:53", "192.0.2.54:53"]
    assert (timeout, retries, rotate) == (4.0, 5, False)
    given = _args("--timeout", "0.5", "--retries", "0")
    assert _command._direct_settings(given)[1:] == (0.5, 0, False)
    conf.write_text("nameserver 192.0.2.53\noptions rotate\n")
    assert _command._direct_settings(_args())[1:] == (2.0, 2, True)
    monkeypatch.setenv("RES_OPTIONS", "timeout:1 attempts:2")
    assert _command._direct_settings(_args())[1:] == (1.0, 1, True)
    monkeypatch.delenv("RES_OPTIONS")
    # Nameservers given on the command line: resolv.conf is not read at all.
    conf.write_text("nameserver 192.0.2.53\noptions timeout:9 attempts:5\n")
    ns = _args("--nameserver", "127.0.0.1:5300")
    assert _command._direct_settings(ns) == (["127.0.0.1:5300"], 2.0, 2, True)


def test_nameserver_and_resolver_file_add_up(tmp_path) -> None:
    from awaitkit.probe import _command

    listed = tmp_path / "resolvers.txt"
    listed.write_text("127.0.0.1:5301\n127.0.0.1:5300\n[::1]:5302\n")
    args = _args("--nameserver", "127.0.0.1:5300", "-r", str(listed))
    assert _command._direct_settings(args)[0] == [
        "127.0.0.1:5300",
        "127.0.0.1:5301",
        "[::1]:5302",
    ]


async def test_server_stats_count_each_resolver() -> None:
    """Two servers, names that fail on both: each server's own counts add up."""
    async with FaultServer() as one, FaultServer() as two:
        resolver = DirectResolver([one.address, two.address], timeout=0.2, retries=1)
        names = ["ok.x", "servfail.x", "refused.x", "drop.x", "nx.x", "ok2.x"]
        async with resolver:
            results = {
                r.domain: r.status async for r in multi_probe(names, resolver=resolver)
            }
        assert results["servfail.x"] is Status.SERVFAIL
        stats = resolver.server_stats
        assert list(stats) == [("127.0.0.1", one.port), ("127.0.0.1", two.port)]
        total = ServerStats()
        for counts in stats.values():
            for field in ("sent", "answered", "timeouts", "servfail", "refused"):
                setattr(total, field, getattr(total, field) + getattr(counts, field))
        # ok, nx, ok2: one try each; servfail, refused, drop: two (one per server).
        assert total.sent == 9
        assert total.servfail == 2
        assert total.refused == 2
        assert total.timeouts == 2
        assert total.answered == 7
        assert sum(one.queries.values()) == stats["127.0.0.1", one.port].sent
        assert sum(two.queries.values()) == stats["127.0.0.1", two.port].sent


async def test_without_rotate_every_name_starts_on_the_first_server() -> None:
    async with FaultServer() as one, FaultServer() as two:
        async with DirectResolver([one.address, two.address], rotate=False) as resolver:
            async for _ in multi_probe(
                [f"ok{i}.x" for i in range(10)], resolver=resolver
            ):
                pass
        assert sum(one.queries.values()) == 10
        assert sum(two.queries.values()) == 0
        async with DirectResolver([one.address, two.address]) as rotating:
            async for _ in multi_probe(
                [f"ok{i}.x" for i in range(10)], resolver=rotating
            ):
                pass
        assert sum(two.queries.values()) == 5


async def test_rate_per_server_paces_each_server_apart() -> None:
    """20 QPS per server, 2 servers, 12 names: ~0.25 s; one server alone: ~0.55 s."""
    async with FaultServer() as one, FaultServer() as two:
        names = [f"ok{i}.x" for i in range(12)]
        both = DirectResolver([one.address, two.address], rate_per_server=20)
        alone = DirectResolver([one.address], rate_per_server=20)
        elapsed = []
        for resolver in (both, alone):
            async with resolver:
                start = time.perf_counter()
                async for _ in multi_probe(names, resolver=resolver):
                    pass
                elapsed.append(time.perf_counter() - start)
        assert 0.2 <= elapsed[0] < 0.5
        assert elapsed[1] >= 0.5


def test_rate_per_server_must_be_positive() -> None:
    with pytest.raises(UsageError):
        DirectResolver(["127.0.0.1"], rate_per_server=0)


@PROBE_HOLDS_THE_LOOP
def test_cli_resolver_file_with_junk_against_nsd(nsd_port, tmp_path, capsys) -> None:
    """-r with junk lines: warned about by line number, the run goes on; the
    summary lists each resolver's counts (a silent one: all timeouts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent_port = silent.getsockname()[1]
        listed = tmp_path / "resolvers.txt"
        listed.write_bytes(
            b"# resolvers\n127.0.0.1:%d\nnot-an-ip\n\xff\n[::ffff:127.0.0.1]:%d\n"
            b"127.0.0.1:%d\n" % (nsd_port, nsd_port, silent_port)
        )
        argv = ["probe", "test", "-r", str(listed), "--json", "--timeout", "0.2"]
        status = main(argv)
    out, err = capsys.readouterr()
    assert status == 0, err
    assert len(out.splitlines()) == 18
    assert f"{listed}:3: 'not-an-ip' is not a valid resolver" in err
    assert f"{listed}:4: '\ufffd' is not a valid resolver" in err
    per_server = [line for line in err.splitlines() if line.startswith("  ")]
    assert len(per_server) == 2  # the IPv4-mapped line is the same nsd
    assert per_server[0].split()[0] == f"127.0.0.1:{nsd_port}"
    assert per_server[1].split()[0] == f"127.0.0.1:{silent_port}"
    # Names alternate between the two; those started on the silent one
    # time out there and are answered on the retry.
    assert "sent 18, answered 18, timeouts 0, SERVFAIL 0, REFUSED 0" in per_server[0]
    assert "sent 9, answered 0, timeouts 9, SERVFAIL 0, REFUSED 0" in per_server[1]


@PROBE_HOLDS_THE_LOOP
def test_cli_stats_lists_a_single_resolver(nsd_port, capsys) -> None:
    main(["probe", "test", "--nameserver", f"127.0.0.1:{nsd_port}"])
    assert "per resolver" not in capsys.readouterr().err
    main(["probe", "test", "--nameserver", f"127.0.0.1:{nsd_port}", "--stats"])
    err = capsys.readouterr().err
    assert f"  127.0.0.1:{nsd_port}  sent 18, answered 18," in err


@PROBE_HOLDS_THE_LOOP
def test_cli_rate_per_resolver_runs(nsd_port, capsys) -> None:
    argv = ["probe", "test", "--nameserver", f"127.0.0.1:{nsd_port}"]
    assert main([*argv, "--rate-per-resolver", "1000"]) == 0
    assert "FOUND 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-r", "/nonexistent/resolvers.txt"], "cannot read resolvers"),
        (["-r", "{junk}"], "no resolver in"),
        (
            ["--resolver", "system", "-r", "{junk}"],
            "--resolvers needs --resolver direct",
        ),
        (["--resolver", "system", "--stats"], "--stats needs --resolver direct"),
        (["--rate-per-resolver", "0", "--nameserver", "127.0.0.1"], "must be positive"),
        (
            ["--rate-per-resolver", "-5", "--nameserver", "127.0.0.1"],
            "must be positive",
        ),
    ],
)
def test_resolver_usage_errors_exit_2(argv, message, tmp_path, capsys) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"\xff\xfe\nexample.com\n")
    argv = [a.replace("{junk}", str(junk)) for a in argv]
    assert main(["probe", "test", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.splitlines()) == 1


def test_many_resolvers_are_not_listed_without_stats(capsys) -> None:
    """Past 16 resolvers: a count, and the five that failed most (by share)."""
    from awaitkit.probe._command import _server_summary

    stats = {
        ("192.0.2.1", 1000 + i): ServerStats(sent=10, answered=10) for i in range(17)
    }
    _server_summary(stats, every=False)
    assert capsys.readouterr().err == (
        "awaitkit probe: 17 resolvers (--stats lists each one's counts)\n"
    )
    for i in range(7):
        stats["192.0.2.1", 1000 + i].timeouts = i + 1
    stats["192.0.2.1", 1016] = ServerStats(sent=1, refused=1)
    _server_summary(stats, every=False)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("; failing most:")
    assert [line.split()[0] for line in lines[1:]] == [
        "192.0.2.1:1016",
        "192.0.2.1:1006",
        "192.0.2.1:1005",
        "192.0.2.1:1004",
        "192.0.2.1:1003",
    ]
    _server_summary(stats, every=True)
    assert len(capsys.readouterr().err.splitlines()) == 18


@PROBE_HOLDS_THE_LOOP
def test_cli_resolv_conf_options_end_to_end(nsd_port, tmp_path, monkeypatch, capsys):
    """resolv.conf with a dead first nameserver, timeout:1 attempts:1, no rotate:
    every name tries the dead one first (1 s), then nsd (attempts x 2 servers)."""
    from awaitkit.probe import _command

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        dead = silent.getsockname()[1]
        conf = tmp_path / "resolv.conf"
        # A port after the address is our extension (glibc has none): the
        # test's servers cannot listen on 53.
        conf.write_text(
            f"nameserver 127.0.0.1:{dead}\nnameserver 127.0.0.1:{nsd_port}\n"
            "options timeout:1 attempts:1\n"
        )
        monkeypatch.setattr(_command, "RESOLV_CONF", conf)
        monkeypatch.delenv("RES_OPTIONS", raising=False)
        start = time.perf_counter()
        status = main(["probe", "test", "--resolver", "direct"])
        elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert status == 0, err
    assert 0.9 <= elapsed < 10
    assert f"127.0.0.1:{dead}  sent 18, answered 0, timeouts 18" in err
    assert f"127.0.0.1:{nsd_port}  sent 18, answered 18, timeouts 0" in err
