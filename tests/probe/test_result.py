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
