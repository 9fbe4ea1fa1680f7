"""``awaitkit fetch``: declare the arguments only.

The work lives in ``_commands`` and is imported when the command runs, so
building the parser stays cheap.  :func:`add_common_arguments` is shared
with the book's ``awaitkit flags`` (:mod:`awaitkit.book_flags`).
"""

from __future__ import annotations

import argparse

from awaitkit._argtypes import Subcommands


def _run_fetch(args: argparse.Namespace) -> int:
    from awaitkit.download._commands import run_fetch

    return run_fetch(args)


def _register_fetch(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "fetch",
        help="download any list of URLs, concurrently, with retries",
        description="Download URLs into --dest. Each body goes to .NAME.part and is "
        "renamed only once complete; an interrupted .part is resumed with a Range "
        "request next time. Exit status 1 if any URL was not downloaded; Ctrl-C "
        "prints the summary, keeps the .part files and exits 130 (SIGTERM: 143).",
    )
    parser.add_argument("urls", metavar="URL", nargs="*", help="URLs to download")
    parser.add_argument(
        "-i",
        "--input",
        metavar="FILE",
        help="read URLs from FILE, one per line ('-': stdin); a line may also be "
        'a JSON object: {"url": ..., "name": ..., "headers": {...}, "sha256": ...}',
    )
    parser.add_argument(
        "--from-report",
        metavar="FILE.jsonl",
        help="retry the items of an earlier run's --report that did not end OK "
        "(with their own name, headers and sha256); instead of -i",
    )
    parser.add_argument(
        "--dest", metavar="DIR", default=".", help="where to save (default: .)"
    )
    parser.add_argument(
        "-j",
        "--jobs",
        "-m",
        "--max-concurrency",
        dest="max_req",
        metavar="N",
        type=int,
        default=10,
        help="requests in flight in total (default 10); -j/--jobs, as aria2c and GNU "
        "parallel name it, is the canonical spelling, -m/--max-concurrency the older one",
    )
    parser.add_argument(
        "--per-host",
        metavar="N",
        type=int,
        default=0,
        help="requests in flight per host (default 0: only -m applies)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print one line per URL"
    )
    parser.add_argument(
        "--content-disposition",
        action="store_true",
        help="name files after the server's Content-Disposition (sanitised)",
    )
    parser.add_argument(
        "--checksum",
        metavar="sha256=HEX",
        help="check the one URL's body against this SHA-256 (as aria2c's "
        "--checksum): a mismatch is an ERROR and no file is kept",
    )
    parser.add_argument(
        "--compressed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ask for gzip, deflate, br or zstd and save bodies decoded, as curl's "
        "--compressed; --max-size then limits the decoded size, and a resumed "
        ".part is continued as identity bytes (default on; --no-compressed: ask "
        "for identity and save bodies as sent)",
    )
    parser.add_argument(
        "--naming",
        choices=("basename", "path", "hash"),  # _naming.NAMINGS, not imported here
        default="basename",
        help="file names: the URL's last path segment (basename), its host and path "
        "as folders, like wget -x (path), or a hash of the URL plus its extension "
        "(hash); a name already taken gets .1, .2... before its extension "
        "(default basename)",
    )
    parser.add_argument(
        "--processes",
        metavar="N|auto",
        default="auto",
        help="downloading processes sharing -m and --per-host; auto: one per CPU "
        "(at most 4) for an input file of 128 KiB or more, else 1 (default auto)",
    )
    add_cluster_arguments(parser, "downloading")
    _add_tls_arguments(parser)
    _add_proxy_arguments(parser)
    add_common_arguments(parser)
    _add_request_arguments(parser)
    parser.set_defaults(handler=_run_fetch, print_usage=parser.print_usage)


def add_cluster_arguments(parser: argparse.ArgumentParser, doing: str) -> None:
    """``--cluster`` and ``--cluster-actors`` (shared with ``awaitkit probe``)."""
    parser.add_argument(
        "--cluster",
        metavar="ray|ray://HOST:PORT",
        help=f"spread the work over {doing} Ray actors: 'ray' joins the cluster in "
        "$RAY_ADDRESS or starts a local one, ray://HOST:PORT joins that head's Ray "
        "Client port; -m and --per-host stay totals; needs pip install "
        "'awaitkit[ray]'; exit status 3 if the cluster cannot be reached",
    )
    parser.add_argument(
        "--cluster-actors",
        metavar="N",
        type=int,
        help="how many actors with --cluster (default: one per CPU of the cluster)",
    )


def _add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """curl's TLS options for https:// URLs (TLS 1.2 or later, SNI for host names)."""
    tls = parser.add_argument_group(
        "HTTPS",
        "TLS 1.2 or later; SNI is sent for host names. A refused certificate or "
        "handshake is an ERROR for the item, not retried.",
    )
    tls.add_argument(
        "--cacert",
        metavar="FILE",
        help="trust the CA certificates in FILE (PEM) instead of the system's",
    )
    tls.add_argument(
        "--capath",
        metavar="DIR",
        help="trust the CA certificates in DIR, named HASH.0, HASH.1... as "
        "openssl rehash names them (read at start) instead of the system's",
    )
    tls.add_argument(
        "-k",
        "--insecure",
        action="store_true",
        help="do not check server certificates or host names (a warning says so)",
    )
    tls.add_argument(
        "--cert",
        metavar="FILE",
        help="client certificate (PEM, with its chain; its key too unless --key)",
    )
    tls.add_argument(
        "--key",
        metavar="FILE",
        help="the client certificate's private key (PEM, not encrypted)",
    )


def _add_proxy_arguments(parser: argparse.ArgumentParser) -> None:
    """curl's proxy options; the environment is read as curl reads it."""
    group = parser.add_argument_group(
        "proxies (curl's names)",
        "Without -x, http:// URLs use $http_proxy (lower case only, not "
        "HTTP_PROXY), https:// URLs $https_proxy or $HTTPS_PROXY, either one "
        "$all_proxy or $ALL_PROXY; hosts in $no_proxy or $NO_PROXY go direct. "
        "http:// goes to the proxy as GET http://host/path; https:// through a "
        "CONNECT tunnel, with TLS and certificate checks to the origin. A "
        "refused CONNECT (403, 407...) is an ERROR, not retried (502, 503, 504 "
        "are). socks5h:// (the proxy resolves names) and socks5:// (resolved "
        "here) proxies tunnel every origin, http:// ones too. https:// and "
        "SOCKS4 proxies are refused.",
    )
    group.add_argument(
        "-x",
        "--proxy",
        metavar="URL",
        help="use the proxy at [SCHEME://][USER:PASS@]HOST[:PORT] for every "
        "URL; SCHEME is http (the default), socks5h (SOCKS5, the proxy "
        "resolves names) or socks5 (SOCKS5, names resolved here); port 1080 if "
        "none given; USER:PASS percent-decoded, sent as Proxy-Authorization "
        "Basic (http) or SOCKS5 user name and password (each at most 255 "
        "bytes); it overrides the environment; -x '' uses no proxy",
    )
    group.add_argument(
        "--noproxy",
        metavar="LIST",
        help="hosts reached directly, replacing $no_proxy: comma-separated "
        "names (each matches its subdomains too; a leading dot is the same), IP "
        "addresses, CIDR ranges such as 10.0.0.0/8, or * for all; '' for none",
    )


def _add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """The request options, named as curl names them."""
    group = parser.add_argument_group(
        "request options (curl's names)",
        "Fields and credentials go on every request, redirects included, except "
        "that credentials (-u, a URL's user:password@, -H Authorization or Cookie) "
        "never go to another origin than the URL's after a redirect. A -H field "
        "wins over -A, -u, --netrc and -b.",
    )
    group.add_argument(
        "-H",
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="send this field on every request (repeatable); 'NAME:' removes the "
        "client's own one (User-Agent, Accept-Encoding), 'NAME;' sends it empty; "
        "Host may be replaced; Content-Length, Transfer-Encoding and Connection "
        "are refused (the client's own)",
    )
    group.add_argument(
        "-A",
        "--user-agent",
        metavar="NAME",
        help="the User-Agent field (default awaitkit/VERSION; '' sends none)",
    )
    group.add_argument("--referer", metavar="URL", help="the Referer field")
    group.add_argument(
        "-u",
        "--user",
        metavar="USER:PASS",
        help="HTTP Basic credentials, sent to the host of each URL given (scheme, "
        "host and port), never to another after a redirect",
    )
    group.add_argument(
        "--netrc",
        action="store_true",
        help="credentials per host from $NETRC or ~/.netrc (missing: none)",
    )
    group.add_argument(
        "--netrc-file", metavar="FILE", help="credentials per host from FILE"
    )
    group.add_argument(
        "-b",
        "--cookie",
        metavar="DATA|FILE",
        help="send cookies from FILE (Netscape format, as curl and wget write), "
        "by their domain, path, Secure and expiry; or, when it holds '=', the "
        "cookies DATA ('name=value; name2=value2') to each URL's own host (never "
        "after a redirect to another); keeps those servers set during "
        "the run; downloads in one process (--processes is then 1)",
    )
    group.add_argument(
        "-c",
        "--cookie-jar",
        metavar="FILE",
        help="write the cookies at the end to FILE (Netscape format, atomically, "
        "session cookies too); at most 1000 cookies of 4 KiB are kept; one process",
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options every download command shares (retries, timeouts, ...)."""
    parser.add_argument(
        "--retries",
        metavar="N",
        type=int,
        default=3,
        help="retries of connect errors, timeouts, resets, short bodies, 429 and 5xx "
        "(exponential backoff with jitter; Retry-After honoured) (default 3)",
    )
    parser.add_argument(
        "--timeout",
        metavar="CONNECT[,READ]",
        default="10,30",
        help="connect timeout and longest read silence, seconds (default 10,30)",
    )
    parser.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip items whose file was there before the run",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files that were there before the run (default: save under "
        "the next free name, NAME.1.EXT; two items of one run never share a file)",
    )
    parser.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="never continue .part files (and delete them on failure)",
    )
    parser.add_argument(
        "--max-size", metavar="SIZE", help="refuse bodies larger than SIZE (e.g. 10M)"
    )
    parser.add_argument(
        "--max-time",
        metavar="SECONDS",
        type=float,
        help="give up an item after SECONDS, its retries included (an ERROR; its "
        ".part is kept for a resume)",
    )
    parser.add_argument(
        "--deadline",
        metavar="SECONDS",
        type=float,
        help="end the whole run after SECONDS: no item starts later, those still "
        "running end as ERROR, the rest of the input is not read (exit 1)",
    )
    parser.add_argument(
        "--limit-rate",
        metavar="RATE",
        help="at most RATE bytes per second in all (e.g. 500K, 2M), as curl's",
    )
    parser.add_argument(
        "--max-redirects", metavar="N", type=int, default=5, help="(default 5)"
    )
    parser.add_argument(
        "--report",
        metavar="FILE.jsonl",
        help="write one JSON line per item to FILE ('-': stdout, the summary then "
        "goes to stderr): status, path, bytes, attempts, error, HTTP status, final "
        "URL, ETag, Last-Modified and the SHA-256 of the file",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar and no opening report",
    )


def register(commands: Subcommands) -> None:
    """Register ``awaitkit fetch``."""
    _register_fetch(commands)
