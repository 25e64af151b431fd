"""TLS settings as parsed from DCMTK-style options, shared by echoscu and echoscp.

The command-line parsers fill a ``TLSOptions``; ``certs.context`` turns it into an
``ssl.SSLContext``. Nothing here imports ``ssl`` (nor ``dataclasses`` or ``typing``,
15 ms together) so a plain run stays light.
"""

from __future__ import annotations

#: profile keys, in DCMTK's internal examination order (+pg, +pm, +px, +py, +pz, +pb, +pa, +pn)
PROFILE_NAMES = ("8996", "8996-mod", "bcp195", "bcp195-nd", "bcp195-ex", "basic", "aes", "null")
#: what a certificate is for, as ``echocerts check --role`` names it (EKU clientAuth or
#: serverAuth); here, not in certs.preflight, so the command line gets it without
#: importing cryptography
ROLES = ("client", "server")


class TLSOptions:
    """Everything the TLS options of DCMTK's echoscu/storescp say, already validated.

    Every field is a keyword argument of the constructor; values not given keep the
    DCMTK defaults listed here.
    """

    __slots__ = (
        "mode", "key_file", "cert_file", "password_mode", "password", "file_format",
        "ca_files", "ca_dirs", "crl_files", "crl_mode", "profile", "ciphers", "sni",
        "expect_sni", "dhparam_file", "seed_file", "write_seed", "write_seed_file",
        "peer_cert",
    )

    def __init__(self, **settings: object) -> None:
        #: "enabled" (+tls key cert) or "anonymous" (+tla); plain TCP is EchoOptions.tls None
        self.mode: str = "enabled"
        self.key_file: str | None = None
        self.cert_file: str | None = None
        #: +ps ("prompt"), +pw ("given"), -pw ("null")
        self.password_mode: str = "prompt"
        self.password: str | None = None
        #: -pem / -der: format of key, certificate, +cf, +cd, +crl, +vc, +rc files
        self.file_format: str = "pem"
        #: +cf / +cd / +crl in DCMTK's processing order (right-to-left on the command line)
        self.ca_files: list[str] = []
        self.ca_dirs: list[str] = []
        self.crl_files: list[str] = []
        #: None = implicit (leaf check if a +crl loaded), "leaf" (+crv), "all" (+cra)
        self.crl_mode: str | None = None
        #: one of PROFILE_NAMES; "8996" is +pg, the default since DCMTK 3.6.8
        self.profile: str = "8996"
        #: +cs names (IANA/DCMTK names) in processing order (right-to-left on the command line)
        self.ciphers: list[str] = []
        #: --request-sni NAME (requestor); None = --no-sni
        self.sni: str | None = None
        #: --expect-sni NAME (acceptor only)
        self.expect_sni: str | None = None
        #: +dp FILE (acceptor only)
        self.dhparam_file: str | None = None
        #: +rs FILE, +ws, +wf FILE
        self.seed_file: str | None = None
        self.write_seed: bool = False
        self.write_seed_file: str | None = None
        #: -rc ("require", default), -vc ("verify" if present; acceptor only), -ic ("ignore")
        self.peer_cert: str = "require"
        for name, value in settings.items():
            setattr(self, name, value)  # an unknown name raises AttributeError (slots)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"TLSOptions({fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TLSOptions):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None
