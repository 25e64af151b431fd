"""The validated settings of one echoscu run: what the command line hands the driver.

A plain class rather than a dataclass: ``dataclasses`` and ``typing`` cost 15 ms to
import, half of DCMTK's whole echo.
"""

from __future__ import annotations

from echoscu.helptext import DEFAULT_JOBS


class EchoOptions:
    """Settings after DCMTK's parsing and validation (docs/dcmtk-behaviour.md sections 1 and 2).

    Every field is a keyword argument of the constructor; values not given keep
    DCMTK's defaults listed here.
    """

    __slots__ = (
        "peer", "port", "calling_aet", "called_aet", "ip_family", "propose_ts", "propose_pc",
        "connect_timeout", "socket_timeout", "acse_timeout", "dimse_timeout", "max_pdu",
        "repeat", "abort", "tls", "verify_cert", "is_root_cert", "interval", "extensions",
        "verify_hostname", "verify_hostname_as",
        "probes", "check_find",
    )

    def __init__(self, **settings: object) -> None:
        self.peer: str = ""
        self.port: int = 104
        #: already truncated to 16 characters; may be empty (the association then fails)
        self.calling_aet: str = "ECHOSCU"
        self.called_aet: str = "ANY-SCP"
        #: -i4 ("ipv4", default) / -i6 ("ipv6") / -i0 ("auto")
        self.ip_family: str = "ipv4"
        self.propose_ts: int = 1
        self.propose_pc: int = 1
        #: -to seconds; None = blocking connect
        self.connect_timeout: int | None = None
        #: -ts seconds; 0 = infinite, -1 = leave the OS default
        self.socket_timeout: int = 60
        #: -ta seconds
        self.acse_timeout: int = 30
        #: -td seconds; None = blocking
        self.dimse_timeout: int | None = None
        #: -pdu as given (an odd value is made even by the driver, with DCMTK's warning)
        self.max_pdu: int = 16384
        self.repeat: int = 1
        self.abort: bool = False
        #: a certs.options.TLSOptions; None = plain TCP (-tls, the default)
        self.tls = None
        #: +vc FILE / +rc FILE (exclusive offline checks)
        self.verify_cert: str | None = None
        self.is_root_cert: str | None = None
        #: --interval seconds between echoes (not in DCMTK; 0 = none)
        self.interval: float = 0.0
        #: Extensions (below) for the options DCMTK lacks; None = none given
        self.extensions = None
        #: --verify-hostname / --verify-hostname-as NAME (not in DCMTK): check the peer
        #: certificate's subjectAltName against NAME, else the peer parameter
        self.verify_hostname: bool = False
        self.verify_hostname_as: str | None = None
        #: --probe-sop: (SOP class UID, transfer syntax UIDs) per extra presentation context
        self.probes: list[tuple[str, tuple[str, ...]]] = []
        #: --check-find: one Study Root C-FIND after the echoes
        self.check_find = False
        for name, value in settings.items():
            setattr(self, name, value)  # an unknown name raises AttributeError (slots)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"EchoOptions({fields})"

    def expected_hostname(self) -> str | None:
        """The name the peer certificate must carry (None: no check asked for, or no TLS)."""
        if not self.verify_hostname or self.tls is None:
            return None
        return self.verify_hostname_as or self.peer


class Extensions:
    """Validated settings of our own options (defaults: none of them given)."""

    __slots__ = ("json", "stats", "exit_codes", "peers", "jobs", "format", "nagios", "warning",
                 "critical", "cert_warning", "cert_critical", "log_given", "serve")

    def __init__(self) -> None:
        self.json = False
        self.stats = False
        #: "dcmtk" (default) or "detailed"
        self.exit_codes = "dcmtk"
        #: --peers FILE
        self.peers: str | None = None
        self.jobs = DEFAULT_JOBS
        self.format = "table"
        self.nagios = False
        #: --warning/--critical milliseconds (mean echo round trip)
        self.warning: float | None = None
        self.critical: float | None = None
        #: --cert-warning/--cert-critical days
        self.cert_warning: int | None = None
        self.cert_critical: int | None = None
        #: True if -q/-v/-d/-ll/-lc was given (Nagios mode then keeps the log lines)
        self.log_given = False
        #: --serve [ADDR:]PORT as (host, port): the Prometheus probe endpoint; host ""
        #: listens on every IPv4 interface, port 0 on a free port
        self.serve: tuple[str, int] | None = None
