"""Control API tokens: made at random or checked (a module of its own, light to import).

The flags server checks a given token when it is constructed (a bad one is
a usage error before anything binds) without importing the control API.
"""

from __future__ import annotations

import re
import secrets

from awaitkit.core import UsageError

__all__ = ["check_token", "new_token"]

_TOKEN_CHARS = re.compile(r"[\x21-\x7e]{8,512}")  # visible ASCII, no spaces


def new_token() -> str:
    """A random token (192 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


def check_token(token: str) -> str:
    """``token`` if it can travel in a header, else :class:`UsageError`."""
    if not _TOKEN_CHARS.fullmatch(token):
        raise UsageError(
            "the control token must be 8-512 visible ASCII characters, no spaces"
        )
    return token
