"""Wildcards, --verify and --settle: the decisions fed values, the stage against nsd."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.probe import DirectResolver, multi_probe
from awaitkit.probe._refine import Refinement
from awaitkit.probe._result import Answer, Result, Status
from awaitkit.probe._verify import Verifier, read_resolver_file
from awaitkit.probe._wildcard import (
    Wildcard,
    WildcardDetector,
    is_wildcard,
    parent_zone,
    random_label,
    summarize,
)
from awaitkit.probe.testing import serving_nsd
from tests.conftest import find_binary
from tests.probe._servers import POISON_ADDRESS, FaultServer

pytestmark = pytest.mark.anyio
PROBE_HOLDS_THE_LOOP = pytest.mark.blocks_loop  # debug mode's cost, see test_cli

TEST_ZONE = """\
$ORIGIN test.
$TTL 300
@ SOA ns.test. admin.test. 1 3600 600 86400 300
@ NS ns.test.
ns A 127.0.0.1
plain A 192.0.2.50
*.wild A 192.0.2.10
*.wild A 192.0.2.11
real.wild A 192.0.2.20
*.sub.wild A 192.0.2.30
real.sub.wild A 192.0.2.31
*.cname CNAME target
target A 192.0.2.40
real.cname CNAME other
other A 192.0.2.41
servfail A 192.0.2.90
drop A 192.0.2.91
refused A 192.0.2.92
"""

# A second root in the same nsd, with wildcards at two levels.
EXAMPLE_ZONE = """\
$ORIGIN example.
$TTL 300
@ SOA ns.example. admin.example. 1 3600 600 86400 300
@ NS ns.example.
ns A 127.0.0.1
* A 198.51.100.1
www A 198.51.100.8
*.deep A 198.51.100.7
"""

EXPECTED = {
    "plain.test": Status.FOUND,
    "nope.test": Status.NXDOMAIN,
    "a.wild.test": Status.WILDCARD,
    "b.wild.test": Status.WILDCARD,
    "x.y.wild.test": Status.WILDCARD,  # y.wild.test does not exist: *.wild
    "real.wild.test": Status.FOUND,
    "a.sub.wild.test": Status.WILDCARD,  # the nested *.sub.wild
    "real.sub.wild.test": Status.FOUND,
    "x.cname.test": Status.WILDCARD,  # CNAME wildcard: the chain's end compared
    "real.cname.test": Status.FOUND,
    "q.example": Status.WILDCARD,
    "www.example": Status.FOUND,
    "q.deep.example": Status.WILDCARD,
}


@pytest.fixture(scope="module")
def wild_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """nsd serving ``test.`` and ``example.`` (several zones: extra_config)."""
    directory: Path = tmp_path_factory.mktemp("nsd-wild")
    (directory / "example.db").write_text(EXAMPLE_ZONE)
    extra = f'zone:\n    name: example\n    zonefile: "{directory / "example.db"}"\n'
    with serving_nsd(
        "test",
        TEST_ZONE,
        nsd=find_binary("nsd"),
        directory=directory,
        extra_config=extra,
    ) as port:
        yield port


# --- the decision, fed values ---------------------------------------------


def test_parent_zone() -> None:
    assert parent_zone("a.b.test") == "b.test"
    assert parent_zone("a.test.") == "test"
    assert parent_zone("test") is None
    assert parent_zone("") is None


def test_random_labels_are_twelve_characters_and_differ() -> None:
    rng = random.Random(7)
    labels = {random_label(rng) for _ in range(50)}
    assert len(labels) == 50
    assert all(len(label) == 12 and label.isalnum() for label in labels)


def test_summarize_unions_found_addresses_and_counts_failures() -> None:
    answers = [
        Answer(Status.FOUND, ("192.0.2.1",)),
        Answer(Status.FOUND, ("192.0.2.2",)),
        Answer(Status.TIMEOUT),
        Answer(Status.NXDOMAIN),
    ]
    verdict = summarize("z.test", answers)
    assert verdict == Wildcard("z.test", frozenset({"192.0.2.1", "192.0.2.2"}), 1)
    assert verdict.exists
    assert not summarize("z.test", [Answer(Status.NXDOMAIN)] * 3).exists


def test_is_wildcard_is_a_subset_of_the_wildcards_addresses() -> None:
    wild = Wildcard("z.test", frozenset({"192.0.2.1", "192.0.2.2"}))
    assert is_wildcard(["192.0.2.2"], wild)  # load balancing: one of them
    assert is_wildcard(["192.0.2.1", "192.0.2.2"], wild)
    assert not is_wildcard(["192.0.2.1", "192.0.2.9"], wild)  # one of its own
    assert not is_wildcard([], wild)
    assert not is_wildcard(["192.0.2.1"], Wildcard("z.test"))


class _CountingResolver:
    """Every name under ``wild.test`` resolves to 192.0.2.1, slowly; counts asks."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()

    async def lookup(self, name: str) -> Answer:
        self.asked[name.partition(".")[2]] += 1
        await asyncio.sleep(0.05)
        if name.endswith(".wild.test"):
            return Answer(Status.FOUND, ("192.0.2.1",))
        return Answer(Status.NXDOMAIN)


async def test_one_test_per_parent_while_many_names_wait_for_it() -> None:
    resolver = _CountingResolver()
    found = [
        Result(f"n{i}.wild.test", True, addresses=("192.0.2.1",)) for i in range(50)
    ]
    found += [
        Result(f"n{i}.ok.test", True, addresses=("192.0.2.1",)) for i in range(50)
    ]
    async with asyncio.TaskGroup() as tg:
        detector = WildcardDetector(resolver, spawn=tg.create_task, tests=3)
        checked = await asyncio.gather(*(detector.check(r) for r in found))
        assert repr(detector) == "<WildcardDetector tested=2 wildcards=1>"
    assert resolver.asked == {"wild.test": 3, "ok.test": 3}
    statuses = Counter(r.status for r in checked)
    assert statuses == {Status.WILDCARD: 50, Status.FOUND: 50}
    assert all(not r.found for r in checked if r.status is Status.WILDCARD)
    assert set(detector.wildcards) == {"wild.test"}


async def test_a_cancelled_waiter_leaves_the_test_to_the_others() -> None:
    resolver = _CountingResolver()
    result = Result("a.wild.test", True, addresses=("192.0.2.1",))
    async with asyncio.TaskGroup() as tg:
        detector = WildcardDetector(resolver, spawn=tg.create_task)
        first = tg.create_task(detector.check(result))
        await asyncio.sleep(0.01)
        second = tg.create_task(detector.check(result))
        await asyncio.sleep(0)
        first.cancel()
    assert second.result().status is Status.WILDCARD
    assert resolver.asked == {"wild.test": 3}


# --- against nsd -------------------------------------------------------------


@PROBE_HOLDS_THE_LOOP
async def test_stage_marks_wildcards_across_zones_and_levels(wild_port: int) -> None:
    async with DirectResolver([f"127.0.0.1:{wild_port}"], timeout=1) as resolver:
        stage = Refinement(wildcards=resolver)
        results = [r async for r in stage.run(multi_probe(EXPECTED, resolver=resolver))]
    assert {r.domain: r.status for r in results} == EXPECTED
    x = next(r for r in results if r.domain == "x.cname.test")
    assert x.addresses == ("192.0.2.40",)
    assert stage.detector is not None
    assert set(stage.detector.wildcards) == {
        "wild.test",
        "y.wild.test",
        "sub.wild.test",
        "cname.test",
        "example",
        "deep.example",
    }
    assert stage.detector.wildcards["sub.wild.test"].addresses == {"192.0.2.30"}
    assert stage.detector.wildcards["y.wild.test"].addresses == {
        "192.0.2.10",
        "192.0.2.11",
    }
    (line,) = stage.summary()
    assert line.startswith("wildcards: 6 of 7 parent zones tested (*.cname.test, ")
    assert line.endswith("; 7 names reported as WILDCARD")


def _names_file(tmp_path: Path, names: object) -> str:
    path = tmp_path / "names.txt"
    path.write_text("\n".join(names) + "\n")  # type: ignore[call-overload]
    return str(path)


@PROBE_HOLDS_THE_LOOP
def test_cli_prints_wildcards_in_the_not_found_column(
    wild_port, tmp_path, capsys
) -> None:
    names = _names_file(tmp_path, EXPECTED)
    ns = f"127.0.0.1:{wild_port}"
    assert main(["probe", "-i", names, "--nameserver", ns, "--detect-wildcards"]) == 0
    out, err = capsys.readouterr()
    lines = set(out.splitlines()[2:])
    assert "\t\ta.wild.test (WILDCARD)" in lines
    assert "real.wild.test" in lines
    assert "\t\tnope.test" in lines
    assert "WILDCARD 7" in err
    assert "awaitkit probe: wildcards: 6 of 7 parent zones tested" in err


@PROBE_HOLDS_THE_LOOP
def test_cli_filter_wildcards_leaves_them_out(wild_port, tmp_path, capsys) -> None:
    names = _names_file(tmp_path, EXPECTED)
    ns = f"127.0.0.1:{wild_port}"
    argv = ["probe", "-i", names, "--nameserver", ns, "--filter-wildcards", "--json"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    got = {r["domain"]: r["status"] for r in map(json.loads, out.splitlines())}
    assert got == {n: s.value for n, s in EXPECTED.items() if s is not Status.WILDCARD}
    assert "7 names left out" in err
    # Left out of the output, still in the account.
    assert f"probe: {len(EXPECTED)} names in " in err
    assert "WILDCARD 7" in err
    # Without detection the book's answers: every name that resolves is FOUND.
    assert main(["probe", "-i", names, "--nameserver", ns, "--json"]) == 0
    got = {
        r["domain"]: r["status"]
        for r in map(json.loads, capsys.readouterr().out.splitlines())
    }
    assert got["a.wild.test"] == "FOUND"


# --- --verify and poisoning ---------------------------------------------------


def _trusted(tmp_path: Path, port: int) -> str:
    path = tmp_path / "trusted.txt"
    path.write_text(f"# the one we trust\n127.0.0.1:{port}  # nsd\n\n")
    return str(path)


@PROBE_HOLDS_THE_LOOP
async def test_verify_drops_what_a_poisoning_resolver_invents(
    wild_port, tmp_path, capsys
) -> None:
    async with FaultServer() as fault:
        fault.poison = True
        names = _names_file(
            tmp_path, ["plain.test", "nope.test", "nope2.test", "real.wild.test"]
        )
        argv = ["probe", "-i", names, "--json", "--retries", "0", "--concurrency", "1"]
        argv += [
            "--nameserver",
            fault.address,
            "--nameserver",
            f"127.0.0.1:{wild_port}",
        ]
        argv += ["--trusted-resolvers", _trusted(tmp_path, wild_port), "--verify"]
        status = await asyncio.to_thread(main, argv)
    out, err = capsys.readouterr()
    got = {r["domain"]: r for r in map(json.loads, out.splitlines())}
    assert status == 0
    assert got["plain.test"]["addresses"] == ["192.0.2.50"]  # the trusted answer
    assert got["real.wild.test"]["addresses"] == ["192.0.2.20"]
    assert got["nope.test"]["status"] == "NXDOMAIN"
    assert got["nope2.test"]["status"] == "NXDOMAIN"
    assert POISON_ADDRESS not in out
    (line,) = [x for x in err.splitlines() if "verify:" in x]
    # Alternating fault, nsd, ...: nope2.test went to the poisoner; nsd is
    # asked too and is not blamed.
    assert line == (
        "awaitkit probe: verify: 2 confirmed by the trusted resolvers, "
        "1 denied (NXDOMAIN/NODATA there), 0 unanswered by them; "
        f"poisoning: {fault.address} (1)"
    )


@PROBE_HOLDS_THE_LOOP
async def test_without_verify_the_poison_is_reported(
    wild_port, tmp_path, capsys
) -> None:
    async with FaultServer() as fault:
        fault.poison = True
        names = _names_file(tmp_path, ["nope.test"])
        argv = ["probe", "-i", names, "--json", "--nameserver", fault.address]
        assert await asyncio.to_thread(main, argv) == 0
    (record,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert record["addresses"] == [POISON_ADDRESS]


# --- --settle -----------------------------------------------------------------


@PROBE_HOLDS_THE_LOOP
async def test_settle_reprobes_failures_on_the_other_resolver(
    wild_port, tmp_path, capsys
) -> None:
    # --concurrency 1 and no retries: names alternate fault, nsd, fault...
    names = [
        "servfail.test",  # fault: SERVFAIL
        "plain.test",
        "drop.test",  # fault: no answer
        "nope.test",
        "refused.test",  # fault: REFUSED
        "servfail.elsewhere",  # nsd: REFUSED (not its zone); fault: SERVFAIL
    ]
    async with FaultServer() as fault:
        argv = ["probe", "-i", _names_file(tmp_path, names), "--json", "--retries", "0"]
        argv += ["--concurrency", "1", "--timeout", "0.3"]
        argv += [
            "--nameserver",
            fault.address,
            "--nameserver",
            f"127.0.0.1:{wild_port}",
        ]
        plain = await asyncio.to_thread(main, argv)
        first = {
            r["domain"]: r["status"]
            for r in map(json.loads, capsys.readouterr().out.splitlines())
        }
        settled = await asyncio.to_thread(main, [*argv, "--settle"])
    out, err = capsys.readouterr()
    got = {r["domain"]: r["status"] for r in map(json.loads, out.splitlines())}
    assert plain == 1
    assert first["servfail.test"] == "SERVFAIL"
    assert first["drop.test"] == "TIMEOUT"
    assert settled == 1  # one name never settles
    assert got["servfail.test"] == got["drop.test"] == got["refused.test"] == "FOUND"
    assert got["plain.test"] == "FOUND"
    assert got["nope.test"] == "NXDOMAIN"
    assert got["servfail.elsewhere"] in {"SERVFAIL", "REFUSED"}
    (line,) = [x for x in err.splitlines() if "settle:" in x]
    assert (
        "4 re-probed in 3 rounds, 3 settled, 1 never settled: servfail.elsewhere ("
        in line
    )


# --- bad input ------------------------------------------------------------------


def test_resolver_file_reader(tmp_path) -> None:
    path = tmp_path / "r.txt"
    path.write_bytes(b"# c\n192.0.2.1\n\n[2001:db8::1]:5353 # v6\n2001:db8::2\n")
    assert read_resolver_file(str(path)) == [
        "192.0.2.1:53",
        "[2001:db8::1]:5353",
        "[2001:db8::2]:53",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"192.0.2.1\nnot-an-ip\n", "line 2: not a resolver (IP[:PORT]): 'not-an-ip'"),
        (b"192.0.2.\xff\n", "line 1: not a resolver"),
        (b"1" * 5000 + b"\n", "line 1: not a resolver"),
        (b"# nothing\n\n", "no resolver in"),
        (b"192.0.2.1:99999\n", "line 1: not a resolver"),
    ],
)
def test_bad_trusted_resolver_files_exit_2(tmp_path, capsys, content, message) -> None:
    path = tmp_path / "trusted.txt"
    path.write_bytes(content)
    argv = ["probe", "dev", "--nameserver", "127.0.0.1", "--verify"]
    assert main([*argv, "--trusted-resolvers", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--verify"], "--verify needs --trusted-resolvers FILE"),
        (["--trusted-resolvers", "/nonexistent"], "--trusted-resolvers needs --verify"),
        (
            ["--verify", "--trusted-resolvers", "/nonexistent"],
            "cannot read resolvers /nonexistent",
        ),
        (["--wildcard-tests", "3"], "--wildcard-tests needs --detect-wildcards"),
        (["--detect-wildcards", "--wildcard-tests", "0"], "between 1 and 100"),
        (["--settle-rounds", "2"], "--settle-rounds needs --settle"),
        (["--settle", "--settle-rounds", "1000"], "between 1 and 100"),
    ],
)
def test_contradictory_options_exit_2(capsys, extra, message) -> None:
    assert main(["probe", "dev", "--nameserver", "127.0.0.1", *extra]) == 2
    assert message in capsys.readouterr().err


class _SlowResolver:
    """Zone tests that would take a minute."""

    async def lookup(self, name: str) -> Answer:
        await asyncio.sleep(60)
        return Answer(Status.NXDOMAIN)


async def test_leaving_the_stage_early_cancels_its_checks() -> None:
    async def source():
        yield Result("nope.test", False)
        for i in range(20):
            yield Result(f"a.p{i}.test", True, addresses=("192.0.2.1",))

    stage = Refinement(wildcards=_SlowResolver(), concurrency=4)
    async with asyncio.timeout(5):
        async with contextlib.aclosing(stage.run(source())) as results:
            async for result in results:
                assert result.domain == "nope.test"
                break
    assert stage.detector is not None
    assert stage.detector.tested == 0


class _Scripted:
    """Answers from a table; ``calls`` counts lookups per name."""

    def __init__(self, table: dict[str, list[Answer]]) -> None:
        self.table = table
        self.calls: Counter[str] = Counter()

    async def lookup(self, name: str) -> Answer:
        self.calls[name] += 1
        answers = self.table[name]
        return answers.pop(0) if len(answers) > 1 else answers[0]


async def test_settle_through_one_resolver_until_the_rounds_run_out() -> None:
    """The system resolver has no 'other' nameservers: the same one, later."""
    resolver = _Scripted(
        {
            "late.test": [Answer(Status.TIMEOUT), Answer(Status.FOUND, ("192.0.2.1",))],
            "never.test": [Answer(Status.SERVFAIL)],
            "ok.test": [Answer(Status.NXDOMAIN)],
        }
    )
    stage = Refinement(
        settle=lambda _: contextlib.nullcontext(resolver), settle_rounds=2
    )
    names = ["late.test", "never.test", "ok.test"]
    got = [r async for r in stage.run(multi_probe(names, resolver=resolver))]
    assert {r.domain: r.status for r in got} == {
        "late.test": Status.FOUND,
        "never.test": Status.SERVFAIL,
        "ok.test": Status.NXDOMAIN,
    }
    assert got[-1].domain == "never.test"  # held back until the rounds are done
    assert resolver.calls == {"late.test": 2, "never.test": 3, "ok.test": 1}
    assert stage.summary() == [
        "settle: 2 re-probed in 2 rounds, 1 settled, 1 never settled: "
        "never.test (SERVFAIL)"
    ]


async def test_verify_blames_the_only_resolver_without_asking_it() -> None:
    trusted = _Scripted(
        {
            "fake.test": [Answer(Status.NXDOMAIN)],
            "real.test": [Answer(Status.FOUND, ("192.0.2.9",))],
            "flaky.test": [Answer(Status.TIMEOUT)],
        }
    )
    verifier = Verifier(trusted, suspects=[("192.0.2.53:53", None)])
    found = [Result(n, True, addresses=("192.0.2.66",)) for n in trusted.table]
    got = [await verifier.check(r) for r in [*found, Result("nx.test", False)]]
    assert [r.status for r in got] == [
        Status.NXDOMAIN,
        Status.FOUND,
        Status.TIMEOUT,
        Status.NXDOMAIN,
    ]
    assert got[1].addresses == ("192.0.2.9",)  # the trusted answer is reported
    assert verifier.poisoning == {"192.0.2.53:53": 1}
    assert (verifier.verified, verifier.contradicted, verifier.unanswered) == (1, 1, 1)
    assert "nx.test" not in trusted.calls  # only FOUND names are re-asked


@PROBE_HOLDS_THE_LOOP
async def test_wildcard_tests_go_to_the_trusted_resolvers(
    wild_port, tmp_path, capsys
) -> None:
    """A poisoning resolver makes every parent look wildcarded; trusted ones don't."""
    async with FaultServer() as fault:
        fault.poison = True
        names = _names_file(tmp_path, ["plain.test", "a.wild.test"])
        argv = ["probe", "-i", names, "--json", "--nameserver", fault.address]
        argv += ["--detect-wildcards"]
        poisoned = await asyncio.to_thread(main, argv)
        fooled = {
            r["domain"]: r["status"]
            for r in map(json.loads, capsys.readouterr().out.splitlines())
        }
        argv += ["--trusted-resolvers", _trusted(tmp_path, wild_port)]
        assert await asyncio.to_thread(main, argv) == poisoned == 0
    out, err = capsys.readouterr()
    got = {r["domain"]: r["status"] for r in map(json.loads, out.splitlines())}
    assert fooled == {"plain.test": "WILDCARD", "a.wild.test": "WILDCARD"}
    # The poisoner's address is not *.wild.test's, so nothing matches it.
    assert got == {"plain.test": "FOUND", "a.wild.test": "FOUND"}
    assert "wildcards: 1 of 2 parent zones tested (*.wild.test)" in err


async def test_check_now_decides_only_once_the_parent_is_known() -> None:
    resolver = _CountingResolver()
    result = Result("a.wild.test", True, addresses=("192.0.2.1",))
    async with asyncio.TaskGroup() as tg:
        detector = WildcardDetector(resolver, spawn=tg.create_task)
        assert detector.check_now(result) is None
        waiting = tg.create_task(detector.check(result))
        await asyncio.sleep(0)
        assert detector.check_now(result) is None  # under test: wait for it
        await waiting
        marked = detector.check_now(result)
    assert marked is not None
    assert marked.status is Status.WILDCARD
    nx = Result("b.wild.test", False)
    assert detector.check_now(nx) is nx  # nothing to decide
    assert resolver.asked == {"wild.test": 3}


# --- --rate-trusted -------------------------------------------------------------


def _refinement(tmp_path: Path, *argv: str) -> Refinement | None:
    from awaitkit.cli import build_parser
    from awaitkit.probe._refine import refinement_from_args

    trusted = tmp_path / "trusted.txt"
    trusted.write_text("127.0.0.1:53\n")
    args = build_parser().parse_args(
        ["probe", "test", "--trusted-resolvers", str(trusted), "--verify", *argv]
    )
    return refinement_from_args(args, DirectResolver(["127.0.0.1:53"]), 10)


@pytest.mark.parametrize(
    ("argv", "rate"),
    [
        ((), 500.0),
        (("--rate-trusted", "20"), 20.0),
        (("--rate-limit-trusted", "0"), None),
    ],
)
def test_trusted_resolvers_are_rate_limited(tmp_path, argv, rate) -> None:
    stage = _refinement(tmp_path, *argv)
    assert stage is not None
    assert stage.verifier is not None
    assert stage.verifier.trusted.rate == rate


@pytest.mark.parametrize("value", ["-1", "nan", "fast"])
def test_rate_trusted_must_be_a_rate(tmp_path, capsys, value) -> None:
    trusted = tmp_path / "trusted.txt"
    trusted.write_text("127.0.0.1:53\n")
    argv = ["probe", "test", "--trusted-resolvers", str(trusted), "--verify"]
    try:
        status = main([*argv, "--rate-trusted", value])
    except SystemExit as exc:  # argparse's own check of the number
        status = exc.code
    assert status == 2
    assert "--rate-trusted" in capsys.readouterr().err
