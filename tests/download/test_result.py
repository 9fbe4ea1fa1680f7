"""``DownloadResult.to_json``/``from_json``: the one record form, and what it refuses."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from awaitkit.download import DownloadResult, DownloadStatus

RESULTS = [
    DownloadResult(
        "http://h/a.gif", DownloadStatus.OK, Path("/d/a.gif"), 1234, 1, None, 0.25, 200
    ),
    DownloadResult(
        "http://h/b", DownloadStatus.NOT_FOUND, None, 0, 1, "HTTP 404", 0.5, 404
    ),
    DownloadResult("http://h/c", DownloadStatus.ERROR, error="cannot connect: refused"),
    DownloadResult("http://h/d", DownloadStatus.SKIPPED, Path("/d/d"), 2**40, 0),
    DownloadResult("http://h/\udcff\u00e9", DownloadStatus.ERROR, error="bad\nname"),
]


@pytest.mark.parametrize("result", RESULTS, ids=lambda r: r.status.name)
def test_round_trip_through_json_text(result: DownloadResult) -> None:
    """As between processes: to_json, JSON text, from_json gives the same result."""
    text = json.dumps(result.to_json())
    assert DownloadResult.from_json(json.loads(text)) == result


def test_the_report_fields_are_the_documented_ones() -> None:
    """README: url, status, path, bytes, attempts, error, seconds, http_status and the
    manifest's final_url, etag, last_modified and sha256, and the item's own options."""
    record = RESULTS[0].to_json()
    assert record == {
        "url": "http://h/a.gif",
        "status": "ok",
        "bytes": 1234,
        "attempts": 1,
        "error": None,
        "seconds": 0.25,
        "http_status": 200,
        "path": "/d/a.gif",
        "final_url": None,
        "etag": None,
        "last_modified": None,
        "sha256": None,
        "item": None,
    }


def test_seconds_are_rounded_to_microseconds() -> None:
    result = DownloadResult("u", DownloadStatus.OK, seconds=1 / 3)
    assert result.to_json()["seconds"] == 0.333333
    assert DownloadResult.from_json(result.to_json()).seconds == 0.333333


def good() -> dict[str, Any]:
    return RESULTS[1].to_json()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": 7}, "'url' must be a string"),
        ({"url": None}, "'url' must be a string"),
        ({"status": "OK"}, "'status' 'OK' is not a status"),
        ({"status": ["ok"]}, "is not a status"),
        ({"status": None}, "is not a status"),
        ({"bytes": "12"}, "'bytes' must be an integer"),
        ({"bytes": 1.0}, "'bytes' must be an integer"),
        ({"bytes": True}, "'bytes' must be an integer"),
        ({"bytes": -1}, "'bytes' out of range"),
        ({"bytes": 10**400}, "'bytes' out of range"),
        ({"attempts": 2**31}, "'attempts' out of range"),
        ({"attempts": None}, "'attempts' must be an integer"),
        ({"error": 404}, "'error' must be a string or null"),
        ({"path": ["a"]}, "'path' must be a string or null"),
        ({"seconds": "1"}, "'seconds'"),
        ({"seconds": -0.5}, "'seconds' -0.5 out of range"),
        ({"seconds": math.inf}, "'seconds' inf out of range"),
        ({"seconds": math.nan}, "'seconds' nan out of range"),
        ({"seconds": 1e300}, "out of range"),
        ({"seconds": False}, "'seconds'"),
        ({"http_status": 99}, "'http_status' out of range"),
        ({"http_status": 1000}, "'http_status' out of range"),
        ({"http_status": "404"}, "'http_status' must be an integer"),
    ],
)
def test_hostile_fields_are_refused_by_name(
    change: dict[str, Any], message: str
) -> None:
    record = good() | change
    with pytest.raises(ValueError, match="download record") as caught:
        DownloadResult.from_json(record)
    assert message in str(caught.value)


def test_missing_and_unknown_fields_are_named() -> None:
    record = good()
    del record["attempts"]
    record["evil"] = 1
    with pytest.raises(ValueError, match=r"missing \['attempts'\], unknown \['evil'\]"):
        DownloadResult.from_json(record)


@pytest.mark.parametrize(
    "record", [None, [], ["u", "ok"], "ok", 3, json.loads("1e999")]
)
def test_a_record_that_is_not_an_object_is_refused(record: object) -> None:
    with pytest.raises(ValueError, match="not an object"):
        DownloadResult.from_json(record)


def test_huge_json_numbers_parse_and_are_refused() -> None:
    """A number of 400 digits in the text is still an int in Python: out of range."""
    text = json.dumps(good()).replace('"bytes": 0', '"bytes": ' + "9" * 400)
    with pytest.raises(ValueError, match="'bytes' out of range"):
        DownloadResult.from_json(json.loads(text))
