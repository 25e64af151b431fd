"""Test PKI generation: a CA, server and client certificates, CRLs, DER copies, hashed dir.

Used by the TLS tests and by ``echocerts init``. Every validity period is relative
to now, so generated material never goes stale. Key files are written with mode 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.der import Certificate, children, encode_tlv, name_hash, read_tlv
from certs.files import write_file
from certs.inspect import dsa_attribute

PrivateKey = PrivateKeyTypes

#: key types make_pki and issue accept
KEY_TYPES = ("rsa1024", "rsa2048", "rsa3072", "rsa4096", "ec192", "ec224", "ec256", "ec384",
             "ec521", "dsa2048")

_CURVES = {"ec192": ec.SECP192R1, "ec224": ec.SECP224R1, "ec256": ec.SECP256R1,
           "ec384": ec.SECP384R1, "ec521": ec.SECP521R1}
_HASHES = {"sha224": hashes.SHA224, "sha256": hashes.SHA256,
           "sha384": hashes.SHA384, "sha512": hashes.SHA512}


@dataclass
class Identity:
    """One certificate with its key, in PEM and DER files (paths as strings).

    The DER key is never encrypted: DCMTK 3.6.7's ``-der`` (OpenSSL's DER key loader)
    reads no encrypted key, so an encrypted DER key would be useless. ``key_der`` is
    None where no DER copy was written (``der_key=False``: a protected key gets none).
    """

    name: str
    cert: str
    key: str
    cert_der: str
    key_der: str | None
    certificate: x509.Certificate = field(repr=False)
    private_key: PrivateKey = field(repr=False)


@dataclass
class Pki:
    """Everything make_pki wrote; paths are strings, ready for DCMTK-style options."""

    directory: str
    ca: Identity
    server: Identity
    clients: list[Identity]
    #: revoked by ``crl``; usable as server (SAN, serverAuth) and as client (clientAuth)
    revoked: Identity
    crl: str
    crl_der: str
    empty_crl: str
    empty_crl_der: str
    #: OpenSSL hashed directory (``<hash>.0``) holding the CA certificate, PEM and DER
    ca_dir: str
    ca_dir_der: str
    password: str | None
    key_type: str
    days: int

    @property
    def client(self) -> Identity:
        """The first client identity."""
        return self.clients[0]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def generate_key(key_type: str) -> PrivateKey:
    """A fresh private key of one of KEY_TYPES."""
    if key_type.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    if key_type in _CURVES:
        return ec.generate_private_key(_CURVES[key_type]())
    if key_type == "dsa2048":
        return dsa_attribute("generate_private_key")(key_size=2048)
    raise ValueError(f"unknown key type {key_type!r} (one of {', '.join(KEY_TYPES)})")


def _save(directory: Path, name: str, certificate: x509.Certificate, key: PrivateKey,
          password: str | None, der_key: bool = True) -> Identity:
    """Write the files of one identity, each once; the key is encrypted in memory first.

    ``der_key=False`` writes no ``.key.der`` (the only DER form DCMTK reads is clear).
    """
    encryption = (serialization.BestAvailableEncryption(password.encode())
                  if password else serialization.NoEncryption())
    pkcs8 = serialization.PrivateFormat.PKCS8
    key_der = None
    if der_key:
        key_der = write_file(directory / f"{name}.key.der",
                             key.private_bytes(serialization.Encoding.DER, pkcs8,
                                               serialization.NoEncryption()), True)
    return Identity(
        name=name,
        cert=write_file(directory / f"{name}.pem",
                        certificate.public_bytes(serialization.Encoding.PEM)),
        key=write_file(directory / f"{name}.key",
                       key.private_bytes(serialization.Encoding.PEM, pkcs8, encryption), True),
        cert_der=write_file(directory / f"{name}.der",
                            certificate.public_bytes(serialization.Encoding.DER)),
        key_der=key_der,
        certificate=certificate,
        private_key=key,
    )


# signature algorithms cryptography refuses to sign certificates with: (RSA OID, ECDSA OID)
_LEGACY_SIGNATURES = {"sha1": ("1.2.840.113549.1.1.5", "1.2.840.10045.4.1"),
                      "md5": ("1.2.840.113549.1.1.4", None)}


def _encode_oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return encode_tlv(0x06, bytes(body))


def _sign(builder: x509.CertificateBuilder, key: PrivateKey, hash_name: str) -> x509.Certificate:
    """Sign with ``hash_name``; SHA-1/MD5 (weak-certificate tests) are signed by hand."""
    if hash_name in _HASHES:
        return builder.sign(key, _HASHES[hash_name]())
    if hash_name not in _LEGACY_SIGNATURES:
        raise ValueError(f"unknown hash {hash_name!r} (one of {', '.join(_HASHES)}, sha1, md5)")
    rsa_oid, ecdsa_oid = _LEGACY_SIGNATURES[hash_name]
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = encode_tlv(0x30, _encode_oid(rsa_oid) + b"\x05\x00")
    elif isinstance(key, ec.EllipticCurvePrivateKey) and ecdsa_oid:
        algorithm = encode_tlv(0x30, _encode_oid(ecdsa_oid))
    else:
        raise ValueError(f"{hash_name} signatures need an RSA (or, for sha1, EC) issuer key")
    draft = builder.sign(key, hashes.SHA256())
    tbs = draft.tbs_certificate_bytes
    _, start, end = read_tlv(tbs, 0)
    fields = children(tbs, start, end)
    signature_field = fields[2] if fields[0][0] == 0xA0 else fields[1]
    body = tbs[start:signature_field[3]] + algorithm + tbs[signature_field[2]:end]
    tbs = encode_tlv(0x30, body)
    digest = hashes.SHA1() if hash_name == "sha1" else hashes.MD5()
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(tbs, padding.PKCS1v15(), digest)
    else:
        signature = key.sign(tbs, ec.ECDSA(digest))
    certificate = encode_tlv(0x30, tbs + algorithm + encode_tlv(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(certificate)


def make_ca(directory: str | os.PathLike, name: str = "ca", *, common_name: str = "Test CA",
            key_type: str = "rsa2048", days: int = 365, hash_name: str = "sha256",
            password: str | None = None, der_key: bool = True) -> Identity:
    """A self-signed root CA (CA:TRUE, keyCertSign, cRLSign), written as ``<name>.pem`` etc.

    ``der_key=False``: no unencrypted ``<name>.key.der`` copy of the key."""
    key = generate_key(key_type)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    builder = _ca_extensions(builder, key, path_length=None)
    certificate = _sign(builder, key, hash_name)
    return _save(Path(directory), name, certificate, key, password, der_key)


def _ca_extensions(builder: x509.CertificateBuilder, key: PrivateKey,
                   path_length: int | None) -> x509.CertificateBuilder:
    """A CA's extensions: CA:TRUE (with ``path_length``), keyCertSign and cRLSign, SKI."""
    return (
        builder
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    )


def make_intermediate(directory: str | os.PathLike, name: str, issuer: Identity, *,
                      common_name: str | None = None, key_type: str = "rsa2048",
                      days: int = 365, hash_name: str = "sha256") -> Identity:
    """An intermediate CA (CA:TRUE, keyCertSign, cRLSign) signed by ``issuer`` with
    ``hash_name``; ``key_type`` and ``hash_name`` make weak intermediates for tests."""
    key = generate_key(key_type)
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or name)]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    builder = (
        _ca_extensions(builder, key, path_length=0)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.private_key.public_key()), critical=False)
    )
    certificate = _sign(builder, issuer.private_key, hash_name)
    return _save(Path(directory), name, certificate, key, None)


def write_chain(directory: str | os.PathLike, name: str, identities: list[Identity]) -> str:
    """``<name>.pem`` holding the PEM certificates of ``identities`` in that order (a leaf
    followed by its intermediates: what a peer sends)."""
    data = b"".join(identity.certificate.public_bytes(serialization.Encoding.PEM)
                    for identity in identities)
    return write_file(Path(directory) / f"{name}.pem", data)


def issue(directory: str | os.PathLike, name: str, issuer: Identity, *,
          common_name: str | None = None, key_type: str = "rsa2048", days: int = 365,
          hash_name: str = "sha256", server: bool = True, client: bool = True,
          hosts: tuple[str, ...] = ("localhost",), ips: tuple[str, ...] = ("127.0.0.1",),
          expired: bool = False, serial: int | None = None,
          password: str | None = None, der_key: bool = True) -> Identity:
    """A leaf certificate signed by ``issuer``, written as ``<name>.pem``/``.key``/``.der``.

    ``expired`` makes it valid from 30 to 1 days ago; ``serial`` fixes the serial number;
    ``der_key=False`` writes no unencrypted ``<name>.key.der``.
    """
    key = generate_key(key_type)
    now = _now()
    day = datetime.timedelta(days=1)
    if expired:
        not_before, not_after = now - 30 * day, now - day
    else:
        not_before, not_after = now - day, now + days * day
    usages = [oid for oid, wanted in ((ExtendedKeyUsageOID.SERVER_AUTH, server),
                                      (ExtendedKeyUsageOID.CLIENT_AUTH, client)) if wanted]
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or name)]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.private_key.public_key()), critical=False)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    names = [x509.DNSName(host) for host in hosts]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = _sign(builder, issuer.private_key, hash_name)
    return _save(Path(directory), name, certificate, key, password, der_key)


def make_crl(directory: str | os.PathLike, name: str, issuer: Identity,
             revoked: list[Identity], days: int = 30) -> tuple[str, str]:
    """A CRL of ``issuer`` listing ``revoked``; returns the (PEM, DER) paths."""
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(now - datetime.timedelta(days=1))
        .next_update(now + datetime.timedelta(days=days))
    )
    for identity in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(identity.certificate.serial_number)
            .revocation_date(now - datetime.timedelta(hours=1))
            .build())
    crl = builder.sign(issuer.private_key, hashes.SHA256())
    directory = Path(directory)
    return (write_file(directory / f"{name}.pem", crl.public_bytes(serialization.Encoding.PEM)),
            write_file(directory / f"{name}.der", crl.public_bytes(serialization.Encoding.DER)))


def hashed_dir(directory: str | os.PathLike, cas: list[Identity], der: bool = False) -> str:
    """An OpenSSL hashed certificate directory (``<subject hash>.<n>``) holding ``cas``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    used: dict[str, int] = {}
    for ca in cas:
        cert_der = ca.certificate.public_bytes(serialization.Encoding.DER)
        digest = name_hash(Certificate(cert_der).subject_der)
        index = used.get(digest, 0)
        used[digest] = index + 1
        data = cert_der if der else ca.certificate.public_bytes(serialization.Encoding.PEM)
        write_file(directory / f"{digest}.{index}", data)
    return str(directory)


def make_pki(directory: str | os.PathLike, *, hosts: tuple[str, ...] = ("localhost",),
             ips: tuple[str, ...] = ("127.0.0.1",), key_type: str = "rsa2048", days: int = 365,
             clients: int = 1, password: str | None = None, clear_server_key: bool = False,
             crl_days: int = 30, protected_der_keys: bool = True, dual: bool = False) -> Pki:
    """Create a complete test PKI in ``directory`` (created if needed).

    Files: ca, server, client1..N, revoked (.pem/.key/.der/.key.der), crl (.pem/.der,
    lists ``revoked``), crl-empty, cadir/ and cadir-der/ (hashed CA directories).
    ``password`` encrypts every PEM private key (PKCS#8); None leaves them unencrypted.
    ``clear_server_key`` leaves the server's key unencrypted even with a password
    (``echocerts init``: servers start unattended). ``protected_der_keys=False`` writes
    no (necessarily unencrypted) ``.key.der`` for the keys the password protects, so
    no byte of those keys reaches the disk in the clear. CRLs last ``crl_days``.
    ``dual`` makes the server and client certificates node certificates: EKU serverAuth
    and clientAuth, SAN ``hosts``/``ips`` (a PACS node accepts and initiates TLS with one
    certificate). Every file is written once, with its final content.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    der_key = protected_der_keys or not password
    ca = make_ca(root, "ca", key_type=key_type, days=days, password=password, der_key=der_key)
    server_password = None if clear_server_key else password
    server = issue(root, "server", ca, key_type=key_type, days=days, client=dual,
                   hosts=hosts, ips=ips, password=server_password,
                   der_key=der_key or not server_password)
    client_ids = [issue(root, f"client{i}", ca, key_type=key_type, days=days, server=dual,
                        hosts=hosts if dual else (), ips=ips if dual else (),
                        password=password, der_key=der_key)
                  for i in range(1, clients + 1)]
    revoked = issue(root, "revoked", ca, key_type=key_type, days=days, hosts=hosts, ips=ips,
                    password=password, der_key=der_key)
    crl, crl_der = make_crl(root, "crl", ca, [revoked], days=crl_days)
    empty_crl, empty_crl_der = make_crl(root, "crl-empty", ca, [], days=crl_days)
    return Pki(
        directory=str(root), ca=ca, server=server, clients=client_ids, revoked=revoked,
        crl=crl, crl_der=crl_der, empty_crl=empty_crl, empty_crl_der=empty_crl_der,
        ca_dir=hashed_dir(root / "cadir", [ca]),
        ca_dir_der=hashed_dir(root / "cadir-der", [ca], der=True),
        password=password, key_type=key_type, days=days,
    )


# --- PKCS#12 for Java peers -----------------------------------------------------------

#: cryptography writes the trust-store bag attribute Java needs from version 45 on
JAVA_TRUSTSTORE_SUPPORTED = hasattr(pkcs12, "serialize_java_truststore")


def keystore_p12(alias: str, key: PrivateKey, certificate: x509.Certificate,
                 chain: list[x509.Certificate], password: str) -> bytes:
    """A PKCS#12 key store: ``key`` (encrypted with ``password``), its certificate and
    the ``chain`` above it, under ``alias`` (Java lists one PrivateKeyEntry)."""
    return pkcs12.serialize_key_and_certificates(
        alias.encode(), key, certificate, chain,
        serialization.BestAvailableEncryption(password.encode()))


def truststore_p12(cas: list[tuple[str, x509.Certificate]], password: str) -> bytes:
    """A PKCS#12 trust store: only the ``(alias, certificate)`` pairs, no key, each bag
    marked trusted for any purpose the way Java's keytool marks a trustedCertEntry
    (Java ignores certificate bags without that attribute).

    Raises NotImplementedError where cryptography (before 45) cannot write it.
    """
    if not JAVA_TRUSTSTORE_SUPPORTED:
        raise NotImplementedError("serialize_java_truststore")
    return pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(certificate, alias.encode()) for alias, certificate in cas],
        serialization.BestAvailableEncryption(password.encode()))
