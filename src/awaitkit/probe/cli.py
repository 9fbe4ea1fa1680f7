"""``awaitkit probe``: arguments only; the work is in ``_command`` (imported lazily)."""

from __future__ import annotations

import argparse

from awaitkit._argtypes import Subcommands

EPILOG = """\
output: the book's FOUND / NOT FOUND columns (NOT FOUND = NXDOMAIN or NODATA,
and WILDCARD names when detected), plus a FAILED column for names the resolver could not settle (SERVFAIL,
TIMEOUT, REFUSED) or could not ask about (INVALID); --json prints one JSON
object per line instead.  A summary of counts by status goes to stderr, with
a line each for wildcards, --verify and --settle when asked for.

resolvers: "system" is getaddrinfo in a thread pool (honours /etc/hosts; at
most ~6-32 lookups in flight); "direct" sends UDP queries straight to the
nameservers given (or those of /etc/resolv.conf) and is the default when
--nameserver is given.

exit status: 0 every name got a definite answer (FOUND, NXDOMAIN, NODATA,
INVALID, WILDCARD); 1 some got SERVFAIL, TIMEOUT or REFUSED (after
--settle, if given); 2 usage error; 130 interrupted (Ctrl-C); 143 stopped
by SIGTERM.
"""


def register(commands: Subcommands) -> None:
    """Register the ``probe`` subcommand."""
    parser = commands.add_parser(
        "probe",
        help="probe DNS names: which exist? (the book's domaincheck)",
        description="Probe DNS names. With a TLD, probe the book's domaincheck\n"
        "names (Python keywords of up to 4 letters + .TLD); with -i, names\n"
        "from a file or stdin, one per line.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("tld", nargs="?", metavar="TLD", help="e.g. dev or com.br")
    parser.add_argument(
        "-i",
        "--input",
        metavar="FILE",
        help="read names from FILE ('-' for stdin), one per line; '#' starts a comment",
    )
    parser.add_argument(
        "--nameserver",
        action="append",
        metavar="IP[:PORT]",
        help="nameserver to query directly (repeatable; implies --resolver direct)",
    )
    parser.add_argument(
        "--resolver",
        choices=("system", "direct"),
        help="system (getaddrinfo) or direct (UDP to nameservers); "
        "default: direct with --nameserver, else system",
    )
    parser.add_argument(
        "-c",
        "--concurrency",
        type=int,
        metavar="N",
        help="names probed at once (default: 1000 direct, 100 system)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="per try (direct) or per lookup (system); default 2",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        metavar="N",
        help="direct: retries after a timeout, SERVFAIL or REFUSED, each on "
        "the next nameserver (default 2)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        metavar="QPS",
        help="direct: send at most QPS queries per second",
    )
    parser.add_argument(
        "--type",
        dest="types",
        choices=("A", "AAAA", "both"),
        type=_query_types,
        help="address types asked for (default: A direct, both system)",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per line on stdout"
    )
    parser.add_argument(
        "--only",
        choices=("found", "missing"),
        help="print only FOUND names, or only NOT FOUND ones (NXDOMAIN/NODATA)",
    )
    wild = parser.add_argument_group(
        "wildcards and bad resolvers",
        "Wildcard detection is off by default: the book asks whether a name\n"
        "resolves, and a wildcard name does.  A WILDCARD name prints in the NOT\n"
        "FOUND column as 'NAME (WILDCARD)' (status WILDCARD in --json).",
    )
    wild.add_argument(
        "--detect-wildcards",
        action="store_true",
        help="ask random names under each FOUND name's parent; names whose "
        "addresses the wildcard gives are WILDCARD",
    )
    wild.add_argument(
        "--filter-wildcards",
        action="store_true",
        help="detect wildcards and leave WILDCARD names out of the output",
    )
    wild.add_argument(
        "--wildcard-tests",
        type=int,
        metavar="N",
        help="random names asked per parent zone (default 3)",
    )
    wild.add_argument(
        "--trusted-resolvers",
        "--resolvers-trusted",
        metavar="FILE",
        help="resolvers to trust (IP[:PORT] a line): used by --verify and "
        "for the wildcard tests",
    )
    wild.add_argument(
        "--verify",
        action="store_true",
        help="re-ask every FOUND name of the trusted resolvers and report "
        "their answer; name the resolvers that answered for names they deny",
    )
    wild.add_argument(
        "--settle",
        action="store_true",
        help="re-probe names that ended in TIMEOUT, SERVFAIL or REFUSED, "
        "on other nameservers, after the rest",
    )
    wild.add_argument(
        "--settle-rounds",
        type=int,
        metavar="N",
        help="re-probe rounds for --settle (default 3)",
    )
    parser.set_defaults(handler=_run)


def _query_types(text: str) -> str:
    return "both" if text.lower() == "both" else text.upper()


def _run(args: argparse.Namespace) -> int:
    from awaitkit.probe._command import run_command

    return run_command(args)
