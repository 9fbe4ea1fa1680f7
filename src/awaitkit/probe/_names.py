"""Domain names in, wire-ready ASCII out; and the book's candidate names.

Pure functions, no I/O.  :func:`to_ascii` is the single gate every name
passes before a resolver sees it: it never raises, it returns ``None`` for a
name no resolver could ask about (the prober reports those as INVALID).
"""

from __future__ import annotations

import encodings.idna
import keyword
import re
from collections.abc import Iterator

__all__ = ["MAX_LABEL", "MAX_NAME", "candidate_names", "to_ascii"]

MAX_LABEL = 63  # octets per label (RFC 1035 2.3.4)
MAX_NAME = 253  # octets of the dotted text form without the final dot

# Hostname letters plus "_" (SRV and DMARC style labels are real DNS names).
_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\Z")
# The common case in one regex call: an already lower-case ASCII hostname.
_PLAIN_NAME = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
    r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.?"
)
# Dots that IDNA (UTS 46 / RFC 3490) treats as label separators.
_DOTS = re.compile("[\u3002\uff0e\uff61]")


def to_ascii(name: str) -> str | None:
    """Return ``name`` validated, lower-cased and IDNA-encoded, or ``None`` if invalid.

    Example::

        >>> to_ascii("Bücher.DE.")
        'xn--bcher-kva.de'
        >>> to_ascii("a..b") is None
        True

    One trailing dot is accepted (an absolute name); empty labels, labels over
    63 octets, names over 253 octets and characters outside hostname syntax
    are not.
    """
    if len(name) <= MAX_NAME and _PLAIN_NAME.fullmatch(name):
        return name[:-1] if name.endswith(".") else name
    text = name.strip()
    if not text.isascii():
        text = _DOTS.sub(".", text)
    if text.endswith("."):
        text = text[:-1]
    if not text or len(text) > MAX_NAME * 4:  # cheap bound before any real work
        return None
    labels = text.split(".")
    out: list[str] = []
    for label in labels:
        if not label:
            return None
        if label.isascii():
            ascii_label = label.lower()
        else:
            try:
                # IDNA 2003 (stdlib): nameprep + punycode, length-checked.
                ascii_label = encodings.idna.ToASCII(label).decode("ascii").lower()
            except (UnicodeError, ValueError):
                return None
        if len(ascii_label) > MAX_LABEL or not _ASCII_LABEL.match(ascii_label):
            return None
        out.append(ascii_label)
    result = ".".join(out)
    if len(result) > MAX_NAME:
        return None
    return result


def candidate_names(tld: str) -> Iterator[str]:
    """The book's domaincheck names: Python keywords of at most 4 letters + ``.tld``.

    Example::

        >>> list(candidate_names("DEV"))[:3]
        ['none.dev', 'true.dev', 'and.dev']
    """
    suffix = tld.strip().strip(".").lower()
    return (f"{kw}.{suffix}".lower() for kw in keyword.kwlist if len(kw) <= 4)
