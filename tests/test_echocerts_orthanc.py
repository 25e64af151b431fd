"""``echocerts init --dual`` against Orthanc: one node certificate accepts and initiates TLS.

A PACS node such as Orthanc has one certificate for both directions
(``DicomTlsCertificate``): it is the server when we echo it and the client when it
echoes a modality. ``--dual`` issues certificates with EKU serverAuth and clientAuth, so
Orthanc 1.10 with such a certificate (and the PKI's CA as its trust) is echoed by our
echoscu with TLS and echoes our echoscp (REST ``POST /modalities/ours/echo``), which
requires and verifies its certificate. Without ``--dual`` the server certificate has
serverAuth only: Orthanc can still be echoed, but when it initiates our echoscp refuses
its certificate (unsuitable purpose) and Orthanc's echo fails. Skipped where Orthanc is
not installed; every wait is bounded and every process stopped by the fixtures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support.beyond import echoscu, validated
from support.orthanc import ORTHANC_MISSING, orthanc_installed

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not orthanc_installed(), reason=ORTHANC_MISSING),
]

#: how long echoscp may take to write its JSON line after Orthanc's echo returned
LOG_WAIT = 10.0


def _init(directory: Path, *flags: str) -> Path:
    """``echocerts init [flags] directory`` as a user runs it; the directory."""
    result = subprocess.run([sys.executable, "-m", "certs.cli", "init", *flags, str(directory)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture(scope="module")
def dual_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _init(tmp_path_factory.mktemp("dual") / "pki", "--dual")


@pytest.fixture(scope="module")
def plain_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _init(tmp_path_factory.mktemp("plain") / "pki")


def _certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _usages(path: Path) -> set:
    return set(_certificate(path).extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value)


def _common_name(path: Path) -> str:
    (name,) = _certificate(path).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(name.value)


def _tls_orthanc(orthanc, pki: Path, scp_port: int):
    """Orthanc with DICOM TLS: ``server.pem``/``server.key`` of ``pki`` for both directions,
    its CA trusted, a client certificate required; our echoscp as modality "ours"."""
    return orthanc({
        "DicomTlsEnabled": True,
        "DicomTlsCertificate": str(pki / "server.pem"),
        "DicomTlsPrivateKey": str(pki / "server.key"),
        "DicomTlsTrustedCertificates": str(pki / "ca.pem"),
        "DicomTlsRemoteCertificateRequired": True,
        "DicomModalities": {"ours": {"AET": "ECHOSCP", "Host": "127.0.0.1", "Port": scp_port,
                                     "UseDicomTls": True}},
    }, http=True)


def _echoscp_records(path: Path) -> list[dict]:
    """The lines echoscp's --log-json wrote, once there is one (bounded wait)."""
    deadline = time.monotonic() + LOG_WAIT
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return [json.loads(line) for line in path.read_text().splitlines()]
        time.sleep(0.05)
    raise AssertionError(f"echoscp wrote no --log-json line within {LOG_WAIT:g} s")


def test_dual_node_certificates_work_both_ways(orthanc, scp, dual_pki: Path,
                                               tmp_path: Path) -> None:
    ca, node, ours_cert = dual_pki / "ca.pem", dual_pki / "server.pem", dual_pki / "client1.pem"
    both = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert _usages(node) == both and _usages(ours_cert) == both
    log = tmp_path / "echoscp.jsonl"
    ours = scp("-v", "+tls", str(dual_pki / "client1.key"), str(ours_cert), "+cf", str(ca),
               "-rc", "--log-json", str(log))
    peer = _tls_orthanc(orthanc, dual_pki, ours.port)

    # we initiate: our node certificate as the client, Orthanc's as the server
    result = echoscu("--json", "-aec", "ORTHANC", "+tls", str(dual_pki / "client1.key"),
                     str(ours_cert), "+cf", str(ca), "localhost", str(peer.dicom_port))
    assert result.returncode == 0, (result.stdout, result.stderr, peer.log)
    document = validated(result.stdout)
    assert document["outcome"] == "success"
    tls = document["tls"]
    assert tls["established"] and tls["verified"] and tls["version"].startswith("TLSv1.")
    assert f"CN={_common_name(node)}" in tls["peer_chain"][0]["subject"]

    # Orthanc initiates: the same node certificate as the client, ours as the server
    status, answer = peer.post("/modalities/ours/echo")
    assert status == 200, (answer, peer.log)
    (record,) = _echoscp_records(log)
    assert (record["calling_ae"], record["called_ae"]) == ("ORTHANC", "ECHOSCP"), record
    assert record["tls_version"].startswith("TLSv1.") and record["cipher"], record
    assert record["client_subject"].endswith(f"CN={_common_name(node)}"), record
    assert (record["echoes"], record["ended"]) == (1, "released"), record


def test_server_only_certificate_cannot_initiate(orthanc, scp, plain_pki: Path,
                                                 tmp_path: Path) -> None:
    """Without --dual, the one certificate Orthanc holds is a server's: it accepts our
    echo, but our echoscp refuses it as a client's."""
    ca, node = plain_pki / "ca.pem", plain_pki / "server.pem"
    assert _usages(node) == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert _usages(plain_pki / "client1.pem") == {ExtendedKeyUsageOID.CLIENT_AUTH}
    log = tmp_path / "echoscp.jsonl"
    ours = scp("+tls", str(plain_pki / "server.key"), str(node), "+cf", str(ca), "-rc",
               "--log-json", str(log))
    peer = _tls_orthanc(orthanc, plain_pki, ours.port)

    result = echoscu("+tls", str(plain_pki / "client1.key"), str(plain_pki / "client1.pem"),
                     "+cf", str(ca), "-aec", "ORTHANC", "localhost", str(peer.dicom_port))
    assert result.returncode == 0, (result.stderr, peer.log)

    status, answer = peer.post("/modalities/ours/echo")
    assert status != 200, answer
    (record,) = _echoscp_records(log)
    assert record["ended"] == "error" and record["echoes"] == 0, record
    assert "unsuitable certificate purpose" in record["detail"], record
