"""What a batch is given: URLs, :class:`Job` s, and the shapes of input that carry them.

These types sit below both the engine (which reads them) and the fetch path
(which downloads one), so each of those imports them and neither imports
the other for them.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Batched", "Item", "Job", "Source"]


@dataclass(frozen=True, slots=True)
class Job:
    """One thing to download.

    ``name`` fixes the file name (sanitised anyway); otherwise it comes from
    the URL path.  With ``metadata_url``, a JSON document is fetched first and
    its ``name_field`` (spaces made ``_``, as in the book's flags3) plus the
    URL's extension names the file.  With ``sha256`` (64 lower-case hex
    digits), a body that does not hash to it is an ERROR and is not kept.
    """

    url: str
    name: str | None = None
    metadata_url: str | None = None
    name_field: str = "country"
    sha256: str | None = None

    def __post_init__(self) -> None:
        if self.sha256 is not None:
            digest = self.sha256.lower()
            if len(digest) != 64 or digest.strip("0123456789abcdef"):
                raise ValueError(f"sha256 must be 64 hex digits, not {self.sha256!r}")
            object.__setattr__(self, "sha256", digest)


Item = str | Job
"""One input: a URL, or a :class:`Job` naming its file or its metadata."""


class Batched:
    """Input that arrives in lists: ``Batched(async_iterable_of_lists)``.

    For a source read in blocks anyway (lines from a file or a pipe, read a
    thousand at a time in a thread), handing the blocks over whole spares
    the per-item async-generator step and lock that an async iterable of
    single items costs each worker.
    """

    def __init__(self, batches: AsyncIterable[Sequence[Item]]) -> None:
        self.batches = batches

    def __repr__(self) -> str:
        return f"<Batched {self.batches!r}>"


Source = Iterable[Item] | AsyncIterable[Item] | Batched
"""What the batch functions accept as input."""
