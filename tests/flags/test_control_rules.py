"""Rules changed at runtime through the control API, seen by real requests."""

from __future__ import annotations

import importlib
import json

import pytest

from awaitkit.core import HTTPStatusError
from awaitkit.core.testing import exchange, status_of
from awaitkit.flags import serving_flags
from tests.flags.test_control import TOKEN, req

pytestmark = pytest.mark.anyio

# The control API imports prometheus-client: at collection, not inside the first
# test, where collecting its garbage would count as a slow callback (tests/loopdebug).
importlib.import_module("awaitkit.flags._control")

GIF = "/flags/br/br.gif"


async def status(base_url: str, path: str = GIF, *headers: str) -> int:
    lines = [f"GET {path} HTTP/1.1", "Host: x", *headers, "Connection: close"]
    return status_of(
        await exchange(base_url, ("\r\n".join(lines) + "\r\n\r\n").encode())
    )


async def test_add_list_remove_and_clear_rules() -> None:
    async with serving_flags(control=True) as base_url:
        control = base_url.control
        assert await status(base_url) == 200
        added = await control.add_rule({"path": "/flags/br/*", "status": 503})
        assert [r["id"] for r in added] == ["r1"]
        assert await status(base_url) == 503
        assert await status(base_url, "/flags/ar/ar.gif") == 200
        more = await control.add_rule(
            [{"id": "teapot", "path": "/flags/ar/*", "status": 418}, {"status": 500}]
        )
        assert [r["id"] for r in more] == ["teapot", "r2"]
        assert [r["id"] for r in await control.rules()] == ["r1", "teapot", "r2"]
        assert await status(base_url, "/flags/ar/ar.gif") == 418
        await control.remove_rule("teapot")
        assert await status(base_url, "/flags/ar/ar.gif") == 500
        assert await control.clear_rules() == ["r1", "r2"]
        assert await control.rules() == []
        assert await status(base_url) == 200
        assert base_url.server.rules.rules() == []


async def test_rules_round_trip_through_the_api() -> None:
    rule = {"id": "sched", "path": "/flags/*", "schedule": ["503", "200"]}
    async with serving_flags(control=True) as base_url:
        (stored,) = await base_url.control.add_rule(rule)
        assert (await base_url.control.rules())[0] == stored
        assert stored["id"] == "sched"
        # The schedule is per (client, path): each path starts at 503.
        assert await status(base_url) == 503
        assert await status(base_url) == 200
        assert await status(base_url, "/flags/ar/ar.gif") == 503


async def test_reset_restarts_attempt_counting() -> None:
    async with serving_flags(control=True) as base_url:
        await base_url.control.add_rule({"schedule": ["503", "200"]})
        assert [await status(base_url) for _ in range(3)] == [503, 200, 200]
        await base_url.control.reset()
        assert [await status(base_url) for _ in range(2)] == [503, 200]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "abc"}, "status"),
        ({"bogus": 1}, "bogus"),
        ([{"status": 503}, {"delay": "soon"}], "rule 2"),
        ([], "no rule given"),
        ([1], "rule 1: expected a JSON object"),
        ("a string", "expected a JSON object"),
        ({"id": 5}, "id"),
        ({"path": "re:(a+)+$"}, "path"),
    ],
)
async def test_bad_rules_get_400_naming_the_field_and_add_nothing(
    body: object, message: str
) -> None:
    async with serving_flags(control=True) as base_url:
        with pytest.raises(HTTPStatusError, match=message) as info:
            await base_url.control.add_rule(body)  # type: ignore[arg-type]
        assert info.value.status_code == 400
        assert await base_url.control.rules() == []


async def test_a_batch_with_a_taken_id_adds_nothing() -> None:
    async with serving_flags(control=True) as base_url:
        control = base_url.control
        await control.add_rule({"id": "a", "status": 503})
        with pytest.raises(HTTPStatusError, match="already in use"):
            await control.add_rule([{"id": "b", "status": 500}, {"id": "a"}])
        assert [r["id"] for r in await control.rules()] == ["a"]


async def test_delete_of_an_odd_id() -> None:
    async with serving_flags(control=True, control_token=TOKEN) as base_url:
        url = base_url.server.control_url
        missing = await exchange(url, req(b"DELETE", b"/rules/nope"))
        assert status_of(missing) == 404
        assert json.loads(missing.partition(b"\r\n\r\n")[2]) == {
            "error": "no rule 'nope'"
        }
        bad = await exchange(url, req(b"DELETE", b"/rules/%ff%fe"))
        assert status_of(bad) == 400
        await base_url.control.add_rule({"id": "x.y_z-1", "status": 503})
        await base_url.control.remove_rule("x.y_z-1")
        assert await base_url.control.rules() == []
