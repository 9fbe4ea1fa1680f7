"""Result: unpacks as the book's (domain, found), carries status and addresses."""

from __future__ import annotations

import copy
import pickle

import pytest

from awaitkit.probe import Answer, Result, Status


def test_two_name_unpacking_as_in_the_book() -> None:
    result = Result.from_answer("python.org", Answer(Status.FOUND, ("192.0.2.1",)))
    domain, found = result
    assert (domain, found) == ("python.org", True)
    assert len(result) == 2
    assert result[:2] == ("python.org", True)
    assert result.status is Status.FOUND
    assert result.addresses == ("192.0.2.1",)


def test_book_constructor_still_works() -> None:
    assert Result("a.b", True).status is Status.FOUND
    assert Result("a.b", False).status is Status.NXDOMAIN
    with pytest.raises(ValueError, match="contradicts"):
        Result("a.b", True, status=Status.TIMEOUT)


def test_read_only() -> None:
    result = Result("a.b", False, status=Status.TIMEOUT)
    with pytest.raises(AttributeError):
        result.status = Status.FOUND  # type: ignore[misc]


def test_equality_and_hash_cover_status() -> None:
    timeout = Result("a.b", False, status=Status.TIMEOUT)
    nxdomain = Result("a.b", False, status=Status.NXDOMAIN)
    assert timeout != nxdomain
    assert timeout == Result("a.b", False, status=Status.TIMEOUT)
    assert timeout == ("a.b", False)  # still a tuple to plain tuples
    assert len({timeout, nxdomain, Result("a.b", False, status=Status.TIMEOUT)}) == 2


def test_pickle_copy_replace_keep_everything() -> None:
    result = Result("a.b", True, status=Status.FOUND, addresses=("::1",))
    assert pickle.loads(pickle.dumps(result)) == result
    assert copy.copy(result) == result
    assert copy.deepcopy(result) == result
    replaced = result._replace(status=Status.NODATA, addresses=())
    assert replaced == Result("a.b", False, status=Status.NODATA)


def test_repr_and_dict() -> None:
    result = Result("a.b", False, status=Status.SERVFAIL)
    assert (
        repr(result)
        == "Result(domain='a.b', found=False, status=SERVFAIL, addresses=())"
    )
    assert result.to_dict() == {
        "domain": "a.b",
        "found": False,
        "status": "SERVFAIL",
        "addresses": [],
    }


def test_failure_statuses() -> None:
    failures = {s for s in Status if s.is_failure}
    assert failures == {Status.SERVFAIL, Status.TIMEOUT, Status.REFUSED}


def test_asdict_keeps_status_and_addresses() -> None:
    """``_asdict`` reports all four values, not just the two tuple fields."""
    result = Result("a.test", True, status=Status.FOUND, addresses=("192.0.2.1",))
    assert result._asdict() == {
        "domain": "a.test",
        "found": True,
        "status": Status.FOUND,
        "addresses": ("192.0.2.1",),
    }


def _full(**changes: object) -> Result:
    from awaitkit.probe._records import Record

    answer = Answer(
        Status.FOUND,
        ("192.0.2.1",),
        records=(Record("a.test", "A", 60, "192.0.2.1"),),
        chain=(),
        rcode=0,
        resolver="127.0.0.1:53",
        attempts=2,
        duration=0.0125,
    )._replace(**changes)
    return Result.from_answer("a.test", answer)


def test_full_answer_keeps_the_pair_and_its_extras() -> None:
    """A full answer still unpacks as (domain, found) and carries every value."""
    result = _full()
    domain, found = result
    assert (domain, found) == ("a.test", True)
    assert result.is_full
    assert result.records[0].data == "192.0.2.1"
    assert (result.rcode, result.resolver, result.attempts) == (0, "127.0.0.1:53", 2)
    assert not Result("a.test", True).is_full
    assert Result("a.test", True).records == ()


def test_full_equality_covers_the_answer_not_its_timing() -> None:
    assert _full() == _full(duration=9.0, attempts=1, resolver="192.0.2.53:53")
    assert _full() != _full(records=())
    assert _full() != _full(rcode=None)
    assert _full() != Result("a.test", True, addresses=("192.0.2.1",))


def test_full_pickle_copy_replace() -> None:
    result = _full()
    for clone in (pickle.loads(pickle.dumps(result)), copy.deepcopy(result)):
        assert clone == result
        assert (clone.resolver, clone.attempts, clone.duration) == (
            "127.0.0.1:53",
            2,
            0.0125,
        )
    assert result._replace(attempts=5).attempts == 5
    assert result._replace(attempts=5).records == result.records
    with pytest.raises(TypeError, match="unexpected"):
        Result("a.b", False, bogus=1)


def test_full_to_dict() -> None:
    assert _full().to_dict() == {
        "domain": "a.test",
        "found": True,
        "status": "FOUND",
        "addresses": ["192.0.2.1"],
        "rcode": "NOERROR",
        "records": [{"name": "a.test", "type": "A", "ttl": 60, "data": "192.0.2.1"}],
        "chain": [],
        "resolver": "127.0.0.1:53",
        "attempts": 2,
        "duration_ms": 12.5,
    }
    plain = Result("a.b", False, status=Status.INVALID).to_dict(full=True)
    assert plain["rcode"] is None
    assert plain["records"] == []
    assert plain["duration_ms"] is None


def test_registration_of_each_status() -> None:
    from awaitkit.probe._result import Registration

    taken = {s for s in Status if s.registration is Registration.TAKEN}
    free = {s for s in Status if s.registration is Registration.FREE}
    assert taken == {Status.FOUND, Status.NODATA}
    assert free == {Status.NXDOMAIN}


def test_combine_merges_full_answers() -> None:
    from awaitkit.probe._direct import combine

    a = _answer(Status.FOUND, ("192.0.2.1",), attempts=1, duration=0.01, rcode=0)
    aaaa = _answer(Status.NODATA, (), attempts=2, duration=0.03, rcode=0)
    merged = combine([a, aaaa])
    assert merged.status is Status.FOUND
    assert merged.attempts == 3
    assert merged.duration == 0.03
    assert combine([aaaa, aaaa]).status is Status.NODATA
    assert combine([Answer(Status.NODATA), Answer(Status.TIMEOUT)]).status is (
        Status.TIMEOUT
    )


def _answer(status: Status, addresses: tuple[str, ...], **detail: object) -> Answer:
    return Answer(status, addresses)._replace(resolver="127.0.0.1:53", **detail)
