"""The test harness proves itself: runners, normalisation, peers, and every fake-SCP scenario
against DCMTK's own echoscu (the pattern the differential suite repeats with ours)."""

from __future__ import annotations

import io
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.fakescp import (
    FAKE_IMPLEMENTATION_UID,
    FAKE_IMPLEMENTATION_VERSION,
    IMPLICIT_VR_LITTLE_ENDIAN,
    TAG_ERROR_COMMENT,
    VERIFICATION_SOP_CLASS,
    FakeSCP,
    Script,
    accept_pdu,
    echo_response,
    text_value,
)
from support.peers import (
    SCENARIOS,
    Result,
    Scenario,
    assert_same,
    dcmtk,
    free_port,
    normalise,
    run,
    run_scenario,
)
from support.scenarios import lines_in_order

# --- runners and normalisation ---------------------------------------------------------


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))
    assert 0 < port < 65536


def test_closed_port_refuses(closed_port: int) -> None:
    with socket.socket() as client, pytest.raises(ConnectionRefusedError):
        client.settimeout(5)
        client.connect(("127.0.0.1", closed_port))


def test_run_captures_output_and_exit_code() -> None:
    script = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    result = run([sys.executable, "-c", script], timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


def test_run_applies_environment_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_GONE", "still here")
    script = "import os; print(os.environ.get('HARNESS_NEW'), os.environ.get('HARNESS_GONE'))"
    env = {"HARNESS_NEW": "1", "HARNESS_GONE": None}
    result = run([sys.executable, "-c", script], timeout=30, env=env)
    assert result.stdout == "1 None\n"


def test_run_fails_the_test_when_the_program_outlives_its_timeout() -> None:
    with pytest.raises(pytest.fail.Exception, match="still running after 0.5 s, killed"):
        run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)


def test_normalise_blanks_only_versions_identities_and_openssl_codes() -> None:
    dcmtk_text = (
        "$dcmtk: echoscu v3.6.7 2022-04-22 $\n"
        "D: Our Implementation Class UID:      1.2.276.0.7230010.3.0.3.6.7\n"
        "D: Our Implementation Version Name:   OFFIS_DCMTK_367\n"
        "F: OpenSSL error 80000002: system library\n"
        "I: calling '/usr/bin/echoscu' with 2 arguments: '--arguments' 'x' \n"
        "D: Calling Application Name:    ECHOSCU\n"
    )
    ours_text = (
        "$echoscu: echoscu v0.1.0 2026-11-25 $\n"
        "D: Our Implementation Class UID:      2.25.211717524918349529527401668842660094394\n"
        "D: Our Implementation Version Name:   ECHOSCU_0.1.0\n"
        "F: OpenSSL error 0A000086: system library\n"
        "I: calling 'python -m echoscu' with 2 arguments: '--arguments' 'x' \n"
        "D: Calling Application Name:    ECHOSCU\n"
    )
    assert normalise(dcmtk_text) == normalise(ours_text)
    assert "D: Calling Application Name:    ECHOSCU\n" in normalise(ours_text)
    assert normalise("$dcmtk: echoscu v3.7.0+ DEV $") == "$VERSION$"
    assert normalise("W: ASSOC: PDV receive length 4097 is odd") == (
        "W: ASSOC: PDV receive length 4097 is odd"
    )


def test_assert_same_shows_a_diff() -> None:
    theirs = Result(1, "", "I: Requesting Association\nF: Association Rejected:\n", 0.1)
    mine = Result(0, "", "I: Requesting Association\nF: Association rejected\n", 0.1)
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_same(mine, theirs)
    message = str(failure.value)
    assert "exit code: ours 0, dcmtk 1" in message
    assert "-F: Association Rejected:" in message and "+F: Association rejected" in message
    assert_same(Result(0, "", "$echoscu: echoscu v0.1.0 x $", 0.2), Result(0, "", "$VERSION$", 0))


# --- the fake SCP on its own -----------------------------------------------------------


def _wait_until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.01)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_fake_scp_stops_while_a_client_sends_nothing(
    tls: bool, tls_identity: tuple[Path, Path]
) -> None:
    context = None
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_identity[1], tls_identity[0])
    fake = FakeSCP(Script(), ssl_context=context).start()
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5):
        _wait_until(lambda: fake.associations)
        fake.stop(timeout=5)
    assert fake.associations[0].events == ["stopped"]


def test_fake_scp_gives_up_on_a_connection_after_its_time_limit() -> None:
    with FakeSCP(Script(), connection_timeout=0.3) as fake:
        with socket.create_connection(("127.0.0.1", fake.port), timeout=5):
            (association,) = fake.wait_for(1)
    assert association.events == ["timeout"]


def test_script_refuses_unknown_behaviours() -> None:
    with pytest.raises(ValueError, match="on_echo='abrt'"):
        Script(on_echo="abrt")  # type: ignore[arg-type]


@pytest.mark.dcmtk
def test_fake_scp_plays_one_script_per_association() -> None:
    with FakeSCP(Script(on_associate="reject"), Script(status=0x0110)) as fake:
        results = [dcmtk("-v", "127.0.0.1", str(fake.port)) for _ in range(3)]
        records = fake.wait_for(3)
    assert [r.returncode for r in results] == [1, 0, 0]
    assert "I: Received Echo Response (Unknown Status: 0x110)" in results[2].stderr_lines
    assert [r.events[1] for r in records] == ["rejected", "accepted", "accepted"]


def test_fake_scp_reports_a_peer_that_closes_at_once() -> None:
    with FakeSCP(Script()) as fake:
        socket.create_connection(("127.0.0.1", fake.port), timeout=5).close()
        (association,) = fake.wait_for(1)
    assert association.events == ["peer-closed"] and association.request is None


@pytest.mark.dcmtk
def test_fake_scp_decodes_like_pynetdicom() -> None:
    """The fake's hand-made codec agrees with pynetdicom on DCMTK's RQ and on its own AC/RSP."""
    from pynetdicom.dsutils import decode
    from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ

    script = Script(status=0xC001, extra_elements=((TAG_ERROR_COMMENT, text_value("why")),))
    with FakeSCP(script) as fake:
        result = dcmtk("-aet", "CALLING", "-aec", "CALLED", "127.0.0.1", str(fake.port))
        (association,) = fake.wait_for(1)
    assert result.returncode == 0
    request = association.request
    assert request is not None
    assert (request.calling_ae, request.called_ae) == ("CALLING", "CALLED")
    assert [
        (c.context_id, c.abstract_syntax, c.transfer_syntaxes, c.reserved) for c in request.contexts
    ] == [(1, VERIFICATION_SOP_CLASS, [IMPLICIT_VR_LITTLE_ENDIAN], b"\x00\xff\x00")]
    assert (request.max_pdu, request.implementation_class_uid) == (
        16384,
        "1.2.276.0.7230010.3.0.3.6.7",
    )

    theirs = A_ASSOCIATE_RQ()
    theirs.decode(association.pdus[0])
    assert theirs.calling_ae_title.strip() == "CALLING"
    assert theirs.user_information.maximum_length == request.max_pdu
    assert [str(c.abstract_syntax) for c in theirs.presentation_context] == [VERIFICATION_SOP_CLASS]

    accept = A_ASSOCIATE_AC()
    accept.decode(accept_pdu(request, script))
    assert accept.user_information.implementation_class_uid == FAKE_IMPLEMENTATION_UID
    assert accept.user_information.implementation_version_name == FAKE_IMPLEMENTATION_VERSION
    accepted = [(c.context_id, c.result, c.transfer_syntax) for c in accept.presentation_context]
    assert accepted == [(1, 0, IMPLICIT_VR_LITTLE_ENDIAN)]

    response = echo_response(script, context_id=1, message_id=1)
    command = decode(io.BytesIO(response[12:]), True, True)
    assert (command.CommandField, command.MessageIDBeingRespondedTo) == (0x8030, 1)
    assert (command.Status, command.ErrorComment) == (0xC001, "why")
    assert command.CommandGroupLength == len(response) - 12 - 12


def _pdvs(stream: bytes) -> list[list[tuple[int, bytes]]]:
    """Split P-DATA-TF PDUs into per-PDU lists of (control header, fragment)."""
    pdus = []
    while stream:
        length = struct.unpack_from(">I", stream, 2)[0]
        body, stream = stream[6 : 6 + length], stream[6 + length :]
        pdvs = []
        while body:
            pdv_length, _, control = struct.unpack_from(">IBB", body)
            pdvs.append((control, body[6 : 4 + pdv_length]))
            body = body[4 + pdv_length :]
        pdus.append(pdvs)
    return pdus


def test_fake_scp_splits_responses_as_scripted() -> None:
    (whole,) = _pdvs(echo_response(Script(), context_id=1, message_id=1))
    split = _pdvs(echo_response(Script(fragment_size=2, pdvs_per_pdu=8), 1, 1))
    fragments = [pdv for pdvs in split for pdv in pdvs]
    assert all(len(pdvs) <= 8 for pdvs in split) and len(split[0]) == 8
    assert {len(fragment) for _, fragment in fragments} == {2}
    assert [control for control, _ in fragments] == [1] * (len(fragments) - 1) + [3]
    assert b"".join(fragment for _, fragment in fragments) == whole[0][1]


@pytest.mark.dcmtk
def test_fake_scp_speaks_tls(tls_identity: tuple[Path, Path]) -> None:
    key, cert = tls_identity
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakeSCP(Script(), ssl_context=context) as fake:
        secure = dcmtk("+tla", "-ic", "127.0.0.1", str(fake.port))
        plain = dcmtk("-ta", "5", "127.0.0.1", str(fake.port))
        first, second = fake.wait_for(2)
    assert secure.returncode == 0 and first.tls is not None and first.tls[0].startswith("TLSv1.")
    assert first.events[-1] == "release-rp"
    assert plain.returncode == 1 and second.events[0].startswith("tls-failed")


# --- peers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_identity(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away self-signed RSA key and certificate for localhost."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return key, cert


@pytest.mark.dcmtk
def test_dcmtk_echoes_storescp_twice_and_storescp_log_is_kept(storescp) -> None:
    peer = storescp("-v")
    first = dcmtk("-v", "127.0.0.1", str(peer.port))
    second = dcmtk("--repeat", "2", "127.0.0.1", str(peer.port))
    peer.stop()
    assert (first.returncode, second.returncode) == (0, 0)
    assert "I: Received Echo Response (Success)" in first.stderr_lines
    received = [line for line in peer.stderr.splitlines() if "Received Echo Request" in line]
    assert received == [
        "I: Received Echo Request (MsgID 1)",
        "I: Received Echo Request (MsgID 1)",
        "I: Received Echo Request (MsgID 2)",
    ]


@pytest.mark.dcmtk
def test_storescp_gets_tcp_nodelay_and_extra_environment(storescp) -> None:
    peer = storescp("-d", env={"DCMDICTPATH": "/nonexistent/harness.dic"})
    dcmtk("127.0.0.1", str(peer.port))  # the Nagle line is logged per association
    peer.stop()
    log = peer.stderr.splitlines()
    assert "E: DcmDataDictionary: Cannot open file: /nonexistent/harness.dic" in log
    assert "D: DUL: disabling Nagle algorithm as requested at runtime (TCP_NODELAY=1)" in log


@pytest.mark.dcmtk
def test_storescp_retries_when_its_port_is_taken(storescp, monkeypatch: pytest.MonkeyPatch) -> None:
    from support import peers

    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken, free_port()])
        monkeypatch.setattr(peers, "free_port", lambda: next(ports))
        peer = storescp()
        assert peer.port != taken
        assert dcmtk("127.0.0.1", str(peer.port)).returncode == 0


@pytest.mark.dcmtk
def test_dcmtk_echoes_storescp_over_tls(storescp, tls_identity: tuple[Path, Path]) -> None:
    key, cert = tls_identity
    peer = storescp("+tls", str(key), str(cert), "-ic")
    result = dcmtk("-v", "+tla", "+cf", str(cert), "127.0.0.1", str(peer.port))
    assert result.returncode == 0, result.stderr
    assert "I: Received Echo Response (Success)" in result.stderr_lines


@pytest.mark.dcmtk
def test_dcmtk_echoes_pynetdicom(pynetdicom_scp) -> None:
    scp = pynetdicom_scp(ae_title="PYNET", require_called_aet=True)
    refused = dcmtk("127.0.0.1", str(scp.port))
    result = dcmtk("-v", "-aec", "PYNET", "-aet", "ME", "127.0.0.1", str(scp.port))
    assert refused.returncode == 1
    assert "F: Reason: Called AE Title Not Recognized" in refused.stderr_lines
    assert result.returncode == 0 and "I: Received Echo Response (Success)" in result.stderr_lines
    assert scp.echoes == [("ME", 1)]


@pytest.mark.dcmtk
def test_dcmtk_reports_connection_refused(closed_port: int) -> None:
    result = dcmtk("127.0.0.1", str(closed_port))
    assert result.returncode == 1
    assert result.stderr_lines == [
        "F: Association Request Failed: 0006:031c TCP Initialization Error: Connection refused"
    ]


# --- every scenario against DCMTK ------------------------------------------------------


@pytest.mark.dcmtk
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_dcmtk_scenario(scenario: Scenario) -> None:
    """DCMTK 3.6.7 still does what the scenario records (exit code, stderr, wire)."""
    result, association = run_scenario(dcmtk, scenario)
    assert result.returncode == scenario.exit_code, result.stderr
    assert result.stdout == ""
    if scenario.exact:
        assert result.stderr_lines == list(scenario.stderr)
    else:
        assert lines_in_order(scenario.stderr, result.stderr_lines), result.stderr
    events = tuple(association.events) if association else ()
    assert events == scenario.wire


def test_scenarios_cover_the_spec_rows() -> None:
    ids = {s.id for s in SCENARIOS}
    assert len(ids) == len(SCENARIOS)
    for needed in (
        "reject-3-4-9",
        "echo-release-rq",
        "echo-dimse-timeout",
        "echo-pdu-09",
        "echo-wrong-message-id",
        "echo-store-rsp",
        "release-abort",
        "release-stall",
        "no-context-1",
        "associate-stall",
        "max-pdu-0",
        "max-pdu-12",
        "max-pdu-5",
        "max-pdu-101",
        "max-pdu-4096",
        "max-pdu-1000000",
        "status-c000",
    ):
        assert needed in ids
