"""multi_probe: completion order, lazy input, bounded concurrency, clean early exit."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

import pytest

from awaitkit.core import ResolveError, first_error
from awaitkit.probe import Answer, Resolver, Result, Status, multi_probe, probe

pytestmark = pytest.mark.anyio


class FakeResolver:
    """Answers after ``delay(name)`` seconds; FOUND for names starting with 'y'."""

    def __init__(self, delays: dict[str, float] | None = None) -> None:
        self.delays = delays or {}
        self.active = 0
        self.peak = 0
        self.started = 0
        self.cancelled = 0

    async def lookup(self, name: str) -> Answer:
        self.started += 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.delays.get(name, 0))
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.active -= 1
        if name.startswith("y"):
            return Answer(Status.FOUND, ("192.0.2.1",))
        return Answer(Status.NXDOMAIN)


def test_fake_resolver_satisfies_protocol() -> None:
    assert isinstance(FakeResolver(), Resolver)


async def test_yields_in_completion_order() -> None:
    resolver = FakeResolver({"slow.test": 0.2, "mid.test": 0.1, "yfast.test": 0.0})
    names = ["slow.test", "mid.test", "yfast.test"]
    got = [r async for r in multi_probe(names, resolver=resolver)]
    assert [r.domain for r in got] == ["yfast.test", "mid.test", "slow.test"]
    assert [found for _, found in got] == [True, False, False]


async def test_book_style_unpacking_in_async_for() -> None:
    found = {}
    async for domain, ok in multi_probe(["y.test", "n.test"], resolver=FakeResolver()):
        found[domain] = ok
    assert found == {"y.test": True, "n.test": False}


async def test_accepts_async_iterables() -> None:
    async def names() -> AsyncIterator[str]:
        for i in range(50):
            await asyncio.sleep(0)
            yield f"y{i}.test"

    got = [
        r async for r in multi_probe(names(), concurrency=7, resolver=FakeResolver())
    ]
    assert sorted(r.domain for r in got) == sorted(f"y{i}.test" for i in range(50))
    assert all(r.found for r in got)


@pytest.mark.parametrize("source", ["sync", "async"])
async def test_concurrency_is_bounded(source: str) -> None:
    resolver = FakeResolver({f"n{i}.test": 0.01 for i in range(60)})
    names = [f"n{i}.test" for i in range(60)]

    async def agen() -> AsyncIterator[str]:
        for name in names:
            yield name

    iterable = names if source == "sync" else agen()
    got = [r async for r in multi_probe(iterable, concurrency=5, resolver=resolver)]
    assert len(got) == 60
    assert resolver.peak == 5


def _endless(source: str) -> tuple[Iterable[str] | AsyncIterable[str], list[int]]:
    """Endless names, a sync or an async iterable, and the count of those pulled so far."""
    pulled = [0]

    def endless() -> Iterator[str]:
        while True:
            pulled[0] += 1
            yield f"n{pulled[0]}.test"

    async def aendless() -> AsyncIterator[str]:
        for name in endless():
            yield name

    return (endless() if source == "sync" else aendless()), pulled


@pytest.mark.parametrize("source", ["sync", "async"])
async def test_input_is_read_lazily(source: str) -> None:
    """A huge (endless) input: only about ``concurrency`` names are read ahead."""
    iterable, pulled = _endless(source)
    async with contextlib.aclosing(
        multi_probe(iterable, concurrency=10, resolver=FakeResolver())
    ) as results:
        count = 0
        async for _ in results:
            count += 1
            if count == 1000:
                break
    # Read-ahead is bounded by the workers and the two small queues.
    assert pulled[0] <= count + 3 * 10 + 1


async def test_breaking_out_cancels_the_rest() -> None:
    resolver = FakeResolver({f"slow{i}.test": 30 for i in range(20)})
    names = ["fast.test"] + [f"slow{i}.test" for i in range(20)]
    async with contextlib.aclosing(
        multi_probe(names, concurrency=21, resolver=resolver)
    ) as results:
        async for result in results:
            assert result.domain == "fast.test"
            break
    assert resolver.active == 0
    assert resolver.cancelled == 20


async def test_break_without_aclosing_is_cleaned_up_by_gc() -> None:
    """The book's plain ``break``: the loop's asyncgen hook closes the generator."""
    resolver = FakeResolver({f"slow{i}.test": 30 for i in range(5)})
    names = ["fast.test"] + [f"slow{i}.test" for i in range(5)]
    results = multi_probe(names, concurrency=6, resolver=resolver)
    async for _ in results:
        break
    del results
    gc.collect()
    for _ in range(100):
        if resolver.active == 0:
            break
        await asyncio.sleep(0.01)
    assert resolver.active == 0


async def test_resolver_error_cancels_batch_and_surfaces() -> None:
    class Broken(FakeResolver):
        async def lookup(self, name: str) -> Answer:
            if name == "boom.test":
                raise RuntimeError("resolver bug")
            return await super().lookup(name)

    resolver = Broken({f"slow{i}.test": 30 for i in range(5)})
    names = [f"slow{i}.test" for i in range(5)] + ["boom.test"]
    with pytest.raises(RuntimeError, match="resolver bug"):
        async for _ in multi_probe(names, concurrency=6, resolver=resolver):
            pass
    assert resolver.active == 0


async def test_an_awaitkit_error_surfaces_as_itself_with_its_cause() -> None:
    class Failing(FakeResolver):
        async def lookup(self, name: str) -> Answer:
            try:
                raise OSError("socket gone")
            except OSError as exc:
                raise ResolveError(f"cannot resolve {name}") from exc

    resolver = Failing()
    results = multi_probe(["a.test", "b.test"], concurrency=2, resolver=resolver)
    with pytest.raises(ResolveError, match="cannot resolve") as info:
        async for _ in results:
            pass
    assert not isinstance(info.value, BaseExceptionGroup)
    assert isinstance(info.value.__cause__, OSError)
    assert resolver.active == 0


async def test_workers_failing_at_once_give_the_first_error() -> None:
    class Failing(FakeResolver):
        async def lookup(self, name: str) -> Answer:
            await asyncio.sleep(0)
            raise ResolveError(name)

    names = [f"n{i}.test" for i in range(5)]
    with pytest.raises(ResolveError) as info:
        async for _ in multi_probe(names, concurrency=5, resolver=Failing()):
            pass
    assert str(info.value) in names


def test_first_error_skips_cancellations_and_nesting() -> None:
    inner = ValueError("inner")
    group = BaseExceptionGroup(
        "outer",
        [asyncio.CancelledError(), ExceptionGroup("nested", [inner, KeyError(1)])],
    )
    assert first_error(group) is inner
    only = asyncio.CancelledError()
    assert first_error(BaseExceptionGroup("c", [only])) is only


async def test_input_error_surfaces() -> None:
    def bad() -> Iterator[str]:
        yield "y.test"
        raise ValueError("unreadable input")

    with pytest.raises(ValueError, match="unreadable input"):
        async for _ in multi_probe(bad(), concurrency=2, resolver=FakeResolver()):
            pass


async def test_invalid_names_are_results_not_errors() -> None:
    resolver = FakeResolver()
    got = {
        r.domain: r.status
        async for r in multi_probe(["a..b", "y.test", "-x.test"], resolver=resolver)
    }
    assert got == {
        "a..b": Status.INVALID,
        "y.test": Status.FOUND,
        "-x.test": Status.INVALID,
    }
    assert resolver.started == 1


async def test_empty_input_and_bad_concurrency() -> None:
    assert [r async for r in multi_probe([], resolver=FakeResolver())] == []
    with pytest.raises(ValueError, match="concurrency"):
        async for _ in multi_probe(["x.test"], concurrency=0, resolver=FakeResolver()):
            pass


async def test_probe_passes_ascii_to_resolver() -> None:
    seen = []

    class Recorder(FakeResolver):
        async def lookup(self, name: str) -> Answer:
            seen.append(name)
            return await super().lookup(name)

    result = await probe("Bücher.DE.", resolver=Recorder())
    assert seen == ["xn--bcher-kva.de"]
    assert result == Result("Bücher.DE.", False, status=Status.NXDOMAIN)


# tracemalloc records a stack for every allocation, and debug mode one for
# every task: together they stretch the runner's steps past the bar.
@pytest.mark.blocks_loop
async def test_memory_stays_flat_with_a_long_input() -> None:
    """5,000 names streamed through: peak memory is that of the pool, not the input."""
    import tracemalloc

    class Instant:
        async def lookup(self, name: str) -> Answer:
            # Answered at once, yet through the loop as a real lookup is:
            # one that never suspends would hold the loop for the whole run.
            await asyncio.sleep(0)
            return Answer(Status.NXDOMAIN)

    def names(n: int) -> Iterator[str]:
        return (f"name{i}.test" for i in range(n))

    async def peak(n: int) -> int:
        tracemalloc.start()
        try:
            count = 0
            async for _ in multi_probe(names(n), concurrency=50, resolver=Instant()):
                count += 1
            assert count == n
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = await peak(500), await peak(5_000)
    # Ten times the names, nowhere near ten times the memory (a list of
    # 5,000 Results alone would be ~1 MB).
    assert large < 2 * small + 200_000


@pytest.mark.parametrize("source", ["sync", "async"])
async def test_a_slow_consumer_stalls_the_workers(source: str) -> None:
    """Results wait for a slow consumer; the workers stop reading names meanwhile."""
    iterable, pulled = _endless(source)
    async with contextlib.aclosing(
        multi_probe(iterable, concurrency=4, resolver=FakeResolver())
    ) as results:
        consumed = 0
        async for _ in results:
            consumed += 1
            await asyncio.sleep(0.01)  # the workers get many turns meanwhile
            if consumed == 5:
                break
    assert pulled[0] <= consumed + 3 * 4 + 1
