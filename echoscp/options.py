"""Validated echoscp settings: what the command line hands the server, nothing more.

Also the transfer-syntax preference lists of pynetdicom's echoscp (``-x=``, ``-xe``,
``-xb``, ``-xi``) and parsers for the operator options' values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dul.uids import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

if TYPE_CHECKING:
    from certs.options import TLSOptions

#: the transfer syntaxes pynetdicom 3.0.4's echoscp accepts, in its preference order
ECHOSCP_TRANSFER_SYNTAXES: tuple[str, ...] = (
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.92",
    "1.2.840.10008.1.2.4.93",
    "1.2.840.10008.1.2.4.94",
    "1.2.840.10008.1.2.4.95",
    "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.100.1",
    "1.2.840.10008.1.2.4.101",
    "1.2.840.10008.1.2.4.101.1",
    "1.2.840.10008.1.2.4.102",
    "1.2.840.10008.1.2.4.102.1",
    "1.2.840.10008.1.2.4.103",
    "1.2.840.10008.1.2.4.103.1",
    "1.2.840.10008.1.2.4.104",
    "1.2.840.10008.1.2.4.104.1",
    "1.2.840.10008.1.2.4.105",
    "1.2.840.10008.1.2.4.105.1",
    "1.2.840.10008.1.2.4.106",
    "1.2.840.10008.1.2.4.106.1",
    "1.2.840.10008.1.2.4.107",
    "1.2.840.10008.1.2.4.108",
    "1.2.840.10008.1.2.4.110",
    "1.2.840.10008.1.2.4.111",
    "1.2.840.10008.1.2.4.112",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.4.204",
    "1.2.840.10008.1.2.4.205",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.7.1",
    "1.2.840.10008.1.2.7.2",
    "1.2.840.10008.1.2.7.3",
    "1.2.840.10008.1.2.8.1",
)

DEFAULT_AE_TITLE = "ECHOSCP"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_PDU = 16382
DEFAULT_MAX_ASSOCIATIONS = 1000
#: connections waiting for association (TLS handshake, A-ASSOCIATE-RQ) at most, when the
#: open-files limit leaves room for them; the server sizes the default down to fit
DEFAULT_MAX_PENDING = 2048

#: A-ASSOCIATE-RJ (result, source, reason) sent when --max-associations is reached:
#: rejected-transient, service provider (presentation related), local limit exceeded
LIMIT_REJECTION = (2, 3, 2)
#: --require-calling-aet: rejected-permanent, service user, calling AE title not recognised
CALLING_AET_REJECTION = (1, 1, 3)
#: --require-called-aet: rejected-permanent, service user, called AE title not recognised
CALLED_AET_REJECTION = (1, 1, 7)

#: reasons PS3.8 table 9-21 defines for each rejection source (--reject checks against it)
REJECT_REASONS = {1: (1, 2, 3, 7), 2: (1, 2), 3: (1, 2)}


@dataclass
class ServerOptions:
    """Everything echoscp's options say, already checked; the server reads only this."""

    port: int
    #: "" = every IPv4 and IPv6 address (one dual-stack socket when the host has IPv6)
    bind_address: str = ""
    ae_title: str = DEFAULT_AE_TITLE
    acse_timeout: float = DEFAULT_TIMEOUT
    dimse_timeout: float = DEFAULT_TIMEOUT
    network_timeout: float = DEFAULT_TIMEOUT
    #: our maximum receive PDU length; 0 = unlimited
    max_pdu: int = DEFAULT_MAX_PDU
    #: transfer syntaxes we accept for Verification, best first (our order wins)
    transfer_syntaxes: tuple[str, ...] = ECHOSCP_TRANSFER_SYNTAXES
    max_associations: int = DEFAULT_MAX_ASSOCIATIONS
    #: connections not yet associated, at once (--max-pending); None = sized by the
    #: server from the open-files limit
    max_pending: int | None = None
    #: the same from one peer address (--max-pending-per-address); None = half the above
    max_pending_per_address: int | None = None
    #: status of every C-ECHO-RSP (--status)
    status: int = 0x0000
    #: seconds to wait before each C-ECHO-RSP (--delay)
    delay: float = 0.0
    #: (result, source, reason) to reject every association with (--reject)
    reject: tuple[int, int, int] | None = None
    require_called_aet: bool = False
    #: calling AE titles allowed; empty = any (--require-calling-aet)
    require_calling_aets: list[str] = field(default_factory=list)
    #: file for one JSON line per association; "-" = stdout (--log-json)
    log_json: str | None = None
    tls: TLSOptions | None = None
    #: TCP_NODELAY on accepted sockets (docs/design.md D2: on unless the environment says 0)
    nodelay: bool = True


def preferred_transfer_syntaxes(preference: str | None) -> tuple[str, ...]:
    """The accepted transfer syntaxes, best first, for a pynetdicom echoscp preference.

    None keeps pynetdicom's list (Implicit VR LE first); "uncompr" (``-x=``) moves
    Implicit VR LE to the end; "little" (``-xe``) and "big" (``-xb``) move Explicit
    VR LE / BE to the front; "implicit" (``-xi``) accepts Implicit VR LE only.
    """
    syntaxes = list(ECHOSCP_TRANSFER_SYNTAXES)
    if preference == "implicit":
        return (IMPLICIT_VR_LITTLE_ENDIAN,)
    if preference == "uncompr":
        syntaxes.remove(IMPLICIT_VR_LITTLE_ENDIAN)
        syntaxes.append(IMPLICIT_VR_LITTLE_ENDIAN)
    elif preference in ("little", "big"):
        first = EXPLICIT_VR_LITTLE_ENDIAN if preference == "little" else EXPLICIT_VR_BIG_ENDIAN
        syntaxes.remove(first)
        syntaxes.insert(0, first)
    return tuple(syntaxes)


def parse_status(text: str) -> int:
    """A C-ECHO status from hex text (``0122``, ``0x0122``, ``C000``); ValueError if bad."""
    digits = text[2:] if text[:2].lower() == "0x" else text
    if not digits or len(digits) > 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"'{text}' is not a hexadecimal status 0000..FFFF")
    return int(digits, 16)


def check_rejection(result: int, source: int, reason: int) -> str | None:
    """None if (result, source, reason) is a valid A-ASSOCIATE-RJ, else what is wrong."""
    if result not in (1, 2):
        return f"result {result} is neither 1 (permanent) nor 2 (transient)"
    if source not in REJECT_REASONS:
        return f"source {source} is not 1 (service user), 2 (ACSE) or 3 (presentation)"
    if reason not in REJECT_REASONS[source]:
        allowed = ", ".join(str(r) for r in REJECT_REASONS[source])
        return f"reason {reason} is not defined for source {source} (allowed: {allowed})"
    return None


def check_ae_title(title: str) -> str | None:
    """None if ``title`` can be sent as an AE title, else what is wrong with it."""
    if not title.strip(" "):
        return "an AE title must not be empty or all spaces"
    if len(title.encode("ascii", "replace")) > 16:
        return f"AE title '{title}' is longer than 16 characters"
    if any(c == "\\" or ord(c) < 0x20 or ord(c) > 0x7E for c in title):
        return f"AE title '{title}' contains a backslash, control or non-ASCII character"
    return None


def nodelay_from_environment() -> bool:
    """TCP_NODELAY as DCMTK reads it: on unless ``TCP_NODELAY`` is an integer equal to 0."""
    from dicomecho.netenv import environment_integer, tcp_nodelay

    return tcp_nodelay(environment_integer("TCP_NODELAY")[1])
