"""The error that stopped a task group, out of the group it comes in."""

from __future__ import annotations

import asyncio

__all__ = ["first_error"]


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception in ``group`` that is not a cancellation, nested or not.

    A TaskGroup gathers its failed tasks' errors in a group; the caller of a
    batch wants the error that stopped it, as a plain ``ResolveError`` or
    ``OSError`` it can catch, not the group around it.  Workers that failed
    meanwhile with other errors are named in a note on it rather than lost.
    A group holding nothing but cancellations gives its first.
    """
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending[:0] = exc.exceptions
        else:
            leaves.append(exc)
    errors = [exc for exc in leaves if not isinstance(exc, asyncio.CancelledError)]
    if not errors:
        return leaves[0]
    first = errors[0]
    others = [exc for exc in errors[1:] if exc is not first]
    if others:
        described = "; ".join(f"{type(exc).__name__}: {exc}" for exc in others)
        first.add_note(f"the batch also raised {len(others)} more: {described}")
    return first
