"""Server identity: does the peer certificate name the host we meant to reach?

DCMTK checks no host name; ``--verify-hostname`` (ours) asks for the check RFC 6125 and
RFC 9525 describe, done after the handshake (Python's ``check_hostname`` would abort
the handshake with OpenSSL's text instead of our own verdict and message):

* the reference identity is a DNS name or an IP address literal (IPv4 or IPv6, an IPv6
  one possibly in brackets); an IP literal is compared with the iPAddress entries of
  the subjectAltName only, byte for byte, never with DNS names;
* a DNS name is compared with the dNSName entries: ASCII case-insensitively, a trailing
  dot ignored on both sides, an internationalized name in its A-label form (``xn--``);
* a presented wildcard is only the whole leftmost label (``*.example.org``), stands for
  exactly one non-empty label, and needs at least two labels after it; ``f*.example.org``,
  ``*oo.example.org``, ``a.*.example.org`` and ``*.org`` match nothing;
* the subject's common name is never used, whether SANs exist or not (like today's
  browsers; RFC 9525 drops the CN fallback), so a certificate without DNS or IP SANs
  matches no name.

The SANs are read with ``certs.der`` (no ``cryptography`` import on the echo path);
a certificate it cannot read is handed to ``cryptography``.
"""

from __future__ import annotations

import ipaddress

from certs import der

TYPE_CHECKING = False  # typing itself costs 6 ms of import
if TYPE_CHECKING:
    import ssl

    from certs.errors import Log

_SUBJECT_ALT_NAME = "2.5.29.17"
# GeneralName tags (context-specific, RFC 5280 4.2.1.6) -> our (OpenSSL-like) prefix
_NAME_KINDS = {0xA0: "othername", 0x81: "email", 0x82: "DNS", 0xA3: "X400Name",
               0xA4: "DirName", 0xA5: "EdiPartyName", 0x86: "URI", 0x87: "IP",
               0x88: "Registered ID"}
#: SANs listed in a mismatch message at most (a CDN certificate may carry hundreds)
_LISTED = 10


def subject_alt_names(certificate_der: bytes) -> list[tuple[str, str]]:
    """The subjectAltName entries of a DER certificate as (kind, text), in order.

    Kinds: ``DNS`` (the IA5String as it is), ``IP`` (the address in its usual text
    form), ``email``, ``URI``, and OpenSSL's names of the others (with an empty text).
    No extension: an empty list. Raises ``der.DerError`` if neither reader can read it.
    """
    try:
        names = _from_der(certificate_der)
    except der.DerError:
        names = _from_cryptography(certificate_der)
    return [(kind, _text(kind, value)) for kind, value in names]


def _from_der(data: bytes) -> list[tuple[str, bytes]]:
    """(kind, raw value) of every GeneralName, read with ``certs.der``."""
    value = der.extension_value(data, _SUBJECT_ALT_NAME)
    if value is None:
        return []
    tag, start, end = der.read_tlv(value, 0)
    if tag != 0x30:
        raise der.DerError("subjectAltName is not a SEQUENCE")
    return [(_NAME_KINDS.get(tag, "unknown"), value[cstart:cend])
            for tag, cstart, cend, _ in der.children(value, start, end)]


def _from_cryptography(data: bytes) -> list[tuple[str, bytes]]:
    """The same, read by ``cryptography`` (imported only for certificates ``der`` refuses)."""
    from cryptography import x509

    try:
        certificate = x509.load_der_x509_certificate(data)
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    except ValueError as error:
        raise der.DerError(str(error)) from None
    names: list[tuple[str, bytes]] = []
    for name in extension.value:
        if isinstance(name, x509.DNSName):
            names.append(("DNS", name.value.encode("utf-8", "surrogateescape")))
        elif isinstance(name, x509.IPAddress):
            names.append(("IP", name.value.packed))
        elif isinstance(name, x509.RFC822Name):
            names.append(("email", name.value.encode("utf-8", "surrogateescape")))
        elif isinstance(name, x509.UniformResourceIdentifier):
            names.append(("URI", name.value.encode("utf-8", "surrogateescape")))
        else:
            names.append(("othername", b""))
    return names


def _text(kind: str, value: bytes) -> str:
    if kind == "IP":
        if len(value) in (4, 16):
            return str(ipaddress.ip_address(value))
        return "<invalid>"
    if kind in ("DNS", "email", "URI"):
        return value.decode("latin-1")
    return ""


def is_ip_literal(name: str) -> bool:
    """Whether ``name`` is an IPv4 or IPv6 address literal (IPv6 possibly in brackets)."""
    return _ip_address(name) is not None


def _ip_address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(address.packed)  # fe80::1%eth0: the zone is ours
    return address


def _a_labels(name: str) -> str | None:
    """``name`` in lower-case A-label form without a trailing dot; None if it is no DNS name."""
    if name.endswith("."):
        name = name[:-1]
    if not name or name.startswith(".") or ".." in name:
        return None
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return name.lower()


def usable_reference(name: str) -> bool:
    """Whether ``name`` can be a reference identity: an IP literal, or a DNS name without
    wildcards, blanks or empty labels (an internationalized one must convert to A-labels)."""
    if is_ip_literal(name):
        return True
    labels = _a_labels(name)
    return labels is not None and all(char.isalnum() or char in "-._" for char in labels)


def dns_name_matches(reference: str, presented: str) -> bool:
    """RFC 6125 matching of one reference DNS name against one dNSName SAN."""
    wanted = _a_labels(reference)
    if wanted is None or "*" in wanted or not presented.isascii():
        return False
    pattern = _a_labels(presented)
    if pattern is None:
        return False
    if "*" not in pattern:
        return pattern == wanted
    first, _, rest = pattern.partition(".")
    if first != "*" or "*" in rest or rest.count(".") < 1:
        return False  # partial-label, non-leftmost or too-wide wildcards match nothing
    label, _, wanted_rest = wanted.partition(".")
    return bool(label) and wanted_rest == rest


def matches(reference: str, names: list[tuple[str, str]]) -> bool:
    """Whether the SANs ``names`` (as ``subject_alt_names`` gives them) name ``reference``."""
    address = _ip_address(reference)
    if address is not None:
        return any(kind == "IP" and text != "<invalid>" and
                   ipaddress.ip_address(text) == address for kind, text in names)
    return any(kind == "DNS" and dns_name_matches(reference, text) for kind, text in names)


def _printable(text: str) -> str:
    """``text`` with control and non-ASCII characters escaped (a SAN is peer data)."""
    return "".join(char if " " <= char <= "~" else f"\\x{ord(char):02x}" for char in text)


def describe_names(names: list[tuple[str, str]]) -> str:
    """``DNS:a, IP:1.2.3.4`` (the first ten, then ``... (N more)``); other kinds by kind."""
    shown = [f"{kind}:{_printable(text)}" if text else kind for kind, text in names[:_LISTED]]
    if len(names) > _LISTED:
        shown.append(f"... ({len(names) - _LISTED} more)")
    return ", ".join(shown)


def mismatch_text(reference: str, names: list[tuple[str, str]]) -> str:
    """The fatal line for a certificate that does not name ``reference``."""
    what = "IP address" if is_ip_literal(reference) else "host name"
    listed = (f"subject alternative names: {describe_names(names)}" if names
              else "no subject alternative names; the common name is not used")
    return f"TLS peer certificate does not match {what} '{_printable(reference)}' ({listed})"


def check_peer_hostname(ssl_sock: ssl.SSLSocket | ssl.SSLObject, reference: str,
                        log: Log) -> str | None:
    """Check the peer's leaf certificate against ``reference`` after the handshake.

    None if it matches (a debug line says by which SAN); else the reason, already
    printed as a fatal line (the caller then refuses the connection before sending
    anything of the association).
    """
    leaf = ssl_sock.getpeercert(binary_form=True)
    if not leaf:
        problem = f"TLS peer sent no certificate to match host name '{_printable(reference)}'"
        log.fatal(problem)
        return problem
    try:
        names = subject_alt_names(leaf)
    except der.DerError:
        names = []
    if matches(reference, names):
        log.debug(f"TLS peer certificate matches host name '{_printable(reference)}'")
        return None
    problem = mismatch_text(reference, names)
    log.fatal(problem)
    return problem
