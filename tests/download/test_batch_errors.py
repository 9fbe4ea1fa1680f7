"""A batch that fails raises the first real error as itself, never an ExceptionGroup."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from awaitkit.core import first_error
from awaitkit.download import (
    Batched,
    DownloadOptions,
    DownloadResult,
    HttpClient,
    download_many,
    iter_downloads,
)
from awaitkit.flags import country_codes, serving_flags

pytestmark = pytest.mark.anyio

NOT_HTTP = [f"ftp://example.invalid/{i}.gif" for i in range(20)]  # no network needed


class Boom(Exception):
    pass


class GatedClient:
    """A client whose every response is a 404 released for all at once by ``gate``.

    Every worker is parked on the gate; ``gate.set()`` resumes them in one
    step of the loop, before any cancellation can land, so two callbacks
    fail "at the same time" on every run.
    """

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.waiting = 0

    @contextlib.asynccontextmanager
    async def get(self, url: str, **_: Any) -> AsyncIterator[SimpleNamespace]:
        self.waiting += 1
        await self.gate.wait()
        yield SimpleNamespace(status=404, reason="Not Found", headers={})


async def test_an_on_result_error_is_raised_as_itself(tmp_path: Path) -> None:
    seen: list[DownloadResult] = []

    def on_result(result: DownloadResult) -> None:
        seen.append(result)
        if len(seen) == 3:
            raise Boom("third")

    with pytest.raises(Boom, match="third") as caught:
        await download_many(NOT_HTTP, tmp_path, on_result=on_result)
    assert not isinstance(caught.value, BaseExceptionGroup)
    assert caught.value.__cause__ is None
    assert not isinstance(caught.value.__context__, BaseExceptionGroup)


def failing_input() -> Iterator[str]:
    yield from NOT_HTTP[:5]
    raise KeyError("input broke")


async def failing_async_input() -> AsyncIterator[str]:
    for url in NOT_HTTP[:5]:
        await asyncio.sleep(0)
        yield url
    raise KeyError("input broke")


async def failing_blocks() -> AsyncIterator[list[str]]:
    yield NOT_HTTP[:5]
    await asyncio.sleep(0)
    raise KeyError("input broke")


@pytest.mark.parametrize(
    "make", [failing_input, failing_async_input, lambda: Batched(failing_blocks())]
)
async def test_an_input_error_is_raised_as_itself(tmp_path: Path, make: Any) -> None:
    with pytest.raises(KeyError, match="input broke") as caught:
        await download_many(make(), tmp_path, options=DownloadOptions(concurrency=4))
    assert not isinstance(caught.value, BaseExceptionGroup)


@pytest.mark.parametrize(
    "make", [failing_input, failing_async_input, lambda: Batched(failing_blocks())]
)
async def test_iter_downloads_raises_an_input_error_as_itself(
    tmp_path: Path, make: Any
) -> None:
    got: list[DownloadResult] = []

    async def consume() -> None:
        opts = DownloadOptions(concurrency=4)
        async with contextlib.aclosing(
            iter_downloads(make(), tmp_path, options=opts)
        ) as results:
            async for result in results:
                got.append(result)

    with pytest.raises(KeyError, match="input broke") as caught:
        await consume()
    assert not isinstance(caught.value, BaseExceptionGroup)
    assert len(got) <= 5


async def test_two_different_errors_at_once_raise_the_first_and_note_the_other(
    tmp_path: Path,
) -> None:
    client = GatedClient()
    errors = [ValueError("first"), Boom("second")]

    def on_result(result: DownloadResult) -> None:
        raise errors.pop(0)

    async def release() -> None:
        while client.waiting < 2:  # noqa: ASYNC110  # both parked on the gate
            await asyncio.sleep(0)
        client.gate.set()

    urls = ["http://127.0.0.1:9/a.gif", "http://127.0.0.1:9/b.gif"]
    async with asyncio.TaskGroup() as tg:
        tg.create_task(release())
        with pytest.raises(ValueError, match="first") as caught:
            await download_many(
                urls,
                tmp_path,
                options=DownloadOptions(concurrency=2),
                client=cast(HttpClient, client),
                on_result=on_result,
            )
    assert errors == []  # both callbacks raised
    assert caught.value.__notes__ == ["the batch also raised 1 more: Boom: second"]


async def test_a_real_batch_with_a_failing_callback(tmp_path: Path) -> None:
    """Against a real server: the callback's error, not a group, after some files."""
    codes = [cc.lower() for cc in country_codes()[:30]]
    calls = 0

    def on_result(result: DownloadResult) -> None:
        nonlocal calls
        calls += 1
        if calls == 10:
            raise Boom("enough")

    async with serving_flags() as base:
        urls = [f"{base}/flags/{cc}/{cc}.gif" for cc in codes]
        with pytest.raises(Boom, match="enough"):
            await download_many(
                urls,
                tmp_path,
                options=DownloadOptions(concurrency=5),
                on_result=on_result,
            )
    assert 10 <= calls < 30
    assert not [
        p for p in await asyncio.to_thread(os.listdir, tmp_path) if p.endswith(".part")
    ]


@pytest.mark.parametrize("stop", [SystemExit(3), KeyboardInterrupt()])
def test_system_exit_and_ctrl_c_propagate(
    tmp_path: Path, stop: BaseException, anyio_backend: Any
) -> None:
    def on_result(result: DownloadResult) -> None:
        raise stop

    with pytest.raises(type(stop)) as caught:
        asyncio.run(download_many(NOT_HTTP, tmp_path, on_result=on_result))
    assert caught.value is stop


def test_first_error_skips_cancellations_and_notes_the_rest() -> None:
    first, second = ValueError("a"), KeyError("b")
    group = BaseExceptionGroup(
        "batch", [asyncio.CancelledError(), first, second, first]
    )
    assert first_error(group) is first
    assert first.__notes__ == ["the batch also raised 1 more: KeyError: 'b'"]
    alone = RuntimeError("c")
    assert first_error(ExceptionGroup("batch", [alone])) is alone
    assert not hasattr(alone, "__notes__")
