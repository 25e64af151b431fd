"""After the handshake: DCMTK's condition texts, peer-certificate checks, the -d dump and
the session's facts.

``tls_error_condition`` turns what ``do_handshake`` raised into the ``000b:xxxx``
condition DCMTK prints; ``check_peer_certificates`` applies DCMTK 3.7.0's RFC 9325
checks to the verified peer chain; ``connection_details`` is the ``-d`` block;
``SessionFacts`` and ``peer_chain`` are what a report keeps of a session.
"""

from __future__ import annotations

import ssl

from certs import der
from certs.options import TLSOptions

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from certs.errors import Log

#: the condition DCMTK reports when its verification callback refuses the peer
CERTIFICATE_REFUSED_CODE = 0x0886
CERTIFICATE_REFUSED = f"000b:{CERTIFICATE_REFUSED_CODE:04x} TLS error: certificate verify failed"

_IO_ERROR = (0x0017, "OpenSSL I/O error (SSL_ERROR_SYSCALL)")
_WANT_READ = (0x000B, "TLS read operation did not complete (SSL_ERROR_WANT_READ)")
_WANT_WRITE = (0x000C, "TLS write operation did not complete (SSL_ERROR_WANT_WRITE)")
_ZERO_RETURN = (0x000E, "TLS connection closed by peer (SSL_ERROR_ZERO_RETURN)")

# ERR_lib_error_string of the libraries a handshake can fail in besides SSL
_LIBRARY_TEXT = {
    "SYS": "system library", "X509": "x509 certificate routines",
    "ASN1": "asn1 encoding routines", "PEM": "PEM routines", "EVP": "digital envelope routines",
    "PROV": "Provider routines", "RSA": "rsa routines", "BIO": "BIO routines",
    "EC": "elliptic curve routines", "DH": "Diffie-Hellman routines",
    "X509V3": "X509 V3 routines", "OSSL_DECODER": "DECODER routines",
}


#: verification results that mean "the issuer was not found in the trust store"
_ISSUER_NOT_FOUND = (2, 19, 20)  # unable to get issuer, self-signed in chain, no local issuer


def tls_error_condition(exc: BaseException, context: ssl.SSLContext | None = None) -> str:
    """DCMTK's condition, as printed (``000b:cccc text``), for a failed TLS handshake or
    TLS read/write: ``tls_failure`` formatted."""
    code, text = tls_failure(exc, context)
    return f"000b:{code:04x} {text}"


def tls_failure(exc: BaseException, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    """DCMTK's dcmtls condition code and text for a failed TLS handshake or TLS read/write
    (docs/dcmtk-behaviour.md 6.10).

    SSL-library errors become ``0x800 + reason``, ``TLS error: <reason text>``;
    a reset connection is ``SSL_ERROR_SYSCALL``, a socket timeout ``SSL_ERROR_WANT_READ``.
    When the issuer was not found and a ``+cd`` directory of ``context`` holds a file
    OpenSSL's lookup could not load, DCMTK reports that file's (older) error instead.
    """
    lookup_failure = getattr(context, "directory_lookup_failure", None)
    if (lookup_failure is not None and isinstance(exc, ssl.SSLCertVerificationError)
            and exc.verify_code in _ISSUER_NOT_FOUND):
        from certs.errorqueue import LIBRARY_TEXT

        code, text = lookup_failure
        library = LIBRARY_TEXT.get((code & 0x7FFFFFFF) >> 23, "unknown library")
        return 0x0008, f"OpenSSL error {code:08x}: {library}: {text}"
    if isinstance(exc, ssl.SSLZeroReturnError):
        return _ZERO_RETURN
    if isinstance(exc, ssl.SSLWantWriteError):
        return _WANT_WRITE
    if isinstance(exc, (ssl.SSLWantReadError, TimeoutError)):
        return _WANT_READ
    from certs.openssl_errors import error_numbers, packed_code, reason_text  # failures only

    library = getattr(exc, "library", None)
    numbers = error_numbers(library, getattr(exc, "reason", None))
    if isinstance(exc, ssl.SSLError) and numbers is not None:
        if library == "SSL":
            return 0x800 + numbers[1], f"TLS error: {reason_text(exc)}"
        return (0x0008, f"OpenSSL error {packed_code(exc):08x}: "
                f"{_LIBRARY_TEXT.get(library, 'unknown library')}: {reason_text(exc)}")
    return _IO_ERROR


# X509_V_ERR_EE_KEY_TOO_SMALL, X509_V_ERR_CA_KEY_TOO_SMALL, X509_V_ERR_CA_MD_TOO_WEAK:
# what the security level adds to OpenSSL's verification
_LEVEL_REFUSALS = (66, 67, 68)


def _verified_chain(ssl_sock: ssl.SSLSocket | ssl.SSLObject) -> list[der.Certificate]:
    """The verified peer chain, root first (the order DCMTK's verification callback sees).

    Python 3.13+: ``get_verified_chain()``, intermediates the peer sent included. Before
    3.13 Python shows only the leaf: its issuers are looked up in our trust store, and
    intermediates the peer sent are not seen here (on +pg/+pm OpenSSL's security level
    has judged them in the handshake).
    """
    getter = getattr(ssl_sock, "get_verified_chain", None)
    if getter is not None:
        try:
            verified = [der.parsed_certificate(_der_bytes(item)) for item in getter() or ()]
        except der.DerError:
            verified = []
        if verified:
            return list(reversed(verified))
    leaf = ssl_sock.getpeercert(binary_form=True)
    if not leaf:
        return []
    return _completed([der.parsed_certificate(leaf)], ssl_sock.context)


def _der_bytes(item: object) -> bytes:
    """DER of one element of ``get_verified_chain()``/``get_unverified_chain()`` (DER bytes
    by the documented API; anything else is refused and the caller falls back)."""
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    raise der.DerError("not DER bytes")


def _completed(chain: list[der.Certificate], context: ssl.SSLContext) -> list[der.Certificate]:
    """``chain`` (leaf first) extended by its issuers from our trust store; root first."""
    anchors = [der.parsed_certificate(c) for c in context.get_ca_certs(binary_form=True)]
    while chain[-1].issuer_der != chain[-1].subject_der and len(chain) < 16:
        issuer = next((c for c in anchors if c.subject_der == chain[-1].issuer_der), None)
        if issuer is None or issuer in chain:
            break
        chain.append(issuer)
    return list(reversed(chain))


def explain_refusal(exc: BaseException, ssl_sock: ssl.SSLSocket | ssl.SSLObject | None,
                    opts: TLSOptions, role: str, log: Log) -> None:
    """Say why the handshake refused the peer's chain when the security level did it.

    DCMTK's callback prints which certificate of the chain it refused and why; with the
    security level OpenSSL refuses without a word. Python 3.13+ shows the chain the peer
    sent even after the failure (``get_unverified_chain()``): its certificates, with their
    issuers from our trust store, get the profile's checks, root first, and so DCMTK's
    lines. Before 3.13 (or if that shows nothing) one ``E:`` line gives OpenSSL's reason.
    Prints nothing for other failures.
    """
    if getattr(exc, "verify_code", None) not in _LEVEL_REFUSALS:
        return
    if ssl_sock is None or ssl_sock.context.verify_mode == ssl.CERT_NONE:
        return
    if security_level_of(ssl_sock.context) == 0:
        return
    chain: list[der.Certificate] = []
    getter = getattr(ssl_sock, "get_unverified_chain", None)
    try:
        sent = getter() if getter is not None else None
        if sent:
            chain = _completed([der.parsed_certificate(_der_bytes(item)) for item in sent],
                               ssl_sock.context)
    except (ValueError, OSError, der.DerError):
        chain = []
    requestor = role in ("requestor", "client")
    for certificate in chain:
        if not _acceptable(certificate, opts.profile, requestor, log):
            return
    # SHA-1 under +pg, or no chain to show: the security level's own reason
    log.error(f"Peer certificate refused by the security level of the TLS profile: "
              f"{getattr(exc, 'verify_message', '')}. Refusing TLS connection.")


def security_level_of(context: ssl.SSLContext) -> int:
    """The security level a context was built with (public: ``security_level``, 3.10+)."""
    return int(getattr(context, "security_level", 0))


def check_peer_certificates(ssl_sock: ssl.SSLSocket | ssl.SSLObject, opts: TLSOptions,
                            role: str, log: Log) -> bool:
    """DCMTK 3.7.0's RFC 9325 checks on the verified peer chain (docs/dcmtk-behaviour.md
    6.10); False = refuse.

    ``role`` is "requestor" (or "client") or "acceptor" (or "server"). Only a verified
    chain is checked (as in DCMTK, whose callback runs only when OpenSSL's verification
    passed): with ``-ic`` or without a peer certificate this returns True and prints
    nothing. On False the
    caller reports ``CERTIFICATE_REFUSED`` as the handshake failure.
    """
    if ssl_sock.context.verify_mode == ssl.CERT_NONE:
        return True
    try:
        chain = _verified_chain(ssl_sock)
    except der.DerError:
        return True
    requestor = role in ("requestor", "client")
    for certificate in chain:
        if not _acceptable(certificate, opts.profile, requestor, log):
            return False
    return True


def _acceptable(certificate: der.Certificate, profile: str, requestor: bool, log: Log) -> bool:
    hash_name = certificate.signature_name
    if certificate.signature_class == "weak":
        log.error(f"Weak certificate hash key: peer provided certificate with '{hash_name}'. "
                  "Refusing TLS connection.")
        return False
    weak_hash = certificate.signature_class == "other"
    rsa_bits = certificate.key_bits if certificate.key_type == "RSA" else 0
    ec_bits = certificate.key_bits if certificate.key_type == "EC" else 0
    if profile == "8996-mod":
        if 0 < rsa_bits < 2048:
            log.error("RSA key length too short: the DICOM TLS profile requires at least 2048 "
                      f"bits, but peer provided RSA certificate with {rsa_bits} bits. Refusing "
                      "TLS connection.")
            return False
        if 0 < ec_bits < 256:
            log.error("ECDSA key length too short: the DICOM TLS profile requires at least 256 "
                      f"bits, but peer provided ECDSA certificate with {ec_bits} bits. Refusing "
                      "TLS connection.")
            return False
        if weak_hash:
            log.error("Weak certificate hash key: the DICOM TLS profile requires SHA-256 (or "
                      f"better) for certificates, but peer provided certificate with "
                      f"'{hash_name}'. Refusing TLS connection.")
            return False
        return True
    if profile == "8996" and requestor and 0 < rsa_bits < 2048:
        log.error("Server RSA key length too short: RFC 9325 requires at least 2048 bits, but "
                  f"server provided RSA certificate with {rsa_bits} bits. Refusing TLS "
                  "connection.")
        return False
    if 0 < rsa_bits < 2048:
        log.warn("RSA key length too short: RFC 9325 recommends at least 2048 bits, but peer "
                 f"provided RSA certificate with {rsa_bits} bits.")
    if 0 < ec_bits < 224:
        log.warn("ECDSA key length too short: RFC 9325 recommends at least 224 bits, but peer "
                 f"provided ECDSA certificate with {ec_bits} bits.")
    if weak_hash:
        # DCMTK's text, unbalanced parenthesis included
        log.warn("Weak certificate hash key: RFC 9325 recommends SHA-256 (or better, but peer "
                 f"provided certificate with '{hash_name}'.")
    return True


def _signed_long(value: int) -> int:
    """ASN1_INTEGER_get: the serial as a 64-bit long, -1 if it does not fit."""
    return value if -(1 << 63) <= value < (1 << 63) else -1


def connection_details(ssl_sock: ssl.SSLSocket | ssl.SSLObject) -> list[str]:
    """The ``-d`` TLS CONNECTION DETAILS block (DCMTK <= 3.7.0 style), one line per item."""
    name, _protocol, bits = ssl_sock.cipher()
    lines = [
        "================== BEGIN TLS CONNECTION DETAILS =================",
        "Transport connection: TLS over TCP/IP",
        f"  Protocol    : {ssl_sock.version()}",
        f"  Ciphersuite : {name}, encryption: {bits} bits",
    ]
    leaf = ssl_sock.getpeercert(binary_form=True)
    try:
        certificate = der.parsed_certificate(leaf) if leaf else None
    except der.DerError:
        certificate = None
    if certificate is None:
        lines.append("Peer did not provide a certificate or certificate verification is "
                     "disabled.")
    else:
        key_type = certificate.key_type if certificate.key_type in ("RSA", "DSA", "DH") \
            else "unknown"
        lines += [
            f"Peer X.509v{certificate.version} Certificate",
            f"  Subject     : {der.name_oneline(certificate.subject_der)}",
            f"  Issued by   : {der.name_oneline(certificate.issuer_der)}",
            f"  Serial no.  : {_signed_long(certificate.serial)}",
            f"  Validity    : not before {der.utctime_text(certificate.not_before)}, "
            f"not after {der.utctime_text(certificate.not_after)}",
            f"  Public key  : {key_type}, {certificate.key_bits} bits",
        ]
    lines.append("=================== END TLS CONNECTION DETAILS ==================")
    return lines


def peer_certificate_subject(ssl_sock: ssl.SSLSocket | ssl.SSLObject) -> str:
    """The peer certificate's subject as ``/C=../CN=..`` ("" if the peer sent none)."""
    leaf = ssl_sock.getpeercert(binary_form=True)
    if not leaf:
        return ""
    try:
        return der.name_oneline(der.parsed_certificate(leaf).subject_der)
    except der.DerError:
        return ""


class SessionFacts:
    """A negotiated TLS session: version, suite, ALPN, SNI sent, the peer's chain (DER)."""

    __slots__ = ("version", "cipher", "cipher_bits", "alpn", "sni", "chain", "verified",
                 "hostname_verified", "hostname_problem")

    def __init__(self, ssl_sock: ssl.SSLSocket, sni: str | None) -> None:
        name, _protocol, bits = ssl_sock.cipher()
        self.version: str = ssl_sock.version()
        self.cipher: str = name
        self.cipher_bits: int = bits
        self.alpn: str | None = ssl_sock.selected_alpn_protocol()
        #: the server name sent (None: no SNI)
        self.sni = sni
        #: the certificates the peer sent, leaf first, as DER
        self.chain: list[bytes] = peer_chain(ssl_sock)
        #: True if the peer's chain was verified against our CA settings (not -ic)
        self.verified: bool = ssl_sock.context.verify_mode != ssl.CERT_NONE
        #: the verdict of certs.hostname's check (None: not checked) and, if False, its
        #: fatal line
        self.hostname_verified: bool | None = None
        self.hostname_problem: str | None = None


def peer_chain(ssl_sock: ssl.SSLSocket) -> list[bytes]:
    """Every certificate the peer sent (leaf first, DER); the leaf alone where Python hides them.

    ``get_unverified_chain`` is public from Python 3.13; before, only the SSLSocket's
    private ``_sslobj`` has it, so that route is feature-tested (both its presence and
    what it returns) and the public ``getpeercert`` leaf is the fallback.
    """
    try:
        chain_of = getattr(ssl_sock, "get_unverified_chain", None)
        if chain_of is None:
            chain_of = ssl_sock._sslobj.get_unverified_chain
            from _ssl import ENCODING_DER
        return [cert if isinstance(cert, bytes) else cert.public_bytes(ENCODING_DER)
                for cert in chain_of() or []]
    except (AttributeError, ImportError):
        leaf = ssl_sock.getpeercert(binary_form=True)
        return [leaf] if leaf else []
