"""The fault decision both the flags server and the proxy use (sans-I/O)."""

from __future__ import annotations

import asyncio
from collections import Counter

from awaitkit.flags._decide import NO_FAULT, FaultDecider
from awaitkit.flags._files import MemoryFiles
from awaitkit.flags._forward import Upstream
from awaitkit.flags._policy import Fault, Policy
from awaitkit.flags._proxy_site import ProxySite
from awaitkit.flags._rules import RuleSet
from awaitkit.flags._site import Site
from awaitkit.flags._upstream import UpstreamPool


def test_no_rules_and_no_rates_take_the_fast_path_until_a_rule_comes() -> None:
    rules = RuleSet()
    decider = FaultDecider(Policy.preset("LOCAL"), rules, Counter())
    assert decider.fast
    rules.add({"path": "/x", "status": 503})
    assert not decider.fast
    decider.close()
    rules.clear()
    assert not decider.fast  # closed: no longer follows the rule set


def test_a_matching_rule_is_counted_and_wins_over_the_rates() -> None:
    by_rule: Counter[str] = Counter()
    rules = RuleSet([{"id": "r1", "path": "/flags/*", "status": 503}])
    decider = FaultDecider(Policy.preset("LOCAL", error_rate=1.0), rules, by_rule)
    got = decider.decide(b"GET", b"/flags/a%62.gif?x=1", {}, "10.0.0.1")
    assert got.status == 503
    assert by_rule == {"r1": 1}
    other = decider.decide(b"GET", b"/other", {}, "10.0.0.1")
    assert other.fault is Fault.ERROR
    assert decider.decide(b"GET", b"/other", {}, "10.0.0.1").rule == ""


def test_faultless_without_a_match_is_no_fault() -> None:
    rules = RuleSet([{"path": "/only", "status": 500}])
    decider = FaultDecider(Policy.preset("LOCAL"), rules, Counter())
    assert decider.decide(b"GET", b"/\xff\xfe", {}, "::1") is NO_FAULT


def test_the_flags_server_and_the_proxy_decide_alike() -> None:
    loop = asyncio.new_event_loop()
    try:
        policy = Policy.preset("LOCAL", reset_rate=0.3, error_rate=0.3)
        spec = [{"path": "/flags/b*", "attempts": [2], "status": 429}]
        site = Site(
            loop,
            MemoryFiles({}),
            policy,
            RuleSet(spec, seed=7),
            max_connections=1,
            keepalive_timeout=1,
            request_timeout=1,
        )
        pool = UpstreamPool(
            loop,
            Upstream("127.0.0.1", 9),
            limit=1,
            connect_timeout=1,
            read_timeout=1,
            idle_timeout=1,
        )
        proxy = ProxySite(
            loop,
            pool,
            policy,
            RuleSet(spec, seed=7),
            max_connections=1,
            keepalive_timeout=1,
            request_timeout=1,
            cut_after=1,
        )
        targets = [b"/flags/%s.gif" % name for name in (b"a", b"b", b"c", b"b")] * 5
        ours = [site.decide(b"GET", t, {"x-client-id": "c1"}, "-") for t in targets]
        theirs = [proxy.decide(b"GET", t, {"x-client-id": "c1"}, "-") for t in targets]
        assert ours == theirs
        assert {a.fault for a in ours} > {Fault.NONE}  # the rates did draw faults
        assert site.stats.by_rule == proxy.stats.by_rule
        assert sum(site.stats.by_rule.values()) == 1  # b's second attempt only
        site.close()
        proxy.close()
    finally:
        loop.close()
