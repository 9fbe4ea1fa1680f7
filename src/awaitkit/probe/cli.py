"""``awaitkit probe``: arguments only; the work is in ``_command`` (imported lazily)."""

from __future__ import annotations

import argparse

from awaitkit._argtypes import Subcommands

EPILOG = """\
output: the book's FOUND / NOT FOUND columns (NOT FOUND = NXDOMAIN or NODATA),
plus a FAILED column for names the resolver could not settle (SERVFAIL,
TIMEOUT, REFUSED) or could not ask about (INVALID); --json prints one JSON
object per line instead (direct: with rcode, every answer record's name,
type, TTL and data, the CNAME chain, the resolver that answered, attempts
and duration_ms).  A summary of counts by status goes to stderr.

types: -t A, AAAA, CNAME, MX, NS, TXT, SOA, PTR, SRV, CAA or both (A+AAAA),
repeatable.  FOUND means an address at the end of the CNAME chain for A and
AAAA, and records of the type asked for the others.

--check registered: TAKEN when NS, SOA, A or AAAA (asked in turn) is
answered NOERROR, with records or without (NODATA: the name exists); FREE
only on NXDOMAIN; UNKNOWN when every type failed (and for INVALID names,
marked so).  Columns TAKEN / FREE / UNKNOWN; "registration" in --json.
--only found / missing select TAKEN / FREE.

resolvers: "system" is getaddrinfo in a thread pool (honours /etc/hosts; at
most ~6-32 lookups in flight); "direct" sends UDP queries straight to the
nameservers given (or those of /etc/resolv.conf) and is the default when
--nameserver is given.

exit status: 0 every name got a definite answer (FOUND, NXDOMAIN, NODATA,
INVALID); 1 some got SERVFAIL, TIMEOUT or REFUSED (with --check registered:
some are UNKNOWN for that reason); 2 usage error; 130 interrupted (Ctrl-C);
143 stopped by SIGTERM.
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
        "-t",
        "--type",
        dest="types",
        action="append",
        type=_query_type,
        metavar="TYPE",
        help="record type asked for, repeatable: A AAAA CNAME MX NS TXT SOA PTR "
        "SRV CAA, or both (A+AAAA); case-insensitive (default: A direct, both "
        "system; the system resolver takes A, AAAA and both only)",
    )
    parser.add_argument(
        "--check",
        choices=("registered",),
        help="registered: is each name TAKEN (any NOERROR for NS/SOA/A/AAAA), "
        "FREE (NXDOMAIN) or UNKNOWN? (direct resolver)",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per line on stdout"
    )
    parser.add_argument(
        "--only",
        choices=("found", "missing"),
        help="print only FOUND names, or only NOT FOUND ones (NXDOMAIN/NODATA)",
    )
    parser.set_defaults(handler=_run)


_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA")


def _query_type(text: str) -> str:
    name = text.strip().upper()
    if name == "BOTH":
        return "both"
    if name not in _TYPES:
        raise argparse.ArgumentTypeError(
            f"unknown type {text!r}: {', '.join(_TYPES)} or both"
        )
    return name


def _run(args: argparse.Namespace) -> int:
    from awaitkit.probe._command import run_command

    return run_command(args)
