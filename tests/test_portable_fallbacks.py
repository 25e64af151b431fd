"""The public-API fallbacks of issue #12 (docs/design.md D8), run for real: the same commands
in subprocesses with and without the portable mode of tests/portable/sitecustomize.py
(``import ctypes`` fails there).

* ``+vc``/``+rc``: certs.offline_fallback must print what the ctypes route (OpenSSL's
  X509_verify_cert) prints, byte for byte, with the same exit code; where DCMTK is
  installed its echoscu is the third witness.
* ``+pm``: without ctypes the TLS 1.3 suite list cannot be set; one warning line, and
  the echo against DCMTK's storescp and against our echoscp still succeeds.
"""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from support.peers import dcmtk, dcmtk_installed, normalise, ours, run
from support.tls import RecordingLog
from test_tls_context import options_from_args

from certs import offline, offline_fallback
from certs import pki as pkimod
from certs.context import client_context
from certs.options import TLSOptions

pytestmark = [pytest.mark.timeout(240)]

PORTABLE_DIR = str(Path(__file__).parent / "portable")
PORTABLE = {"PYTHONPATH": PORTABLE_DIR, "ECHOSCU_PORTABLE_TEST": "1"}
PM_WARNING = ("W: cannot set the TLS 1.3 ciphersuites of the selected profile in this "
              "Python: OpenSSL's defaults are used (")
DAY = datetime.timedelta(days=1)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _craft(directory: str, name: str, *, subject: str, issuer_name: str, signer,
           ca: bool = False, not_before: datetime.datetime | None = None,
           not_after: datetime.datetime | None = None, akid_key=None,
           key=None) -> str:
    """A certificate the PKI helpers do not make; written as ``<name>.pem``."""
    key = key or pkimod.generate_key("ec256")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or _now() - DAY)
        .not_valid_after(not_after or _now() + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False))
    if akid_key is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(akid_key), critical=False)
    certificate = builder.sign(signer or key, hashes.SHA256())
    path = os.path.join(directory, f"{name}.pem")
    with open(path, "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _concat(directory: str, name: str, *parts: str) -> None:
    with open(os.path.join(directory, name), "w") as out:
        for part in parts:
            out.write(Path(part).read_text())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> pkimod.Pki:
    made = pkimod.make_pki(tmp_path_factory.mktemp("pki"))
    d = made.directory
    ca_key = made.ca.private_key
    pkimod.make_ca(d, "other", common_name="Other CA")
    pkimod.issue(d, "expired", made.ca, expired=True)
    _craft(d, "future", subject="future", issuer_name="Test CA", signer=ca_key,
           not_before=_now() + 2 * DAY, akid_key=ca_key.public_key())
    # same issuer name as the CA, no key identifier, signed by another key
    _craft(d, "forged", subject="forged", issuer_name="Test CA",
           signer=pkimod.generate_key("rsa2048"))
    _craft(d, "selfsigned", subject="self", issuer_name="self", signer=None)
    own_key = pkimod.generate_key("ec256")
    _craft(d, "oldroot", subject="Old Root", issuer_name="Old Root", signer=own_key,
           key=own_key, ca=True, not_before=_now() - 30 * DAY, not_after=_now() - DAY)
    # an intermediate CA and its leaf; a leaf "issued" by the non-CA server certificate
    inter_key = pkimod.generate_key("ec256")
    _craft(d, "inter", subject="Inter CA", issuer_name="Test CA", signer=ca_key,
           key=inter_key, ca=True, akid_key=ca_key.public_key())
    _craft(d, "leaf", subject="leaf", issuer_name="Inter CA", signer=inter_key,
           akid_key=inter_key.public_key())
    _craft(d, "by-server", subject="by-server", issuer_name="server",
           signer=made.server.private_key, akid_key=made.server.private_key.public_key())
    _concat(d, "leaf-chain.pem", f"{d}/leaf.pem", f"{d}/inter.pem")
    _concat(d, "chain.pem", made.server.cert, made.ca.cert)
    _concat(d, "by-server-chain.pem", f"{d}/by-server.pem", made.server.cert)
    # a stale CRL, and a hashed directory with the CA and its CRL (<hash>.0, <hash>.r0)
    crl = (x509.CertificateRevocationListBuilder()
           .issuer_name(made.ca.certificate.subject)
           .last_update(_now() - 3 * DAY).next_update(_now() - DAY)
           .sign(ca_key, hashes.SHA256()))
    Path(d, "crl-stale.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    cadir = pkimod.hashed_dir(Path(d, "cadir-crl"), [made.ca])
    digest = next(name for name in os.listdir(cadir)).split(".")[0]
    Path(cadir, f"{digest}.r0").write_bytes(Path(made.crl).read_bytes())
    os.mkdir(os.path.join(d, "adir"))
    Path(d, "garbage.txt").write_text("garbage\n")
    return made


#: +vc/+rc command lines ({d}: the PKI directory) and what OpenSSL reports for them
OFFLINE_CASES = {
    "good": "+tla +cf {d}/ca.pem +vc {d}/server.pem",
    "good-client-with-key": "+tls {d}/client1.key {d}/client1.pem +cf {d}/ca.pem "
                            "+vc {d}/client1.pem",
    "good-der": "+tla -der +cf {d}/ca.der +vc {d}/server.der",
    "good-hashed-dir": "+tla +cd {d}/cadir +vc {d}/server.pem",
    "good-hashed-dir-der": "+tla -der +cd {d}/cadir-der +vc {d}/server.der",
    "good-intermediate-in-file": "+tla +cf {d}/ca.pem +vc {d}/leaf-chain.pem",
    "no-ca": "+tla +vc {d}/server.pem",                                  # 20
    "no-tls": "+vc {d}/server.pem",
    "wrong-ca": "+tla +cf {d}/other.pem +vc {d}/server.pem",             # 20
    "intermediate-missing": "+tla +cf {d}/ca.pem +vc {d}/leaf.pem",      # 20
    "only-intermediate-trusted": "+tla +cf {d}/inter.pem +vc {d}/leaf.pem",  # 2
    "expired": "+tla +cf {d}/ca.pem +vc {d}/expired.pem",                # 10
    "not-yet-valid": "+tla +cf {d}/ca.pem +vc {d}/future.pem",           # 9
    "forged-signature": "+tla +cf {d}/ca.pem +vc {d}/forged.pem",        # 7
    "self-signed-leaf": "+tla +cf {d}/ca.pem +vc {d}/selfsigned.pem",    # 18
    "self-signed-trusted": "+tla +cf {d}/selfsigned.pem +vc {d}/selfsigned.pem",
    "self-signed-in-chain": "+tla +vc {d}/chain.pem",                    # 19
    "issuer-not-a-ca": "+tla +cf {d}/ca.pem +vc {d}/by-server-chain.pem",  # 79
    "revoked": "+tla +cf {d}/ca.pem +crl {d}/crl.pem +vc {d}/revoked.pem",  # 23
    "revoked-whole-chain": "+tla +cf {d}/ca.pem +crl {d}/crl.pem +cra +vc {d}/revoked.pem",
    "revoked-hashed-dir": "+tla +cd {d}/cadir-crl +crv +vc {d}/revoked.pem",
    "not-revoked": "+tla +cf {d}/ca.pem +crl {d}/crl.pem +vc {d}/server.pem",
    "not-revoked-whole-chain": "+tla +cf {d}/ca.pem +crl {d}/crl.pem +cra +vc {d}/server.pem",
    "no-crl": "+tla +cf {d}/ca.pem +cra +vc {d}/server.pem",             # 3
    "stale-crl": "+tla +cf {d}/ca.pem +crl {d}/crl-stale.pem +vc {d}/server.pem",  # 12
    "missing-file": "+tla +cf {d}/ca.pem +vc {d}/missing.pem",
    "garbage-file": "+tla +cf {d}/ca.pem +vc {d}/garbage.txt",
    "directory": "+tla +cf {d}/ca.pem +vc {d}/adir",
    "pem-read-as-der": "+tla -der +cf {d}/ca.pem +vc {d}/server.pem",
    "root": "+rc {d}/ca.pem",
    "root-der": "+tla -der +rc {d}/ca.der",
    "root-not-a-ca-but-self-signed": "+rc {d}/selfsigned.pem",
    "root-expired": "+rc {d}/oldroot.pem",
    "not-root": "+rc {d}/server.pem",
    "not-root-intermediate": "+rc {d}/inter.pem",
    "root-missing": "+rc {d}/missing.pem",
    "root-garbage": "+rc {d}/garbage.txt",
}


def _echoscu(args: list[str], portable: bool):
    return ours(*args, env=PORTABLE if portable else {"ECHOSCU_PORTABLE_TEST": None})


def test_portable_mode_takes_ctypes_away():
    probe = [sys.executable, "-c", "import ctypes"]
    assert run(probe, timeout=30, env=PORTABLE).returncode != 0
    assert run(probe, timeout=30, env={**PORTABLE, "ECHOSCU_PORTABLE_TEST": None}).returncode == 0
    assert run(probe, timeout=30, env={**PORTABLE, "PYTHONPATH": None}).returncode == 0


def test_offline_module_imports_and_falls_back_without_ctypes():
    code = ("import certs.offline as o; assert o._crypto_or_none() is None; "
            "import certs.context; print('ok')")
    result = run([sys.executable, "-c", code], timeout=30, env=PORTABLE)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


@pytest.mark.parametrize("case", list(OFFLINE_CASES))
def test_offline_check_same_with_and_without_ctypes(pki, case):
    args = OFFLINE_CASES[case].format(d=pki.directory).split()
    native = _echoscu(args, portable=False)
    portable = _echoscu(args, portable=True)
    assert (portable.returncode, portable.stdout, portable.stderr) == (
        native.returncode, native.stdout, native.stderr)
    assert native.returncode in (0, 22), native.stderr
    if dcmtk_installed():
        theirs = dcmtk(*args)
        assert (native.returncode, native.stdout) == (theirs.returncode, theirs.stdout)
        assert normalise(native.stderr) == normalise(theirs.stderr)


def test_cases_cover_the_promised_error_numbers(pki):
    """Each verification error the fallback maps is met by at least one case above."""
    seen = set()
    for line in OFFLINE_CASES.values():
        words = line.format(d=pki.directory).split()
        if "+vc" not in words or not {"+tls", "+tla"} & set(words):
            continue
        options = options_from_args(words[:-2])
        loaded = offline_fallback.read_certificates(words[-1], options.file_format)
        if loaded and loaded[0] is not None:
            seen.add(offline_fallback.verify_file(options, *loaded))
    assert {0, 2, 3, 7, 9, 10, 12, 18, 19, 20, 23, offline_fallback.INVALID_CA} <= seen


def test_error_texts_are_openssls():
    library = offline._crypto_or_none()
    if library is None:
        pytest.skip("ctypes or libcrypto's symbols are not available in this Python")
    for code in offline_fallback._TEXTS:
        assert offline_fallback.error_text(code) == \
            library.X509_verify_cert_error_string(code).decode(), code


# --- +pm: TLS 1.3 suites -------------------------------------------------------------


def test_pm_context_without_ctypes_warns_and_keeps_openssl_defaults(monkeypatch):
    monkeypatch.setitem(sys.modules, "ctypes", None)
    log = RecordingLog()
    context = client_context(TLSOptions(mode="anonymous", profile="8996-mod"), log)
    defaults = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]
    assert "TLS_AES_128_CCM_SHA256" not in defaults
    assert log.text() == [PM_WARNING + ":".join(defaults) + ")"]
    log = RecordingLog()
    client_context(TLSOptions(mode="anonymous", profile="8996"), log)
    assert log.lines == []  # only a profile with its own TLS 1.3 list needs the route


def _client_args(pki: pkimod.Pki) -> list[str]:
    return ["-v", "+pm", "+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert]


def _assert_echo(result, portable: bool) -> None:
    assert result.returncode == 0, result.stderr
    assert "I: Received Echo Response (Success)" in result.stderr
    warnings = [line for line in result.stderr_lines if line.startswith(PM_WARNING)]
    assert len(warnings) == (1 if portable else 0), result.stderr


@pytest.mark.dcmtk
@pytest.mark.parametrize("portable", [False, True], ids=["ctypes", "portable"])
def test_pm_echo_against_dcmtk_storescp(storescp, pki, portable):
    peer = storescp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    result = _echoscu([*_client_args(pki), "localhost", str(peer.port)], portable)
    _assert_echo(result, portable)


@pytest.mark.parametrize("portable", [False, True], ids=["ctypes", "portable"])
def test_pm_echo_against_our_echoscp(scp, pki, portable):
    environment = PORTABLE if portable else {"ECHOSCU_PORTABLE_TEST": None}
    server = scp("-v", "+pm", "+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert,
                 env=environment)
    result = _echoscu([*_client_args(pki), "localhost", str(server.port)], portable)
    _assert_echo(result, portable)
    server.stop()
    assert (PM_WARNING in server.stderr) == portable, server.stderr
    assert "Traceback" not in server.stderr
