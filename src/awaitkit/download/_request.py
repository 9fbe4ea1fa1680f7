"""What ``awaitkit fetch``'s request options amount to: fields, credentials, cookies.

``-H``, ``-A``, ``--referer``, ``-u``, ``--netrc``/``--netrc-file`` and
``-b``/``-c`` are read here, before the event loop starts (a netrc or a
cookie file is file I/O), and turned into :class:`DownloadOptions` fields;
:func:`~awaitkit.download._fetch.open_client` hands them to the
:class:`~awaitkit.http.HttpClient`, whose business it is to put them on
each request.  Every bad value is a :class:`UsageError` with one line
saying which option and why.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import warnings
from typing import TYPE_CHECKING, Any

from awaitkit.core import AwaitkitError, UsageError

if TYPE_CHECKING:
    from http.cookiejar import CookieJar, MozillaCookieJar

__all__ = [
    "load_cookies",
    "load_netrc",
    "parse_header",
    "parse_user",
    "request_options",
    "save_cookies",
]

_MAX_HEADER = 8192  # characters of one -H: what common servers accept in a field
_MAX_COOKIE_STRING = 4096  # RFC 6265's minimum a server is asked to take
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an RFC 9110 token
# Printable Latin-1 but ";" (it separates cookies): no control character,
# and no lone surrogate from a non-UTF-8 argument.
_COOKIE_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e\x80-\xff]*")


def parse_header(text: str) -> tuple[str, str | None]:
    """One ``-H`` as curl reads it: ``(name, value)``; ``None`` removes the field.

    ``'Name: value'`` sends it, ``'Name:'`` removes the client's own field
    of that name (User-Agent, Accept-Encoding), ``'Name;'`` sends it empty.

    >>> parse_header("X-Token: abc "), parse_header("User-Agent:"), parse_header("X-Empty;")
    (('X-Token', 'abc'), ('User-Agent', None), ('X-Empty', ''))
    """
    if len(text) > _MAX_HEADER:
        raise UsageError(f"-H: a header over {_MAX_HEADER} characters")
    name, colon, value = text.partition(":")
    if colon:
        value = value.strip(" \t")
        return _checked(name, value or None, text)
    if text.endswith(";") and ";" not in text[:-1]:
        return _checked(text[:-1], "", text)
    raise UsageError(
        f"-H: use 'Name: value' (or 'Name;' for an empty one), not {text!r}"
    )


def _checked(name: str, value: str | None, text: str) -> tuple[str, str | None]:
    from awaitkit.http import check_headers

    try:
        check_headers([(name, value)])
    except UsageError as exc:
        raise UsageError(f"-H {text!r}: {exc}") from None
    return name, value


def parse_user(text: str) -> tuple[str, str]:
    """``-u USER:PASS`` -> ``(user, password)``; the password may hold ``:``."""
    user, colon, password = text.partition(":")
    if not colon or not user:
        raise UsageError("-u: use USER:PASS (no password prompt here)")
    from awaitkit.http import BasicAuth

    try:
        BasicAuth((user, password))  # the checks its encoding makes
    except UsageError as exc:
        raise UsageError(f"-u: {exc}") from None
    return user, password


def parse_cookie_string(text: str) -> str:
    """``-b 'name=value; name2=value2'`` as curl reads it, checked and normalized.

    >>> parse_cookie_string(" a=1;b=2 ; ")
    'a=1; b=2'
    """
    if len(text) > _MAX_COOKIE_STRING:
        raise UsageError(f"-b: cookie data over {_MAX_COOKIE_STRING} characters")
    pairs = []
    for part in text.split(";"):
        part = part.strip(" \t")
        if not part:
            continue
        name, equals, value = part.partition("=")
        name, value = name.strip(" \t"), value.strip(" \t")
        if not equals or not _COOKIE_NAME.fullmatch(name):
            raise UsageError(f"-b: not a cookie (name=value): {part!r}")
        if not _COOKIE_VALUE.fullmatch(value):
            raise UsageError(
                f"-b: cookie {name} has a character a Cookie field cannot carry"
            )
        pairs.append(f"{name}={value}")
    if not pairs:
        raise UsageError("-b: no cookie in the data")
    return "; ".join(pairs)


def load_netrc(path: str, *, required: bool) -> dict[str, tuple[str, str]]:
    """Credentials per host from a netrc file (key ``""``: its ``default`` entry).

    A missing file is no credentials unless ``required`` (``--netrc-file``);
    a malformed one is a :class:`UsageError` naming the file and line.
    """
    import netrc

    try:
        parsed = netrc.netrc(path)
    except FileNotFoundError:
        if required:
            raise UsageError(f"--netrc-file: no such file {path}") from None
        return {}
    except netrc.NetrcParseError as exc:
        raise UsageError(
            f"bad netrc file {path}: {exc.msg} (line {exc.lineno})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read netrc file {path}: {exc}") from None
    found: dict[str, tuple[str, str]] = {}
    for host, (login, _account, password) in parsed.hosts.items():
        try:
            from awaitkit.http import BasicAuth

            BasicAuth((login, password or ""))
        except UsageError as exc:
            raise UsageError(f"bad netrc file {path}: machine {host}: {exc}") from None
        found["" if host == "default" else host.lower()] = (login, password or "")
    return found


def load_cookies(path: str | None, jar_path: str | None) -> MozillaCookieJar:
    """The jar of ``-b FILE`` (Netscape format), or an empty one for ``-c`` alone.

    ``-b`` naming a file that is not there yet is fine only when ``-c`` names
    the same one (the ``-b jar -c jar`` idiom of a first run).
    """
    from http.cookiejar import LoadError, MozillaCookieJar

    jar = MozillaCookieJar()
    if jar_path is not None:
        folder = os.path.dirname(os.path.abspath(jar_path))
        if not os.path.isdir(folder):
            raise UsageError(f"-c: no folder {folder} to write {jar_path} in")
    if path is None:
        return jar
    try:
        with warnings.catch_warnings():
            # A malformed line is a LoadError, after a warning that quotes a
            # traceback ("http.cookiejar bug!"): the error alone says it.
            warnings.simplefilter("ignore")
            jar.load(path, ignore_discard=True, ignore_expires=True)
    except FileNotFoundError:
        if jar_path is None or os.path.abspath(path) != os.path.abspath(jar_path):
            raise UsageError(f"-b: no such cookie file {path}") from None
    except (LoadError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(
            f"-b: {path} is not a Netscape cookie file: {str(exc).splitlines()[0]}"
        ) from None
    except OSError as exc:
        raise UsageError(f"-b: cannot read {path}: {exc}") from None
    for cookie in jar:
        if cookie.expires == 0:  # curl's mark of a session cookie
            cookie.expires, cookie.discard = None, True
    jar.clear_expired_cookies()
    return jar


def save_cookies(jar: CookieJar, path: str) -> None:
    """Write ``jar`` to ``path`` in Netscape format, atomically (session cookies too, as curl)."""
    from http.cookiejar import MozillaCookieJar

    if not isinstance(jar, MozillaCookieJar):
        copy = MozillaCookieJar()
        for cookie in jar:
            copy.set_cookie(cookie)
        jar = copy
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(prefix=".cookies.", suffix=".tmp", dir=folder)
        os.close(fd)
        try:
            jar.save(temp, ignore_discard=True, ignore_expires=False)
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError as exc:
        raise AwaitkitError(f"cannot write cookie jar {path}: {exc}") from None


def request_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`DownloadOptions` fields of the request options in ``args``."""
    extra: dict[str, Any] = {}
    headers: list[tuple[str, str | None]] = []
    if args.user_agent is not None:
        if args.user_agent:
            _checked("User-Agent", args.user_agent, "-A")
            extra["user_agent"] = args.user_agent
        else:  # curl's -A '': no User-Agent at all
            headers.append(("User-Agent", None))
    if args.referer is not None:
        headers.append(_checked("Referer", args.referer, "--referer"))
    # A -H 'User-Agent: x' replaces the client's own field, so it wins over -A.
    headers += [parse_header(text) for text in args.header or ()]
    if headers:
        extra["headers"] = tuple(headers)
    if args.user is not None:
        extra["credentials"] = parse_user(args.user)
    netrc_file = args.netrc_file
    if netrc_file is None and args.netrc:
        netrc_file = os.environ.get("NETRC") or os.path.join(
            os.path.expanduser("~"), ".netrc"
        )
    if netrc_file is not None:
        found = load_netrc(netrc_file, required=args.netrc_file is not None)
        extra["netrc"] = tuple(sorted(found.items()))
    if args.cookie is not None or args.cookie_jar is not None:
        cookie_file = args.cookie
        if cookie_file is not None and "=" in cookie_file:  # curl: data, not a file
            extra["cookie_string"] = parse_cookie_string(cookie_file)
            cookie_file = None
        extra["cookie_jar"] = load_cookies(cookie_file, args.cookie_jar)
    return extra
