"""Brute force: every word of a word list under every root domain, streamed.

``-d example.test -w words.txt`` probes ``WORD.example.test``; a domain
holding ``FUZZ`` is a pattern instead, the word replacing each ``FUZZ``
(``FUZZ.dev`` is the book's domaincheck over any word list).  Names are made
one word at a time as the prober asks for them, so a list of ten million
words costs what one block of it costs: the file is read in 64 KiB chunks
off the event loop and no line is ever held whole past :data:`MAX_LINE`.
A bad word (an empty or 300-character label, undecodable bytes) makes a
name that ``to_ascii`` rejects, so it comes out as an INVALID result.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import IO

from awaitkit.core import UsageError
from awaitkit.probe._names import to_ascii

__all__ = ["FUZZ", "MAX_LINE", "brute_names", "brute_patterns", "read_lines"]

FUZZ = "FUZZ"
#: Characters of a line kept; the rest of a longer one is read past and
#: dropped (the name is INVALID either way: a DNS name has at most 253).
MAX_LINE = 4096
_CHUNK = 1 << 16


def brute_patterns(domains: Sequence[str]) -> list[str]:
    """Root domains -> patterns with ``FUZZ`` (``example.test`` -> ``FUZZ.example.test``).

    Example::

        >>> brute_patterns(["example.test", "FUZZ-api.dev", "example.test"])
        ['FUZZ.example.test', 'FUZZ-api.dev']

    Duplicates are dropped; a domain that would be invalid with any word is
    a :class:`UsageError`.
    """
    patterns: list[str] = []
    for domain in domains:
        text = domain.strip()
        if not text.strip("."):
            raise UsageError(f"invalid domain {domain!r} for -d/--domain")
        pattern = text if FUZZ in text else f"{FUZZ}.{text.strip('.')}"
        if to_ascii(pattern.replace(FUZZ, "x")) is None:
            raise UsageError(f"invalid domain {domain!r} for -d/--domain")
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns


async def read_lines(stream: IO[bytes]) -> AsyncIterator[str]:
    """Lines of a binary stream, read in chunks in a thread; comments and blanks dropped.

    ``#`` starts a comment, surrounding white space is stripped, and
    undecodable bytes become U+FFFD.  A line longer than :data:`MAX_LINE`
    is cut there.
    """
    pending = b""
    overlong = False
    while chunk := await asyncio.to_thread(stream.read, _CHUNK):
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for raw in lines:
            if overlong:  # the end of a line already cut and yielded
                overlong = False
                continue
            if word := _clean(raw[:MAX_LINE]):
                yield word
        if len(pending) > MAX_LINE:
            if not overlong and (word := _clean(pending[:MAX_LINE])):
                yield word
            overlong = True
            pending = b""
    if pending and not overlong and (word := _clean(pending)):
        yield word


def _clean(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").split("#", 1)[0].strip()


async def brute_names(
    words: AsyncIterable[str], patterns: Sequence[str]
) -> AsyncIterator[str]:
    """``pattern.replace(FUZZ, word)`` for each word, then each pattern; lazily."""
    split = [pattern.split(FUZZ) for pattern in patterns]
    async for word in words:
        for parts in split:
            yield word.join(parts)
