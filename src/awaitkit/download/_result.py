"""What one download ends as: the book's ``DownloadStatus`` and a per-item record."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DownloadResult", "DownloadStatus"]


class DownloadStatus(enum.Enum):
    """Outcome of one item, as in the book's ``flags2_common.DownloadStatus``.

    ``SKIPPED`` is ours: ``skip_existing`` found the final file already there.
    """

    OK = "ok"
    NOT_FOUND = "not_found"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """The record of one item: every input item yields exactly one of these."""

    url: str
    status: DownloadStatus
    path: Path | None = None  # the final file (OK or SKIPPED), else None
    bytes: int = 0  # bytes of the final file (0 unless OK/SKIPPED)
    attempts: int = 0  # HTTP attempts made (0 when skipped or refused up front)
    error: str | None = None  # why it is not OK
    seconds: float = 0.0  # wall time from start of the first attempt to the outcome
    http_status: int | None = None  # status of the last response, if any

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
            "path": None if self.path is None else str(self.path),
        }

    @classmethod
    def from_json(cls, record: object) -> DownloadResult:
        """The result :meth:`to_json` wrote, checked field by field.

        Anything else (a missing or unknown field, a wrong type, a number
        out of range) is a :class:`ValueError` naming the field: the record
        may come from another process or from a file someone edited.
        """
        if not isinstance(record, dict):
            raise ValueError(f"download record is not an object: {record!r:.80}")
        if record.keys() != _FIELDS:
            missing = sorted(_FIELDS - record.keys())
            extra = sorted(map(str, record.keys() - _FIELDS))
            raise ValueError(
                f"download record fields: missing {missing}, unknown {extra}"
            )
        url, status, path, error = (
            record["url"],
            record["status"],
            record["path"],
            record["error"],
        )
        if not isinstance(url, str):
            raise ValueError("download record: 'url' must be a string")
        try:
            outcome = DownloadStatus(status)
        except (ValueError, TypeError):
            raise ValueError(
                f"download record: 'status' {status!r:.40} is not a status"
            ) from None
        if path is not None and not isinstance(path, str):
            raise ValueError("download record: 'path' must be a string or null")
        if error is not None and not isinstance(error, str):
            raise ValueError("download record: 'error' must be a string or null")
        http_status = record["http_status"]
        if http_status is not None:
            http_status = _count(record, "http_status", 999)
            if http_status < 100:
                raise ValueError("download record: 'http_status' out of range")
        seconds = record["seconds"]
        if (
            type(seconds) not in (int, float)
            or not 0 <= seconds <= _MAX_SECONDS  # NaN fails both
        ):
            raise ValueError(f"download record: 'seconds' {seconds!r:.40} out of range")
        return cls(
            url,
            outcome,
            None if path is None else Path(path),
            _count(record, "bytes", _MAX_BYTES),
            _count(record, "attempts", _MAX_ATTEMPTS),
            error,
            float(seconds),
            http_status,
        )


_FIELDS = frozenset(
    ("url", "status", "bytes", "attempts", "error", "seconds", "http_status", "path")
)
_MAX_BYTES = 2**63 - 1  # the largest file size an OS reports
_MAX_ATTEMPTS = 2**31 - 1
_MAX_SECONDS = 10.0**9  # some thirty years


def _count(record: dict[str, Any], field: str, most: int) -> int:
    value = record[field]
    if type(value) is not int:  # bool is an int, and no count
        raise ValueError(f"download record: {field!r} must be an integer")
    if not 0 <= value <= most:
        raise ValueError(f"download record: {field!r} out of range")
    return value
