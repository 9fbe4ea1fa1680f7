"""Client verdicts, fed events by hand (sans-I/O): no server, no clock."""

from __future__ import annotations

from collections.abc import Mapping

from awaitkit.flags._verdicts import Verdicts, range_start

GIF = "/flags/br/br.gif"


def ask(
    v: Verdicts,
    now: float,
    *,
    client: str = "c1",
    path: str = GIF,
    headers: Mapping[str, str] | None = None,
) -> None:
    v.started(client, "GET", path, headers or {}, now)


def answer(
    v: Verdicts,
    now: float,
    status: int = 200,
    *,
    client: str = "c1",
    path: str = GIF,
    fault: str = "none",
    complete: bool = True,
    body_end: int = 0,
    retry_after: float | None = None,
) -> None:
    v.finished(
        client,
        path,
        status,
        fault,
        100,
        complete,
        now,
        body_end=body_end,
        retry_after=retry_after,
    )


def report(v: Verdicts, client: str = "c1") -> dict[str, object]:
    return v.report()[client]


def test_retry_after_honoured_and_violated_with_the_shortest_gap() -> None:
    v = Verdicts()
    ask(v, 0.0)
    answer(v, 0.1, 429, fault="rate_limit", retry_after=1.0)
    ask(v, 1.2)  # 1.1 s later: honoured
    answer(v, 1.3, 503, fault="unavailable", retry_after=1.0)
    ask(v, 1.8)  # 0.5 s later: violated
    answer(v, 1.9)
    ask(v, 2.0)  # after a 200: nothing to judge
    answer(v, 2.1)
    assert report(v)["retry_after"] == {
        "honoured": 1,
        "violated": 1,
        "shortest_gap": 0.5,
        "waiting": 0,
    }


def test_retry_after_is_judged_per_path() -> None:
    """A request to another path is not the retry."""
    v = Verdicts()
    ask(v, 0.0)
    answer(v, 0.0, 429, retry_after=2.0)
    ask(v, 0.1, path="/other")
    answer(v, 0.1, path="/other")
    ask(v, 2.5)
    answer(v, 2.5)
    verdict = report(v)["retry_after"]
    assert verdict == {"honoured": 1, "violated": 0, "shortest_gap": 2.5, "waiting": 0}


def test_a_429_without_retry_after_sets_no_expectation() -> None:
    v = Verdicts()
    ask(v, 0.0)
    answer(v, 0.0, 429)
    ask(v, 0.01)
    assert report(v)["retry_after"]["honoured"] == 0  # type: ignore[index]
    assert report(v)["retry_after"]["violated"] == 0  # type: ignore[index]


def test_tolerance_forgives_timer_granularity() -> None:
    v = Verdicts(tolerance=0.01)
    ask(v, 0.0)
    answer(v, 0.0, 503, retry_after=1.0)
    ask(v, 0.995)
    assert report(v)["retry_after"]["honoured"] == 1  # type: ignore[index]


def test_resume_after_a_cut() -> None:
    v = Verdicts()
    for path, rng in [
        ("/a", "bytes=500-"),  # exactly what it holds: resumed
        ("/b", "bytes=100-"),  # less than it holds (kept some back): resumed
        ("/c", None),  # no Range: restarted from 0
        ("/d", "bytes=0-"),  # from 0: restarted
        ("/e", "bytes=900-"),  # past what it got: overshot
    ]:
        ask(v, 0.0, path=path)
        answer(v, 0.1, path=path, fault="reset", complete=False, body_end=500)
        ask(v, 0.2, path=path, headers={"range": rng} if rng else {})
        answer(v, 0.3, 206 if rng else 200, path=path)
    assert report(v)["resume"] == {
        "cuts": 5,
        "resumed": 2,
        "restarted": 2,
        "overshot": 1,
        "waiting": 0,
    }


def test_a_cut_before_any_body_byte_or_a_complete_response_is_not_judged() -> None:
    v = Verdicts()
    ask(v, 0.0)
    answer(v, 0.1, fault="truncate", complete=False, body_end=0)
    ask(v, 0.2)
    answer(v, 0.3, fault="none")
    ask(v, 0.4)
    answer(v, 0.5)
    assert report(v)["resume"]["cuts"] == 0  # type: ignore[index]
    assert report(v)["resume"]["restarted"] == 0  # type: ignore[index]


def test_stall_then_retry_counts_as_a_cut() -> None:
    v = Verdicts()
    ask(v, 0.0)
    answer(v, 0.0, fault="stall", complete=False, body_end=4000)
    ask(v, 5.0, headers={"range": "bytes=4000-"})
    assert report(v)["resume"]["resumed"] == 1  # type: ignore[index]


def test_not_found_rerequests() -> None:
    v = Verdicts()
    for t in range(3):
        ask(v, t, path="/zz")
        answer(v, t, 404, path="/zz")
    ask(v, 9, path="/yy")
    answer(v, 9, 404, path="/yy")
    assert report(v)["not_found_rerequests"] == 2


def test_a_path_found_again_is_no_longer_a_404() -> None:
    v = Verdicts()
    ask(v, 0, path="/x")
    answer(v, 0, 404, path="/x")
    ask(v, 1, path="/x")  # one re-request
    answer(v, 1, 200, path="/x")
    ask(v, 2, path="/x")  # after a 200: not counted
    assert report(v)["not_found_rerequests"] == 1


def test_peak_concurrency_per_client() -> None:
    v = Verdicts()
    for i in range(4):
        ask(v, 0.0, path=f"/p{i}")
    ask(v, 0.0, client="c2")
    for i in range(4):
        answer(v, 1.0, path=f"/p{i}")
    ask(v, 2.0)
    answer(v, 2.0, client="c2")
    assert report(v)["peak_concurrency"] == 4
    assert report(v)["in_flight"] == 1
    assert report(v, "c2")["peak_concurrency"] == 1
    assert report(v, "c2")["requests"] == 1


def test_a_dropped_request_leaves_in_flight_and_sets_nothing() -> None:
    v = Verdicts()
    ask(v, 0.0)
    v.finished("c1", GIF, 0, "rate_limit", 0, False, 0.1, retry_after=1.0)
    ask(v, 0.2)
    assert report(v)["in_flight"] == 1
    assert report(v)["retry_after"]["violated"] == 0  # type: ignore[index]


def test_clients_and_paths_are_bounded() -> None:
    v = Verdicts(max_clients=2, max_paths=3)
    for c in ("a", "b", "c", "d"):
        ask(v, 0.0, client=c)
    assert set(v.report()) == {"a", "b", "other"}
    assert report(v, "other")["requests"] == 2
    for i in range(10):
        answer(v, 0.0, 404, client="a", path=f"/{i}")
    assert list(v.clients["a"].not_found) == ["/7", "/8", "/9"]


def test_reset_forgets_everything() -> None:
    v = Verdicts()
    ask(v, 0.0)
    v.reset()
    assert v.report() == {}


def test_range_start_parses_only_a_first_byte_position() -> None:
    assert range_start({"range": "bytes=10-20"}) == 10
    assert range_start({"range": "bytes = 7 -"}) == 7
    assert range_start({"range": "bytes=-5"}) is None
    assert range_start({"range": "items=1-"}) is None
    assert range_start({"range": "bytes=\udcff-"}) is None
    assert range_start({"range": "bytes=\u0663-"}) is None  # not an ASCII digit
    assert range_start({}) is None
