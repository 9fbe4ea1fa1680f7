"""Record types, full answers and --check registered against a real nsd, library and CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.probe import DirectResolver, Result, Status, probe
from awaitkit.probe._records import Record
from awaitkit.probe._registered import RegisteredCheck
from awaitkit.probe._result import Registration
from awaitkit.probe.testing import serving_nsd
from tests.conftest import find_binary

ZONE = """\
$ORIGIN rec.
$TTL 300
@ SOA ns.rec. admin.rec. 7 3600 600 86400 300
@ NS ns.rec.
@ MX 10 mail.rec.
@ CAA 0 issue "letsencrypt.org"
ns A 127.0.0.1
mail A 192.0.2.25
www 120 A 192.0.2.1
www AAAA 2001:db8::1
alias CNAME alias2
alias2 CNAME www
away CNAME elsewhere.example.
txt TXT "v=spf1 -all" "second" ""
_sip._udp SRV 0 5 5060 sip.rec.
ptr PTR host.example.
delegated NS ns1.elsewhere.example.
delegated NS ns2.elsewhere.example.
"""

pytestmark = pytest.mark.blocks_loop  # see test_cli.py: debug mode's own cost


@pytest.fixture(scope="module")
def rec_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Port of an nsd authoritative for ``rec.`` (see ZONE)."""
    directory: Path = tmp_path_factory.mktemp("nsd-rec")
    with serving_nsd("rec", ZONE, nsd=find_binary("nsd"), directory=directory) as port:
        yield port


def _server(port: int) -> str:
    return f"127.0.0.1:{port}"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "rtype", "status", "data"),
    [
        ("www.rec", "A", Status.FOUND, ["192.0.2.1"]),
        ("www.rec", "aaaa", Status.FOUND, ["2001:db8::1"]),
        ("rec", "MX", Status.FOUND, ["10 mail.rec."]),
        ("rec", "NS", Status.FOUND, ["ns.rec."]),
        ("rec", "SOA", Status.FOUND, ["ns.rec. admin.rec. 7 3600 600 86400 300"]),
        ("rec", "CAA", Status.FOUND, ['0 issue "letsencrypt.org"']),
        ("txt.rec", "TXT", Status.FOUND, ['"v=spf1 -all" "second" ""']),
        ("_sip._udp.rec", "SRV", Status.FOUND, ["0 5 5060 sip.rec."]),
        ("ptr.rec", "PTR", Status.FOUND, ["host.example."]),
        ("alias.rec", "CNAME", Status.FOUND, ["alias2.rec."]),
        ("www.rec", "MX", Status.NODATA, []),
        ("missing.rec", "TXT", Status.NXDOMAIN, []),
    ],
)
async def test_each_type_against_nsd(rec_port, name, rtype, status, data) -> None:
    async with DirectResolver(
        [_server(rec_port)], types=rtype, records=True
    ) as resolver:
        result = await probe(name, resolver=resolver)
    assert result.status is status
    assert result.found is (status is Status.FOUND)
    wanted = rtype.upper()
    assert [r.data for r in result.records if r.type == wanted] == data
    assert result.rcode == (3 if status is Status.NXDOMAIN else 0)
    assert result.resolver == _server(rec_port)
    assert result.attempts == 1
    assert result.duration is not None
    assert result.duration > 0


@pytest.mark.anyio
async def test_full_answer_of_a_two_hop_chain(rec_port) -> None:
    async with DirectResolver([_server(rec_port)], records=True) as resolver:
        result = await probe("alias.rec", resolver=resolver)
    domain, found = result
    assert (domain, found) == ("alias.rec", True)
    assert result.addresses == ("192.0.2.1",)
    assert result.chain == ("alias2.rec", "www.rec")
    assert result.records == (
        Record("alias.rec", "CNAME", 300, "alias2.rec."),
        Record("alias2.rec", "CNAME", 300, "www.rec."),
        Record("www.rec", "A", 120, "192.0.2.1"),
    )
    assert result == Result(
        "alias.rec",
        True,
        status=Status.FOUND,
        addresses=("192.0.2.1",),
        records=result.records,
        chain=result.chain,
        rcode=0,
    )


@pytest.mark.anyio
async def test_chain_leaving_the_zone_and_ns_only_delegation(rec_port) -> None:
    """Authoritative nsd stops at the zone's edge: no address, so NODATA."""
    async with DirectResolver([_server(rec_port)], records=True) as resolver:
        away = await probe("away.rec", resolver=resolver)
        delegated = await probe("delegated.rec", resolver=resolver)
    assert away.status is Status.NODATA
    assert away.chain == ("elsewhere.example",)
    assert delegated.status is Status.NODATA  # a referral: NOERROR, no answer
    assert delegated.records == ()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "registration"),
    [
        ("delegated.rec", Registration.TAKEN),  # NS only, no address
        ("txt.rec", Registration.TAKEN),
        ("www.rec", Registration.TAKEN),
        ("away.rec", Registration.TAKEN),
        ("free.rec", Registration.FREE),
        ("a..rec", Registration.UNKNOWN),
    ],
)
async def test_registered_check(rec_port, name, registration) -> None:
    async with DirectResolver([_server(rec_port)]) as direct:
        result = await probe(name, resolver=RegisteredCheck(direct))
        assert result.status.registration is registration
        if registration is not Registration.UNKNOWN:
            assert direct.stats.sent == 1  # NS answered definitely: nothing more


@pytest.mark.anyio
async def test_registered_check_tries_the_next_type_after_failures(faults) -> None:
    async with DirectResolver([faults.address], timeout=0.2, retries=0) as direct:
        result = await probe("servfail.test", resolver=RegisteredCheck(direct))
    assert result.status.registration is Registration.UNKNOWN
    assert result.status is Status.SERVFAIL
    assert result.attempts == 4  # NS, SOA, A, AAAA


def _run(argv: list[str], capsys) -> tuple[int, list[str], str]:
    status = main(["probe", *argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def _names_file(tmp_path: Path, *names: str) -> str:
    path = tmp_path / "names.txt"
    path.write_text("\n".join(names) + "\n")
    return str(path)


def test_cli_registered_columns(rec_port, tmp_path, capsys) -> None:
    names = _names_file(tmp_path, "delegated.rec", "free.rec", "www.rec", "a..rec")
    status, lines, _ = _run(
        ["-i", names, "--nameserver", _server(rec_port), "--check", "registered"],
        capsys,
    )
    assert status == 0
    assert lines[:2] == ["TAKEN\t\tFREE\t\tUNKNOWN", "=====\t\t====\t\t======="]
    assert set(lines[2:]) == {
        "delegated.rec",
        "www.rec",
        "\t\tfree.rec",
        "\t\t\t\ta..rec (INVALID)",
    }


def test_cli_default_mode_keeps_ns_only_names_not_found(rec_port, tmp_path, capsys):
    names = _names_file(tmp_path, "delegated.rec")
    status, lines, _ = _run(["-i", names, "--nameserver", _server(rec_port)], capsys)
    assert status == 0
    assert lines[2:] == ["\t\tdelegated.rec"]


def test_cli_registered_json_and_only(rec_port, tmp_path, capsys) -> None:
    names = _names_file(tmp_path, "delegated.rec", "free.rec")
    argv = ["-i", names, "--nameserver", _server(rec_port), "--check", "registered"]
    _, lines, _ = _run([*argv, "--json"], capsys)
    got = {d["domain"]: d["registration"] for d in map(json.loads, lines)}
    assert got == {"delegated.rec": "TAKEN", "free.rec": "FREE"}
    _, lines, _ = _run([*argv, "--only", "missing"], capsys)
    assert lines[2:] == ["\t\tfree.rec"]


def test_cli_registered_unknown_exits_1(capsys) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        status, lines, _ = _run(
            [
                *("test", "--nameserver", f"127.0.0.1:{port}", "--timeout", "0.05"),
                *("--retries", "0", "--check", "registered"),
            ],
            capsys,
        )
    assert status == 1
    assert all(line.endswith(" (TIMEOUT)") for line in lines[2:])


def test_cli_json_carries_the_full_answer(rec_port, tmp_path, capsys) -> None:
    names = _names_file(tmp_path, "alias.rec", "missing.rec", "a..rec")
    status, lines, _ = _run(
        ["-i", names, "--nameserver", _server(rec_port), "--json"], capsys
    )
    assert status == 0
    got = {d["domain"]: d for d in map(json.loads, lines)}
    alias = got["alias.rec"]
    assert alias["status"] == "FOUND"
    assert alias["rcode"] == "NOERROR"
    assert alias["chain"] == ["alias2.rec", "www.rec"]
    assert alias["records"][-1] == {
        "name": "www.rec",
        "type": "A",
        "ttl": 120,
        "data": "192.0.2.1",
    }
    assert alias["resolver"] == _server(rec_port)
    assert alias["attempts"] == 1
    assert alias["duration_ms"] > 0
    assert got["missing.rec"]["rcode"] == "NXDOMAIN"
    invalid = got["a..rec"]
    assert invalid["status"] == "INVALID"
    assert invalid["rcode"] is None
    assert invalid["records"] == []  # every key on every line


def test_cli_repeated_types(rec_port, tmp_path, capsys) -> None:
    names = _names_file(tmp_path, "rec", "txt.rec", "www.rec")
    status, lines, _ = _run(
        [
            *("-i", names, "--nameserver", _server(rec_port)),
            *("-t", "mx", "--type", "TXT", "--json"),
        ],
        capsys,
    )
    assert status == 0
    got = {d["domain"]: d for d in map(json.loads, lines)}
    assert got["rec"]["status"] == "FOUND"
    assert [r["data"] for r in got["rec"]["records"]] == ["10 mail.rec."]
    assert got["txt.rec"]["status"] == "FOUND"
    assert got["www.rec"]["status"] == "NODATA"
    assert got["www.rec"]["attempts"] == 2  # one query per type


def test_cli_non_address_type_without_json(rec_port, tmp_path, capsys) -> None:
    names = _names_file(tmp_path, "rec", "www.rec")
    status, lines, _ = _run(
        ["-i", names, "--nameserver", _server(rec_port), "-t", "MX"], capsys
    )
    assert status == 0
    assert set(lines[2:]) == {"rec", "\t\twww.rec"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--resolver", "system", "-t", "MX"], "--type MX needs --resolver direct"),
        (
            ["--resolver", "system", "--check", "registered"],
            "--check registered needs --resolver direct",
        ),
        (
            ["--nameserver", "127.0.0.1", "--check", "registered", "-t", "A"],
            "drop --type",
        ),
    ],
)
def test_cli_usage_errors(argv, message, capsys) -> None:
    assert main(["probe", "dev", *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_check_needs_a_known_mode(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["probe", "dev", "--check", "available"])
    assert info.value.code == 2


def test_cli_type_list_matches_the_parser() -> None:
    from awaitkit.probe._records import RECORD_TYPES
    from awaitkit.probe.cli import _TYPES

    assert set(_TYPES) == set(RECORD_TYPES)


def test_cli_registered_resume_keeps_its_own_header(rec_port, tmp_path, capsys) -> None:
    names = _names_file(tmp_path, "delegated.rec", "free.rec")
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    argv = ["-i", names, "--nameserver", _server(rec_port), "--check", "registered"]
    assert _run([*argv, "-o", str(first)], capsys)[0] == 0
    assert _run([*argv, "--resume", str(first), "-o", str(second)], capsys)[0] == 0
    lines = second.read_text().splitlines()
    assert lines[:2] == ["TAKEN\t\tFREE\t\tUNKNOWN", "=====\t\t====\t\t======="]
    assert sorted(lines[2:]) == ["\t\tfree.rec", "delegated.rec"]
