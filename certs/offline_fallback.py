"""``+vc``/``+rc`` without ctypes: certificate-path checks built on ``cryptography``.

Why this exists: ``certs.offline`` runs OpenSSL's own X509_verify_cert through ctypes,
an interpreter/library internal. Issue #12 and docs/design.md D8 allow that only behind a
run-time feature test with a public-API fallback; this module is that fallback, used
when ctypes or the OpenSSL symbols are missing (tests/portable runs it on Linux).

It follows X509_verify_cert of OpenSSL 3.0 with the flags DCMTK sets (none, or
CRL_CHECK / CRL_CHECK_ALL) closely enough to return the same X509_V_ERR number, and
``error_text`` gives OpenSSL's text for it, so echoscu prints DCMTK's lines either way:

* trust store: every certificate (and, in PEM, every CRL) of the ``+cf`` and ``+crl``
  files (DER: one certificate per file, as OpenSSL's file lookup), plus ``+cd``
  hashed directories read on demand (``<hash>.<n>`` certificates, ``<hash>.r<n>``
  CRLs; directories are consulted only when the files hold no certificate of the
  wanted name, as OpenSSL's store cache does);
* chain: trusted issuers first, then the certificates after the first one of a PEM
  ``+vc`` file; an issuer matches by OpenSSL's canonical name, authority/subject key
  identifiers and key type, a time-valid one preferred (2, 18, 19, 20, 22);
* extensions: unhandled critical extensions, CA basic constraints of issuers, path
  length (34, 79 or in OpenSSL 1.1.1 24, 25, 41);
* CRLs of the leaf or of the whole chain: presence, cRLSign, validity times,
  signature, unhandled critical CRL extensions, revocation (3, 35, 11, 12, 8, 36, 23);
* from the root down: keyCertSign, signature (``verify_directly_issued_by``),
  validity times (32, 7, 9, 10). As in OpenSSL, a self-signed root's own signature is
  not checked.

What it cannot do (documented degradation; each case then passes or fails where
OpenSSL would give a different answer or error number):

* no name constraints, certificate policies, delta CRLs, indirect CRLs, CRL issuing
  distribution point scopes or CRL entry extensions other than removeFromCRL;
* certificates or CRLs that ``cryptography`` refuses to parse (some malformed
  encodings OpenSSL tolerates) count as unreadable; key blocks in PEM trust files
  are skipped, not parsed;
* signature algorithms ``cryptography`` cannot verify count as signature failures;
* error texts are a table of OpenSSL 3.0's (1.1.1's spelling of 18 and 19 under
  OpenSSL 1.1.1), not read from the library.
"""

from __future__ import annotations

import binascii
import datetime
import os
import ssl
import warnings

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from certs.der import Certificate as DerCertificate
from certs.der import DerError, canonical_name, name_hash, read_tlv
from certs.options import TLSOptions

# X509_V_ERR numbers (OpenSSL's x509_vfy.h)
OK, UNSPECIFIED = 0, 1
UNABLE_TO_GET_ISSUER_CERT, UNABLE_TO_GET_CRL = 2, 3
CERT_SIGNATURE_FAILURE, CRL_SIGNATURE_FAILURE = 7, 8
CERT_NOT_YET_VALID, CERT_HAS_EXPIRED, CRL_NOT_YET_VALID, CRL_HAS_EXPIRED = 9, 10, 11, 12
DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN = 18, 19
UNABLE_TO_GET_ISSUER_CERT_LOCALLY, CERT_CHAIN_TOO_LONG, CERT_REVOKED = 20, 22, 23
PATH_LENGTH_EXCEEDED, KEYUSAGE_NO_CERTSIGN = 25, 32
INVALID_CA = 79 if ssl.OPENSSL_VERSION_INFO >= (3,) else 24  # renumbered in OpenSSL 3.0
UNHANDLED_CRITICAL_EXTENSION, KEYUSAGE_NO_CRL_SIGN = 34, 35
UNHANDLED_CRITICAL_CRL_EXTENSION, INVALID_EXTENSION = 36, 41

#: X509_verify_cert_error_string of OpenSSL 3.0 for every number this module returns
_TEXTS = {
    UNSPECIFIED: "unspecified certificate verification error",
    UNABLE_TO_GET_ISSUER_CERT: "unable to get issuer certificate",
    UNABLE_TO_GET_CRL: "unable to get certificate CRL",
    CERT_SIGNATURE_FAILURE: "certificate signature failure",
    CRL_SIGNATURE_FAILURE: "CRL signature failure",
    CERT_NOT_YET_VALID: "certificate is not yet valid",
    CERT_HAS_EXPIRED: "certificate has expired",
    CRL_NOT_YET_VALID: "CRL is not yet valid",
    CRL_HAS_EXPIRED: "CRL has expired",
    DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
    SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in certificate chain",
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unable to get local issuer certificate",
    CERT_CHAIN_TOO_LONG: "certificate chain too long",
    CERT_REVOKED: "certificate revoked",
    INVALID_CA: "invalid CA certificate",
    PATH_LENGTH_EXCEEDED: "path length constraint exceeded",
    KEYUSAGE_NO_CERTSIGN: "key usage does not include certificate signing",
    UNHANDLED_CRITICAL_EXTENSION: "unhandled critical extension",
    KEYUSAGE_NO_CRL_SIGN: "key usage does not include CRL signing",
    UNHANDLED_CRITICAL_CRL_EXTENSION: "unhandled critical CRL extension",
    INVALID_EXTENSION: "invalid or inconsistent certificate extension",
}

_MAX_DEPTH = 100  # X509_VERIFY_PARAM's default depth

#: certificate extensions OpenSSL handles (X509_supported_extension); others critical = 34
_HANDLED = frozenset((
    "2.16.840.1.113730.1.1", "2.5.29.15", "2.5.29.17", "2.5.29.19", "2.5.29.32",
    "2.5.29.31", "2.5.29.37", "1.3.6.1.5.5.7.1.7", "1.3.6.1.5.5.7.1.8",
    "1.3.6.1.5.5.7.48.1.5", "2.5.29.36", "1.3.6.1.5.5.7.1.14", "2.5.29.30", "2.5.29.33",
    "2.5.29.54"))
#: CRL extensions OpenSSL handles when critical (issuing distribution point, AKID, delta)
_HANDLED_CRL = frozenset(("2.5.29.28", "2.5.29.35", "2.5.29.27"))
_DELTA_CRL_INDICATOR = "2.5.29.27"

#: signature algorithm OID -> the key type that must have made it (check_sig_alg_match)
_SIGNATURE_KEYS = {
    **{f"1.2.840.113549.1.1.{n}": "rsa" for n in (2, 3, 4, 5, 11, 12, 13, 14)},
    "1.2.840.113549.1.1.10": "rsa-pss",
    "1.3.14.3.2.29": "rsa",
    **{f"2.16.840.1.101.3.4.3.{n}": "rsa" for n in (13, 14, 15, 16)},
    **{f"1.2.840.10045.4.{n}": "ec" for n in ("1", "3.1", "3.2", "3.3", "3.4")},
    **{f"2.16.840.1.101.3.4.3.{n}": "ec" for n in (9, 10, 11, 12)},
    "1.2.840.10040.4.3": "dsa",
    **{f"2.16.840.1.101.3.4.3.{n}": "dsa" for n in range(1, 9)},
    "1.3.101.112": "ed25519", "1.3.101.113": "ed448",
}
#: key type (certs.der's name, from the certificate's own key) -> signatures it makes;
#: an RSA key may sign RSA-PSS, an RSA-PSS key nothing else
_KEY_SIGNS = {"RSA": {"rsa", "rsa-pss"}, "RSA-PSS": {"rsa-pss"}, "EC": {"ec"},
              "DSA": {"dsa"}, "ED25519": {"ed25519"}, "ED448": {"ed448"}}

_CERT_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE")
_CRL_LABEL = b"X509 CRL"


def error_text(code: int) -> str:
    """OpenSSL's text for an X509_V_ERR number this module returns."""
    text = _TEXTS.get(code, _TEXTS[UNSPECIFIED])
    if ssl.OPENSSL_VERSION_INFO < (3,):
        text = text.replace("self-signed", "self signed")
    return text


# --- reading files -------------------------------------------------------------------


def _pem_blocks(data: bytes) -> list[tuple[bytes, bytes]] | None:
    """(label, DER) of every PEM block in file order; None if a block is cut off or its
    base64 is broken (OpenSSL then reads nothing more)."""
    blocks = []
    pos = 0
    while True:
        start = data.find(b"-----BEGIN ", pos)
        if start < 0:
            return blocks
        label_end = data.find(b"-----", start + 11)
        if label_end < 0:
            return blocks
        label = data[start + 11:label_end]
        end_line = b"-----END " + label + b"-----"
        stop = data.find(end_line, label_end + 5)
        if stop < 0:
            return None
        try:
            blocks.append((label, binascii.a2b_base64(data[label_end + 5:stop])))
        except binascii.Error:
            return None
        pos = stop + len(end_line)


def _first_object(data: bytes) -> bytes | None:
    """The first DER object of ``data`` (OpenSSL's d2i reads one and ignores the rest)."""
    try:
        _, _, end = read_tlv(data, 0)
    except DerError:
        return None
    return data[:end]


def _certificate(data: bytes) -> _Cert | None:
    der = _first_object(data)
    if der is None:
        return None
    with warnings.catch_warnings():  # e.g. negative serial numbers: parse, don't warn
        warnings.simplefilter("ignore")
        try:
            return _Cert(x509.load_der_x509_certificate(der), der)
        except ValueError:
            return None


def _crl(data: bytes) -> x509.CertificateRevocationList | None:
    der = _first_object(data)
    if der is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return x509.load_der_x509_crl(der)
        except ValueError:
            return None


def _read(path: str) -> bytes | None:
    """The file's bytes; None if it cannot be opened. A directory opens (as with fopen)
    and reads as nothing."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except IsADirectoryError:
        return b""
    except OSError:
        return None


def read_certificates(path: str, file_format: str) -> tuple[_Cert | None, list[_Cert]] | None:
    """First certificate and (PEM only) the ones after it, up to the first unreadable one
    (as PEM_read_bio_X509 in a loop); None if the file cannot be opened."""
    data = _read(path)
    if data is None:
        return None
    if file_format == "der":
        return _certificate(data), []
    certificates: list[_Cert | None] = []
    for label, der in _pem_blocks(data) or []:
        if label in _CERT_LABELS:
            certificate = _certificate(der)
            certificates.append(certificate)
            if certificate is None:
                break
    if not certificates:
        return None, []
    chain = []
    for certificate in certificates[1:]:
        if certificate is None:
            break
        chain.append(certificate)
    return certificates[0], chain


def _load_file(path: str, der_format: bool
               ) -> tuple[list[_Cert], list[x509.CertificateRevocationList]]:
    """What X509_load_cert_crl_file (PEM) or X509_load_cert_file (DER) adds to a store:
    nothing at all if one block is unreadable."""
    data = _read(path)
    if not data:
        return [], []
    if der_format:
        certificate = _certificate(data)
        return ([certificate] if certificate else []), []
    certificates, revocation_lists = [], []
    blocks = _pem_blocks(data)
    if blocks is None:
        return [], []
    for label, der in blocks:
        if label in _CERT_LABELS:
            certificate = _certificate(der)
            if certificate is None:
                return [], []
            certificates.append(certificate)
        elif label == _CRL_LABEL:
            crl = _crl(der)
            if crl is None:
                return [], []
            revocation_lists.append(crl)
    return certificates, revocation_lists


def _load_crl_file(path: str, der_format: bool) -> list[x509.CertificateRevocationList]:
    """What X509_load_crl_file adds to a store (the CRLs of a hashed directory)."""
    data = _read(path)
    if not data:
        return []
    if der_format:
        crl = _crl(data)
        return [crl] if crl else []
    crls = []
    for label, der in _pem_blocks(data) or []:
        if label == _CRL_LABEL:
            crl = _crl(der)
            if crl is None:
                break
            crls.append(crl)
    return crls


# --- certificates --------------------------------------------------------------------


class _Cert:
    """One certificate with the facts OpenSSL caches about it (x509v3_cache_extensions)."""

    def __init__(self, certificate: x509.Certificate, der: bytes) -> None:
        self.certificate = certificate
        self.der = der
        self.subject_der = certificate.subject.public_bytes()
        self.subject = canonical_name(self.subject_der)
        self.issuer_der = certificate.issuer.public_bytes()
        self.issuer = canonical_name(self.issuer_der)
        self.invalid_extension = False
        self.unhandled_critical = False
        self.basic_ca: bool | None = None  # None: no basicConstraints
        self.path_length: int | None = None
        self.key_usage: x509.KeyUsage | None = None
        self.skid: bytes | None = None
        self.akid: x509.AuthorityKeyIdentifier | None = None
        try:
            extensions = list(certificate.extensions)
        except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
            extensions = []
            self.invalid_extension = True
        for extension in extensions:
            value = extension.value
            if extension.critical and extension.oid.dotted_string not in _HANDLED:
                self.unhandled_critical = True
            if isinstance(value, x509.BasicConstraints):
                self.basic_ca, self.path_length = value.ca, value.path_length
            elif isinstance(value, x509.KeyUsage):
                self.key_usage = value
            elif isinstance(value, x509.SubjectKeyIdentifier):
                self.skid = value.digest
            elif isinstance(value, x509.AuthorityKeyIdentifier):
                self.akid = value
        with warnings.catch_warnings():  # DSA keys are deprecated in cryptography
            warnings.simplefilter("ignore")
            try:
                self.public_key = certificate.public_key()
            except (ValueError, UnsupportedAlgorithm):
                self.public_key = None
        try:
            key_type = DerCertificate(der).key_type
        except DerError:
            key_type = "unknown"
        self.key_signs = _KEY_SIGNS.get(key_type, set())
        self.not_before = certificate.not_valid_before_utc
        self.not_after = certificate.not_valid_after_utc
        self.self_issued = self.subject == self.issuer
        self.self_signed = self.self_issued and _likely_issued(self, self)
        self.version1 = certificate.version == x509.Version.v1

    def key_allows(self, usage: str) -> bool:
        """keyUsage absent or with ``usage`` (OpenSSL's ku_reject, negated)."""
        return self.key_usage is None or getattr(self.key_usage, usage)

    def time_valid(self, now: datetime.datetime) -> bool:
        return self.not_before <= now <= self.not_after


def _akid_matches(issuer: _Cert, subject: _Cert) -> bool:
    """X509_check_akid: the subject's authority key identifier fits the issuer."""
    akid = subject.akid
    if akid is None:
        return True
    if akid.key_identifier is not None and issuer.skid is not None \
            and akid.key_identifier != issuer.skid:
        return False
    if akid.authority_cert_serial_number is not None \
            and akid.authority_cert_serial_number != issuer.certificate.serial_number:
        return False
    for general_name in akid.authority_cert_issuer or ():
        if isinstance(general_name, x509.DirectoryName):
            return canonical_name(general_name.value.public_bytes()) == issuer.issuer
    return True


def _likely_issued(issuer: _Cert, subject: _Cert) -> bool:
    """ossl_x509_likely_issued: names, key identifiers and key type agree (no signature
    check: that comes last, as in OpenSSL)."""
    if issuer.subject != subject.issuer or not _akid_matches(issuer, subject):
        return False
    family = _SIGNATURE_KEYS.get(subject.certificate.signature_algorithm_oid.dotted_string)
    return family in issuer.key_signs


def _signed_by(subject: _Cert, issuer: _Cert) -> bool:
    """Does the issuer's key verify the subject's signature?"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            subject.certificate.verify_directly_issued_by(issuer.certificate)
            return True
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            return False


def _ca_kind(cert: _Cert) -> int:
    """X509_check_ca: 0 not a CA, 1 basicConstraints CA:TRUE, 3 v1 self-signed root,
    4 keyUsage keyCertSign without basicConstraints."""
    if not cert.key_allows("key_cert_sign"):
        return 0
    if cert.basic_ca is not None:
        return 1 if cert.basic_ca else 0
    if cert.version1 and cert.self_signed:
        return 3
    return 4 if cert.key_usage is not None else 0


# --- the trust store -------------------------------------------------------------------


class _Store:
    """+cf/+crl files up front, +cd hashed directories on demand."""

    def __init__(self, opts: TLSOptions | None, extra: list[_Cert] = ()) -> None:
        self.certificates: list[_Cert] = list(extra)
        self.crls: list[x509.CertificateRevocationList] = []
        self.crl_loaded = False
        self.directories: list[str] = []
        self.der_format = False
        self._looked_up: set[tuple[str, str]] = set()
        if opts is None:
            return
        self.der_format = opts.file_format == "der"
        self.directories = list(opts.ca_dirs)
        for path in opts.ca_files:
            self._add(*_load_file(path, self.der_format))
        for path in opts.crl_files:
            certificates, crls = _load_file(path, self.der_format)
            self._add(certificates, crls)
            self.crl_loaded = self.crl_loaded or bool(certificates or crls)

    def _add(self, certificates: list[_Cert], crls: list[x509.CertificateRevocationList]
             ) -> None:
        self.certificates.extend(certificates)
        self.crls.extend(crls)

    def _directory_lookup(self, name_der: bytes, kind: str) -> None:
        """Load ``<hash>.<n>`` (certificates) or ``<hash>.r<n>`` (CRLs) of every +cd
        directory, n from 0 until a file is missing (X509_LOOKUP_hash_dir)."""
        digest = name_hash(name_der)
        if (digest, kind) in self._looked_up:
            return
        self._looked_up.add((digest, kind))
        for directory in self.directories:
            number = 0
            while True:
                path = os.path.join(directory, f"{digest}.{kind}{number}")
                if not os.path.exists(path):
                    break
                if kind == "":
                    self.certificates.extend(_load_file(path, self.der_format)[0])
                else:
                    self.crls.extend(_load_crl_file(path, self.der_format))
                number += 1

    def issuers_named(self, name: bytes, name_der: bytes) -> list[_Cert]:
        found = [c for c in self.certificates if c.subject == name]
        if not found and self.directories:
            self._directory_lookup(name_der, "")
            found = [c for c in self.certificates if c.subject == name]
        return found

    def crls_named(self, name: bytes, name_der: bytes) -> list[x509.CertificateRevocationList]:
        if self.directories:
            self._directory_lookup(name_der, "r")
        return [crl for crl in self.crls
                if canonical_name(crl.issuer.public_bytes()) == name]

    def holds(self, cert: _Cert) -> bool:
        return any(candidate.der == cert.der for candidate in self.certificates)


def _pick_issuer(cert: _Cert, candidates: list[_Cert], chain: list[_Cert],
                 now: datetime.datetime) -> _Cert | None:
    """The first time-valid likely issuer, else the one that expires last."""
    best = None
    for candidate in candidates:
        if any(candidate.der == used.der for used in chain):
            continue
        if not _likely_issued(candidate, cert):
            continue
        if candidate.time_valid(now):
            return candidate
        if best is None or candidate.not_after > best.not_after:
            best = candidate
    return best


# --- verification --------------------------------------------------------------------


def _build_chain(leaf: _Cert, untrusted: list[_Cert], store: _Store,
                 now: datetime.datetime) -> tuple[list[_Cert], int]:
    """Trusted issuers first, then the untrusted ones; (chain, error)."""
    chain = [leaf]
    trusted = False
    if leaf.self_signed:
        if store.holds(leaf):
            return chain, OK
        return chain, DEPTH_ZERO_SELF_SIGNED_CERT
    while True:
        if len(chain) > _MAX_DEPTH:
            return chain, CERT_CHAIN_TOO_LONG
        current = chain[-1]
        issuer = _pick_issuer(current, store.issuers_named(current.issuer, current.issuer_der),
                              chain, now)
        if issuer is not None:
            trusted = True
        elif not trusted:
            issuer = _pick_issuer(current, untrusted, chain, now)
        if issuer is None:
            return chain, UNABLE_TO_GET_ISSUER_CERT if trusted else \
                UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        chain.append(issuer)
        if issuer.self_signed:
            if trusted or store.holds(issuer):
                return chain, OK
            return chain, SELF_SIGNED_CERT_IN_CHAIN


def _check_extensions(chain: list[_Cert]) -> int:
    """check_extensions: critical extensions, issuers being CAs, path lengths."""
    path_length = 0
    for depth, cert in enumerate(chain):
        if cert.invalid_extension:
            return INVALID_EXTENSION
        if cert.unhandled_critical:
            return UNHANDLED_CRITICAL_EXTENSION
        if depth > 0:
            kind = _ca_kind(cert)
            if kind == 0 or (depth + 1 < len(chain) and kind != 1):
                return INVALID_CA
        if depth > 1 and cert.path_length is not None and path_length > cert.path_length:
            return PATH_LENGTH_EXCEEDED
        if depth > 0 and not cert.self_issued:
            path_length += 1
    return OK


def _crl_time_error(crl: x509.CertificateRevocationList, now: datetime.datetime) -> int:
    if crl.last_update_utc > now:
        return CRL_NOT_YET_VALID
    if crl.next_update_utc is not None and crl.next_update_utc < now:
        return CRL_HAS_EXPIRED
    return OK


def _crl_critical(crl: x509.CertificateRevocationList) -> bool:
    try:
        return any(e.critical and e.oid.dotted_string not in _HANDLED_CRL
                   for e in crl.extensions)
    except ValueError:
        return True


def _is_delta(crl: x509.CertificateRevocationList) -> bool:
    try:
        return any(e.oid.dotted_string == _DELTA_CRL_INDICATOR for e in crl.extensions)
    except ValueError:
        return False


def _revoked(crl: x509.CertificateRevocationList, cert: _Cert) -> bool:
    entry = crl.get_revoked_certificate_by_serial_number(cert.certificate.serial_number)
    if entry is None:
        return False
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except (x509.ExtensionNotFound, ValueError):
        return True
    return reason != x509.ReasonFlags.remove_from_crl


def _check_revocation(chain: list[_Cert], store: _Store, whole_chain: bool,
                      now: datetime.datetime) -> int:
    """check_revocation/check_cert: a usable CRL of each checked certificate's issuer."""
    for depth in range(len(chain) if whole_chain else 1):
        cert = chain[depth]
        issuer = chain[depth + 1] if depth + 1 < len(chain) else cert
        candidates = [crl for crl in store.crls_named(cert.issuer, cert.issuer_der)
                      if not _is_delta(crl)]
        if not candidates:
            return UNABLE_TO_GET_CRL
        # the best CRL: time-valid first, then the newest
        crl = max(candidates, key=lambda c: (_crl_time_error(c, now) == OK, c.last_update_utc))
        if not issuer.key_allows("crl_sign"):
            return KEYUSAGE_NO_CRL_SIGN
        error = _crl_time_error(crl, now)
        if error:
            return error
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                signed = issuer.public_key is not None \
                    and crl.is_signature_valid(issuer.public_key)
            except (TypeError, ValueError, UnsupportedAlgorithm):
                signed = False
        if not signed:
            return CRL_SIGNATURE_FAILURE
        if _crl_critical(crl):
            return UNHANDLED_CRITICAL_CRL_EXTENSION
        if _revoked(crl, cert):
            return CERT_REVOKED
    return OK


def _check_signatures_and_times(chain: list[_Cert], now: datetime.datetime) -> int:
    """internal_verify: from the top down, issuer key usage, signature, validity."""
    for depth in range(len(chain) - 1, -1, -1):
        cert = chain[depth]
        issuer = chain[depth + 1] if depth + 1 < len(chain) else cert
        if issuer is not cert:
            if not issuer.key_allows("key_cert_sign"):
                return KEYUSAGE_NO_CERTSIGN
            if not _signed_by(cert, issuer):
                return CERT_SIGNATURE_FAILURE
        if cert.not_before > now:
            return CERT_NOT_YET_VALID
        if cert.not_after < now:
            return CERT_HAS_EXPIRED
    return OK


def verify(store: _Store, leaf: _Cert, untrusted: list[_Cert], crl_mode: str | None) -> int:
    """X509_verify_cert's error number for ``leaf`` (0 = verified)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    chain, error = _build_chain(leaf, untrusted, store, now)
    if error:
        return error
    error = _check_extensions(chain)
    if error:
        return error
    if crl_mode:
        error = _check_revocation(chain, store, crl_mode == "all", now)
        if error:
            return error
    return _check_signatures_and_times(chain, now)


def verify_file(opts: TLSOptions, leaf: _Cert, chain: list[_Cert]) -> int:
    """``+vc``: the error number of ``leaf`` (with ``chain`` untrusted) against the store
    of +cf/+cd/+crl and the CRL mode, as certs.offline builds it with OpenSSL."""
    store = _Store(opts)
    mode = opts.crl_mode or ("leaf" if store.crl_loaded else None)
    return verify(store, leaf, chain, mode)


def verify_self(leaf: _Cert) -> int:
    """``+rc``: the error number of ``leaf`` against a store holding only itself."""
    return verify(_Store(None, [leaf]), leaf, [], None)
