"""The fault policy is pure: presets, draws, validation, parsing."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from awaitkit.core import UsageError
from awaitkit.flags import Fault, Policy, parse_delay
from awaitkit.flags._policy import PRESETS


def test_presets_match_the_book() -> None:
    """LOCAL has no faults, DELAY waits 0.5-5 s, ERROR is 25 % 418 after 0.5 s."""
    assert PRESETS["LOCAL"].is_faultless
    assert PRESETS["DELAY"].delay == (0.5, 5.0)
    error = PRESETS["ERROR"]
    assert (error.error_rate, error.error_status, error.delay) == (
        0.25,
        418,
        (0.5, 0.5),
    )


def test_preset_lookup_and_overrides() -> None:
    """Preset names are case-insensitive; options replace fields."""
    policy = Policy.preset("error", delay="0.1-0.2", error_status=500)
    assert policy.delay == (0.1, 0.2)
    assert policy.error_status == 500
    assert policy.error_rate == 0.25
    assert Policy.preset("LOCAL", delay=1).delay == (1.0, 1.0)
    with pytest.raises(UsageError, match="unknown preset"):
        Policy.preset("FAST")
    with pytest.raises(UsageError, match="unknown fault option"):
        Policy.preset("LOCAL", eror_rate=0.1)


def test_seeded_sequence_repeats() -> None:
    """The same seed gives the same decisions, another seed others."""
    policy = Policy(delay=(0.0, 1.0), error_rate=0.2, reset_rate=0.2, stall_rate=0.1)
    first = [policy.decide(random.Random(7)) for _ in range(1)]
    rng_a, rng_b, rng_c = random.Random(7), random.Random(7), random.Random(8)
    seq_a = [policy.decide(rng_a) for _ in range(200)]
    seq_b = [policy.decide(rng_b) for _ in range(200)]
    seq_c = [policy.decide(rng_c) for _ in range(200)]
    assert seq_a == seq_b != seq_c
    assert seq_a[0] == first[0]


def test_two_draws_per_request_whatever_the_policy() -> None:
    """Changing a rate changes which fault, never how the stream is consumed."""
    rng_a, rng_b = random.Random(1), random.Random(1)
    Policy().decide(rng_a)
    Policy(error_rate=1.0, delay=(1, 2)).decide(rng_b)
    assert rng_a.random() == rng_b.random()


def test_rates_are_respected() -> None:
    """Over many draws each fault shows up about as often as its rate says."""
    policy = Policy(
        error_rate=0.1,
        rate_limit_rate=0.1,
        unavailable_rate=0.1,
        reset_rate=0.1,
        truncate_rate=0.1,
        stall_rate=0.1,
    )
    rng = random.Random(3)
    counts = Counter(policy.decide(rng).fault for _ in range(20_000))
    rule_only = {Fault.STATUS, Fault.THROTTLE}  # faults only a rule gives
    assert not rule_only & set(counts)
    for fault in set(Fault) - rule_only:
        expected = 0.4 if fault is Fault.NONE else 0.1
        assert abs(counts[fault] / 20_000 - expected) < 0.02, fault


def test_delays_fall_in_range() -> None:
    """Uniform delays stay within MIN-MAX and use the whole range."""
    policy = Policy(delay=(0.5, 5.0))
    rng = random.Random(0)
    delays = [policy.decide(rng).delay for _ in range(2_000)]
    assert 0.5 <= min(delays) < 0.6
    assert 4.9 < max(delays) <= 5.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"error_rate": -0.1},
        {"reset_rate": 1.5},
        {"error_rate": 0.6, "stall_rate": 0.6},
        {"error_status": 200},
        {"retry_after": -1},
        {"delay": (2.0, 1.0)},
        {"delay": (float("nan"), 1.0)},
        {"stall_timeout": 0},
    ],
)
def test_invalid_policies_are_usage_errors(kwargs: dict[str, object]) -> None:
    """Out-of-range rates, statuses and delays are refused up front."""
    with pytest.raises(UsageError):
        Policy(**kwargs)  # type: ignore[arg-type]


def test_parse_delay() -> None:
    """SECONDS or MIN-MAX; anything else is a usage error."""
    assert parse_delay("0.5") == (0.5, 0.5)
    assert parse_delay("0.5-5") == (0.5, 5.0)
    for bad in ("", "x", "1-x", "3-1", "-1", "inf"):
        with pytest.raises(UsageError):
            parse_delay(bad)


def test_fault_kinds() -> None:
    """Status faults replace the response; body faults break it."""
    replacing = {f for f in Fault if f.replaces_response}
    assert replacing == {Fault.ERROR, Fault.RATE_LIMIT, Fault.UNAVAILABLE, Fault.STATUS}
    breaking = {f for f in Fault if f.breaks_body}
    assert breaking == {Fault.RESET, Fault.TRUNCATE, Fault.STALL}
