"""``echocerts check``: one test per finding it claims, on defective material made here."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certs import pki
from certs.cli import cli
from certs.preflight import dns_name_matches


class Material:
    """Paths of everything the tests check, made once per module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        ca = pki.make_ca(root, "ca")
        self.ca = ca
        self.server = pki.issue(root, "server", ca, client=False)
        self.client = pki.issue(root, "client", ca, server=False, hosts=(), ips=())
        self.locked = pki.issue(root, "locked", ca, key_type="ec256", password="pw")
        self.expired = pki.issue(root, "expired", ca, key_type="ec256", expired=True)
        self.soon = pki.issue(root, "soon", ca, key_type="ec256", days=10)
        self.rsa1024 = pki.issue(root, "rsa1024", ca, key_type="rsa1024")
        self.ec224 = pki.issue(root, "ec224", ca, key_type="ec224")
        self.ec256 = pki.issue(root, "ec256", ca, key_type="ec256")
        self.sha1 = pki.issue(root, "sha1", ca, key_type="ec256", hash_name="sha1")
        self.md5 = pki.issue(root, "md5", ca, key_type="ec256", hash_name="md5")
        self.wildcard = pki.issue(root, "wildcard", ca, key_type="ec256",
                                  hosts=("*.example.org",), ips=("::1",))
        self.revoked = pki.issue(root, "revoked", ca, key_type="ec256")
        self.crl, _ = pki.make_crl(root, "crl", ca, [self.revoked])
        other = pki.make_ca(root, "other", common_name="Other CA", key_type="ec256")
        self.other_ca = other
        self.stranger = pki.issue(root, "stranger", other, key_type="ec256")
        self.other_crl, _ = pki.make_crl(root, "other-crl", other, [])
        # same name as the real CA, different key: its CRL's signature cannot verify
        (root / "impostor").mkdir()
        impostor = pki.make_ca(root / "impostor", "ca", key_type="ec256")
        self.impostor_ca = impostor.cert
        self.forged_crl, _ = pki.make_crl(root / "impostor", "crl", impostor, [])
        self.future = _not_yet_valid(root, ca)
        self.inter, self.leaf, self.chain = _intermediate(root, ca)


def _write_pem(path: Path, cert: x509.Certificate) -> str:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _not_yet_valid(root: Path, ca: pki.Identity) -> str:
    """A certificate valid from tomorrow on (pki.issue only goes backwards)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "future")]))
            .issuer_name(ca.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=2))
            .not_valid_after(now + datetime.timedelta(days=60))
            .sign(ca.private_key, hashes.SHA256()))
    return _write_pem(root / "future.pem", cert)


def _intermediate(root: Path, ca: pki.Identity) -> tuple[pki.Identity, pki.Identity, str]:
    """An intermediate CA under ``ca``, a server leaf under it, and leaf+intermediate file."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Inter CA")]))
            .issuer_name(ca.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=60))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca.private_key, hashes.SHA256()))
    inter = pki.Identity("inter", _write_pem(root / "inter.pem", cert), "", "", "", cert, key)
    leaf = pki.issue(root, "leaf", inter, key_type="ec256", client=False)
    chain = root / "leaf-chain.pem"
    chain.write_bytes(Path(leaf.cert).read_bytes() + Path(inter.cert).read_bytes())
    return inter, leaf, str(chain)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Material:
    return Material(tmp_path_factory.mktemp("check"))


def check(*args: str) -> tuple[int, list[str]]:
    """Run ``echocerts check`` in-process: (exit code, output lines)."""
    result = CliRunner().invoke(cli, ["check", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output.splitlines()


def lines_with(lines: list[str], prefix: str, text: str) -> list[str]:
    return [line for line in lines if line.startswith(prefix) and text in line]


def only_fail(lines: list[str], text: str) -> None:
    """Exactly the FAIL lines that mention ``text``, and no other FAIL."""
    fails = [line for line in lines if line.startswith("FAIL:")]
    assert fails and all(text in line for line in fails), "\n".join(lines)


# --- a good set passes ----------------------------------------------------------------------


def test_good_server_set_passes(made):
    code, lines = check("--key", made.server.key, "--cert", made.server.cert,
                        "--ca", made.ca.cert, "--crl", made.crl, "--host", "localhost")
    assert code == 0, "\n".join(lines)
    assert not [line for line in lines if not line.startswith(("ok:", "check passed"))]
    for text in ("key matches the certificate", "chain: 'CN=server' <- 'CN=Test CA'",
                 "days left", "serverAuth fits the server role", "host localhost is in the SAN",
                 "acceptable for profile 8996 (+pg)", "not revoked"):
        assert lines_with(lines, "ok:", text), text
    assert lines[-1] == "check passed: 0 failure(s), 0 warning(s)"


def test_good_client_set_passes_with_hashed_directory(made, tmp_path):
    cadir = pki.hashed_dir(tmp_path / "cadir", [made.ca])
    code, lines = check("--key", made.client.key, "--cert", made.client.cert, "--ca", cadir,
                        "--role", "client", "--profile", "8996-mod")
    assert code == 0, "\n".join(lines)
    assert lines_with(lines, "ok:", f"(trusted: {cadir})")
    assert lines_with(lines, "ok:", "clientAuth fits the client role")


def test_chain_with_intermediate_from_the_cert_file(made):
    code, lines = check("--key", made.leaf.key, "--cert", made.chain, "--ca", made.ca.cert)
    assert code == 0, "\n".join(lines)
    assert lines_with(lines, "ok:", "'CN=leaf' <- 'CN=Inter CA' <- 'CN=Test CA'")
    code, lines = check("--cert", made.leaf.cert, "--ca", made.ca.cert)
    assert code == 1
    only_fail(lines, "no certificate of issuer 'CN=Inter CA'")


def test_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "certs.cli", "check", "--cert", "/nonexistent"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        "FAIL: certificate /nonexistent: cannot read: No such file or directory")


# --- one test per finding -------------------------------------------------------------------


def test_mismatched_key(made):
    code, lines = check("--key", made.client.key, "--cert", made.server.cert)
    assert code == 1
    only_fail(lines, f"key {made.client.key} does not match certificate {made.server.cert}")


def test_wrong_ca(made):
    code, lines = check("--cert", made.stranger.cert, "--ca", made.ca.cert)
    assert code == 1
    only_fail(lines, "no certificate of issuer 'CN=Other CA'")


def test_ca_with_the_right_name_but_another_key(made):
    code, lines = check("--cert", made.server.cert, "--ca", made.impostor_ca)
    assert code == 1
    only_fail(lines, "is not signed by the key of 'CN=Test CA'")


def test_self_signed_certificate_not_trusted(made):
    code, lines = check("--cert", made.other_ca.cert, "--ca", made.ca.cert)
    assert code == 1
    only_fail(lines, "self-signed certificate 'CN=Other CA' is not among the --ca")


def test_expired(made):
    code, lines = check("--cert", made.expired.cert, "--ca", made.ca.cert)
    assert code == 1
    only_fail(lines, "certificate expired 1 day ago")


def test_not_yet_valid(made):
    code, lines = check("--cert", made.future, "--ca", made.ca.cert)
    assert code == 1
    only_fail(lines, "certificate is not yet valid, starts in 1 day")


def test_expiring_soon_is_a_warning(made):
    code, lines = check("--cert", made.soon.cert, "--ca", made.ca.cert)
    assert code == 0
    assert lines_with(lines, "warn:", "certificate expires on")
    assert lines[-1] == "check passed: 0 failure(s), 1 warning(s)"


@pytest.mark.parametrize("which, role, wanted", [
    ("client", "server", "needs serverAuth"),
    ("server", "client", "needs clientAuth"),
])
def test_wrong_eku_for_the_role(made, which, role, wanted):
    code, lines = check("--cert", getattr(made, which).cert, "--role", role)
    assert code == 1
    only_fail(lines, wanted)


def test_host_implies_server_role(made):
    code, lines = check("--cert", made.client.cert, "--host", "localhost")
    assert code == 1
    assert lines_with(lines, "FAIL:", "needs serverAuth")
    assert lines_with(lines, "FAIL:", "host localhost is not in the SAN ((none))")


@pytest.mark.parametrize("host, covered", [
    ("localhost", True), ("LOCALHOST.", True), ("127.0.0.1", True),
    ("127.0.0.2", False), ("::1", False), ("pacs.example.org", False),
])
def test_host_in_san(made, host, covered):
    code, lines = check("--cert", made.server.cert, "--host", host)
    assert code == (0 if covered else 1)
    if covered:
        assert lines_with(lines, "ok:", f"host {host} is in the SAN")
    else:
        only_fail(lines, f"host {host} is not in the SAN (DNS:localhost, IP:127.0.0.1)")


@pytest.mark.parametrize("host, covered", [
    ("pacs.example.org", True), ("[::1]", True), ("example.org", False),
    ("a.pacs.example.org", False), ("localhost", False),
])
def test_wildcard_and_ipv6_san(made, host, covered):
    code, lines = check("--cert", made.wildcard.cert, "--host", host)
    assert code == (0 if covered else 1), "\n".join(lines)


def test_dns_name_matching_rules():
    assert dns_name_matches("*.example.org", "a.example.org")
    assert not dns_name_matches("*.org", "example.org")
    assert not dns_name_matches("f*.example.org", "foo.example.org")
    assert not dns_name_matches("*.example.org", ".example.org")


def test_rsa_1024_under_rfc8996(made):
    code, lines = check("--cert", made.rsa1024.cert)
    assert code == 1
    only_fail(lines, "RSA key of 1024 bits; with profile 8996 (+pg) a DCMTK client refuses")
    code, lines = check("--cert", made.rsa1024.cert, "--role", "client")
    assert code == 0
    assert lines_with(lines, "warn:", "RSA key of 1024 bits; RFC 9325 recommends")
    code, lines = check("--cert", made.rsa1024.cert, "--role", "client", "--profile", "8996-mod")
    assert code == 1
    only_fail(lines, "profile 8996-mod (+pm) requires at least 2048")


def test_small_ec_keys(made):
    assert check("--cert", made.ec224.cert)[0] == 0
    code, lines = check("--cert", made.ec224.cert, "--profile", "8996-mod")
    assert code == 1
    only_fail(lines, "ECDSA key of 224 bits; profile 8996-mod (+pm) requires at least 256")


def test_sha1_signature(made):
    code, lines = check("--cert", made.sha1.cert)
    assert code == 0
    assert lines_with(lines, "warn:", "signature RSA-SHA1 is not SHA-256 or better")
    assert not lines_with(lines, "ok:", "acceptable for profile")
    code, lines = check("--cert", made.sha1.cert, "--profile", "8996-mod")
    assert code == 1
    only_fail(lines, "signature RSA-SHA1 is not SHA-256 or better, which profile "
                     "8996-mod (+pm) requires")


def test_md5_signature_fails_every_profile(made):
    for profile in ("8996", "bcp195", "null"):
        code, lines = check("--cert", made.md5.cert, "--profile", profile, "--role", "client")
        assert code == 1
        only_fail(lines, "weak signature hash (MD5)")


def test_ec_server_under_an_rsa_only_profile(made):
    code, lines = check("--cert", made.ec256.cert, "--profile", "aes")
    assert code == 1
    only_fail(lines, "EC server certificates cannot be used with profile aes (+pa): its "
                     "ciphersuites need RSA")
    assert check("--cert", made.ec256.cert, "--profile", "aes", "--role", "client")[0] == 0


def test_revoked(made):
    code, lines = check("--cert", made.revoked.cert, "--ca", made.ca.cert, "--crl", made.crl)
    assert code == 1
    only_fail(lines, "certificate is revoked since")


def test_bad_crl_signature(made):
    code, lines = check("--cert", made.server.cert, "--ca", made.ca.cert, "--crl",
                        made.forged_crl)
    assert code == 1
    only_fail(lines, f"CRL {made.forged_crl}: signature does not verify with the key of "
                     "'CN=Test CA'")


def test_crl_of_another_issuer(made):
    code, lines = check("--cert", made.server.cert, "--ca", made.ca.cert, "--crl",
                        made.other_crl)
    assert code == 1
    only_fail(lines, "no CRL of 'CN=Test CA' among --crl")


def test_crl_without_ca_is_not_trusted_blindly(made):
    code, lines = check("--cert", made.revoked.cert, "--crl", made.crl)
    assert code == 1
    assert lines_with(lines, "warn:", "signature not checked")
    only_fail(lines, "certificate is revoked")


def test_encrypted_key(made):
    code, lines = check("--key", made.locked.key, "--cert", made.locked.cert)
    assert code == 0
    assert lines_with(lines, "warn:", "is encrypted (PBES2, PBKDF2, AES-256-CBC) and no "
                                      "--password was given")
    code, lines = check("--key", made.locked.key, "--cert", made.locked.cert,
                        "--password", "nope")
    assert code == 1
    only_fail(lines, "wrong password")
    code, lines = check("--key", made.locked.key, "--cert", made.locked.cert,
                        "--password", "pw")
    assert code == 0
    assert lines_with(lines, "ok:", "password accepted")
    assert lines_with(lines, "ok:", "key matches the certificate")


def test_key_readable_by_others(made, tmp_path):
    key = tmp_path / "open.key"
    shutil.copy(made.server.key, key)
    os.chmod(key, 0o644)
    code, lines = check("--key", str(key), "--cert", made.server.cert)
    assert code == 0
    assert lines_with(lines, "warn:", f"can be read by other users (mode 0644); chmod 600 {key}")


def test_der_inputs(made):
    code, lines = check("--key", made.server.key_der, "--cert", made.server.cert_der,
                        "--ca", made.ca.cert_der, "--host", "127.0.0.1")
    assert code == 0, "\n".join(lines)


def test_unreadable_inputs(made, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello\n")
    code, lines = check("--cert", str(garbage))
    assert (code, lines[0]) == (
        1, f"FAIL: certificate {garbage}: not a certificate, private key or CRL "
           "(neither PEM nor DER)")
    code, lines = check("--key", made.server.key, "--cert", made.server.key)
    assert code == 1
    only_fail(lines, "no certificate in it")
    code, lines = check("--cert", made.server.cert, "--ca", str(tmp_path / "missing.pem"))
    assert code == 1
    only_fail(lines, "--ca")


def test_unknown_profile_is_a_usage_error(made):
    result = CliRunner().invoke(cli, ["check", "--cert", made.server.cert, "--profile", "tls13"])
    assert result.exit_code == 2
    assert "Invalid value for '--profile'" in result.output


# --- the same verdict as DCMTK's offline verification ---------------------------------------


@pytest.mark.dcmtk
@pytest.mark.parametrize("cert, ca, with_crl", [
    ("server", "ca", True), ("expired", "ca", False), ("future", "ca", False),
    ("stranger", "ca", False), ("revoked", "ca", True), ("revoked", "ca", False),
    ("chain", "ca", False), ("leaf", "ca", False), ("chain", "ca", True),
    ("server", "impostor", False), ("other_ca", "ca", False),
])
def test_chain_verdict_agrees_with_dcmtk_vc(made, cert, ca, with_crl):
    cert_path = {"chain": made.chain, "future": made.future,
                 "leaf": made.leaf.cert}.get(cert) or getattr(made, cert).cert
    ca_path = made.impostor_ca if ca == "impostor" else made.ca.cert
    crl = ["+crl", made.crl] if with_crl else []
    dcmtk = subprocess.run(["/usr/bin/echoscu", "+tla", "+cf", ca_path, *crl, "+vc", cert_path],
                           capture_output=True, text=True, timeout=30)
    assert dcmtk.returncode in (0, 22), dcmtk.stderr
    code, lines = check("--cert", cert_path, "--ca", ca_path,
                        *(["--crl", made.crl] if with_crl else []))
    assert (code == 0) == (dcmtk.returncode == 0), dcmtk.stderr + "\n".join(lines)
