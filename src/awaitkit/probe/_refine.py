"""The stage between ``multi_probe`` and the output: verify, wildcards, settle.

:meth:`Refinement.run` wraps the stream of results.  A FOUND result is
checked (``--verify``: asked again of the trusted resolvers; wildcard
detection: compared with random names under its parent) in a task of its
own, at most ``concurrency`` at a time, so a slow check holds up no other
result; everything else passes straight through.  With ``--settle`` the
names that ended in TIMEOUT, SERVFAIL or REFUSED are held back and, once the
input is done, re-probed in rounds on other resolvers; what still fails
after the last round comes out as the failure it is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from awaitkit.core import UsageError, first_error
from awaitkit.probe._direct import DirectResolver
from awaitkit.probe._probe import Resolver, multi_probe
from awaitkit.probe._resolvers import format_server
from awaitkit.probe._result import FAILURES, Result, Status
from awaitkit.probe._system import SystemResolver
from awaitkit.probe._verify import Verifier, read_resolver_file
from awaitkit.probe._wildcard import WildcardDetector

__all__ = ["Refinement", "refinement_from_args"]

#: Unsettled names listed by name in the summary; more are only counted.
LISTED = 10

SettleResolver = Callable[[int], AbstractAsyncContextManager[Resolver]]


class Refinement:
    """What to do with results before they are printed.

    Example use::

        stage = Refinement(wildcards=resolver, settle=lambda n: nullcontext(resolver))
        async with contextlib.aclosing(stage.run(multi_probe(names))) as results:
            async for result in results:
                ...
        print("\\n".join(stage.summary()))

    ``wildcards`` is the resolver that asks the random labels (``None``: no
    detection), ``wildcard_tests`` labels per parent; ``filter_wildcards``
    leaves WILDCARD results out.  ``verifier`` re-asks FOUND names.
    ``settle(round)`` gives the resolver for re-probe round 1, 2... (as an
    async context manager, closed after its round), ``settle_rounds`` of them.
    """

    def __init__(
        self,
        *,
        wildcards: Resolver | None = None,
        wildcard_tests: int = 3,
        filter_wildcards: bool = False,
        verifier: Verifier | None = None,
        settle: SettleResolver | None = None,
        settle_rounds: int = 3,
        concurrency: int = 1000,
        destination: str = "stdout",
        resources: Sequence[DirectResolver] = (),
    ) -> None:
        if concurrency < 1 or settle_rounds < 1 or wildcard_tests < 1:
            raise ValueError(
                "concurrency, settle_rounds and wildcard_tests must be >= 1"
            )
        self.wildcard_resolver = wildcards
        self.wildcard_tests = wildcard_tests
        self.filter_wildcards = filter_wildcards
        self.verifier = verifier
        self.settle = settle
        self.settle_rounds = settle_rounds
        self.concurrency = concurrency
        self.destination = destination
        self.resources = list(resources)  # closed when run() ends
        self.detector: WildcardDetector | None = None
        self.wildcard_names = 0
        # Names left out by --filter-wildcards: never yielded, still counted.
        self.filtered = 0
        self.held = 0  # names re-probed by --settle
        self.rounds = 0
        self.unsettled: list[Result] = []

    def __repr__(self) -> str:
        return (
            f"<Refinement wildcard_names={self.wildcard_names} held={self.held} "
            f"unsettled={len(self.unsettled)}>"
        )

    async def run(self, results: AsyncIterable[Result]) -> AsyncGenerator[Result, None]:
        """Yield ``results`` refined, in completion order (settled ones last)."""
        out: asyncio.Queue[Result | None] = asyncio.Queue(maxsize=self.concurrency)
        try:
            async with contextlib.AsyncExitStack() as stack, asyncio.TaskGroup() as tg:
                for resource in self.resources:
                    await stack.enter_async_context(contextlib.aclosing(resource))
                if self.wildcard_resolver is not None:
                    self.detector = WildcardDetector(
                        self.wildcard_resolver,
                        spawn=tg.create_task,
                        tests=self.wildcard_tests,
                    )
                work = tg.create_task(self._work(results, out))
                while (item := await out.get()) is not None:
                    try:
                        yield item
                    except GeneratorExit:
                        # As in multi_probe: leave the group normally.  Once
                        # the checks are gone (a check may start a zone test
                        # as it is cancelled), cancel the zone tests nobody
                        # waits for any more.
                        work.cancel()
                        await asyncio.wait([work])
                        if self.detector is not None:
                            self.detector.cancel()
                        break
        except BaseExceptionGroup as group:
            error = first_error(group)
            raise error from error.__cause__

    async def _work(
        self, results: AsyncIterable[Result], out: asyncio.Queue[Result | None]
    ) -> None:
        held: list[Result] = []
        await self._pass(results, out, held)
        if self.settle is not None:
            self.held = len(held)
            for round_number in range(1, self.settle_rounds + 1):
                if not held:
                    break
                self.rounds = round_number
                names = [result.domain for result in held]
                held = []
                async with (
                    self.settle(round_number) as resolver,
                    contextlib.aclosing(
                        multi_probe(
                            names,
                            # No more workers than names: a round re-probes few.
                            concurrency=min(self.concurrency, len(names)),
                            resolver=resolver,
                        )
                    ) as again,
                ):
                    await self._pass(again, out, held)
            self.unsettled = held
            for result in held:
                await out.put(result)
        await out.put(None)

    async def _pass(
        self,
        results: AsyncIterable[Result],
        out: asyncio.Queue[Result | None],
        held: list[Result],
    ) -> None:
        """Refine one stream; failures go to ``held`` when settling, else out."""
        slots = asyncio.Semaphore(self.concurrency)
        checking = self.verifier is not None or self.wildcard_resolver is not None

        async def emit(result: Result) -> None:
            if self.settle is not None and result.status in FAILURES:
                held.append(result)
            elif result.status is Status.WILDCARD and self.filter_wildcards:
                self.wildcard_names += 1
                self.filtered += 1
            else:
                if result.status is Status.WILDCARD:
                    self.wildcard_names += 1
                await out.put(result)

        async def check(result: Result) -> None:
            try:
                if self.verifier is not None:
                    result = await self.verifier.check(result)
                if self.detector is not None:
                    result = await self.detector.check(result)
                await emit(result)
            finally:
                slots.release()

        async with asyncio.TaskGroup() as tg:
            async for result in results:
                if checking and result.status is Status.FOUND:
                    if self.verifier is None and self.detector is not None:
                        known = self.detector.check_now(result)
                        if known is not None:
                            await emit(known)
                            continue
                    await slots.acquire()
                    tg.create_task(check(result))
                else:
                    await emit(result)

    def summary(self) -> list[str]:
        """Lines for stderr after the counts: wildcards, verification, settling."""
        lines = []
        detector = self.detector
        if detector is not None:
            zones = sorted(detector.wildcards)
            shown = ", ".join(f"*.{zone}" for zone in zones[:LISTED])
            more = f" and {len(zones) - LISTED} more" if len(zones) > LISTED else ""
            verb = "left out" if self.filter_wildcards else "reported as WILDCARD"
            lines.append(
                f"wildcards: {len(zones)} of {detector.tested} parent zones tested"
                + (f" ({shown}{more})" if zones else "")
                + f"; {self.wildcard_names} names {verb}"
            )
        verifier = self.verifier
        if verifier is not None:
            line = (
                f"verify: {verifier.verified} confirmed by the trusted resolvers, "
                f"{verifier.contradicted} denied (NXDOMAIN/NODATA there), "
                f"{verifier.unanswered} unanswered by them"
            )
            if verifier.poisoning:
                named = ", ".join(
                    f"{label} ({count})"
                    for label, count in verifier.poisoning.most_common()
                )
                line += f"; poisoning: {named}"
            lines.append(line)
        if self.settle is not None:
            left = self.unsettled
            line = (
                f"settle: {self.held} re-probed in {self.rounds} round"
                f"{'' if self.rounds == 1 else 's'}, {self.held - len(left)} settled, "
                f"{len(left)} never settled"
            )
            if left and len(left) <= LISTED:
                names = ", ".join(f"{r.domain} ({r.status.value})" for r in left)
                line += f": {names}"
            elif left:
                line += f" (written to {self.destination} with the other failures)"
            lines.append(line)
        return lines


#: Ordinary resolvers asked one by one to find which one poisons.
_SUSPECTS = 64
#: Resolvers each held name is tried on per settle round (all, when fewer).
_SETTLE_SPREAD = 8


def refinement_from_args(
    args: argparse.Namespace, resolver: Resolver, concurrency: int
) -> Refinement | None:
    """The stage the options ask for (``None``: none); reads --trusted-resolvers.

    Call it before the event loop starts.  Raises :class:`UsageError` for
    options that contradict each other or a bad resolver file.
    """
    detect = bool(args.detect_wildcards or args.filter_wildcards)
    tests = args.wildcard_tests
    if tests is not None and not 1 <= tests <= 100:
        raise UsageError("--wildcard-tests must be between 1 and 100")
    if tests is not None and not detect:
        raise UsageError(
            "--wildcard-tests needs --detect-wildcards or --filter-wildcards"
        )
    rounds = args.settle_rounds
    if rounds is not None and not 1 <= rounds <= 100:
        raise UsageError("--settle-rounds must be between 1 and 100")
    if rounds is not None and not args.settle:
        raise UsageError("--settle-rounds needs --settle")
    if args.verify and not args.trusted_resolvers:
        raise UsageError("--verify needs --trusted-resolvers FILE")
    if args.trusted_resolvers and not (args.verify or detect):
        raise UsageError(
            "--trusted-resolvers needs --verify or --detect-wildcards/--filter-wildcards"
        )
    rate = args.rate_trusted
    if rate is not None and (rate < 0 or rate != rate):
        raise UsageError("--rate-trusted must be 0 (no limit) or positive")
    if not (detect or args.verify or args.settle):
        return None
    types: str | Sequence[str] = "A"
    if isinstance(resolver, DirectResolver | SystemResolver):
        types = resolver.types
    timeout = args.timeout if args.timeout is not None else 2.0
    retries = args.retries if args.retries is not None else 2
    resources: list[DirectResolver] = []
    trusted: DirectResolver | None = None
    if args.trusted_resolvers:
        servers = read_resolver_file(args.trusted_resolvers)
        trusted = DirectResolver(
            servers,
            types=types,
            timeout=timeout,
            retries=retries,
            rate=rate or None,
        )
        resources.append(trusted)
    verifier = None
    if args.verify and trusted is not None:
        suspects: list[tuple[str, Resolver | None]]
        if isinstance(resolver, DirectResolver) and len(resolver.nameservers) > 1:
            suspects = []
            for server in resolver.nameservers[:_SUSPECTS]:
                alone = DirectResolver(
                    [format_server(server)], types=types, timeout=timeout, retries=0
                )
                resources.append(alone)
                suspects.append((format_server(server), alone))
        elif isinstance(resolver, DirectResolver):
            suspects = [(format_server(resolver.nameservers[0]), None)]
        else:
            suspects = [("the system resolver", None)]
        verifier = Verifier(trusted, suspects=suspects)
    return Refinement(
        wildcards=(trusted or resolver) if detect else None,
        wildcard_tests=tests or 3,
        filter_wildcards=bool(args.filter_wildcards),
        verifier=verifier,
        settle=_settle_resolvers(resolver) if args.settle else None,
        settle_rounds=rounds or 3,
        concurrency=concurrency,
        destination=args.output or "stdout",
        resources=resources,
    )


def _settle_resolvers(resolver: Resolver) -> SettleResolver:
    """Round ``n``'s resolver: the same nameservers, starting ``n`` further on."""
    if not isinstance(resolver, DirectResolver):
        return lambda _: contextlib.nullcontext(resolver)
    servers = [format_server(server) for server in resolver.nameservers]
    retries = max(resolver.retries, min(len(servers), _SETTLE_SPREAD) - 1)

    def make(round_number: int) -> DirectResolver:
        shift = round_number % len(servers)
        return DirectResolver(
            servers[shift:] + servers[:shift],
            types=resolver.types,
            timeout=resolver.timeout,
            retries=retries,
            rate=resolver.rate,
            records=resolver.records,
        )

    return make
