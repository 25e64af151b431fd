"""TLS settings as parsed from DCMTK-style options, shared by echoscu and echoscp.

The command-line parsers fill a ``TLSOptions``; ``certs.context`` turns it into an
``ssl.SSLContext``. Nothing here imports ``ssl`` so a plain run stays light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: profile keys, in DCMTK's internal examination order (+pg, +pm, +px, +py, +pz, +pb, +pa, +pn)
ProfileName = Literal[
    "8996", "8996-mod", "bcp195", "bcp195-nd", "bcp195-ex", "basic", "aes", "null"
]


@dataclass
class TLSOptions:
    """Everything the TLS options of DCMTK's echoscu/storescp say, already validated."""

    #: "enabled" (+tls key cert), "anonymous" (+tla) ; plain TCP is ``None`` in EchoOptions.tls
    mode: Literal["enabled", "anonymous"] = "enabled"
    key_file: str | None = None
    cert_file: str | None = None
    #: +ps (prompt), +pw (given), -pw (null)
    password_mode: Literal["prompt", "given", "null"] = "prompt"
    password: str | None = None
    #: -pem / -der: format of key, certificate, +cf, +cd, +crl, +vc, +rc files
    file_format: Literal["pem", "der"] = "pem"
    #: +cf / +cd / +crl in DCMTK's processing order (right-to-left on the command line)
    ca_files: list[str] = field(default_factory=list)
    ca_dirs: list[str] = field(default_factory=list)
    crl_files: list[str] = field(default_factory=list)
    #: None = implicit (leaf check if a +crl loaded), "leaf" (+crv), "all" (+cra)
    crl_mode: Literal["leaf", "all"] | None = None
    profile: ProfileName = "8996"
    #: +cs names (IANA/DCMTK names) in processing order (right-to-left on the command line)
    ciphers: list[str] = field(default_factory=list)
    #: --request-sni NAME (requestor) ; None = --no-sni
    sni: str | None = None
    #: --expect-sni NAME (acceptor only)
    expect_sni: str | None = None
    #: +dp FILE (acceptor only)
    dhparam_file: str | None = None
    #: +rs FILE, +ws, +wf FILE
    seed_file: str | None = None
    write_seed: bool = False
    write_seed_file: str | None = None
    #: -rc (require, default), -vc (verify if present; acceptor only), -ic (ignore)
    peer_cert: Literal["require", "verify", "ignore"] = "require"
