"""Read TLS material (certificates, chains, private keys, CRLs; PEM or DER) and describe it.

The engine behind ``echocerts show`` and the loader ``echocerts check`` builds on. A key
is classified as encrypted from its PEM header or its PKCS#8 structure, so no password
is needed to say so. Unreadable or unrecognised files raise ``MaterialError``, whose
text is one line ready for the user.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs.der import DerError, children, decode_oid, read_tlv

PrivateKey = PrivateKeyTypes

#: fewer days left than this earns a warning in ``check`` and a note in ``show``
EXPIRY_WARNING_DAYS = 30


class MaterialError(Exception):
    """A file cannot be read or holds nothing we understand; the text is one line."""


@dataclass
class KeyInfo:
    """One private key as found in a file; ``private_key`` is None while it is encrypted."""

    #: "PKCS#8", "PKCS#1", "SEC1", "DSA (traditional)", "encrypted PKCS#8", ...
    container: str
    encrypted: bool
    #: how it is encrypted ("PBES2, PBKDF2, AES-256-CBC"), None if it is not
    scheme: str | None
    #: "RSA", "EC", "DSA", ... when known without decrypting (PEM label), else None
    key_type: str | None
    private_key: PrivateKey | None
    #: the bytes to decrypt: one PEM block (with its armour) or the DER structure
    data: bytes = field(repr=False)
    encoding: str = "PEM"


@dataclass
class Material:
    """Everything one file holds, in file order per kind."""

    path: str
    encoding: str
    certificates: list[x509.Certificate] = field(default_factory=list)
    keys: list[KeyInfo] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    #: PEM labels we do not handle (certificate requests, OpenSSH keys, ...)
    skipped: list[str] = field(default_factory=list)


_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 #]+)-----\r?\n(.*?)-----END \1-----\r?\n?", re.DOTALL)

#: PEM label -> (container name, key type known from the label)
_KEY_LABELS = {
    b"PRIVATE KEY": ("PKCS#8", None),
    b"ENCRYPTED PRIVATE KEY": ("encrypted PKCS#8", None),
    b"RSA PRIVATE KEY": ("PKCS#1", "RSA"),
    b"EC PRIVATE KEY": ("SEC1", "EC"),
    b"DSA PRIVATE KEY": ("DSA (traditional)", "DSA"),
}
_CERT_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE")
#: blocks that travel with keys and mean nothing on their own
_IGNORED_LABELS = (b"EC PARAMETERS", b"DSA PARAMETERS")

#: password-based encryption OIDs (PKCS#5, PKCS#12) -> name
_PBE_SCHEMES = {
    "1.2.840.113549.1.5.13": "PBES2",
    "1.2.840.113549.1.5.3": "PBES1 MD5-DES",
    "1.2.840.113549.1.5.6": "PBES1 MD5-RC2",
    "1.2.840.113549.1.5.10": "PBES1 SHA1-DES",
    "1.2.840.113549.1.5.11": "PBES1 SHA1-RC2",
    "1.2.840.113549.1.12.1.1": "PKCS#12 SHA1-RC4-128",
    "1.2.840.113549.1.12.1.2": "PKCS#12 SHA1-RC4-40",
    "1.2.840.113549.1.12.1.3": "PKCS#12 SHA1-3DES",
    "1.2.840.113549.1.12.1.4": "PKCS#12 SHA1-2DES",
    "1.2.840.113549.1.12.1.5": "PKCS#12 SHA1-RC2-128",
    "1.2.840.113549.1.12.1.6": "PKCS#12 SHA1-RC2-40",
}
_KDFS = {"1.2.840.113549.1.5.12": "PBKDF2", "1.3.6.1.4.1.11591.4.11": "scrypt"}
_CIPHERS = {
    "2.16.840.1.101.3.4.1.2": "AES-128-CBC", "2.16.840.1.101.3.4.1.22": "AES-192-CBC",
    "2.16.840.1.101.3.4.1.42": "AES-256-CBC", "1.2.840.113549.3.7": "DES-EDE3-CBC",
    "1.3.14.3.2.7": "DES-CBC", "1.2.840.113549.3.2": "RC2-CBC",
}

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}
_KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment",
               "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign")
_KEY_USAGE_NAMES = ("digitalSignature", "nonRepudiation", "keyEncipherment",
                    "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign")


# --- reading --------------------------------------------------------------------------


def read_material(path: str) -> Material:
    """Everything in the PEM or DER file ``path``; MaterialError if unreadable or unknown."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise MaterialError(f"{path}: cannot read: {error.strerror or error}") from None
    if b"-----BEGIN " in data:
        material = _read_pem(path, data)
    else:
        material = _read_der(path, data)
    if not (material.certificates or material.keys or material.crls):
        what = ", ".join(material.skipped)
        raise MaterialError(f"{path}: no certificate, private key or CRL in it"
                            + (f" (found: {what})" if what else ""))
    return material


def _read_pem(path: str, data: bytes) -> Material:
    material = Material(path, "PEM")
    for match in _PEM_BLOCK.finditer(data):
        label, body = match.group(1), match.group(2)
        headers, der = _pem_body(path, label, body)
        try:
            _add_pem_block(material, label, headers, der, match.group(0))
        except ValueError as error:
            kind = label.decode("ascii")
            raise MaterialError(f"{path}: damaged {kind} block: {_first_line(error)}") from None
    return material


def _pem_body(path: str, label: bytes, body: bytes) -> tuple[dict[str, str], bytes]:
    """The RFC 1421 headers (``Proc-Type`` etc.) and the decoded bytes of one PEM block."""
    headers: dict[str, str] = {}
    lines = body.splitlines()
    while lines and b":" in lines[0]:
        name, _, value = lines.pop(0).decode("ascii", "replace").partition(":")
        headers[name.strip()] = value.strip()
    try:
        return headers, base64.b64decode(b"".join(lines), validate=True)
    except binascii.Error:
        kind = label.decode("ascii")
        raise MaterialError(f"{path}: damaged {kind} block: bad base64") from None


def _add_pem_block(material: Material, label: bytes, headers: dict[str, str], der: bytes,
                   block: bytes) -> None:
    if label in _CERT_LABELS:
        if label == b"TRUSTED CERTIFICATE":  # OpenSSL's cert + trust settings: keep the cert
            der = der[:read_tlv(der, 0)[2]]
        material.certificates.append(x509.load_der_x509_certificate(der))
    elif label == b"X509 CRL":
        material.crls.append(x509.load_der_x509_crl(der))
    elif label == b"ENCRYPTED PRIVATE KEY":
        material.keys.append(KeyInfo("encrypted PKCS#8", True, _pkcs8_scheme(der), None, None,
                                     block))
    elif label in _KEY_LABELS:
        container, key_type = _KEY_LABELS[label]
        if "ENCRYPTED" in headers.get("Proc-Type", ""):
            cipher = headers.get("DEK-Info", "unknown cipher").split(",")[0]
            material.keys.append(KeyInfo(container, True, f"OpenSSL traditional, {cipher}",
                                         key_type, None, block))
        else:
            key = serialization.load_der_private_key(der, None)
            material.keys.append(KeyInfo(container, False, None, key_kind(key.public_key())[0],
                                         key, block))
    elif label not in _IGNORED_LABELS:
        material.skipped.append(label.decode("ascii"))


def _read_der(path: str, data: bytes) -> Material:
    material = Material(path, "DER")
    try:
        material.certificates.append(x509.load_der_x509_certificate(data))
        return material
    except ValueError:
        pass
    try:
        material.crls.append(x509.load_der_x509_crl(data))
        return material
    except ValueError:
        pass
    scheme = _pkcs8_scheme(data)
    if scheme is not None:
        material.keys.append(KeyInfo("encrypted PKCS#8", True, scheme, None, None, data, "DER"))
        return material
    try:
        key = serialization.load_der_private_key(data, None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise MaterialError(f"{path}: not a certificate, private key or CRL "
                            "(neither PEM nor DER)") from None
    material.keys.append(KeyInfo(_der_key_container(data), False, None,
                                 key_kind(key.public_key())[0], key, data, "DER"))
    return material


def _der_key_container(data: bytes) -> str:
    """PKCS#8 (second element an AlgorithmIdentifier) or a traditional key structure."""
    _, start, end = read_tlv(data, 0)
    second = children(data, start, end)[1][0]
    return {0x30: "PKCS#8", 0x02: "PKCS#1", 0x04: "SEC1"}.get(second, "traditional")


def _pkcs8_scheme(data: bytes) -> str | None:
    """The scheme of an EncryptedPrivateKeyInfo, or None if ``data`` is not one."""
    try:
        tag, start, end = read_tlv(data, 0)
        parts = children(data, start, end)
        if tag != 0x30 or end != len(data) or len(parts) != 2 or parts[1][0] != 0x04:
            return None
        algorithm = children(data, parts[0][1], parts[0][2])
        oid = decode_oid(data[algorithm[0][1]:algorithm[0][2]])
        if oid not in _PBE_SCHEMES:
            return None
        if oid != "1.2.840.113549.1.5.13" or len(algorithm) < 2:
            return _PBE_SCHEMES[oid]
        kdf, cipher = children(data, algorithm[1][1], algorithm[1][2])[:2]
        kdf_oid = children(data, kdf[1], kdf[2])[0]
        cipher_oid = children(data, cipher[1], cipher[2])[0]
        kdf_name = decode_oid(data[kdf_oid[1]:kdf_oid[2]])
        cipher_name = decode_oid(data[cipher_oid[1]:cipher_oid[2]])
        return (f"PBES2, {_KDFS.get(kdf_name, kdf_name)}, "
                f"{_CIPHERS.get(cipher_name, cipher_name)}")
    except (DerError, IndexError):
        return None


def unlock(key: KeyInfo, password: str | None) -> PrivateKey:
    """The usable private key; MaterialError if it stays locked (no or wrong password)."""
    if key.private_key is not None:
        return key.private_key
    if password is None:
        raise MaterialError("the key is encrypted and no password was given")
    load = (serialization.load_pem_private_key if key.encoding == "PEM"
            else serialization.load_der_private_key)
    try:
        private_key = load(key.data, password.encode())
    except (ValueError, TypeError):
        raise MaterialError("wrong password (the key does not decrypt)") from None
    except UnsupportedAlgorithm as error:
        raise MaterialError(f"cannot decrypt: {_first_line(error)}") from None
    key.private_key = private_key
    key.key_type = key_kind(private_key.public_key())[0]
    return private_key


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


# --- facts about certificates and keys ------------------------------------------------


def dsa_attribute(name: str) -> Any:
    """One name of cryptography's DSA module, which cryptography 51 deprecates.

    Looked up only once a key is none of the other types, so RSA and EC users never
    see the library's deprecation warning; a DSA file gets our own notes instead.
    """
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        from cryptography.hazmat.primitives.asymmetric import dsa

        return getattr(dsa, name)


def key_kind(public_key: object) -> tuple[str, int]:
    """(type, bits) of a public key: ("RSA", 2048), ("EC", 256), ("DSA", 2048), ("Ed25519", 256)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "EC", public_key.curve.key_size
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(public_key, dsa_attribute("DSAPublicKey")):
        return "DSA", public_key.key_size
    return type(public_key).__name__, 0


def key_text(public_key: object) -> str:
    """A public key as people say it: "RSA 2048 bits", "EC P-256 (secp256r1), 256 bits"."""
    kind, bits = key_kind(public_key)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = public_key.curve.name
        nist = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521",
                "secp224r1": "P-224", "secp192r1": "P-192"}.get(curve)
        return f"EC {nist} ({curve}), {bits} bits" if nist else f"EC {curve}, {bits} bits"
    return f"{kind} {bits} bits"


def public_key_digest(public_key: object) -> str:
    """SHA-256 of the SubjectPublicKeyInfo, hex: equal for a certificate and its key."""
    spki = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def same_public_key(a: object, b: object) -> bool:
    """True if two public keys are the same key."""
    return public_key_digest(a) == public_key_digest(b)


def _signature_family(oid: str) -> str:
    if oid == "1.2.840.113549.1.1.10":
        return "RSA-PSS"
    if oid.startswith("1.2.840.113549.1."):
        return "RSA"
    if oid.startswith("1.2.840.10045.4."):
        return "ECDSA"
    if oid.startswith(("1.2.840.10040.4.", "1.3.14.3.2.")):
        return "DSA" if oid in ("1.2.840.10040.4.3", "1.3.14.3.2.27") else "RSA"
    if oid.startswith("2.16.840.1.101.3.4.3."):  # NIST: DSA 1-8, ECDSA 9-12, RSA 13-16
        arc = int(oid.rsplit(".", 1)[1])
        return "DSA" if arc <= 8 else "ECDSA" if arc <= 12 else "RSA"
    return {"1.3.101.112": "Ed25519", "1.3.101.113": "Ed448"}.get(oid, oid)


def hash_name(algorithm: hashes.HashAlgorithm | None) -> str:
    """A hash as people write it: "SHA-256", "SHA-1", "MD5", "SHA3-256"."""
    if algorithm is None:
        return "none"
    name = algorithm.name.upper()
    if name.startswith("SHA") and not name.startswith("SHA3") and "-" not in name:
        return "SHA-" + name[3:]
    return name


def signature_text(signed: x509.Certificate | x509.CertificateRevocationList) -> str:
    """The signature algorithm: "RSA with SHA-256", "ECDSA with SHA-384", "Ed25519"."""
    family = _signature_family(signed.signature_algorithm_oid.dotted_string)
    try:
        algorithm = signed.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return f"{family} (hash not recognised)"
    return family if algorithm is None else f"{family} with {hash_name(algorithm)}"


def signed_by(signed: x509.Certificate | x509.CertificateRevocationList,
              issuer_key: object) -> bool:
    """True if ``issuer_key`` made the signature of a certificate or CRL.

    Checked by hand rather than with ``verify_directly_issued_by``, which refuses the
    SHA-1 and MD5 signatures a pre-flight check must be able to judge.
    """
    if isinstance(signed, x509.Certificate):
        tbs = signed.tbs_certificate_bytes
    else:
        tbs = signed.tbs_certlist_bytes
    try:
        algorithm = signed.signature_hash_algorithm
        if isinstance(issuer_key, rsa.RSAPublicKey):
            scheme = signed.signature_algorithm_parameters
            if not isinstance(scheme, padding.PSS):
                scheme = padding.PKCS1v15()
            issuer_key.verify(signed.signature, tbs, scheme, algorithm)
        elif isinstance(issuer_key, ec.EllipticCurvePublicKey):
            issuer_key.verify(signed.signature, tbs, ec.ECDSA(algorithm))
        elif isinstance(issuer_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            issuer_key.verify(signed.signature, tbs)
        elif isinstance(issuer_key, dsa_attribute("DSAPublicKey")):
            issuer_key.verify(signed.signature, tbs, algorithm)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, TypeError, ValueError):
        return False
    return True


def name_text(name: x509.Name) -> str:
    """A distinguished name in RFC 4514 form ("CN=server,O=Example"); "(empty)" if empty."""
    return name.rfc4514_string() or "(empty)"


def subject_alt_names(cert: x509.Certificate) -> tuple[list[str], list[str]] | None:
    """(DNS names, IP addresses as text) of the SAN extension; None without one."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return san.get_values_for_type(x509.DNSName), ips


def san_text(cert: x509.Certificate) -> str:
    """Every SAN entry, "DNS:localhost, IP:127.0.0.1, email:..."; "(none)" without SAN."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "(none)"
    parts = []
    for entry in san:
        if isinstance(entry, x509.DNSName):
            parts.append(f"DNS:{entry.value}")
        elif isinstance(entry, x509.IPAddress):
            parts.append(f"IP:{entry.value}")
        elif isinstance(entry, x509.RFC822Name):
            parts.append(f"email:{entry.value}")
        elif isinstance(entry, x509.UniformResourceIdentifier):
            parts.append(f"URI:{entry.value}")
        elif isinstance(entry, x509.DirectoryName):
            parts.append(f"DirName:{name_text(entry.value)}")
        else:
            parts.append(type(entry).__name__)
    return ", ".join(parts) or "(empty)"


def extended_key_usages(cert: x509.Certificate) -> list[str] | None:
    """EKU names ("serverAuth", "clientAuth", dotted OIDs otherwise); None without EKU."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return [_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku]


def key_usages(cert: x509.Certificate) -> list[str] | None:
    """keyUsage bit names ("digitalSignature", "keyCertSign", ...); None without keyUsage."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    names = [name for attribute, name in zip(_KEY_USAGES, _KEY_USAGE_NAMES, strict=True)
             if getattr(usage, attribute)]
    if usage.key_agreement:
        names += [name for attribute, name in (("encipher_only", "encipherOnly"),
                                               ("decipher_only", "decipherOnly"))
                  if getattr(usage, attribute)]
    return names


def is_ca(cert: x509.Certificate) -> bool | None:
    """The basicConstraints CA flag; None without the extension."""
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return None


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as ``openssl x509 -fingerprint -sha256`` prints it (AB:CD:...)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def serial_text(serial: int) -> str:
    """A serial number in hex as OpenSSL prints it: whole bytes, upper case ("0113E0...")."""
    digits = f"{abs(serial):X}"
    if len(digits) % 2:
        digits = "0" + digits
    return ("-" if serial < 0 else "") + digits


def now_utc() -> datetime.datetime:
    """The current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def time_text(moment: datetime.datetime) -> str:
    """A UTC time as "2026-11-25 11:10:28 UTC"."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def days_between(start: datetime.datetime, end: datetime.datetime) -> int:
    """Whole days from ``start`` to ``end`` (rounded down; negative if ``end`` is earlier)."""
    return (end - start) // datetime.timedelta(days=1)


def validity_note(cert: x509.Certificate, now: datetime.datetime) -> str:
    """"364 days left", "expired 3 days ago" or "not yet valid, starts in 2 days"."""
    if now < cert.not_valid_before_utc:
        return f"not yet valid, starts in {_days(days_between(now, cert.not_valid_before_utc))}"
    if now > cert.not_valid_after_utc:
        return f"expired {_days(days_between(cert.not_valid_after_utc, now))} ago"
    left = days_between(now, cert.not_valid_after_utc)
    return f"{_days(left)} left" + (", expires soon" if left < EXPIRY_WARNING_DAYS else "")


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def is_ip_address(text: str) -> bool:
    """True if ``text`` is an IPv4 or IPv6 address (brackets around IPv6 allowed)."""
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


# --- describing (echocerts show) -------------------------------------------------------


def describe(material: Material, now: datetime.datetime,
             password: str | None = None) -> list[str]:
    """The lines ``echocerts show`` prints for one file: a header per item, then fields."""
    lines: list[str] = []
    count = len(material.certificates)
    for index, cert in enumerate(material.certificates, 1):
        position = f" {index} of {count}" if count > 1 else ""
        lines.append(f"{material.path}: certificate{position} ({material.encoding})")
        lines += _fields(describe_certificate(cert, now))
    for key in material.keys:
        lines.append(f"{material.path}: private key ({key.encoding}, {key.container})")
        lines += _fields(describe_key(key, password))
    for crl in material.crls:
        lines.append(f"{material.path}: CRL ({material.encoding})")
        lines += _fields(describe_crl(crl, now))
    if material.skipped:
        lines.append(f"{material.path}: skipped PEM blocks: {', '.join(material.skipped)}")
    return lines


def _fields(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"  {label + ':':<16}{value}" for label, value in pairs]


def describe_certificate(cert: x509.Certificate, now: datetime.datetime) -> list[tuple[str, str]]:
    """(label, value) pairs for one certificate."""
    ca = is_ca(cert)
    eku = extended_key_usages(cert)
    usage = key_usages(cert)
    return [
        ("subject", name_text(cert.subject)),
        ("issuer", name_text(cert.issuer)
         + (" (self-signed)" if cert.issuer == cert.subject else "")),
        ("serial", serial_text(cert.serial_number)),
        ("not before", time_text(cert.not_valid_before_utc)),
        ("not after", f"{time_text(cert.not_valid_after_utc)} ({validity_note(cert, now)})"),
        ("key", key_text(cert.public_key())),
        ("signature", signature_text(cert)),
        ("SAN", san_text(cert)),
        ("EKU", ", ".join(eku) if eku is not None else "(none: any use)"),
        ("key usage", ", ".join(usage) if usage is not None else "(none: any use)"),
        ("CA", "yes" if ca else "no" if ca is False else "no (no basicConstraints)"),
        ("SHA-256", fingerprint(cert)),
        ("pubkey SHA-256", public_key_digest(cert.public_key())),
    ]


def describe_key(key: KeyInfo, password: str | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs for one private key; decrypted only if ``password`` is given."""
    password_note = []
    if key.encrypted and password is not None:
        try:
            unlock(key, password)
            password_note = [("password", "correct")]
        except MaterialError as error:
            password_note = [("password", str(error))]
    if key.private_key is None:
        kind = f"{key.key_type}, size" if key.key_type else "type and size"
        return [("type", f"{kind} unknown while encrypted (--password shows it)"),
                ("encrypted", f"yes ({key.scheme})"), *password_note]
    public_key = key.private_key.public_key()
    return [("type", key_text(public_key)),
            ("encrypted", f"yes ({key.scheme})" if key.encrypted else "no"),
            *password_note,
            ("pubkey SHA-256", public_key_digest(public_key))]


def describe_crl(crl: x509.CertificateRevocationList,
                 now: datetime.datetime) -> list[tuple[str, str]]:
    """(label, value) pairs for one CRL, one ``revoked`` line per listed certificate."""
    next_update = crl.next_update_utc
    if next_update is None:
        next_text = "(none)"
    elif next_update < now:
        next_text = f"{time_text(next_update)} (expired " \
                    f"{_days(days_between(next_update, now))} ago)"
    else:
        next_text = f"{time_text(next_update)} ({_days(days_between(now, next_update))} left)"
    pairs = [
        ("issuer", name_text(crl.issuer)),
        ("last update", time_text(crl.last_update_utc)),
        ("next update", next_text),
        ("signature", signature_text(crl)),
        ("entries", str(len(crl))),
    ]
    pairs += [("revoked", f"serial {serial_text(entry.serial_number)} "
                          f"since {time_text(entry.revocation_date_utc)}") for entry in crl]
    return pairs
