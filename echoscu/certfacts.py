"""Facts about the certificates a TLS peer sent: names, SAN, key, validity, days left.

For ``--json``, ``--nagios`` and ``--peers``. The full description reads the DER with
``cryptography`` (through ``certs.inspect``); the days left need only ``certs.der``,
so a Nagios check does not pay for ``cryptography``.
"""

from __future__ import annotations

import calendar
import time

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    import datetime

_DAY = 86400
#: notAfter by certificate DER (see ``not_after``)
_NOT_AFTER: dict[bytes, float | None] = {}
_NOT_AFTER_MAX = 256


def _asn1_time(value: tuple[int, str]) -> float:
    """Seconds since the epoch of a DER UTCTime (tag 0x17) or GeneralizedTime (0x18)."""
    tag, text = value
    text = text.rstrip("Z")
    if tag == 0x17:
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    text = text.split(".")[0].ljust(14, "0")
    return float(calendar.timegm(time.strptime(text[:14], "%Y%m%d%H%M%S")))


def not_after(der: bytes) -> float | None:
    """A certificate's notAfter in seconds since the epoch (None if the DER is unreadable).

    Kept per distinct DER (at most ``_NOT_AFTER_MAX``, emptied when full): a ``--peers``
    table asks for every line's chain, and the lines of a fleet mostly share their CA
    and often their peer certificate. Parsing and ``strptime`` each time cost 110 us a
    line, all of it in the main thread after the checks (issue #17, T7).
    """
    try:
        return _NOT_AFTER[der]
    except KeyError:
        pass
    from certs.der import Certificate, DerError

    try:
        end: float | None = _asn1_time(Certificate(der).not_after)
    except (DerError, ValueError, IndexError):
        end = None
    if len(_NOT_AFTER) >= _NOT_AFTER_MAX:
        _NOT_AFTER.clear()
    _NOT_AFTER[bytes(der)] = end
    return end


def earliest_expiry(chain: list[bytes]) -> tuple[float, int] | None:
    """(notAfter, index in the chain) of the certificate that expires first."""
    ends = [(end, index) for index, end in enumerate(map(not_after, chain)) if end is not None]
    return min(ends) if ends else None


def chain_days_left(chain: list[bytes]) -> int | None:
    """Whole days until the first certificate of ``chain`` expires (negative once it has;
    None if none is readable)."""
    earliest = earliest_expiry(chain)
    return None if earliest is None else int((earliest[0] - time.time()) // _DAY)


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_chain(chain: list[bytes], host: str) -> list[dict[str, object]]:
    """One dict per certificate (leaf first); the leaf also says whether it names ``host``."""
    from cryptography import x509

    from certs import inspect

    now = inspect.now_utc()
    described = []
    for index, der in enumerate(chain):
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            described.append({"error": "unreadable certificate"})
            continue
        key_type, key_bits = inspect.key_kind(cert.public_key())
        names = inspect.subject_alt_names(cert)
        san = inspect.san_text(cert)
        entry: dict[str, object] = {
            "subject": inspect.name_text(cert.subject),
            "issuer": inspect.name_text(cert.issuer),
            "serial": inspect.serial_text(cert.serial_number),
            "san": [] if san in ("(none)", "(empty)") else san.split(", "),
            "key": inspect.key_text(cert.public_key()),
            "key_type": key_type,
            "key_bits": key_bits,
            "signature": inspect.signature_text(cert),
            "not_before": _iso(cert.not_valid_before_utc),
            "not_after": _iso(cert.not_valid_after_utc),
            "days_left": inspect.days_between(now, cert.not_valid_after_utc),
            "self_signed": cert.issuer == cert.subject,
            "sha256": inspect.fingerprint(cert),
        }
        if index == 0:
            entry["matches_host"] = _matches_host(names, host)
        described.append(entry)
    return described


def _matches_host(names: tuple[list[str], list[str]] | None, host: str) -> bool:
    """True if the SAN covers ``host``: an IP entry for an address, a DNS entry for a name
    (a ``*`` stands for exactly the left-most label)."""
    if names is None:
        return False
    dns_names, ips = names
    from certs.inspect import is_ip_address

    if is_ip_address(host):
        import ipaddress

        wanted = ipaddress.ip_address(host.strip("[]"))
        return any(ipaddress.ip_address(ip) == wanted for ip in ips)
    host = host.rstrip(".").lower()
    for name in dns_names:
        name = name.rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False
