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
        """One ``--report`` line: url, status, bytes, attempts, error, seconds, ..."""
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
