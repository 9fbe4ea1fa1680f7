"""``awaitkit probe``: arguments only; the work is in ``_command`` (imported lazily)."""

from __future__ import annotations

import argparse

from awaitkit._argtypes import Subcommands

EPILOG = """\
output: the book's FOUND / NOT FOUND columns (NOT FOUND = NXDOMAIN or NODATA,
and WILDCARD names when detected), plus a FAILED column for names the resolver could not settle (SERVFAIL,
TIMEOUT, REFUSED) or could not ask about (INVALID); --json prints one JSON
object per line instead (direct: with rcode, every answer record's name,
type, TTL and data, the CNAME chain, the resolver that answered, attempts
and duration_ms).  A summary of counts by status goes to stderr, with
a line each for wildcards, --verify and --settle when asked for.

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
--nameserver or -r is given.  -r FILE is massdns' resolver list: IP, IP:PORT,
[IPv6]:PORT or bare IPv6 a line, '#' comments; junk lines are skipped with a
warning naming them (as massdns does), a file with no resolver is an error.
With no --nameserver/-r, resolv.conf's "options timeout:N attempts:N rotate"
apply (glibc's meaning: attempts = tries per nameserver, rotate = start each
name on the next one) unless --timeout/--retries are given.  The summary
counts, per resolver, queries sent, answered, timed out, SERVFAIL, REFUSED
(listed when there are 2-16 resolvers, or always with --stats; past 16, the
five that failed most).

brute force: -d example.test -w words.txt probes WORD.example.test for every
word (-d repeatable: several roots); a domain with FUZZ is a pattern instead
(-w words.txt FUZZ.dev).  The word list is streamed; bad words are INVALID.

files: -o FILE writes into a temporary file renamed over FILE at the end (an
interrupted run leaves FILE untouched and its results in FILE.partial);
--stream writes FILE as it goes, flushed per block.  --resume OLD skips the
names OLD settled (FOUND, NXDOMAIN, NODATA; failures are probed again) and
starts the output with those lines, so it holds old and new results.

processes: --processes N spreads a direct run over N processes sharing the
input (this one reads it and writes every result; each child has its own
socket and its share of -c, --rate and --rate-per-resolver, which stay
totals); auto is one per CPU (at most 4) for an input file of 128 KiB or more,
else 1.  A child that dies: the names it held end as TIMEOUT, once each.

exit status: 0 every name got a definite answer (FOUND, NXDOMAIN, NODATA,
INVALID, WILDCARD); 1 some got SERVFAIL, TIMEOUT or REFUSED (after
--settle, if given; with --check registered: some are UNKNOWN for that
reason; or -o FILE could not be written); 2 usage error; 130 interrupted
(Ctrl-C); 143 stopped by SIGTERM; 3 --cluster cannot be reached.
"""


def register(commands: Subcommands) -> None:
    """Register the ``probe`` subcommand."""
    parser = commands.add_parser(
        "probe",
        help="probe DNS names: which exist? (the book's domaincheck)",
        description="Probe DNS names. With a TLD, probe the book's domaincheck\n"
        "names (Python keywords of up to 4 letters + .TLD); with -i, names\n"
        "from a file or stdin, one per line; with -w, every word of a list\n"
        "under each -d DOMAIN.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "tld",
        nargs="?",
        metavar="TLD",
        help="e.g. dev or com.br; with -w, a DOMAIN or FUZZ pattern",
    )
    parser.add_argument(
        "-i",
        "--input",
        metavar="FILE",
        help="read names from FILE ('-' for stdin), one per line; '#' starts a comment",
    )
    parser.add_argument(
        "-d",
        "--domain",
        dest="domains",
        action="append",
        metavar="DOMAIN",
        help="with -w: probe WORD.DOMAIN (repeatable); a DOMAIN holding FUZZ is "
        "a pattern (FUZZ.dev); the TLD argument counts as one too",
    )
    parser.add_argument(
        "-w",
        "--wordlist",
        metavar="FILE",
        help="brute force: words from FILE ('-' for stdin), one per line, "
        "each probed under every -d DOMAIN",
    )
    parser.add_argument(
        "--nameserver",
        action="append",
        metavar="IP[:PORT]",
        help="nameserver to query directly (repeatable; implies --resolver direct)",
    )
    parser.add_argument(
        "-r",
        "--resolvers",
        metavar="FILE",
        help="massdns-style resolver list, IP[:PORT] a line (adds to "
        "--nameserver; implies --resolver direct)",
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
        metavar="SECONDS",
        help="per try (direct) or per lookup (system); default 2, or "
        "resolv.conf's timeout:N when it gives the nameservers",
    )
    parser.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help="direct: retries after a timeout, SERVFAIL or REFUSED, each on "
        "the next nameserver (default 2, or attempts:N x nameservers - 1 "
        "from resolv.conf)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        metavar="QPS",
        help="direct: send at most QPS queries per second in all",
    )
    parser.add_argument(
        "--rate-per-resolver",
        type=float,
        metavar="QPS",
        help="direct: send at most QPS queries per second to each resolver",
    )
    parser.add_argument(
        "--processes",
        metavar="N|auto",
        default="auto",
        help="direct: probing processes sharing the input, -c and --rate "
        "(each with its own socket); auto: one per CPU (at most 4) for an "
        "input file of 128 KiB (~10,000 names) or more, else 1 (default auto)",
    )
    parser.add_argument(
        "--cluster",
        metavar="ray|ray://HOST:PORT",
        help="direct: spread the names over probing Ray actors: 'ray' joins the "
        "cluster in $RAY_ADDRESS or starts a local one, ray://HOST:PORT joins that "
        "head's Ray Client port; -c and the rates stay totals; needs pip install "
        "'awaitkit[ray]'; exit status 3 if the cluster cannot be reached",
    )
    parser.add_argument(
        "--cluster-actors",
        metavar="N",
        type=int,
        help="how many actors with --cluster (default: one per CPU of the cluster)",
    )
    parser.add_argument(
        "--stats",
        action="store_true",
        help="direct: list every resolver's counts in the summary",
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
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write results to FILE instead of stdout, atomically at the end",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="with -o: write FILE as results come, flushed per block",
    )
    parser.add_argument(
        "--resume",
        metavar="FILE",
        help="skip names FILE (a previous output, same format) settled; "
        "probe its failures again",
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
        "--rate-trusted",
        "--rate-limit-trusted",
        type=float,
        metavar="QPS",
        default=500.0,
        help="send at most QPS queries per second to the trusted resolvers in "
        "all (default 500, as puredns; 0: no limit): public resolvers block "
        "clients that flood them",
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
