"""--json and --exit-codes detailed against real peers: one case per failure class.

Every case runs our echoscu twice against the same live peer: once plain (DCMTK's
behaviour) and once with ``--json --exit-codes detailed``. The JSON must validate
against docs/echoscu-result.schema.json and name the failure class; the exit code must
be the class's detailed code; and stderr must be byte-for-byte the plain run's, because
our options add to stdout only.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from support.beyond import (  # noqa: F401 - fixtures
    client_args,
    echoscu,
    schema,
    tls_server_args,
    validated,
)
from support.fakescp import Script, unknown_pdu

from echoscu import messages
from echoscu.report import FAILURE_CLASSES, PHASES
from echoscu.transport import connect_failure

pytestmark = [pytest.mark.timeout(90)]

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Case:
    """A peer set-up and what a run against it must report."""

    #: fixtures -> echoscu arguments (options and peer/port)
    arguments: Callable[[dict], list[str]]
    dcmtk_code: int
    failure_class: str | None
    phase: str | None = None


def _echoscp(*scp_args: str, options: tuple[str, ...] = ()):
    def arguments(fx: dict) -> list[str]:
        return [*options, HOST, str(fx["scp"](*scp_args).port)]
    return arguments


def _fake(script: Script, *options: str):
    def arguments(fx: dict) -> list[str]:
        return [*options, HOST, str(fx["fake_scp"](script).port)]
    return arguments


CASES = {
    "success": Case(_echoscp(options=("--repeat", "3")), 0, None),
    "refused": Case(lambda fx: [HOST, str(fx["closed_port"])], 1, "refused", "connect"),
    "dns": Case(lambda fx: ["no-such-host.invalid", "104"], 1, "dns", "resolve"),
    "rejected": Case(_echoscp("--reject", "1", "1", "7"), 1, "rejected", "associate"),
    "bad-status": Case(_echoscp("--status", "C000"), 0, "bad-status", "echo"),
    "dimse-timeout": Case(_echoscp("--delay", "3", options=("-td", "1")), 70,
                          "dimse-timeout", "echo"),
    "aborted-during-echo": Case(_fake(Script(on_echo="abort")), 0, "aborted", "echo"),
    "aborted-negotiation": Case(_fake(Script(on_associate="abort")), 1, "aborted",
                                "associate"),
    "released": Case(_fake(Script(on_echo="release")), 70, "released", "echo"),
    "no-context": Case(_fake(Script(context_results=(3,))), 1, "no-context", "associate"),
    "associate-timeout": Case(_fake(Script(on_associate="stall"), "-ta", "1"), 1,
                              "associate-timeout", "associate"),
    "protocol-error": Case(_fake(Script(on_associate="send", raw=unknown_pdu(0x09))), 1,
                           "protocol-error", "associate"),
    "bad-response": Case(_fake(Script(message_id=99)), 70, "bad-response", "echo"),
    "release-failed": Case(_fake(Script(on_release="abort")), 1, "release-failed", "release"),
    "local-error": Case(_echoscp(options=("-aet", "")), 1, "local-error", "associate"),
    "tls-config": Case(lambda fx: ["+tls", "missing.key", "missing.pem", HOST, "104"], 1,
                       "tls-config", "setup"),
    "tls-handshake": Case(_echoscp(options=("+tla", "-ic")), 1, "tls-handshake",
                          "tls_handshake"),
    "tls-verify": Case(lambda fx: [*client_args(fx["other_pki"]), HOST,
                                   str(fx["scp"](*tls_server_args(fx["pki"])).port)],
                       1, "tls-verify", "tls_handshake"),
}


@pytest.fixture
def fixtures(scp, fake_scp, closed_port, pki, other_pki) -> dict:  # noqa: F811
    return {"scp": scp, "fake_scp": fake_scp, "closed_port": closed_port, "pki": pki,
            "other_pki": other_pki}


@pytest.mark.parametrize("name", list(CASES))
def test_failure_class_exit_codes_and_schema(name: str, fixtures: dict, tmp_path) -> None:
    case = CASES[name]
    args = case.arguments(fixtures)
    plain = echoscu(*args, cwd=tmp_path)
    assert plain.returncode == case.dcmtk_code, plain.stderr
    assert plain.stdout == ""
    extended = echoscu("--json", "--exit-codes", "detailed", *args, cwd=tmp_path)
    document = validated(extended.stdout)
    assert extended.stderr == plain.stderr
    assert document["exit_code"] == case.dcmtk_code
    if case.failure_class is None:
        assert document["outcome"] == "success" and document["failure"] is None
        assert extended.returncode == 0
        return
    failure = document["failure"]
    assert document["outcome"] == "failure"
    assert (failure["class"], failure["phase"]) == (case.failure_class, case.phase)
    assert extended.returncode == FAILURE_CLASSES[case.failure_class][0]
    assert document["exit_code_detailed"] == extended.returncode
    # the lines DCMTK prints for the failure are the captured ones
    assert failure["log"] == [line for line in plain.stderr.splitlines()
                              if line[:3] in ("F: ", "E: ")]
    # the explicit default is DCMTK's exit code
    assert echoscu("--exit-codes", "dcmtk", *args, cwd=tmp_path).returncode == case.dcmtk_code


def test_success_document(scp) -> None:  # noqa: F811
    """Phases, negotiation and every echo of a --repeat run against our echoscp."""
    port = scp().port
    result = echoscu("--json", "--repeat", "4", "-aet", "ME", "-aec", "YOU", HOST, str(port))
    assert result.returncode == 0, result.stderr
    document = validated(result.stdout)
    assert document["peer"] == {"host": HOST, "port": port, "address": HOST, "family": "ipv4"}
    assert (document["calling_aet"], document["called_aet"]) == ("ME", "YOU")
    assert set(document["timings_ms"]) == {"resolve", "connect", "associate", "echo",
                                           "release", "total"}
    assert [echo["message_id"] for echo in document["echoes"]] == [1, 2, 3, 4]
    assert {echo["status_text"] for echo in document["echoes"]} == {"Success"}
    association = document["association"]
    assert association["peer_max_pdu"] == 16382 and association["max_send_pdv"] == 16370
    assert association["contexts"] == [{
        "id": 1, "result": 0, "result_text": "Accepted", "transfer_syntax": "1.2.840.10008.1.2",
        "transfer_syntax_name": "LittleEndianImplicit"}]
    assert association["peer_implementation_version_name"].startswith("ECHOSCP_")
    stats = document["rtt_stats_ms"]
    assert stats["count"] == 4
    assert stats["min"] <= stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"]
    assert document["tls"] is None


def test_rejection_details(scp) -> None:  # noqa: F811
    port = scp("--reject", "2", "3", "1").port
    document = validated(echoscu("--json", HOST, str(port)).stdout)
    assert document["failure"]["reject"] == {
        "result": 2, "result_text": "Rejected Transient",
        "source": 3, "source_text": "Service Provider (Presentation Related)",
        "reason": 1, "reason_text": "Temporary Congestion"}


def test_bad_status_statuses(scp) -> None:  # noqa: F811
    port = scp("--status", "0110").port
    result = echoscu("--json", "--repeat", "2", HOST, str(port))
    document = validated(result.stdout)
    assert result.returncode == 0  # DCMTK takes any status
    assert [echo["status"] for echo in document["echoes"]] == [0x0110, 0x0110]
    assert document["failure"]["statuses"] == [0x0110]


def test_tls_details_against_echoscp(scp, pki) -> None:  # noqa: F811
    port = scp(*tls_server_args(pki)).port
    result = echoscu("--json", *client_args(pki), "--request-sni", "localhost", HOST, str(port))
    assert result.returncode == 0, result.stderr
    document = validated(result.stdout)
    tls = document["tls"]
    assert tls["established"] and tls["verified"]
    assert tls["version"] == "TLSv1.3" and tls["alpn"] == "dicom" and tls["sni"] == "localhost"
    assert tls["cipher_bits"] >= 128
    leaf = tls["peer_chain"][0]
    assert leaf["subject"] == pki.server.certificate.subject.rfc4514_string()
    assert leaf["issuer"] == pki.ca.certificate.subject.rfc4514_string()
    assert "IP:127.0.0.1" in leaf["san"] and "DNS:localhost" in leaf["san"]
    assert leaf["matches_host"] is True
    assert leaf["key"] == "RSA 2048 bits" and leaf["key_bits"] == 2048
    assert 363 <= leaf["days_left"] <= 365
    assert "tls_handshake" in document["timings_ms"]


def test_tls_details_against_storescp(storescp, pki) -> None:  # noqa: F811
    """DCMTK's storescp as the TLS peer; -ic: not verified, still described."""
    peer = storescp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert, "-ic")
    result = echoscu("--json", "+tla", "-ic", HOST, str(peer.port))
    assert result.returncode == 0, result.stderr
    document = validated(result.stdout)
    tls = document["tls"]
    assert tls["established"] and tls["verified"] is False and tls["sni"] is None
    assert tls["peer_chain"][0]["sha256"].replace(":", "").lower() == \
        pki.server.certificate.fingerprint(__import__("cryptography.hazmat.primitives.hashes",
                                                      fromlist=["SHA256"]).SHA256()).hex()
    assert document["association"]["peer_implementation_version_name"].startswith("OFFIS_DCMTK")


def test_tls_verify_failure_says_why(scp, pki, other_pki) -> None:  # noqa: F811
    port = scp(*tls_server_args(pki)).port
    document = validated(echoscu("--json", *client_args(other_pki), HOST, str(port)).stdout)
    assert document["tls"]["established"] is False
    message = document["tls"]["error"]["verify_message"]
    assert "certificate" in message
    assert message in document["hint"] and "+cf" in document["hint"]


def test_schema_knows_every_failure_class_and_phase() -> None:
    definitions = schema()["$defs"]
    assert definitions["failure_class"]["enum"] == list(FAILURE_CLASSES)
    assert definitions["failure"]["properties"]["phase"]["enum"] == ["setup", *PHASES]
    codes = [code for code, _ in FAILURE_CLASSES.values()]
    assert len(set(codes)) == len(codes)
    assert not set(codes) & {0, 1, 22, 70, 130}


@pytest.mark.parametrize(("condition", "expected"), [
    (connect_failure(TimeoutError()), "connect-timeout"),
    (connect_failure(TimeoutError(errno.ETIMEDOUT, "timed out")), "connect-timeout"),
    (connect_failure(OSError(errno.ENETUNREACH, "unreachable")), "network-error"),
    (connect_failure(ConnectionRefusedError(errno.ECONNREFUSED, "refused")), "refused"),
    (messages.tcp_io_error("Broken pipe", "sendAssociationRQTCP"), "network-error"),
    (messages.dimse_send_failed(messages.illegal_peer_max_pdu(12)), "protocol-error"),
])
def test_classes_without_a_local_peer(condition, expected) -> None:
    """Failures a loopback peer cannot produce reliably: the class their condition carries."""
    assert condition.failure_class == expected
    assert str(condition).startswith("0006:")


def test_option_errors_are_dcmtk_error_blocks() -> None:
    for args, message in [
        (["--exit-codes", "loud", "h", "1"],
         "Invalid value for option --exit-codes (loud: use dcmtk or detailed)"),
        (["--json", "--peers", "f"], "--json not allowed with --peers"),
        (["--format", "csv", "h", "1"], "--format only allowed with --peers"),
        (["--interval", "-1", "h", "1"], "Invalid value for option --interval (underflow: -1)"),
        (["--interval", "soon", "h", "1"], "Invalid value for option --interval (soon)"),
        (["--jobs", "4", "h", "1"], "--jobs only allowed with --peers"),
        (["--json", "+vc", "x.pem"], "--json not allowed with --verify-cert or --is-root-cert"),
    ]:
        result = echoscu(*args)
        assert result.returncode == 1
        assert result.stderr.endswith(f"error: {message}\n")
        assert result.stdout == ""


def test_json_is_one_document_even_with_stats(scp) -> None:  # noqa: F811
    port = scp().port
    result = echoscu("--json", "--stats", "--repeat", "2", HOST, str(port))
    document = json.loads(result.stdout)
    assert document["rtt_stats_ms"]["count"] == 2
