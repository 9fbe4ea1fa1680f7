"""awaitkit: concurrent network I/O on asyncio.

Subpackages:

* :mod:`awaitkit.core`: errors, event-loop lag monitor, loop runner, socket helpers.
* :mod:`awaitkit.find`: Unicode character search (Mojifinder).
* :mod:`awaitkit.servers`: TCP and web front ends over ``find``.
* :mod:`awaitkit.flags`: the flags data set and the fault-injecting test server.
* :mod:`awaitkit.download`: the bulk HTTP downloader.
* :mod:`awaitkit.probe`: the DNS prober.

This module stays tiny on purpose: ``awaitkit find`` must start in a few
milliseconds, so nothing heavy is imported here.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
