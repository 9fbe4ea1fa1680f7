"""Fault rules fed requests directly (sans-I/O): matching, actions, schedules, limits."""

from __future__ import annotations

import random
import time

import pytest

from awaitkit.core import UsageError
from awaitkit.flags import Action, Fault, Policy, Rule, RuleError, RuleSet
from awaitkit.flags._policy import draw, seed_key
from awaitkit.flags._rules import MAX_COUNTERS, MAX_RULES, request_path

GIF = "/flags/br/br.gif"


def decide(rules: RuleSet, path: str = GIF, **kw: object) -> Action | None:
    client = str(kw.pop("client", "c1"))
    method = str(kw.pop("method", "GET"))
    headers = kw.pop("headers", {})
    assert isinstance(headers, dict)
    return rules.decide(client, method, path, headers)


def test_first_matching_rule_wins_and_none_when_nothing_matches() -> None:
    rules = RuleSet(
        [
            {"path": "/flags/*/br.gif", "status": 404},
            {"path": "/flags/*", "status": 500},
        ]
    )
    first = decide(rules)
    assert first is not None
    assert first.status == 404
    assert first.rule == "r1"
    other = decide(rules, "/flags/fr/fr.gif")
    assert other is not None
    assert other.status == 500
    assert other.rule == "r2"
    assert decide(rules, "/other") is None


def test_glob_star_crosses_slashes_and_exact_paths_are_exact() -> None:
    rules = RuleSet(
        [{"path": "/flags/*.gif", "status": 500}, {"path": "/x", "status": 501}]
    )
    assert decide(rules, "/flags/br/br.gif") is not None
    assert decide(rules, "/flags/br/metadata.json") is None
    hit = decide(rules, "/x")
    assert hit is not None
    assert hit.status == 501
    assert decide(rules, "/x/") is None
    assert decide(rules, "/X") is None  # paths are case-sensitive


def test_glob_classes_and_question_mark() -> None:
    rules = RuleSet([{"path": "/flags/[a-c]?/*", "status": 500}])
    assert decide(rules, "/flags/br/br.gif") is not None
    assert decide(rules, "/flags/fr/fr.gif") is None


def test_regex_is_searched_after_re_prefix() -> None:
    rules = RuleSet([{"path": r"re:^/flags/(br|fr)/\w+\.gif$", "status": 500}])
    assert decide(rules, "/flags/fr/fr.gif") is not None
    assert decide(rules, "/flags/de/de.gif") is None
    assert decide(rules, "/flags/br/metadata.json") is None


def test_method_matches_case_insensitively_in_the_rule() -> None:
    rules = RuleSet([{"method": "head", "status": 500}])
    assert rules.rules()[0].method == "HEAD"
    assert decide(rules, method="HEAD") is not None
    assert decide(rules, method="GET") is None


def test_header_names_ignore_case_and_values_are_globs() -> None:
    rules = RuleSet(
        [{"headers": {"User-Agent": "curl/*", "X-Env": "ci"}, "status": 500}]
    )
    hit = {"user-agent": "curl/8.5", "x-env": "ci"}
    assert decide(rules, headers=hit) is not None
    # RuleSet.decide takes the server's lower-cased names; Rule.matches any case.
    assert rules.rules()[0].matches(
        "GET", "/", {"User-Agent": "curl/8", "X-ENV": "ci"}, 1
    )
    assert decide(rules, headers={"user-agent": "wget", "x-env": "ci"}) is None
    assert decide(rules, headers={"user-agent": "curl/8"}) is None  # one missing


def test_attempts_count_per_client_and_path() -> None:
    rules = RuleSet([{"path": "/flags/*", "attempts": [2], "status": 503}])
    got = [decide(rules) for _ in range(3)]
    assert [a is not None for a in got] == [False, True, False]
    # Another client, another path: their own counters.
    assert decide(rules, client="c2") is None
    assert decide(rules, client="c2") is not None
    assert decide(rules, "/flags/fr/fr.gif") is None
    assert rules.attempts_of("c1", GIF) == 3
    rules.reset_attempts()
    assert decide(rules) is None
    assert decide(rules) is not None


def test_attempts_as_range_string_and_single_number() -> None:
    assert Rule.from_dict({"attempts": "2-4"}).attempts == frozenset({2, 3, 4})
    assert Rule.from_dict({"attempts": 3}).attempts == frozenset({3})


def test_schedule_runs_by_attempt_and_its_last_entry_repeats() -> None:
    rules = RuleSet([{"path": "/flags/*", "schedule": ["503", "reset@1000", "200"]}])
    outcomes = []
    for _ in range(5):
        action = decide(rules)
        assert action is not None
        outcomes.append((action.fault, action.status, action.at))
    assert outcomes == [
        (Fault.UNAVAILABLE, 503, None),
        (Fault.RESET, None, 1000),
        (Fault.NONE, None, None),
        (Fault.NONE, None, None),
        (Fault.NONE, None, None),
    ]


def test_schedule_last_failure_repeats_too() -> None:
    rules = RuleSet([{"schedule": ["200", "429"]}])
    faults = [decide(rules).fault for _ in range(4)]  # type: ignore[union-attr]
    assert faults == [Fault.NONE, Fault.RATE_LIMIT, Fault.RATE_LIMIT, Fault.RATE_LIMIT]


def test_schedule_entries_combine_and_inherit_rule_fields() -> None:
    rule = Rule.from_dict(
        {
            "delay": 0.25,
            "retry_after": 7,
            "schedule": [
                "delay@1+503",
                "close@10+rate@100",
                "stall@0",
                "reset",
                {"status": 418, "body": "teapot\n"},
                "ok",
            ],
        }
    )
    key = seed_key(1)
    a = [rule.action(key, "/p", n) for n in range(1, 7)]
    assert (a[0].delay, a[0].status, a[0].retry_after) == (1.0, 503, 7)
    assert (a[1].fault, a[1].at, a[1].rate, a[1].delay) == (
        Fault.TRUNCATE,
        10,
        100,
        0.25,
    )
    assert (a[2].fault, a[2].at) == (Fault.STALL, 0)
    assert (a[3].fault, a[3].at) == (Fault.RESET, None)  # half the body
    assert (a[4].fault, a[4].status, a[4].body) == (Fault.STATUS, 418, b"teapot\n")
    assert (a[5].fault, a[5].delay) == (Fault.NONE, 0.25)


@pytest.mark.parametrize(
    ("fields", "fault"),
    [
        ({"status": 500}, Fault.STATUS),
        ({"status": 429}, Fault.RATE_LIMIT),
        ({"status": 503, "retry_after": 3}, Fault.UNAVAILABLE),
        ({"reset": 100}, Fault.RESET),
        ({"close": 100}, Fault.TRUNCATE),
        ({"stall": 0, "stall_timeout": 0.5}, Fault.STALL),
        ({"rate": 1000}, Fault.THROTTLE),
        ({"delay": "0.1-0.2"}, Fault.NONE),
        ({}, Fault.NONE),
    ],
)
def test_each_action_field_gives_its_fault(
    fields: dict[str, object], fault: Fault
) -> None:
    rules = RuleSet([fields])
    action = decide(rules)
    assert action is not None
    assert action.fault is fault


def test_status_body_and_response_headers() -> None:
    rules = RuleSet(
        [{"status": 502, "body": "gateway é\n", "response_headers": {"X-Fault": "yes"}}]
    )
    action = decide(rules)
    assert action is not None
    assert action.body == "gateway é\n".encode()
    assert action.headers == (("X-Fault", "yes"),)


def test_jitter_is_drawn_per_path_and_attempt_not_per_call_order() -> None:
    def run(order: list[tuple[str, str]]) -> dict[tuple[str, str, int], float]:
        rules = RuleSet([{"delay": "0.1-0.9"}], seed=5)
        out = {}
        for client, path in order:
            action = rules.decide(client, "GET", path, {})
            assert action is not None
            assert 0.1 <= action.delay <= 0.9
            out[(client, path, rules.attempts_of(client, path))] = action.delay
        return out

    order = [(c, p) for c in ("a", "b") for p in ("/x", "/y", "/x")]
    shuffled = order[:]
    random.Random(1).shuffle(shuffled)
    first = run(order)
    assert run(shuffled) == first
    assert len(set(first.values())) > 2


def test_seed_changes_the_draws_and_none_is_random() -> None:
    assert draw(seed_key(1), "/x", 1) == draw(seed_key(1), "/x", 1)
    assert draw(seed_key(1), "/x", 1) != draw(seed_key(2), "/x", 1)
    assert draw(seed_key(1), "/x", 1) != draw(seed_key(1), "/x", 2)
    assert seed_key(None) != seed_key(None)
    a, b = draw(seed_key(3), "/\udcff", 1)  # a non-UTF-8 path (surrogateescape)
    assert 0 <= a < 1
    assert 0 <= b < 1


def test_policy_rates_per_path_and_attempt() -> None:
    """The global rates drawn with draw(): the same outcome for the same attempt."""
    policy = Policy(error_rate=0.3, reset_rate=0.3, delay=(0.0, 1.0))
    key = seed_key(9)
    got = [policy.decide_at(key, f"/p{i}", n) for i in range(200) for n in (1, 2)]
    again = [policy.decide_at(key, f"/p{i}", n) for i in range(200) for n in (1, 2)]
    assert got == again
    faults = {a.fault for a in got}
    assert faults == {Fault.NONE, Fault.ERROR, Fault.RESET}
    share = sum(a.fault is Fault.ERROR for a in got) / len(got)
    assert 0.2 < share < 0.4


def test_add_remove_clear_while_deciding() -> None:
    seen: list[int] = []
    rules = RuleSet()
    rules.subscribe(lambda: seen.append(len(rules)))
    assert not rules
    assert decide(rules) is None
    rule = rules.add({"id": "boom", "status": 500})
    assert rule.id == "boom"
    assert decide(rules) is not None
    generated = rules.add(Rule(path="/x", status=501))
    assert generated.id == "r1"
    with pytest.raises(RuleError, match="already in use"):
        rules.add({"id": "boom"})
    assert rules.remove("boom")
    assert not rules.remove("boom")
    assert decide(rules) is None  # the path cache forgot the removed rule
    assert [r.id for r in rules.rules()] == ["r1"]
    rules.clear()
    assert len(rules) == 0
    assert seen == [1, 2, 1, 0]


def test_generated_ids_skip_taken_ones() -> None:
    rules = RuleSet([{"id": "r1"}, {}, {}])
    assert [r.id for r in rules.rules()] == ["r1", "r2", "r3"]


def test_to_dict_round_trips() -> None:
    data: dict[str, object] = {
        "id": "x",
        "method": "GET",
        "path": "re:^/a",
        "headers": {"x-client-id": "t*"},
        "attempts": [1, 3],
        "status": 503,
        "body": "no\n",
        "response_headers": {"X-A": "1"},
        "retry_after": 2,
        "delay": [0.1, 0.5],
        "stall_timeout": 2.0,
        "rate": 10,
    }
    rule = Rule.from_dict(data)
    assert rule.to_dict() == data
    again = Rule.from_dict(rule.to_dict())
    assert again.to_dict() == data
    sched = Rule.from_dict({"schedule": ["503", {"status": 500}]})
    assert Rule.from_dict(sched.to_dict()).to_dict() == sched.to_dict()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "500"}, "status: must be an integer"),
        ({"status": 99}, "status: must be 200..599"),
        ({"status": True}, "status: must be an integer"),
        ({"reset": -1}, "reset: must be 0.."),
        ({"reset": 1, "close": 2}, "close: cannot be combined with reset"),
        ({"status": 500, "stall": 1}, "stall: cannot be combined with status"),
        ({"body": "x"}, "body: needs a status"),
        ({"delay": "5-1"}, "delay"),
        ({"delay": float("nan")}, "delay"),
        ({"delay": [1]}, "delay"),
        ({"rate": 0}, "rate: must be 1.."),
        ({"stall_timeout": 0}, "stall_timeout"),
        ({"retry_after": -1}, "retry_after"),
        ({"attempts": 0}, "attempts"),
        ({"attempts": "1-x"}, "attempts"),
        ({"attempts": "1-1000000"}, "attempts"),
        ({"attempts": []}, "attempts"),
        ({"method": "GE T"}, "method"),
        ({"method": 1}, "method: must be a string"),
        ({"path": 5}, "path: must be a string"),
        ({"headers": {"bad name": "x"}}, "bad header name"),
        ({"headers": ["x"]}, "headers: must be a table"),
        ({"response_headers": {"X": "a\r\nb"}}, "CR, LF"),
        ({"response_headers": {"Content-Length": "5"}}, "may not set"),
        ({"response_headers": {"X": "→"}}, "not Latin-1"),
        ({"schedule": "503"}, "schedule: must be a list"),
        ({"schedule": ["teapot"]}, "bad entry 'teapot'"),
        ({"schedule": ["delay"]}, "delay needs @VALUE"),
        ({"schedule": ["reset@x"]}, "reset: must be a whole number"),
        ({"schedule": [None]}, "bad entry None"),
        ({"schedule": ["503+429"]}, "says status twice"),
        ({"schedule": ["delay@1+delay@2"]}, "says delay twice"),
        ({"schedule": ["reset@1+close@2"]}, "close: cannot be combined with reset"),
        ({"schedule": ["\uff15\uff10\uff13"]}, "bad entry"),  # full-width 503
        ({"schedule": [{"color": 1}]}, "unknown field"),
        ({"schedule": ["503"], "status": 500}, "put it in the schedule"),
        ({"schedule": ["503"] * 1001}, "more than 1000"),
        ({"colour": "red"}, "unknown field"),
        ({"id": "a/b"}, "id:"),
        ({"id": 7}, "id: must be a string"),
        ({"body": "x" * (1024 * 1024 + 1), "status": 500}, "longer than"),
    ],
)
def test_bad_rules_name_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("(", r"\(")) as info:
        Rule.from_dict(fields, where="rules.toml line 3")
    assert str(info.value).startswith("rules.toml line 3")
    assert isinstance(info.value, UsageError)  # exit status 2 from the CLI


def test_from_dict_refuses_a_non_table() -> None:
    with pytest.raises(RuleError, match="must be a table"):
        Rule.from_dict(["path"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "pattern",
    [
        "re:(a+)+$",
        "re:(a*)*b",
        "re:(a|aa)+$",
        "re:((ab)*)+",
        "re:(x+){10}",
        "re:(?:a+)+",
        r"re:(a)\1",
        "re:(?P<x>a)(?P=x)",
        "re:a.*b.*c.*d.*e.*",
        "re:(",
        "re:[",
        "re:a{2,1}",
        "re:" + "a" * 1025,
        "*" * 1025,
    ],
)
def test_hostile_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(RuleError, match="path"):
        Rule(path=pattern)


def test_safe_regexes_pass_the_check() -> None:
    for pattern in (
        r"re:^/a/\d+$",
        r"re:[(+)]+",
        r"re:\(a+\)+",
        "re:(ab)?c+",
        "re:(a|b)",
    ):
        Rule(path=pattern)


def test_huge_globs_match_in_bounded_time() -> None:
    rule = Rule(path="*a" * 500)  # 1000 characters, 500 stars
    path = "/" + "a" * 8000 + "b"
    start = time.perf_counter()
    assert not rule.matches("GET", path, {}, 1)
    assert rule.matches("GET", "a" * 600, {}, 1)
    assert time.perf_counter() - start < 30  # linear in fnmatch; a hang would time out


def test_regex_rules_skip_very_long_paths() -> None:
    rule = Rule(path="re:a")
    assert rule.matches("GET", "/a", {}, 1)
    assert not rule.matches("GET", "/" + "a" * 2000, {}, 1)


def test_non_utf8_paths_match_as_surrogates() -> None:
    rules = RuleSet(
        [{"path": "/caf\udce9", "status": 500}, {"path": "/é*", "status": 501}]
    )
    odd = request_path(b"/caf%E9")
    assert odd == "/caf\udce9"
    hit = decide(rules, odd)
    assert hit is not None
    assert hit.status == 500
    utf8 = decide(rules, request_path(b"/%C3%A9t%C3%A9"))
    assert utf8 is not None
    assert utf8.status == 501
    assert decide(rules, request_path(b"/\xff\xfe")) is None


def test_request_path_strips_query_and_authority() -> None:
    assert request_path(b"/a/b?c=d#e") == "/a/b"
    assert request_path(b"http://host:1/x/y?z") == "/x/y"
    assert request_path(b"HTTPS://host") == "/"
    assert request_path(b"*") == "*"
    assert request_path(b"/%2F%00") == "//\x00"


def test_many_rules_and_the_path_cache() -> None:
    rules = RuleSet([{"path": f"/nomatch/{i}/*", "status": 500} for i in range(200)])
    rules.add({"path": "/flags/*", "schedule": ["503", "200"]})
    for i in range(3000):  # more distinct paths than the cache holds
        action = decide(rules, f"/flags/{i}")
        assert action is not None
        assert action.fault is Fault.UNAVAILABLE
    assert decide(rules, "/nomatch/7/x") is not None
    assert decide(rules, "/elsewhere") is None


def test_rule_count_is_bounded() -> None:
    rules = RuleSet([{"path": "/x"}] * MAX_RULES)
    with pytest.raises(RuleError, match="more than"):
        rules.add({})


def test_attempt_counters_are_bounded() -> None:
    rules = RuleSet()
    for i in range(MAX_COUNTERS + 10):
        rules.count("c", f"/p{i}")
    assert rules.attempts_of("c", f"/p{MAX_COUNTERS + 9}") == 1
    assert rules.attempts_of("c", "/p0") == 0  # forgotten, oldest first
    assert len(rules._attempts) <= MAX_COUNTERS


def test_long_client_ids_and_paths_are_counted_by_digest() -> None:
    rules = RuleSet([{"attempts": [2], "status": 500}])
    client, path = "c" * 30_000, "/" + "p" * 8000
    assert rules.decide(client, "GET", path, {}) is None
    hit = rules.decide(client, "GET", path, {})
    assert hit is not None
    assert hit.status == 500
    assert rules.attempts_of(client, path) == 2
    assert rules.attempts_of(client + "x", path) == 0
    assert all(len(a) + len(b) <= 512 for a, b in rules._attempts)


def test_rule_order_holds_across_header_blocks() -> None:
    """Runs of rules needing one header are skipped together, order kept."""
    rules = RuleSet(
        [
            {"headers": {"x-a": "1"}, "status": 500},
            {"headers": {"x-a": "2"}, "status": 501},
            {"path": "/p", "status": 502},
            {"headers": {"x-a": "*"}, "status": 503},
            {"headers": {"x-b": "*", "x-a": "3"}, "status": 504},
        ]
    )

    def status(headers: dict[str, str], path: str = "/p") -> int | None:
        action = rules.decide("c", "GET", path, headers)
        return None if action is None else action.status

    assert status({"x-a": "1"}) == 500
    assert status({"x-a": "2"}) == 501
    assert status({"x-a": "3"}) == 502
    assert status({}) == 502
    assert status({"x-a": "9"}, "/q") == 503
    assert status({"x-b": "y", "x-a": "3"}, "/q") == 503
    assert status({"x-b": "y"}, "/q") is None
    assert status({}, "/q") is None
