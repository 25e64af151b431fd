"""dul.pdu against real DCMTK bytes: an A-ASSOCIATE-RQ captured from /usr/bin/echoscu and
an A-ASSOCIATE-AC from /usr/bin/storescp, decoded and re-encoded."""

from __future__ import annotations

import socket
import subprocess

import pytest
from support.peers import DCMTK_ECHOSCU

from dul.pdu import (
    A_ASSOCIATE_AC,
    A_RELEASE_RP,
    AssociateRQ,
    PDUReader,
    PresentationContextAC,
    PresentationContextRQ,
    ReleaseRQ,
    UserInformation,
    decode,
    encode,
)
from dul.uids import DCMTK_TRANSFER_SYNTAXES, VERIFICATION

pytestmark = [pytest.mark.dcmtk, pytest.mark.timeout(60)]

#: UIDs DCMTK added to its -pts list after 3.6.8 (docs/dcmtk-behaviour.md 5.4); 3.6.7 lacks them
ADDED_AFTER_367 = {
    "1.2.840.10008.1.2.1.98",
    "1.2.840.10008.1.2.8.1",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.4.110",
    "1.2.840.10008.1.2.4.111",
    "1.2.840.10008.1.2.4.112",
}


def _read_pdu(sock: socket.socket) -> tuple[int, bytes]:
    reader = PDUReader(1 << 20)
    while (item := reader.next()) is None:
        data = sock.recv(65536)
        assert data, "peer closed before sending a whole PDU"
        reader.feed(data)
    return item


def _capture_echoscu_rq(*args: str) -> bytes:
    """Run DCMTK's echoscu against a listener that reads its A-ASSOCIATE-RQ and hangs up."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(20)
        port = server.getsockname()[1]
        process = subprocess.Popen(
            [DCMTK_ECHOSCU, *args, "127.0.0.1", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            connection, _ = server.accept()
            with connection:
                connection.settimeout(20)
                pdu_type, raw = _read_pdu(connection)
        finally:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert pdu_type == 0x01
    return raw


def test_echoscu_request_decodes_and_re_encodes() -> None:
    raw = _capture_echoscu_rq(
        "-aet", "MY SCU", "-aec", "THEIR-SCP", "-ppc", "2", "-pts", "3", "-pdu", "32768"
    )
    rq = decode(raw)
    transfer = [uid for uid, _ in DCMTK_TRANSFER_SYNTAXES[:3]]
    assert (rq.called_ae, rq.calling_ae) == ("THEIR-SCP", "MY SCU")
    assert rq.protocol_version == 1
    assert rq.application_context == "1.2.840.10008.3.1.1.1"
    assert rq.contexts == [
        PresentationContextRQ(1, VERIFICATION, transfer),
        PresentationContextRQ(3, VERIFICATION, transfer),
    ]
    info = rq.user_info
    assert info.max_pdu == 32768
    assert info.implementation_class_uid.startswith("1.2.276.0.7230010.3.0.3.")
    assert info.implementation_version_name.startswith("OFFIS_DCMTK_")
    assert info == UserInformation(
        32768, info.implementation_class_uid, info.implementation_version_name
    )
    # byte-identical except the reserved byte DCMTK sets to 0xFF in each context item
    assert b"\x20\x00\x00\x5c\x01\x00\xff\x00" in raw
    assert encode(rq) == raw.replace(b"\x00\xff\x00\x30", b"\x00\x00\x00\x30")


def test_dcmtk_367_transfer_syntax_order_is_a_subsequence_of_ours() -> None:
    """echoscu 3.6.7 -pts 38 proposes our 3.7.0 list minus the later insertions."""
    rq = decode(_capture_echoscu_rq("-pts", "38"))
    expected = [uid for uid, _ in DCMTK_TRANSFER_SYNTAXES if uid not in ADDED_AFTER_367]
    assert rq.contexts[0].transfer_syntaxes == expected[:38]


def test_storescp_accept_decodes_and_re_encodes(storescp) -> None:
    peer = storescp()
    rq = AssociateRQ(
        "STORESCP",
        "ECHOSCU",
        [
            PresentationContextRQ(1, VERIFICATION, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]),
            PresentationContextRQ(3, "1.2.3.4.5", ["1.2.840.10008.1.2"]),
        ],
        UserInformation(16384, "2.25.211717524918349529527401668842660094394", "ECHOSCU_0.1.0"),
    )
    with socket.create_connection(("127.0.0.1", peer.port), timeout=20) as sock:
        sock.sendall(encode(rq))
        pdu_type, raw = _read_pdu(sock)
        assert pdu_type == A_ASSOCIATE_AC
        ac = decode(raw)
        assert encode(ac) == raw
        sock.sendall(encode(ReleaseRQ()))
        assert _read_pdu(sock)[0] == A_RELEASE_RP
    assert (ac.called_ae, ac.calling_ae) == ("STORESCP", "ECHOSCU")
    assert ac.contexts[0] == PresentationContextAC(1, 0, "1.2.840.10008.1.2.1")
    assert ac.contexts[1].id == 3 and ac.contexts[1].result == 3  # abstract syntax not supported
    assert ac.user_info.max_pdu == 16384
    assert ac.user_info.implementation_class_uid.startswith("1.2.276.0.7230010.3.0.3.")
    assert ac.user_info.implementation_version_name.startswith("OFFIS_DCMTK_")
