"""Where results go (``-o FILE``, atomic or streamed) and what a past run settled (``--resume``).

Atomic mode (the default) writes into a temporary file beside the target
and renames it over the target only when the run ends normally, so the
target is never half written: it holds the old results or the new ones.  A
run stopped early (Ctrl-C, SIGTERM, an error) leaves what it had under
``FILE.partial`` instead, which ``--resume`` reads.  Streaming mode
(``--stream``, massdns' ``-w`` behaviour) writes the target as results come,
flushed once per block, so ``tail -f`` and a later ``--resume`` see every
block written before a crash.

Resuming reads a previous output (JSON lines or the book's columns) and
keeps the names it settled: FOUND, NXDOMAIN and NODATA.  Failures
(SERVFAIL, TIMEOUT, REFUSED) and INVALID names are probed again.  The new
output starts with the settled lines of the old one, so it holds every
settled name: old and new.  Unreadable lines (garbage, a truncated last
line, a line of the other format) are counted and skipped.  Everything here
is synchronous: the command calls it before the event loop starts, or
through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from awaitkit.core import AwaitkitError, UsageError
from awaitkit.probe._names import to_ascii

__all__ = [
    "HEADER",
    "REGISTERED_HEADER",
    "OutputFile",
    "Resumed",
    "parse_output_line",
    "read_resume",
]

# The columns' headers (the book's, and --check registered's).
HEADER = "FOUND\t\tNOT FOUND\tFAILED\n=====\t\t=========\t======"
REGISTERED_HEADER = "TAKEN\t\tFREE\t\tUNKNOWN\n=====\t\t====\t\t======="
_HEADER_LINES = frozenset((HEADER + "\n" + REGISTERED_HEADER).splitlines())
SETTLED = frozenset({"FOUND", "NXDOMAIN", "NODATA"})
_MAX_LINE = 1 << 20  # a longer line in a resume file is skipped, not parsed


class OutputFile:
    """Results written to ``path``: atomically at :meth:`commit`, or streamed.

    Example use (the command's shape)::

        output = OutputFile("out.txt", stream=False)
        output.open()
        try:
            ...  # output.write(text) from a thread, block by block
        except BaseException:
            output.abort(keep=True)     # out.txt untouched; out.txt.partial kept
            raise
        output.commit()                 # out.txt replaced in one rename
    """

    def __init__(self, path: str, *, stream: bool = False) -> None:
        self.path = Path(path)
        self.stream = stream
        self._file: IO[str] | None = None
        self._temp: Path | None = None  # not yet renamed to its final name
        self._lock = threading.Lock()  # one block at a time, whole

    def __repr__(self) -> str:
        mode = "stream" if self.stream else "atomic"
        state = "open" if self._file is not None else "closed"
        return f"<OutputFile {str(self.path)!r} {mode} {state}>"

    def open(self) -> None:
        """Create the temporary file beside the target; a usage error if impossible."""
        if self.path.is_dir():
            raise UsageError(f"cannot write {self.path}: it is a directory")
        try:
            fd, name = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
        except OSError as exc:
            raise UsageError(f"cannot write {self.path}: {exc.strerror}") from exc
        # mkstemp makes the file 0600; give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(fd, 0o666 & ~umask)
        self._temp = Path(name)
        self._file = os.fdopen(
            fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n"
        )

    def start(self) -> None:
        """Streaming mode: put the file (holding what was written so far) in place."""
        if self.stream and self._temp is not None and self._file is not None:
            self._file.flush()
            os.replace(self._temp, self.path)
            self._temp = None

    def write(self, text: str) -> None:
        """Append ``text``; flushed at once when streaming.  Blocking: call in a thread."""
        try:
            with self._lock:
                assert self._file is not None, "open() first"
                self._file.write(text)
                if self.stream and self._temp is None:  # started: flush each block
                    self._file.flush()
        except OSError as exc:
            raise AwaitkitError(f"cannot write {self.path}: {exc.strerror}") from exc

    def commit(self) -> None:
        """Finish: flush, sync and (atomic mode) rename over the target."""
        with self._lock:
            file, self._file = self._file, None
        if file is None:
            return
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            if self._temp is not None:
                os.replace(self._temp, self.path)
                self._temp = None
        except OSError as exc:
            self._discard()
            raise AwaitkitError(f"cannot write {self.path}: {exc.strerror}") from exc

    def abort(self, *, keep: bool) -> Path | None:
        """Stop early; never touches the target in atomic mode.

        With ``keep``, results written so far stay: in the target when
        streaming, else renamed to ``FILE.partial`` (returned).  Without it,
        the temporary file is removed.
        """
        with self._lock:
            file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()
        if self._temp is None:
            return None
        if keep:
            partial = self.path.with_name(self.path.name + ".partial")
            with contextlib.suppress(OSError):
                os.replace(self._temp, partial)
                self._temp = None
                return partial
        self._discard()
        return None

    def _discard(self) -> None:
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()
            self._temp = None


def parse_output_line(line: str) -> tuple[str, str, bool] | None:
    """``(domain, status, is_json)`` of one output line, or ``None`` if unreadable.

    Plain columns give ``FOUND``, ``NOT FOUND`` (NXDOMAIN or NODATA: the
    columns do not say which) or the status in a FAILED line's parentheses.
    JSON lines may name the domain ``domain`` or ``name``.

    Example::

        >>> parse_output_line("\\t\\tnope.test")
        ('nope.test', 'NOT FOUND', False)
    """
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # bad JSON; absurdly deep nesting
            return None
        if not isinstance(record, dict):
            return None
        domain = record.get("domain", record.get("name"))
        status = record.get("status")
        if not isinstance(domain, str) or not isinstance(status, str) or not domain:
            return None
        return domain, status, True
    if line in _HEADER_LINES or "\t" in line.lstrip("\t"):
        return None
    if line.startswith("\t\t\t\t"):
        domain, sep, status = line[4:].rpartition(" (")
        if not sep or not status.endswith(")") or not domain:
            return None
        return domain, status[:-1], False
    if line.startswith("\t\t") and not line.startswith("\t\t\t"):
        domain, status = line[2:], "NOT FOUND"
    elif not line.startswith("\t"):
        domain, status = line, "FOUND"
    else:
        return None
    # Plain lines carry no syntax to check but the name's own.
    if not domain or domain != domain.strip() or to_ascii(domain) is None:
        return None
    return domain, status, False


@dataclass
class Resumed:
    """What a resume file held: the settled names, and the lines kept or skipped."""

    settled: set[str] = field(default_factory=set)
    kept: int = 0
    unreadable: int = 0


def _lines(stream: IO[bytes]) -> Iterator[tuple[bytes | None, bool]]:
    """``(line, complete)``; an overlong line comes back as ``None``."""
    while line := stream.readline(_MAX_LINE + 1):
        complete = line.endswith(b"\n")
        if len(line) > _MAX_LINE and not complete:
            while (rest := stream.readline(1 << 16)) and not rest.endswith(b"\n"):
                pass
            yield None, False
            continue
        yield line, complete


def read_resume(
    path: str,
    *,
    as_json: bool,
    keep: Callable[[str], bool],
    write: Callable[[str], None],
) -> Resumed:
    """Read a previous output; ``write`` each settled line that ``keep(status)`` wants.

    The file must be in the format being written (``as_json``); the first
    readable line decides.  A name settled twice is kept once.  Plain lines
    must end in a newline (a cut last line could read as a shorter name);
    JSON lines carry their own end.
    """
    resumed = Resumed()
    file_is_json: bool | None = None
    try:
        with open(path, "rb") as stream:
            for raw, complete in _lines(stream):
                if raw is None:
                    resumed.unreadable += 1
                    continue
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not text.strip():
                    continue
                parsed = parse_output_line(text)
                if parsed is None or (not complete and not parsed[2]):
                    if text not in _HEADER_LINES:
                        resumed.unreadable += 1
                    continue
                domain, status, is_json = parsed
                if file_is_json is None:
                    file_is_json = is_json
                    if is_json != as_json:
                        have = "JSON lines" if is_json else "plain columns"
                        want = "--json" if is_json else "plain output (no --json)"
                        raise UsageError(f"--resume {path} holds {have}; give {want}")
                if is_json != file_is_json:
                    resumed.unreadable += 1
                    continue
                settled = status in SETTLED or status == "NOT FOUND"
                if settled and domain not in resumed.settled:
                    resumed.settled.add(domain)
                    if keep(status):
                        write(text + "\n")
                        resumed.kept += 1
    except OSError as exc:
        raise UsageError(f"cannot read --resume {path}: {exc.strerror}") from exc
    return resumed
