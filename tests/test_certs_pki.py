"""Test-PKI generation and the DER reader, checked against the openssl command line."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs import der, pki

OPENSSL = "/usr/bin/openssl"


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> pki.Pki:
    return pki.make_pki(tmp_path_factory.mktemp("pki"), clients=2, password="secret")


def test_files_and_modes(made):
    for identity in (made.ca, made.server, *made.clients, made.revoked):
        for path in (identity.cert, identity.cert_der):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        for path in (identity.key, identity.key_der):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [c.name for c in made.clients] == ["client1", "client2"]
    assert made.client is made.clients[0]


def test_pem_keys_encrypted_der_keys_not(made):
    with open(made.server.key, "rb") as handle:
        assert b"ENCRYPTED PRIVATE KEY" in handle.read()
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(Path(made.server.key).read_bytes(), None)
    key = serialization.load_der_private_key(Path(made.server.key_der).read_bytes(), None)
    assert key.public_key() == made.server.certificate.public_key()


def test_chain_verifies_and_crl_revokes(made):
    for identity in (made.server, *made.clients, made.revoked):
        assert openssl("verify", "-CAfile", made.ca.cert, identity.cert).returncode == 0
    result = openssl("verify", "-crl_check", "-CAfile", made.ca.cert, "-CRLfile", made.crl,
                     made.revoked.cert)
    assert result.returncode != 0 and "certificate revoked" in result.stdout + result.stderr
    result = openssl("verify", "-crl_check", "-CAfile", made.ca.cert, "-CRLfile", made.crl,
                     made.server.cert)
    assert result.returncode == 0
    result = openssl("verify", "-crl_check", "-CAfile", made.ca.cert, "-CRLfile",
                     made.empty_crl, made.revoked.cert)
    assert result.returncode == 0
    assert openssl("crl", "-inform", "DER", "-in", made.crl_der, "-noout").returncode == 0


def test_hashed_directories(made):
    expected = openssl("x509", "-hash", "-noout", "-in", made.ca.cert).stdout.strip()
    assert os.listdir(made.ca_dir) == [f"{expected}.0"]
    assert os.listdir(made.ca_dir_der) == [f"{expected}.0"]
    assert openssl("verify", "-CApath", made.ca_dir, made.server.cert).returncode == 0


def test_extensions(made):
    server = made.server.certificate
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    eku = made.client.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ca = made.ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert ca.ca is True


def test_special_certificates(tmp_path):
    ca = pki.make_ca(tmp_path, "ca")
    cases = {
        "rsa1024": dict(key_type="rsa1024"),
        "sha1": dict(hash_name="sha1"),
        "md5": dict(hash_name="md5"),
        "sha384": dict(hash_name="sha384"),
        "dsa": dict(key_type="dsa2048"),
        "ec192": dict(key_type="ec192"),
        "ec384": dict(key_type="ec384"),
        "expired": dict(expired=True),
        "small-serial": dict(serial=4660),
    }
    made = {name: pki.issue(tmp_path, name, ca, **kwargs) for name, kwargs in cases.items()}
    info = {name: der.Certificate(Path(i.cert_der).read_bytes()) for name, i in made.items()}
    assert (info["rsa1024"].key_type, info["rsa1024"].key_bits) == ("RSA", 1024)
    assert (info["sha1"].signature_name, info["sha1"].signature_class) == ("RSA-SHA1", "other")
    assert (info["dsa"].key_type, info["dsa"].key_bits) == ("DSA", 2048)
    assert (info["ec192"].key_type, info["ec192"].key_bits) == ("EC", 192)
    assert (info["ec384"].key_type, info["ec384"].key_bits) == ("EC", 384)
    assert info["small-serial"].serial == 4660
    assert (info["md5"].signature_name, info["md5"].signature_class) == ("MD5", "weak")
    assert info["sha384"].signature_name == "RSA-SHA384"
    for name in ("sha1", "md5"):  # hand-signed: OpenSSL accepts the signature
        assert openssl("verify", "-CAfile", ca.cert, made[name].cert).returncode == 0
    text = openssl("x509", "-noout", "-text", "-in", made["sha1"].cert).stdout
    assert "sha1WithRSAEncryption" in text
    assert info["rsa1024"].signature_class == "secure"
    result = openssl("verify", "-CAfile", ca.cert, made["expired"].cert)
    assert "certificate has expired" in result.stdout + result.stderr
    other = pki.make_ca(tmp_path, "other", common_name="Other CA")
    result = openssl("verify", "-CAfile", other.cert, made["sha1"].cert)
    assert result.returncode != 0


def test_der_reader_matches_openssl(made):
    for identity in (made.ca, made.server):
        cert = der.Certificate(Path(identity.cert_der).read_bytes())
        subject = openssl("x509", "-noout", "-subject", "-nameopt", "compat", "-in",
                          identity.cert).stdout.strip()
        assert subject == f"subject={der.name_oneline(cert.subject_der)}"
        dates = openssl("x509", "-noout", "-dates", "-in", identity.cert).stdout.split("\n")
        assert dates[0] == f"notBefore={der.utctime_text(cert.not_before)}"
        assert dates[1] == f"notAfter={der.utctime_text(cert.not_after)}"
        assert cert.serial == identity.certificate.serial_number
        assert (cert.version, cert.key_type, cert.key_bits) == (3, "RSA", 2048)
    assert der.load_pem_certificates(Path(made.server.cert).read_bytes()) == [
        Path(made.server.cert_der).read_bytes()]


@pytest.mark.parametrize("attributes", [
    [(NameOID.COMMON_NAME, "Simple")],
    [(NameOID.COUNTRY_NAME, "DE"), (NameOID.ORGANIZATION_NAME, "  Mixed   CASE  Org "),
     (NameOID.COMMON_NAME, "Tab\tand  Spaces")],
    [(NameOID.COMMON_NAME, "Ünïcödé Name"), (NameOID.EMAIL_ADDRESS, "A@Example.ORG")],
])
def test_name_hash_matches_openssl(tmp_path, attributes):
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path = tmp_path / "c.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    expected = openssl("x509", "-hash", "-noout", "-in", str(path)).stdout.strip()
    parsed = der.Certificate(cert.public_bytes(serialization.Encoding.DER))
    assert der.name_hash(parsed.subject_der) == expected


def test_der_reader_rejects_garbage():
    with pytest.raises(der.DerError):
        der.Certificate(b"\x30\x82\x01")
    with pytest.raises(der.DerError):
        der.Certificate(b"\x30\x03\x02\x01\x00")


def test_parsed_certificate_is_parsed_once_and_bounded(made, monkeypatch):
    """der.parsed_certificate gives the Certificate the class gives, the same object for
    the same DER, refuses what the class refuses, and stays bounded (issue #17)."""
    data = der.load_pem_certificates(Path(made.ca.cert).read_bytes())[0]
    monkeypatch.setattr(der, "_PARSED", {})
    first = der.parsed_certificate(data)
    assert first is der.parsed_certificate(bytes(data))
    plain = der.Certificate(data)
    assert (first.der, first.subject_der, first.key_type, first.key_bits, first.serial) == (
        plain.der, plain.subject_der, plain.key_type, plain.key_bits, plain.serial)
    with pytest.raises(der.DerError):
        der.parsed_certificate(b"\x30\x03\x02\x01\x00")
    monkeypatch.setattr(der, "_PARSED_MAX", 1)
    other = der.load_pem_certificates(Path(made.server.cert).read_bytes())[0]
    der.parsed_certificate(other)
    assert len(der._PARSED) == 1
