"""``echocerts init --dual``, ``issue`` and ``export --p12`` (issue #16 item 5): node
certificates in real TLS handshakes with our echoscp/echoscu and DCMTK's storescp/echoscu,
identities added to an existing PKI, and PKCS#12 files read back by cryptography,
Java's keytool and openssl."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from support.peers import dcmtk, ours

from certs import pki as pki_module
from certs.cli import cli

pytestmark = [pytest.mark.timeout(90)]
needs_java_truststore = pytest.mark.skipif(
    not pki_module.JAVA_TRUSTSTORE_SUPPORTED,
    reason="cryptography before 45 cannot write a Java trust store (serialize_java_truststore)")

CA_PASSWORD = "ca pass"
P12_PASSWORD = "changeit"  # keytool's customary store password
#: the bag attribute Java's PKCS12KeyStore needs on a trustedCertEntry
JAVA_TRUSTED_KEY_USAGE = "2.16.840.1.113894.746875.1.1"


def echocerts(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m certs.cli`` as a user would."""
    import os

    return subprocess.run([sys.executable, "-m", "certs.cli", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def usages(path: Path) -> set:
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    return set(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def san(path: Path) -> list[str]:
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ([*names.get_values_for_type(x509.DNSName)]
            + [str(ip) for ip in names.get_values_for_type(x509.IPAddress)])


def tls(directory: Path, name: str) -> list[str]:
    """``+tls NAME.key NAME.pem +cf ca.pem`` of ``directory``."""
    return ["+tls", str(directory / f"{name}.key"), str(directory / f"{name}.pem"),
            "+cf", str(directory / "ca.pem")]


@pytest.fixture(scope="module")
def dual(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("dual") / "pki"
    result = echocerts("init", str(directory), "--dual", "--key", "ec256")
    assert result.returncode == 0, result.stderr
    assert "serverAuth, clientAuth (node)" in result.stdout
    return directory


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    """init without --dual: the server certificate cannot act as a client."""
    directory = tmp_path_factory.mktemp("single") / "pki"
    result = echocerts("init", str(directory), "--key", "ec256")
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture(scope="module")
def locked(tmp_path_factory) -> Path:
    """A PKI whose CA key is encrypted with CA_PASSWORD."""
    directory = tmp_path_factory.mktemp("locked") / "pki"
    result = echocerts("init", str(directory), "--key", "ec256", "--password", CA_PASSWORD)
    assert result.returncode == 0, result.stderr
    return directory


# --- init --dual -------------------------------------------------------------------------


def test_dual_certificates_carry_both_usages_and_the_names(tmp_path):
    directory = tmp_path / "pki"
    result = echocerts("init", str(directory), "--dual", "--key", "ec256", "--host",
                       "node.test", "--ip", "10.0.0.5", "--clients", "2")
    assert result.returncode == 0, result.stderr
    both = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    for name in ("server", "client1", "client2"):
        assert usages(directory / f"{name}.pem") == both, name
        assert san(directory / f"{name}.pem") == ["node.test", "10.0.0.5"], name
    assert "echoscu +tls" in result.stdout and "server.key" in result.stdout


def test_without_dual_the_roles_stay_apart(single):
    assert usages(single / "server.pem") == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert usages(single / "client1.pem") == {ExtendedKeyUsageOID.CLIENT_AUTH}


@pytest.mark.dcmtk
def test_dual_certificate_accepts_with_our_echoscp(scp, dual):
    """The node certificate as a server: our echoscp, requiring client certificates."""
    server = scp(*tls(dual, "server"))
    result = dcmtk(*tls(dual, "client1"), "localhost", str(server.port), timeout=30)
    assert result.returncode == 0, result.stderr
    # node to node: the same certificate on both ends, our echoscu initiating
    result = ours(*tls(dual, "server"), "localhost", str(server.port), timeout=30)
    assert result.returncode == 0, result.stderr
    assert server.stop() == 0


@pytest.mark.dcmtk
def test_dual_certificate_initiates_with_our_echoscu(storescp, dual, single):
    """The node certificate as a client: DCMTK's storescp requires and verifies it."""
    server = storescp("-rc", *tls(dual, "client1"))
    result = ours(*tls(dual, "server"), "localhost", str(server.port), timeout=30)
    assert result.returncode == 0, result.stderr
    # the control: a serverAuth-only certificate is refused as a client
    other = storescp("-rc", "+tls", str(single / "server.key"), str(single / "server.pem"),
                     "+cf", str(single / "ca.pem"))
    result = ours(*tls(single, "server"), "localhost", str(other.port), timeout=30)
    assert result.returncode == 1
    assert "certificate verify failed" in other.stop().stderr


# --- issue -------------------------------------------------------------------------------


@pytest.mark.dcmtk
def test_issued_client_is_accepted_by_storescp(storescp, locked):
    result = echocerts("issue", str(locked), "viewer", "--key", "ec256",
                       "--ca-password", CA_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert "viewer.pem, viewer.key" in result.stdout
    assert usages(locked / "viewer.pem") == {ExtendedKeyUsageOID.CLIENT_AUTH}
    for suffix in (".pem", ".key", ".der", ".key.der"):
        mode = stat.S_IMODE((locked / f"viewer{suffix}").stat().st_mode)
        assert mode == (0o600 if ".key" in suffix else 0o644), suffix
    server = storescp("-rc", *tls(locked, "server"))
    result = dcmtk(*tls(locked, "viewer"), "localhost", str(server.port), timeout=30)
    assert result.returncode == 0, result.stderr
    result = ours(*tls(locked, "viewer"), "localhost", str(server.port), timeout=30)
    assert result.returncode == 0, result.stderr
    result = ours("-der", "+tls", str(locked / "viewer.key.der"), str(locked / "viewer.der"),
                  "+cf", str(locked / "ca.der"), "localhost", str(server.port), timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--ca-password", "wrong"], "Error: cannot decrypt {ca}: wrong --ca-password"),
    ([], "Error: {ca} is encrypted: give its password with --ca-password"),
])
def test_issue_refuses_without_the_ca_password(locked, args, message):
    result = echocerts("issue", str(locked), "intruder", *args)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [message.format(ca=locked / "ca.key")]
    assert not list(locked.glob("intruder*"))
    assert not list(locked.glob(".echocerts-*"))


def test_issue_server_and_encrypted_key(locked):
    result = echocerts("issue", str(locked), "archive", "--server", "--key", "ec256",
                       "--host", "archive.test", "--password", "node pw",
                       "--ca-password", CA_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert usages(locked / "archive.pem") == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert san(locked / "archive.pem") == ["archive.test"]
    pem = (locked / "archive.key").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    serialization.load_pem_private_key(pem, b"node pw")
    assert not (locked / "archive.key.der").exists()  # -der reads no encrypted key
    ca = x509.load_pem_x509_certificate((locked / "ca.pem").read_bytes())
    issued = x509.load_pem_x509_certificate((locked / "archive.pem").read_bytes())
    issued.verify_directly_issued_by(ca)
    # again: refused without --force, allowed with it
    again = ["issue", str(locked), "archive", "--server", "--key", "ec256",
             "--ca-password", CA_PASSWORD]
    result = echocerts(*again)
    assert result.returncode == 1 and "use --force to overwrite" in result.stderr
    assert (locked / "archive.key").read_bytes() == pem
    assert echocerts(*again, "--force").returncode == 0
    assert (locked / "archive.key.der").exists()


@pytest.mark.parametrize("name", ["ca", "crl", "../x", "-x", ""])
def test_issue_refuses_bad_names(tmp_path, name):
    result = CliRunner().invoke(cli, ["issue", str(tmp_path), name])
    assert result.exit_code == 2


def test_issue_without_a_pki(tmp_path):
    result = echocerts("issue", str(tmp_path), "viewer")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: {tmp_path} holds no ca.pem and ca.key: make the PKI first with "
        f"'echocerts init {tmp_path}'"]


# --- export --p12 ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """client1 of a PKI with encrypted keys, exported; the password from the environment."""
    if not pki_module.JAVA_TRUSTSTORE_SUPPORTED:
        pytest.skip("cryptography before 45 cannot write a Java trust store")
    directory = tmp_path_factory.mktemp("export") / "pki"
    assert echocerts("init", str(directory), "--key", "ec256", "--password",
                     CA_PASSWORD).returncode == 0
    result = echocerts("export", "--p12", str(directory), "client1", "--key-password",
                       CA_PASSWORD, env={"ECHOCERTS_P12_PASSWORD": P12_PASSWORD})
    assert result.returncode == 0, result.stderr
    return directory


def test_p12_read_back_with_cryptography(exported):
    keystore = pkcs12.load_pkcs12((exported / "client1.p12").read_bytes(),
                                  P12_PASSWORD.encode())
    ca = x509.load_pem_x509_certificate((exported / "ca.pem").read_bytes())
    client = x509.load_pem_x509_certificate((exported / "client1.pem").read_bytes())
    assert keystore.key is not None and keystore.key.public_key() == client.public_key()
    assert keystore.cert.certificate == client and keystore.cert.friendly_name == b"client1"
    assert [c.certificate for c in keystore.additional_certs] == [ca]
    truststore = pkcs12.load_pkcs12((exported / "truststore.p12").read_bytes(),
                                    P12_PASSWORD.encode())
    assert truststore.key is None and truststore.cert is None
    assert [(c.certificate, c.friendly_name) for c in truststore.additional_certs] == [
        (ca, b"ca")]
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12((exported / "client1.p12").read_bytes(), b"wrong!")
    assert stat.S_IMODE((exported / "client1.p12").stat().st_mode) == 0o600
    assert stat.S_IMODE((exported / "truststore.p12").stat().st_mode) == 0o644


@pytest.mark.skipif(not shutil.which("keytool"), reason="no Java keytool on this machine")
def test_p12_listed_by_keytool(exported):
    def listing(name: str) -> str:
        result = subprocess.run(["keytool", "-list", "-keystore", str(exported / name),
                                 "-storetype", "PKCS12", "-storepass", P12_PASSWORD],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    keystore = listing("client1.p12")
    assert "contains 1 entry" in keystore
    assert "client1, " in keystore and "PrivateKeyEntry" in keystore
    truststore = listing("truststore.p12")
    assert "contains 1 entry" in truststore
    assert "ca, " in truststore and "trustedCertEntry" in truststore
    assert "PrivateKeyEntry" not in truststore


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl command on this machine")
def test_p12_read_by_openssl(exported):
    def info(name: str) -> str:
        result = subprocess.run(["openssl", "pkcs12", "-info", "-nokeys", "-in",
                                 str(exported / name), "-passin", f"pass:{P12_PASSWORD}"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr

    truststore = info("truststore.p12")
    assert JAVA_TRUSTED_KEY_USAGE in truststore
    assert "subject=CN = Test CA" in truststore or "subject=CN=Test CA" in truststore
    assert "Keybag" not in truststore and "PRIVATE KEY" not in truststore
    keystore = info("client1.p12")
    assert "Shrouded Keybag" in keystore
    assert "friendlyName: client1" in keystore
    assert "PRIVATE KEY" not in keystore  # -nokeys, and the key stays encrypted


@pytest.mark.parametrize(("args", "env", "code", "needle"), [
    (["--p12"], {}, 2, "ECHOCERTS_P12_PASSWORD"),
    (["--p12", "--password", "short"], {}, 2, "at least 6 characters"),
    (["--password", P12_PASSWORD], {}, 2, "--p12"),
    (["--p12", "--password", P12_PASSWORD], {}, 1,
     "client1.key is encrypted: give its password with --key-password"),
    (["--p12", "--password", P12_PASSWORD, "--key-password", "wrong"], {}, 1,
     "wrong --key-password"),
])
def test_export_refusals(locked, args, env, code, needle, monkeypatch):
    monkeypatch.delenv("ECHOCERTS_P12_PASSWORD", raising=False)
    result = echocerts("export", str(locked), "client1", *args, env=env)
    assert result.returncode == code, result.stderr
    assert needle in result.stderr
    assert not (locked / "client1.p12").exists()


def test_export_without_java_truststore_support(locked, monkeypatch):
    """cryptography before 45 has no serialize_java_truststore: one line, nothing written."""
    monkeypatch.setattr(pki_module, "JAVA_TRUSTSTORE_SUPPORTED", False)
    result = CliRunner().invoke(cli, ["export", "--p12", str(locked), "server",
                                      "--password", P12_PASSWORD])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1 and "cannot write a Java trust store" in lines[0]
    assert "keytool -importcert" in lines[0]
    assert not list(locked.glob("*.p12"))


@needs_java_truststore
def test_export_refuses_overwrite_without_force(tmp_path):
    directory = tmp_path / "pki"
    assert echocerts("init", str(directory), "--key", "ec256").returncode == 0
    args = ["export", "--p12", str(directory), "server", "--password", P12_PASSWORD]
    assert echocerts(*args).returncode == 0
    before = (directory / "server.p12").read_bytes()
    result = echocerts(*args)
    assert result.returncode == 1 and "use --force to overwrite" in result.stderr
    assert (directory / "server.p12").read_bytes() == before
    assert echocerts(*args, "--force").returncode == 0
