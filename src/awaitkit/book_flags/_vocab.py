"""The book's flags2/flags3 vocabulary: servers, country-code expansion, jobs (pure).

The closing report is shared with ``awaitkit fetch``: see
:func:`awaitkit.download._batch.final_report`.

Messages and formats follow ``flags2_common.py`` of *Fluent Python*, 2nd ed.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import urlsplit

from awaitkit.download import Job

__all__ = [
    "DEFAULT_CONCUR_REQ",
    "MAX_CONCUR_REQ",
    "POP20_CC",
    "SERVERS",
    "CCUsageError",
    "expand_cc_args",
    "flag_jobs",
    "initial_report",
    "resolve_server",
]

POP20_CC = (
    "CN",
    "IN",
    "US",
    "ID",
    "BR",
    "PK",
    "NG",
    "BD",
    "RU",
    "JP",
    "MX",
    "PH",
    "VN",
    "ET",
    "EG",
    "DE",
    "IR",
    "TR",
    "CD",
    "FR",
)
DEFAULT_CONCUR_REQ = 5
MAX_CONCUR_REQ = 1000
SERVERS = {
    "REMOTE": "https://www.fluentpython.com/data/flags",
    "LOCAL": "http://localhost:8000/flags",
    "DELAY": "http://localhost:8001/flags",
    "ERROR": "http://localhost:8002/flags",
}
_A_Z = string.ascii_uppercase


class CCUsageError(ValueError):
    """A CC argument that is neither A..Z nor AA..ZZ (carries the book's message)."""


def expand_cc_args(
    every_cc: bool,
    all_cc: bool,
    cc_args: Iterable[str],
    limit: int,
    data_set: Iterable[str] = (),
) -> list[str]:
    """The sorted country codes asked for, at most ``limit`` of them.

    >>> expand_cc_args(False, False, ["b", "CN"], 3)
    ['BA', 'BB', 'BC']
    """
    codes: set[str] = set()
    if every_cc:
        codes.update(a + b for a in _A_Z for b in _A_Z)
    elif all_cc:
        codes.update(cc.upper() for cc in data_set)
    else:
        for cc in (c.upper() for c in cc_args):
            if len(cc) == 1 and cc in _A_Z:
                codes.update(cc + c for c in _A_Z)
            elif len(cc) == 2 and all(c in _A_Z for c in cc):
                codes.add(cc)
            else:
                raise CCUsageError(
                    "*** Usage error: each CC argument must be A to Z or AA to ZZ."
                )
    return sorted(codes)[:limit]


def resolve_server(server: str) -> tuple[str, str] | None:
    """``(label, base URL)`` for a book label or an http(s) URL; None if neither.

    A URL with no path gets the book's ``/flags`` appended, so both
    ``http://127.0.0.1:8000`` and ``http://127.0.0.1:8000/flags`` work.
    """
    label = server.upper()
    if label in SERVERS:
        return label, SERVERS[label]
    parts = urlsplit(server)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    base = server.rstrip("/")
    if parts.path in ("", "/"):
        base += "/flags"
    return "URL", base


def flag_jobs(
    base_url: str, cc_list: Iterable[str], *, metadata: bool
) -> Iterable[Job]:
    """One job per code: ``<base>/<cc>/<cc>.gif`` saved as ``CC.gif`` (book naming).

    With ``metadata`` (flags3), ``metadata.json`` is fetched first and the file
    is named after its ``country``.
    """
    for cc in cc_list:
        low = cc.lower()
        url = f"{base_url}/{low}/{low}.gif"
        if metadata:
            yield Job(url, metadata_url=f"{base_url}/{low}/metadata.json")
        else:
            yield Job(url, name=f"{cc}.gif")


def initial_report(
    cc_list: list[str],
    actual_req: int,
    label: str,
    url: str,
    file: TextIO | None = None,
) -> None:
    """The book's opening lines: site, what is searched for, connections used."""
    file = file or sys.stdout
    if len(cc_list) <= 10:
        cc_msg = ", ".join(cc_list)
    else:
        cc_msg = f"from {cc_list[0]} to {cc_list[-1]}"
    file.write(f"{label} site: {url}\n")
    plural = "s" if len(cc_list) != 1 else ""
    file.write(f"Searching for {len(cc_list)} flag{plural}: {cc_msg}\n")
    if actual_req == 1:
        file.write("1 connection will be used.\n")
    else:
        file.write(f"{actual_req} concurrent connections will be used.\n")
