"""The book's ``awaitkit flags`` command: the downloader run against the flags server.

*Fluent Python*'s flags2/flags3 client.  It is the one place where
:mod:`awaitkit.download` and :mod:`awaitkit.flags` meet, so that neither
app imports the other.  It has no public Python API: its entry point is the
command line (:mod:`awaitkit.book_flags.cli`).
"""

from __future__ import annotations

__all__: list[str] = []
