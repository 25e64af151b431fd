"""``echocerts show``: certificates, chains, keys (encrypted or not), CRLs, PEM and DER, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from certs import pki
from certs.cli import cli

OPENSSL = "/usr/bin/openssl"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> pki.Pki:
    return pki.make_pki(tmp_path_factory.mktemp("show"), key_type="ec256", password="pw")


def show(*args: str) -> tuple[int, str, str]:
    """Run ``echocerts show`` in-process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(cli, ["show", *args])
    return result.exit_code, result.stdout, result.stderr


def fields(text: str) -> dict[str, str]:
    """The ``  label: value`` lines of one item."""
    pairs = [line.strip().split(":", 1) for line in text.splitlines() if line.startswith("  ")]
    return {label: value.strip() for label, value in pairs}


def openssl(*args: str) -> str:
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=30,
                          check=True).stdout.strip()


def test_certificate(made):
    code, out, err = show(made.server.cert)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"{made.server.cert}: certificate (PEM)"
    got = fields(out)
    cert = made.server.certificate
    assert got["subject"] == "CN=server"
    assert got["issuer"] == "CN=Test CA"
    assert got["serial"] == openssl("x509", "-noout", "-serial", "-in", made.server.cert)[7:]
    assert int(got["serial"], 16) == cert.serial_number
    assert got["not after"].endswith("(365 days left)") or got["not after"].endswith(
        "(364 days left)")
    assert got["key"] == "EC P-256 (secp256r1), 256 bits"
    assert got["signature"] == "ECDSA with SHA-256"
    assert got["SAN"] == "DNS:localhost, IP:127.0.0.1"
    assert got["EKU"] == "serverAuth"
    assert got["CA"] == "no"
    assert got["SHA-256"] == openssl("x509", "-noout", "-fingerprint", "-sha256", "-in",
                                     made.server.cert).split("=", 1)[1]


def test_chain_shows_each_certificate(made, tmp_path):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(Path(made.server.cert).read_bytes() + Path(made.ca.cert).read_bytes())
    code, out, _ = show(str(chain))
    assert code == 0
    headers = [line for line in out.splitlines() if not line.startswith("  ")]
    assert headers == [f"{chain}: certificate 1 of 2 (PEM)", f"{chain}: certificate 2 of 2 (PEM)"]
    second = out.split(headers[1])[1]
    assert fields(second)["CA"] == "yes"
    assert fields(second)["issuer"] == "CN=Test CA (self-signed)"


def test_unencrypted_key_and_its_certificate_share_a_digest(made):
    code, out, _ = show(made.server.key_der, made.server.cert_der)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{made.server.key_der}: private key (DER, PKCS#8)"
    key_part, cert_part = out.split(f"{made.server.cert_der}: certificate (DER)")
    assert fields(key_part)["type"] == "EC P-256 (secp256r1), 256 bits"
    assert fields(key_part)["encrypted"] == "no"
    assert fields(key_part)["pubkey SHA-256"] == fields(cert_part)["pubkey SHA-256"]


def test_encrypted_key_needs_no_password(made):
    code, out, _ = show(made.client.key)  # CliRunner has no input: a prompt would abort
    assert code == 0
    assert out.splitlines()[0] == f"{made.client.key}: private key (PEM, encrypted PKCS#8)"
    got = fields(out)
    assert got["encrypted"] == "yes (PBES2, PBKDF2, AES-256-CBC)"
    assert got["type"] == "type and size unknown while encrypted (--password shows it)"
    code, out, _ = show("--password", "pw", made.client.key)
    assert fields(out)["type"] == "EC P-256 (secp256r1), 256 bits"
    assert fields(out)["password"] == "correct"
    code, out, _ = show("--password", "nope", made.client.key)
    assert code == 0
    assert fields(out)["password"] == "wrong password (the key does not decrypt)"


def test_traditional_encrypted_key(made, tmp_path):
    key = made.client.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw"))
    assert b"Proc-Type: 4,ENCRYPTED" in key
    path = tmp_path / "traditional.key"
    path.write_bytes(key)
    code, out, _ = show(str(path))
    assert code == 0
    assert out.splitlines()[0] == f"{path}: private key (PEM, SEC1)"
    assert fields(out)["type"] == "EC, size unknown while encrypted (--password shows it)"
    assert fields(out)["encrypted"].startswith("yes (OpenSSL traditional, AES-256-CBC")


def test_encrypted_der_key(tmp_path, made):
    der = made.client.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"))
    path = tmp_path / "client.key.der"
    path.write_bytes(der)
    code, out, _ = show(str(path))
    assert code == 0
    assert out.splitlines()[0] == f"{path}: private key (DER, encrypted PKCS#8)"
    assert fields(out)["encrypted"] == "yes (PBES2, PBKDF2, AES-256-CBC)"


def test_crls_pem_and_der(made):
    code, out, _ = show(made.crl, made.empty_crl_der)
    assert code == 0
    first, second = out.split(f"{made.empty_crl_der}: CRL (DER)")
    assert first.splitlines()[0] == f"{made.crl}: CRL (PEM)"
    assert fields(first)["entries"] == "1"
    serial, since = fields(first)["revoked"].split(" ")[1:3]
    assert int(serial, 16) == made.revoked.certificate.serial_number and since == "since"
    assert fields(second)["entries"] == "0"
    assert fields(second)["issuer"] == "CN=Test CA"


def test_expired_certificate(tmp_path):
    ca = pki.make_ca(tmp_path, "ca", key_type="ec256")
    old = pki.issue(tmp_path, "old", ca, key_type="ec256", expired=True)
    code, out, _ = show(old.cert_der)
    assert code == 0
    assert fields(out)["not after"].endswith("(expired 1 day ago)")


def test_unreadable_and_unknown_files(made, tmp_path):
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not a certificate\n")
    request = tmp_path / "req.pem"
    request.write_text("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                       "-----END CERTIFICATE REQUEST-----\n")
    code, out, err = show(str(tmp_path / "missing.pem"), str(garbage), made.ca.cert,
                          str(request), str(tmp_path))
    assert code == 1
    assert err.splitlines() == [
        f"echocerts: {tmp_path / 'missing.pem'}: cannot read: No such file or directory",
        f"echocerts: {garbage}: not a certificate, private key or CRL (neither PEM nor DER)",
        f"echocerts: {request}: no certificate, private key or CRL in it "
        "(found: CERTIFICATE REQUEST)",
        f"echocerts: {tmp_path}: cannot read: Is a directory",
    ]
    assert out.splitlines()[0] == f"{made.ca.cert}: certificate (PEM)"


def test_damaged_pem_block(tmp_path, made):
    broken = tmp_path / "broken.pem"
    text = Path(made.ca.cert).read_text()
    broken.write_text(text.replace(text.splitlines()[3], "!!!!"))
    code, _, err = show(str(broken))
    assert code == 1
    assert err == f"echocerts: {broken}: damaged CERTIFICATE block: bad base64\n"


def test_console_script_module(made):
    result = subprocess.run([sys.executable, "-m", "certs.cli", "show", made.ca.cert_der],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{made.ca.cert_der}: certificate (DER)\n  subject:")
    assert "CA:             yes" in result.stdout
