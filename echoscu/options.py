"""The validated settings of one echoscu run: what the command line hands the driver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from certs.options import TLSOptions


@dataclass
class EchoOptions:
    """Settings after DCMTK's parsing and validation (spec section 1 and 2)."""

    peer: str = ""
    port: int = 104
    #: already truncated to 16 characters; may be empty (the association then fails)
    calling_aet: str = "ECHOSCU"
    called_aet: str = "ANY-SCP"
    #: -i4 (default) / -i6 / -i0
    ip_family: Literal["ipv4", "ipv6", "auto"] = "ipv4"
    propose_ts: int = 1
    propose_pc: int = 1
    #: -to seconds; None = blocking connect
    connect_timeout: int | None = None
    #: -ts seconds; 0 = infinite, -1 = leave the OS default
    socket_timeout: int = 60
    #: -ta seconds
    acse_timeout: int = 30
    #: -td seconds; None = blocking
    dimse_timeout: int | None = None
    #: -pdu as given (an odd value is made even by the driver, with DCMTK's warning)
    max_pdu: int = 16384
    repeat: int = 1
    abort: bool = False
    #: None = plain TCP (-tls, the default)
    tls: TLSOptions | None = None
    #: +vc FILE / +rc FILE (exclusive offline checks)
    verify_cert: str | None = None
    is_root_cert: str | None = None
