"""echoscu's option table (DCMTK 3.7.0's options, names and help texts) and its fixed texts.

The table drives the parser (``echoscu.cmdline``), the ``--help`` text and the Click
command used for shell completion (``echoscu.clickcmd``), so they cannot drift apart.
"""

from __future__ import annotations

from dicomecho import __date__, __version__
from dul.uids import MAX_PROPOSED_TRANSFER_SYNTAXES
from echoscu.cmdline import Deferred, Group, Option, OptionTable, Param, SubGroup

APP_NAME = "echoscu"
DESCRIPTION = "DICOM verification (C-ECHO) SCU"
#: DCMTK's rcsid line, with our name and version (docs/design.md D6)
#: set by a shell asking Click for completions (see echoscu.clickcmd)
COMPLETE_VAR = "_ECHOSCU_COMPLETE"
VERSION_ID = f"$echoscu: echoscu v{__version__} {__date__} $"

#: -pts upper bound: the length of DCMTK 3.7.0's transfer syntax list
MAX_PROPOSED_TS = MAX_PROPOSED_TRANSFER_SYNTAXES
MIN_PDU = 4096
MAX_PDU = 131072
DEFAULT_PDU = 16384

#: --jobs default and maximum (fleet check)
DEFAULT_JOBS = 32
MAX_JOBS = 1024
#: our options (not in DCMTK); any of them hands the run to echoscu.extensions
EXTENSION_OPTIONS = frozenset((
    "--json", "--stats", "--interval", "--exit-codes", "--peers", "--jobs", "--format",
    "--nagios", "--warning", "--critical", "--cert-warning", "--cert-critical", "--serve",
    "--verify-hostname", "--verify-hostname-as",
    "--probe-sop", "--check-find",
))

#: option blocks (rightmost wins), each in DCMTK's examination order
#: (docs/dcmtk-behaviour.md 2.5); the TLS blocks are certs.tlsflags'
LOG_BLOCK = ("--debug", "--verbose", "--quiet")
IP_BLOCK = ("--ipv4", "--ipv6", "--ip-auto")


def _tls_entries() -> list[Option | Group]:
    """DCMTK's TLS group: the requestor rows of certs.tlsflags under their sub-groups
    (loaded when first needed, so that a plain echo does not import certs)."""
    from certs import tlsflags

    entries: list[Option | Group] = [Group(tlsflags.TITLE)]
    group = ""
    for flag in tlsflags.rows(tlsflags.REQUESTOR):
        if flag.group != group:
            group = flag.group
            entries.append(SubGroup(group))
        available = None if flag.requires is None else (lambda flag=flag: tlsflags.available(flag))
        entries.append(Option(flag.long, flag.short, flag.nvalues, flag.value_help, flag.help,
                              exclusive=flag.exclusive, available=available,
                              repeatable=flag.repeatable, completion=flag.completion, row=flag))
    return entries


_STRING_FILE = "[f]ilename: string"
_SECONDS = "[s]econds: integer"

TABLE = OptionTable(
    params=[
        Param("peer", "hostname of DICOM peer"),
        Param("port", "tcp/ip port number of peer"),
    ],
    entries=[
        Group("general options:", 19, 6),
        Option("--help", "-h", help="print this help text and exit", exclusive=True),
        Option("--version", help="print version information and exit", exclusive=True),
        Option("--arguments", help="print expanded command line arguments"),
        Option("--quiet", "-q", help="quiet mode, print no warnings and errors"),
        Option("--verbose", "-v", help="verbose mode, print processing details"),
        Option("--debug", "-d", help="debug mode, print debug information"),
        Option("--log-level", "-ll", 1, "[l]evel: string constant",
               "(fatal, error, warn, info, debug, trace)\nuse level l for the logger"),
        Option("--log-config", "-lc", 1, _STRING_FILE, "use config file f for the logger",
               completion="file"),
        Group("network options:"),
        SubGroup("IP protocol version:"),
        Option("--ipv4", "-i4", help="use IPv4 only (default)"),
        Option("--ipv6", "-i6", help="use IPv6 only"),
        Option("--ip-auto", "-i0", help="use DNS lookup to determine IP protocol"),
        SubGroup("application entity titles:"),
        Option("--aetitle", "-aet", 1, "[a]etitle: string",
               "set my calling AE title (default: ECHOSCU)"),
        Option("--call", "-aec", 1, "[a]etitle: string",
               "set called AE title of peer (default: ANY-SCP)"),
        SubGroup("association negotiation debugging:"),
        Option("--propose-ts", "-pts", 1, f"[n]umber: integer (1..{MAX_PROPOSED_TS})",
               "propose n transfer syntaxes"),
        Option("--propose-pc", "-ppc", 1, "[n]umber: integer (1..128)",
               "propose n presentation contexts"),
        SubGroup("other network options:"),
        Option("--timeout", "-to", 1, f"{_SECONDS} (default: unlimited)",
               "timeout for connection requests"),
        Option("--socket-timeout", "-ts", 1, f"{_SECONDS} (default: 60)",
               "timeout for network socket (0 for none)"),
        Option("--acse-timeout", "-ta", 1, f"{_SECONDS} (default: 30)",
               "timeout for ACSE messages"),
        Option("--dimse-timeout", "-td", 1, f"{_SECONDS} (default: unlimited)",
               "timeout for DIMSE messages"),
        Option("--max-pdu", "-pdu", 1, f"[n]umber of bytes: integer ({MIN_PDU}..{MAX_PDU})",
               f"set max receive pdu to n bytes (default: {DEFAULT_PDU})"),
        Option("--repeat", "", 1, "[n]umber: integer", "repeat n times"),
        Option("--abort", help="abort association instead of releasing it"),
        Deferred(_tls_entries),
        # ours, after DCMTK's groups so that the DCMTK part of --help stays identical
        Group("extensions (not in DCMTK):"),
        SubGroup("machine-readable result:"),
        Option("--json", help="print one JSON document describing the run\n"
               "(schema: docs/echoscu-result.schema.json)"),
        SubGroup("server identity (TLS):"),
        Option("--verify-hostname", help="check that the peer certificate names the peer\n"
               "(subjectAltName DNS or IP entry)"),
        Option("--verify-hostname-as", "", 1, "[n]ame: string",
               "check that the peer certificate names n"),
        SubGroup("round-trip statistics:"),
        Option("--stats", help="print round-trip statistics (with --repeat)"),
        Option("--interval", "", 1, "[s]econds: number (default: 0)",
               "wait s seconds between echoes"),
        SubGroup("capability probe:"),
        Option("--probe-sop", "", 1, "[c]lass: string (CLASS[:TS,...])",
               "propose SOP class c (UID, keyword, storage or\n"
               "qr) next to Verification with transfer syntaxes\n"
               "TS (default: implicit/explicit VR LE) and\n"
               "report the peer's answer", repeatable=True),
        Option("--check-find", help="after the echo, send one Study Root C-FIND\n"
               "(matching nothing) and report its status"),
        SubGroup("exit codes:"),
        Option("--exit-codes", "", 1, "[m]ode: string constant (dcmtk, detailed)",
               "dcmtk: DCMTK's codes (default)\n"
               "detailed: one code per failure class"),
        SubGroup("fleet check (no peer and port parameters):"),
        Option("--peers", "", 1, _STRING_FILE,
               "check the peers listed in f concurrently\n"
               "(one [AET@]host:port [setting=value ...] a line)", exclusive=True,
               completion="file"),
        Option("--jobs", "", 1, f"[n]umber: integer (1..{MAX_JOBS}, default: {DEFAULT_JOBS})",
               "check up to n peers at once"),
        Option("--format", "", 1, "[f]ormat: string constant (default: table)",
               "(table, json, csv, junit, openmetrics)\nresult format of --peers"),
        SubGroup("Prometheus probe (with --peers):"),
        Option("--serve", "", 1, "[a]ddress: [host:]port",
               "answer GET /probe?target=[AET@]host:port for\n"
               "the listed peers over HTTP on a (OpenMetrics)"),
        SubGroup("monitoring plugin (Nagios, Icinga):"),
        Option("--nagios", help="print one status line with perfdata, exit 0..3"),
        Option("--warning", "", 1, "[m]illiseconds: number",
               "mean echo round trip above m: WARNING"),
        Option("--critical", "", 1, "[m]illiseconds: number",
               "mean echo round trip above m: CRITICAL"),
        Option("--cert-warning", "", 1, "[d]ays: integer",
               "peer certificate expiring within d days: WARNING"),
        Option("--cert-critical", "", 1, "[d]ays: integer",
               "peer certificate expiring within d days: CRITICAL"),
    ],
    long_width=19,
    short_width=4,
    param_width=19 + 4 + 4,
)


def character_encoding() -> str:
    """Our ``Character encoding:`` fact: DCMTK names its character set conversion
    library there; ours is Python's codecs, and what they decode the command line and
    file names with is the file system encoding."""
    import sys

    return f"Python codecs (file system encoding: {sys.getfilesystemencoding()})"


def build_options() -> str:
    """Our ``Build options:`` fact, in DCMTK's vocabulary where it applies: ``debug`` for
    a debug build of Python, the interpreter, ``no-dict`` (we load no data dictionary)
    and ``char-conv`` (character set conversion is always available)."""
    import sys

    debug = ["debug"] if hasattr(sys, "gettotalrefcount") else []
    return " ".join([*debug, sys.implementation.name, "no-dict", "char-conv"])


def header(host_info: bool = False) -> str:
    """DCMTK's header: version id, blank line, ``echoscu: <description>`` (+ host facts:
    host type, character encoding and build options, as DCMTK 3.6.7+ prints them)."""
    text = f"{VERSION_ID}\n\n{APP_NAME}: {DESCRIPTION}\n"
    if host_info:
        import os

        uname = os.uname()
        text += (f"\nHost type: {uname.machine}-{uname.sysname}\n"
                 f"Character encoding: {character_encoding()}\n"
                 f"Build options: {build_options()}\n")
    return text


def error_block(message: str) -> str:
    """The text DCMTK prints on stderr for a command-line error."""
    return header() + f"error: {message}\n"


def usage() -> str:
    """The ``--help`` text (also printed when echoscu is called without arguments)."""
    from echoscu.cmdline import option_help, param_help, syntax

    return (header() + f"usage: {APP_NAME}{syntax(TABLE)}\n\n" + param_help(TABLE) + "\n"
            + option_help(TABLE) + "\n")


def version() -> str:
    """The ``--version`` text: DCMTK's shape with our facts (Python instead of zlib)."""
    import sys

    text = header(host_info=True) + "\nExternal libraries used:\n"
    text += f"- Python, Version {sys.version.split()[0]}\n"
    from certs.profiles import openssl_version

    openssl = openssl_version()
    if openssl:
        text += f"- {openssl}\n"
    return text


def cipher_list() -> str:
    """The ``--list-ciphers`` text: header, then the supported TLS <= 1.2 suites."""
    from certs.listings import cipher_list

    return cipher_list(header(host_info=True))


def profile_list() -> str:
    """The ``--list-profiles`` text: header, OpenSSL version, the supported profiles."""
    from certs.listings import profile_list

    return profile_list(header(host_info=True))
