"""What one download ends as: the book's ``DownloadStatus`` and a per-item record."""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from awaitkit.download._job import Job

__all__ = ["DownloadResult", "DownloadStatus"]


class DownloadStatus(enum.Enum):
    """Outcome of one item, as in the book's ``flags2_common.DownloadStatus``.

    ``SKIPPED`` is ours: ``skip_existing`` found the final file already there.
    """

    OK = "ok"
    NOT_FOUND = "not_found"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True, init=False)
class DownloadResult:
    """The record of one item: every input item yields exactly one of these.

    The final file is kept as the string it was written under (``fspath``)
    and made a :class:`~pathlib.Path` only when ``path`` is read: a bulk
    download makes a result per file, in the child that fetched it and again
    in the parent that counts it, and building a ``Path`` (parsing it into
    parts) costs more than the rest of the record.  Most results are only
    counted, or printed as text.
    """

    url: str
    status: DownloadStatus
    fspath: str | None  # the final file (OK or SKIPPED) as a string, else None
    bytes: int  # bytes of the final file (0 unless OK/SKIPPED)
    attempts: int  # HTTP attempts made (0 when skipped or refused up front)
    error: str | None  # why it is not OK
    seconds: float  # wall time from start of the first attempt to the outcome
    http_status: int | None  # status of the last response, if any
    # What the saved file was made from (OK only): the URL after redirects,
    # the response's validators, and the SHA-256 of the bytes written (when
    # asked for: DownloadOptions.hash_files, or an expected sha256).
    final_url: str | None
    etag: str | None
    last_modified: str | None
    sha256: str | None
    # The input item's own options (a Job's name, headers, sha256) as its
    # JSON form, when it had any: what ``--from-report`` needs to retry it.
    item: dict[str, Any] | None

    def __init__(
        self,
        url: str,
        status: DownloadStatus,
        path: str | os.PathLike[str] | None = None,
        bytes: int = 0,
        attempts: int = 0,
        error: str | None = None,
        seconds: float = 0.0,
        http_status: int | None = None,
        *,
        final_url: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        sha256: str | None = None,
        item: dict[str, Any] | None = None,
    ) -> None:
        init = object.__setattr__  # frozen: fields are set once, here
        init(self, "url", url)
        init(self, "status", status)
        init(
            self,
            "fspath",
            path if path is None or type(path) is str else os.fspath(path),
        )
        init(self, "bytes", bytes)
        init(self, "attempts", attempts)
        init(self, "error", error)
        init(self, "seconds", seconds)
        init(self, "http_status", http_status)
        init(self, "final_url", final_url)
        init(self, "etag", etag)
        init(self, "last_modified", last_modified)
        init(self, "sha256", sha256)
        init(self, "item", item)

    def with_item(self, item: dict[str, Any] | None) -> DownloadResult:
        """This result, recording the options of the item it is for."""
        return DownloadResult(
            self.url,
            self.status,
            self.fspath,
            self.bytes,
            self.attempts,
            self.error,
            self.seconds,
            self.http_status,
            final_url=self.final_url,
            etag=self.etag,
            last_modified=self.last_modified,
            sha256=self.sha256,
            item=item,
        )

    @property
    def path(self) -> Path | None:
        """The final file (OK or SKIPPED), else None."""
        return None if self.fspath is None else Path(self.fspath)

    def to_json(self) -> dict[str, Any]:
        """The record's one JSON form: a ``--report`` line, and a result between processes.

        >>> DownloadResult("http://h/a", DownloadStatus.NOT_FOUND).to_json()["status"]
        'not_found'
        """
        return {
            "url": self.url,
            "status": self.status.value,
            "bytes": self.bytes,
            "attempts": self.attempts,
            "error": self.error,
            "seconds": round(self.seconds, 6),
            "http_status": self.http_status,
            "path": self.fspath,
            "final_url": self.final_url,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "sha256": self.sha256,
            "item": self.item,
        }

    @classmethod
    def from_json(cls, record: object) -> DownloadResult:
        """The result :meth:`to_json` wrote, checked field by field.

        Anything else (a missing or unknown field, a wrong type, a number
        out of range) is a :class:`ValueError` naming the field: the record
        may come from another process or from a file someone edited.
        """
        # One expression for the common case (a result per downloaded file
        # crosses here); _refusal() then finds what was wrong.
        if type(record) is dict and record.keys() == _FIELDS:
            url, status, path, error = (
                record["url"],
                record["status"],
                record["path"],
                record["error"],
            )
            size, attempts, seconds, http_status = (
                record["bytes"],
                record["attempts"],
                record["seconds"],
                record["http_status"],
            )
            final_url, etag, modified, sha256 = (
                record["final_url"],
                record["etag"],
                record["last_modified"],
                record["sha256"],
            )
            item = record["item"]
            if (
                type(url) is str
                and type(status) is str
                and (outcome := _STATUSES.get(status)) is not None
                and (path is None or type(path) is str)
                and (error is None or type(error) is str)
                and type(size) is int  # bool is an int, and no count
                and 0 <= size <= _MAX_BYTES
                and type(attempts) is int
                and 0 <= attempts <= _MAX_ATTEMPTS
                and type(seconds) in (int, float)
                and 0 <= seconds <= _MAX_SECONDS  # NaN fails it
                and (
                    http_status is None
                    or (type(http_status) is int and 100 <= http_status <= 999)
                )
                and (final_url is None or type(final_url) is str)
                and (etag is None or type(etag) is str)
                and (modified is None or type(modified) is str)
                and (
                    sha256 is None
                    or (type(sha256) is str and _HEX64.fullmatch(sha256) is not None)
                )
                and (item is None or _is_item(item))
            ):
                return cls(
                    url,
                    outcome,
                    path,
                    size,
                    attempts,
                    error,
                    float(seconds),
                    http_status,
                    final_url=final_url,
                    etag=etag,
                    last_modified=modified,
                    sha256=sha256,
                    item=item,
                )
        raise ValueError(_refusal(record))


_FIELDS = frozenset(
    (
        "url",
        "status",
        "bytes",
        "attempts",
        "error",
        "seconds",
        "http_status",
        "path",
        "final_url",
        "etag",
        "last_modified",
        "sha256",
        "item",
    )
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_STATUSES = {status.value: status for status in DownloadStatus}
_MAX_BYTES = 2**63 - 1  # the largest file size an OS reports
_MAX_ATTEMPTS = 2**31 - 1
_MAX_SECONDS = 10.0**9  # some thirty years


def _is_item(item: object) -> bool:
    try:
        Job.from_json(item)
    except ValueError:
        return False
    return True


def _refusal(record: object) -> str:
    """Why :meth:`DownloadResult.from_json` refuses ``record``, field by field."""
    if type(record) is not dict:
        return f"download record is not an object: {record!r:.80}"
    if record.keys() != _FIELDS:
        missing = sorted(_FIELDS - record.keys())
        extra = sorted(map(str, record.keys() - _FIELDS))
        return f"download record fields: missing {missing}, unknown {extra}"
    for field in ("url", "status", "path", "error", "final_url", "etag"):
        value = record[field]
        if field in ("url", "status") and type(value) is not str:
            if field == "status":
                return f"download record: 'status' {value!r:.40} is not a status"
            return "download record: 'url' must be a string"
        if field == "status" and value not in _STATUSES:
            return f"download record: 'status' {value!r:.40} is not a status"
        if (
            field not in ("url", "status")
            and value is not None
            and type(value) is not str
        ):
            return f"download record: {field!r} must be a string or null"
    modified = record["last_modified"]
    if modified is not None and type(modified) is not str:
        return "download record: 'last_modified' must be a string or null"
    sha256 = record["sha256"]
    if sha256 is not None and (
        type(sha256) is not str or _HEX64.fullmatch(sha256) is None
    ):
        return "download record: 'sha256' must be 64 hex digits or null"
    item = record["item"]
    if item is not None:
        try:
            Job.from_json(item)
        except ValueError as exc:
            return f"download record: 'item': {exc}"
    for field, least, most in (
        ("bytes", 0, _MAX_BYTES),
        ("attempts", 0, _MAX_ATTEMPTS),
        ("http_status", 100, 999),
    ):
        value = record[field]
        if field == "http_status" and value is None:
            continue
        if type(value) is not int:
            return f"download record: {field!r} must be an integer"
        if not least <= value <= most:
            return f"download record: {field!r} out of range"
    seconds = record["seconds"]
    return f"download record: 'seconds' {seconds!r:.40} out of range"
