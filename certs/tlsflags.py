"""DCMTK's TLS options, declared once; echoscu (requestor) and echoscp (acceptor) use them.

One ``Flag`` per option, in DCMTK's help order, under its help sub-group. A row says
what the option is called, what it takes, how its help reads, which roles have it,
the rightmost-wins block it belongs to and how it sets ``certs.options.TLSOptions``;
the profile rows are generated from ``certs.profiletable.PROFILES``. echoscu splices
``rows("requestor")`` into its option table, echoscp makes Click options of
``rows("acceptor")``, and both hand what was typed to ``from_flags``, which applies
DCMTK 3.7.0's dependence and conflict checks in DCMTK's order (``CHECK_ORDER``) and
raises ``TLSFlagError``; each front end shows that error its own way.

Cheap to import (no ssl, no typing, no ciphersuite table): echoscu loads it as soon
as it meets an option of its own table it does not know.
"""

from __future__ import annotations

from certs.options import PROFILE_NAMES
from certs.profiletable import PROFILES

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from collections.abc import Iterable

    from certs.options import TLSOptions

REQUESTOR = "requestor"
ACCEPTOR = "acceptor"
_BOTH = (REQUESTOR, ACCEPTOR)

#: the help group every row is under
TITLE = "transport layer security (TLS) options:"

#: ``Flag.needs``: a secure transport; DCMTK names the options that give one (per role)
SECURE = "secure"
_SECURE_TEXT = {REQUESTOR: "--enable-tls or --anonymous-tls", ACCEPTOR: "--enable-tls"}

#: ``Flag.completion`` kinds: the shell completes a path; +cs offers the suites
FILE, DIR, CIPHERSUITE = "file", "dir", "ciphersuite"


class TLSFlagError(Exception):
    """A TLS option given without what it needs or with what it excludes.

    ``str(error)`` is DCMTK's message: ``<option> only allowed with <other>`` or
    ``<option> not allowed with <other>``.
    """


class Value:
    """In ``Flag.sets``: the option's value number ``index`` (0 = the first)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


FIRST, SECOND = Value(0), Value(1)


class Flag:
    """One DCMTK TLS option.

    ``long``/``short``: names; ``nvalues``: values it takes; ``value_help``/``help``:
    DCMTK's help columns (``\\n`` breaks a line); ``group``: the help sub-group;
    ``roles``: requestor and/or acceptor; ``block``: the rightmost-wins block, None if
    the option stands alone; ``sets``: TLSOptions field -> constant or ``Value``;
    ``repeatable``: every occurrence counts (its field collects the values, rightmost
    first, DCMTK's processing order); ``needs``: what it is only allowed with
    (``SECURE`` or an option's long name), in the order checked; ``conflicts``:
    options it is not allowed with; ``reported``: the name DCMTK's message uses;
    ``exclusive``: an action that ends the run (a listing, an offline check);
    ``requires``: the OpenSSL suite the option needs to exist (profiles), None = always;
    ``completion``: FILE, DIR or CIPHERSUITE; ``metavar``/``click_help``: echoscp's
    Click rendering (default: ``help`` on one line).
    """

    __slots__ = ("long", "short", "nvalues", "value_help", "help", "group", "roles", "block",
                 "sets", "repeatable", "needs", "conflicts", "reported", "exclusive",
                 "requires", "completion", "metavar", "click_help")

    def __init__(self, long: str, short: str = "", nvalues: int = 0, value_help: str = "",
                 help: str = "", *, roles: tuple[str, ...] = _BOTH, block: str | None = None,
                 sets: dict | None = None, repeatable: bool = False,
                 needs: tuple[str, ...] = (SECURE,), conflicts: tuple[str, ...] = (),
                 reported: str = "", exclusive: bool = False, requires: str | None = None,
                 completion: str | None = None, metavar: str = "",
                 click_help: str = "") -> None:
        self.long = long
        self.short = short
        self.nvalues = nvalues
        self.value_help = value_help
        self.help = help
        self.group = ""  # set by _grouped
        self.roles = roles
        self.block = block
        self.sets = sets or {}
        self.repeatable = repeatable
        self.needs = needs
        self.conflicts = conflicts
        self.reported = reported or long
        self.exclusive = exclusive
        self.requires = requires
        self.completion = completion
        self.metavar = metavar
        self.click_help = click_help or help.replace("\n", " ")

    def __repr__(self) -> str:
        return f"Flag({self.long!r})"


_FILENAME = "[f]ilename: string"
_NOTHING = ()  # needs nothing


def _profile_rows() -> list[Flag]:
    """One row per profile, in DCMTK's help order; DCMTK registers +pm/+pb/+pn only if
    OpenSSL has their suites, and (all versions) names --profile-basic in the message
    for --profile-aes."""
    return [Flag(p.long, p.short, help=p.help, block="profile", sets={"profile": p.key},
                 requires=p.requires,
                 reported="--profile-basic" if p.key == "aes" else "")
            for p in PROFILES]


def _grouped(entries: Iterable[str | Flag]) -> tuple[Flag, ...]:
    """The rows, each given the sub-group title that precedes it."""
    rows = []
    group = ""
    for entry in entries:
        if isinstance(entry, str):
            group = entry
        else:
            entry.group = group
            rows.append(entry)
    return tuple(rows)


#: every DCMTK TLS option, in DCMTK's help order
ROWS: tuple[Flag, ...] = _grouped((
    "transport protocol stack:",
    Flag("--disable-tls", "-tls", help="use normal TCP/IP connection (default)",
         block="transport", sets={"mode": None}, needs=_NOTHING),
    Flag("--enable-tls", "+tls", 2, "[p]rivate key file, [c]ertificate file: string",
         "use authenticated secure TLS connection", block="transport",
         sets={"mode": "enabled", "key_file": FIRST, "cert_file": SECOND}, needs=_NOTHING,
         completion=FILE, metavar="KEY CERT",
         click_help="use authenticated secure TLS connection with private key file KEY "
                    "and certificate file CERT"),
    Flag("--anonymous-tls", "+tla", help="use secure TLS connection without certificate",
         roles=(REQUESTOR,), block="transport", sets={"mode": "anonymous"}, needs=_NOTHING),
    "private key password (only with --enable-tls):",
    Flag("--std-passwd", "+ps", help="prompt user to type password on stdin (default)",
         block="password", sets={"password_mode": "prompt", "password": None},
         needs=("--enable-tls",)),
    Flag("--use-passwd", "+pw", 1, "[p]assword: string ", "use specified password",
         block="password", sets={"password_mode": "given", "password": FIRST},
         needs=("--enable-tls",), metavar="PASSWORD"),
    Flag("--null-passwd", "-pw", help="use empty string as password",
         block="password", sets={"password_mode": "null", "password": ""},
         needs=("--enable-tls",)),
    "key and certificate file format:",
    Flag("--pem-keys", "-pem", help="read keys and certs as PEM file (default)",
         block="format", sets={"file_format": "pem"},
         click_help="read keys and certificates as PEM file (default)"),
    Flag("--der-keys", "-der", help="read keys and certificates as DER file",
         block="format", sets={"file_format": "der"}),
    "certification authority:",
    Flag("--add-cert-file", "+cf", 1, _FILENAME, "add certificate file to list of certificates",
         sets={"ca_files": FIRST}, repeatable=True, completion=FILE, metavar="FILE"),
    Flag("--add-cert-dir", "+cd", 1, "[d]irectory: string",
         "add certificates in d to list of certificates",
         sets={"ca_dirs": FIRST}, repeatable=True, completion=DIR, metavar="DIR",
         click_help="add certificates in DIR to list of certificates"),
    Flag("--add-crl-file", "+crl", 1, _FILENAME,
         "add certificate revocation list file\n(implies --enable-crl-vfy)",
         sets={"crl_files": FIRST}, repeatable=True, completion=FILE, metavar="FILE"),
    Flag("--enable-crl-vfy", "+crv", help="enable leaf CRL verification",
         block="crl", sets={"crl_mode": "leaf"}),
    Flag("--enable-crl-all", "+cra", help="enable full chain CRL verification",
         block="crl", sets={"crl_mode": "all"}),
    "security profile:",
    Flag("--list-profiles", "+ph", help="list supported TLS profiles and exit",
         needs=_NOTHING, exclusive=True),
    *_profile_rows(),
    "ciphersuite:",
    Flag("--list-ciphers", "+cc", help="list supported TLS ciphersuites and exit",
         needs=_NOTHING, exclusive=True),
    Flag("--cipher", "+cs", 1, "[c]iphersuite name: string",
         "add ciphersuite to list of negotiated suites\n(not with --profile-bcp195-ex)",
         sets={"ciphers": FIRST}, repeatable=True, conflicts=("--profile-bcp195-ex",),
         completion=CIPHERSUITE, metavar="NAME"),
    Flag("--dhparam", "+dp", 1, _FILENAME, "read DH parameters for DH/DSS ciphersuites",
         roles=(ACCEPTOR,), sets={"dhparam_file": FIRST}, completion=FILE, metavar="FILE"),
    "server name indication:",
    Flag("--no-sni", help="do not use SNI (default)", roles=(REQUESTOR,),
         sets={"sni": None}, needs=_NOTHING, conflicts=("--request-sni",)),
    Flag("--request-sni", "", 1, "[s]erver name: string", "request server name s",
         roles=(REQUESTOR,), sets={"sni": FIRST}, needs=_NOTHING),
    Flag("--expect-sni", "", 1, "[s]erver name: string", "expect requests for server name s",
         roles=(ACCEPTOR,), sets={"expect_sni": FIRST}, metavar="NAME",
         click_help="expect requests for server name NAME (TLS SNI)"),
    "pseudo random generator:",
    Flag("--seed", "+rs", 1, _FILENAME, "seed random generator with contents of f",
         sets={"seed_file": FIRST}, completion=FILE, metavar="FILE",
         click_help="seed random generator with contents of FILE"),
    Flag("--write-seed", "+ws", help="write back modified seed (only with --seed)",
         block="seed", sets={"write_seed": True, "write_seed_file": None},
         needs=(SECURE, "--seed")),
    Flag("--write-seed-file", "+wf", 1, f"{_FILENAME} (only with --seed)",
         "write modified seed to file f",
         block="seed", sets={"write_seed": False, "write_seed_file": FIRST},
         needs=(SECURE, "--seed"), completion=FILE, metavar="FILE",
         click_help="write modified seed to file FILE (only with --seed)"),
    "peer authentication:",
    Flag("--require-peer-cert", "-rc", help="verify peer cert, fail if absent (default)",
         block="peer", sets={"peer_cert": "require"},
         click_help="verify peer certificate, fail if absent (default)"),
    Flag("--verify-peer-cert", "-vc", help="verify peer certificate if present",
         roles=(ACCEPTOR,), block="peer", sets={"peer_cert": "verify"}),
    Flag("--ignore-peer-cert", "-ic", help="don't verify peer certificate",
         block="peer", sets={"peer_cert": "ignore"}),
    "offline certificate verification:",
    Flag("--verify-cert", "+vc", 1, _FILENAME, "verify certificate against CA settings",
         roles=(REQUESTOR,), needs=_NOTHING, exclusive=True, completion=FILE),
    Flag("--is-root-cert", "+rc", 1, _FILENAME, "check if certificate is self-signed root CA",
         roles=(REQUESTOR,), needs=_NOTHING, exclusive=True, completion=FILE),
))

#: the order DCMTK 3.7.0 examines the options in (docs/dcmtk-behaviour.md 6.11): blocks by name, the
#: others by long name; a block's members are examined in help order, except the
#: profiles (PROFILE_NAMES order). Rows not listed (listings, +vc, +rc) are no settings.
CHECK_ORDER = ("transport", "password", "format", "--dhparam", "crl", "--request-sni",
               "--no-sni", "--expect-sni", "--seed", "seed", "peer", "profile",
               "--add-cert-file", "--add-cert-dir", "--add-crl-file", "--cipher")


def rows(role: str) -> list[Flag]:
    """The rows of one role (``REQUESTOR`` or ``ACCEPTOR``), in help order."""
    return [flag for flag in ROWS if role in flag.roles]


def available(flag: Flag) -> bool:
    """True if the option exists with the linked OpenSSL (asks certs.profiles, loads _ssl)."""
    if flag.requires is None:
        return True
    from certs.profiles import openssl_suites

    return flag.requires in openssl_suites()


def _members(block: str, role_rows: list[Flag]) -> list[Flag]:
    members = [flag for flag in role_rows if flag.block == block]
    if block == "profile":
        members.sort(key=lambda flag: PROFILE_NAMES.index(flag.sets["profile"]))
    return members


def from_flags(occurrences: Iterable[tuple[str, list[str]]], role: str) -> TLSOptions | None:
    """The TLSOptions the typed TLS options ask for, or None for plain TCP.

    ``occurrences`` are (name, values) in command-line order, name short or long;
    names of other options are skipped. Raises TLSFlagError for the first dependence
    or conflict DCMTK 3.7.0 reports, in its order.
    """
    role_rows = rows(role)
    by_name = {name: flag for flag in role_rows for name in (flag.long, flag.short) if name}
    typed = [(by_name[name], values) for name, values in occurrences if name in by_name]
    if not typed:
        return None
    rightmost: dict[str, int] = {}
    for index, (flag, _) in enumerate(typed):
        rightmost[flag.long] = index
    settings: dict[str, object] = {}
    in_effect: set[str] = set()  # long names whose setting stands (block winners, singles)

    def check(flag: Flag) -> None:
        for need in flag.needs:
            if need == SECURE:
                met, other = settings.get("mode") is not None, _SECURE_TEXT[role]
            elif need == "--enable-tls":
                met, other = settings.get("mode") == "enabled", need
            else:
                met, other = need in in_effect, need
            if not met:
                raise TLSFlagError(f"{flag.reported} only allowed with {other}")
        for other in flag.conflicts:
            if other in in_effect:
                raise TLSFlagError(f"{flag.reported} not allowed with {other}")

    def apply(flag: Flag, values: list[str]) -> None:
        for field, value in flag.sets.items():
            settings[field] = values[value.index] if isinstance(value, Value) else value

    for step in CHECK_ORDER:
        if step.startswith("--"):
            flag = by_name.get(step)
            if flag is None or flag.long not in rightmost:
                continue
            check(flag)
            if flag.repeatable:
                field = next(iter(flag.sets))
                settings[field] = [values[0] for f, values in reversed(typed) if f is flag]
            else:
                apply(flag, typed[rightmost[flag.long]][1])
            in_effect.add(flag.long)
            continue
        # a block: each member at its rightmost occurrence, if right of the one accepted
        # before it; the last accepted is the rightmost, earlier ones are checked first
        limit = -1
        winner = None
        for flag in _members(step, role_rows):
            index = rightmost.get(flag.long, -1)
            if index > limit:
                check(flag)
                apply(flag, typed[index][1])
                limit, winner = index, flag.long
        if winner is not None:
            in_effect.add(winner)
    if settings.get("mode") is None:
        return None
    from certs.options import TLSOptions

    return TLSOptions(**settings)
