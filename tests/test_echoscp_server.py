"""echoscp over plain TCP: interop with DCMTK, pynetdicom and our echoscu; every option;
timeouts, the association cap, shutdown, and peers that misbehave.

Each test starts its own echoscp subprocess (``EchoSCP``) and stops it at teardown.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from support.peers import DCMTK_ECHOSCU, DCMTK_STORESCU, pynetdicom_echoes, run
from support.scp import RawAssociation, connect, receive_until_closed

from dul import association as dul_events
from dul import dimse, pdu, uids

pytestmark = [pytest.mark.timeout(60)]

IMPLICIT = uids.IMPLICIT_VR_LITTLE_ENDIAN
EXPLICIT_LE = uids.EXPLICIT_VR_LITTLE_ENDIAN
EXPLICIT_BE = uids.EXPLICIT_VR_BIG_ENDIAN
DEFLATED = uids.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def dcmtk_echo(port: int, *args: str, host: str = "127.0.0.1", timeout: float = 30.0):
    """DCMTK's echoscu against ``host:port`` (TCP_NODELAY=1, as docs/design.md D2 assumes)."""
    return run([DCMTK_ECHOSCU, *args, host, str(port)], timeout=timeout,
               env={"TCP_NODELAY": "1"})


def info_lines(text: str) -> list[str]:
    """The ``I:`` lines of a log."""
    return [line for line in text.splitlines() if line.startswith("I: ")]


def json_records(path: Path) -> list[dict]:
    """Every --log-json line, parsed."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_for_records(path: Path, count: int, timeout: float = 10.0) -> list[dict]:
    """Wait until --log-json holds ``count`` lines; return them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = json_records(path)
        if len(records) >= count:
            return records
        time.sleep(0.02)
    raise AssertionError(f"{count} JSON records expected, got {json_records(path)}")


# --------------------------------------------------------------------------- interop


@pytest.mark.dcmtk
def test_dcmtk_echoscu_logs_like_pynetdicom(scp):
    server = scp("-v")
    result = dcmtk_echo(server.port, "-v", "--repeat", "2")
    assert result.returncode == 0, result.stderr
    assert "I: Received Echo Response (Success)" in result.stderr
    assert server.stop() == 0
    assert info_lines(server.stderr) == [
        "I: Accepting Association",
        "I: Received Echo Request (MsgID 1)",
        "I: Received Echo Request (MsgID 2)",
        "I: Association Released",
    ]


def test_pynetdicom_ae_echo(scp):
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    server = scp()
    ae = AE(ae_title="PYNETDICOM")
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    statuses = pynetdicom_echoes(
        lambda: ae.associate("127.0.0.1", server.port, ae_title="ECHOSCP"), 3)
    assert statuses == [0x0000] * 3


def test_our_echoscu(scp):
    server = scp("-v")
    result = run([sys.executable, "-m", "echoscu", "-v", "127.0.0.1", str(server.port)],
                 timeout=30)
    assert result.returncode == 0, result.stderr
    assert "I: Received Echo Response (Success)" in result.stderr
    server.stop()
    assert "I: Received Echo Request (MsgID 1)" in server.stderr


@pytest.mark.dcmtk
def test_debug_dump_shape(scp):
    server = scp("-d")
    result = dcmtk_echo(server.port, "-pts", "3", "-ppc", "2")
    assert result.returncode == 0, result.stderr
    server.stop()
    log = server.stderr.splitlines()
    assert log[:2] == ["D: echoscp v0.1.0", "D: "]
    for line in [
        "D: ======================= INCOMING A-ASSOCIATE-RQ PDU ========================",
        "D: Their Implementation Version Name:   OFFIS_DCMTK_367",
        "D: Calling Application Name:    ECHOSCU",
        "D: Called Application Name:     ANY-SCP",
        "D: Presentation Contexts:",
        "D:   Context ID:        3 (Proposed)",
        "D:     Proposed Transfer Syntaxes:",
        "D:       =Explicit VR Big Endian",
        "D: ======================= OUTGOING A-ASSOCIATE-AC PDU ========================",
        "D: Our Implementation Class UID:      2.25.211717524918349529527401668842660094394",
        "D: Our Implementation Version Name:   ECHOSCP_0.1.0",
        "D: Our Max PDU Receive Size:    16382",
        "D:   Context ID:        3 (Accepted)",
        "D:     Accepted Transfer Syntax: =Implicit VR Little Endian",
        "D: ========================== INCOMING DIMSE MESSAGE ==========================",
        "D: Message Type                  : C-ECHO RQ",
        "D: Message ID                    : 1",
        "D: ============================ END DIMSE MESSAGE =============================",
    ]:
        assert line in log, line
    assert log.index("I: Accepting Association") < log.index("D: Accept Parameters:")
    assert log[-1] == "I: Association Released"


# --------------------------------------------------------------------------- negotiation

_PROPOSALS = ([IMPLICIT, EXPLICIT_LE, DEFLATED, EXPLICIT_BE],
              [EXPLICIT_BE, DEFLATED, EXPLICIT_LE, IMPLICIT],
              [EXPLICIT_LE])


@pytest.mark.parametrize(("option", "expected"), [
    (None, [IMPLICIT, IMPLICIT, EXPLICIT_LE]),
    ("-x=", [EXPLICIT_LE, EXPLICIT_LE, EXPLICIT_LE]),
    ("-xe", [EXPLICIT_LE, EXPLICIT_LE, EXPLICIT_LE]),
    ("-xb", [EXPLICIT_BE, EXPLICIT_BE, EXPLICIT_LE]),
    ("-xi", [IMPLICIT, IMPLICIT, None]),
])
def test_transfer_syntax_preference_acceptor_order_wins(scp, option, expected):
    server = scp(*([option] if option else []))
    for proposal, wanted in zip(_PROPOSALS, expected, strict=True):
        client = RawAssociation(server.port, [(uids.VERIFICATION, proposal)])
        event = client.associate()
        assert isinstance(event, dul_events.AssociationAccepted)
        (context,) = event.ac.contexts
        if wanted is None:
            assert context.result == 4
        else:
            assert (context.result, context.transfer_syntax) == (0, wanted)
            assert client.echo(7) == 0
        client.release()
        client.close()


@pytest.mark.dcmtk
@pytest.mark.parametrize(("option", "accepted"), [
    ("-xb", "=Explicit VR Big Endian"),
    ("-x=", "=Explicit VR Little Endian"),
])
def test_dcmtk_propose_ts_3(scp, option, accepted):
    server = scp("-d", option)
    result = dcmtk_echo(server.port, "-pts", "3")
    assert result.returncode == 0, result.stderr
    server.stop()
    assert f"D:     Accepted Transfer Syntax: {accepted}" in server.stderr


def test_other_abstract_syntaxes_refused_per_context(scp):
    server = scp()
    client = RawAssociation(server.port, [(CT_IMAGE_STORAGE, [IMPLICIT]),
                                          (uids.VERIFICATION, [IMPLICIT])])
    event = client.associate()
    assert [(c.id, c.result) for c in event.ac.contexts] == [(1, 3), (3, 0)]
    assert event.ac.user_info.implementation_class_uid == \
        "2.25.211717524918349529527401668842660094394"
    assert event.ac.user_info.implementation_version_name == "ECHOSCP_0.1.0"
    assert client.echo(1, context_id=3) == 0
    client.release()
    client.close()


@pytest.mark.dcmtk
def test_dcmtk_storescu_gets_no_context_and_server_keeps_serving(scp, tmp_path):
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = CT_IMAGE_STORAGE
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.PatientName = "Echo^Test"
    path = tmp_path / "ct.dcm"
    if int(pydicom.__version__.split(".")[0]) >= 3:
        dataset.save_as(path, enforce_file_format=True)
    else:  # pydicom 2.x (our lower bound) names it differently
        dataset.is_little_endian, dataset.is_implicit_VR = True, False
        dataset.save_as(path, write_like_original=False)

    server = scp("-v")
    stored = run([DCMTK_STORESCU, "-v", "127.0.0.1", str(server.port), str(path)], timeout=30,
                 env={"TCP_NODELAY": "1"})
    assert stored.returncode != 0
    assert "No presentation context" in stored.stderr or "No Acceptable" in stored.stderr
    after = dcmtk_echo(server.port)
    assert after.returncode == 0, after.stderr
    server.stop()
    assert info_lines(server.stderr)[0] == "I: Accepting Association"
    assert info_lines(server.stderr)[-1] == "I: Association Released"


@pytest.mark.parametrize(("command_field", "shown"), [(0x0001, "C-STORE RQ"),
                                                     (0x0020, "C-FIND RQ")])
def test_other_dimse_message_aborts(scp, command_field, shown):
    server = scp("-d")
    client = RawAssociation(server.port)
    client.associate()
    command = bytearray(dimse.echo_rq(5))
    value = command.index(b"\x00\x00\x00\x01\x02\x00\x00\x00") + 8  # (0000,0100), length 2
    command[value:value + 2] = command_field.to_bytes(2, "little")
    assert dimse.decode_command(bytes(command))[dimse.COMMAND_FIELD] == command_field
    client.send(client.machine.send_message(1, bytes(command)))
    event = client.next_event()
    assert isinstance(event, dul_events.Aborted)
    client.close()
    second = RawAssociation(server.port)
    assert second.associate().__class__ is dul_events.AssociationAccepted
    second.close()
    server.stop()
    assert info_lines(server.stderr)[:2] == ["I: Accepting Association", "I: Association Aborted"]
    assert f"D: Message Type                  : {shown}" in server.stderr


def test_echo_on_rejected_context_aborts(scp):
    server = scp("-v")
    client = RawAssociation(server.port, [(CT_IMAGE_STORAGE, [IMPLICIT]),
                                          (uids.VERIFICATION, [IMPLICIT])])
    client.associate()
    client.send(client.machine.send_message(1, dimse.echo_rq(1)))
    assert isinstance(client.next_event(), dul_events.Aborted)
    client.close()
    server.stop()
    assert "I: Received DIMSE message with invalid or rejected context ID: 1" in server.stderr


# --------------------------------------------------------------------------- framing


def test_fragmented_command_and_split_writes(scp):
    server = scp()
    client = RawAssociation(server.port)
    client.associate()
    command = dimse.echo_rq(42)
    pdvs = [pdu.PDV(1, True, False, command[:10]), pdu.PDV(1, True, False, command[10:30])]
    first = pdu.encode(pdu.PDataTF(pdvs))
    second = pdu.encode(pdu.PDataTF([pdu.PDV(1, True, True, command[30:])]))
    for byte in first + second:  # one byte per write, the worst a peer can do
        client.sock.sendall(bytes((byte,)))
    event = client.next_event()
    assert dimse.decode_command(event.command)[dimse.MESSAGE_ID_RESPONDED] == 42
    # two whole messages in one write
    client.send(client.machine.send_message(1, dimse.echo_rq(43))
                + client.machine.send_message(1, dimse.echo_rq(44)))
    ids = [dimse.decode_command(client.next_event().command)[dimse.MESSAGE_ID_RESPONDED]
           for _ in range(2)]
    assert ids == [43, 44]
    client.release()
    client.close()


def test_small_peer_max_pdu_fragments_our_response(scp):
    server = scp()
    client = RawAssociation(server.port, max_pdu=40)
    client.associate()
    client.send(client.machine.send_message(1, dimse.echo_rq(3)))
    framer = pdu.PDUReader(1 << 16)
    sizes, event = [], None
    while event is None:
        data = client.sock.recv(65536)
        assert data
        framer.feed(data)
        while (whole := framer.next()) is not None:
            sizes.append(len(whole[1]))
        client.machine.receive_data(data)
        event = client.machine.next_event()
    assert len(sizes) > 1 and max(sizes) <= 40, sizes
    assert dimse.decode_command(event.command)[dimse.STATUS] == 0
    client.release()
    client.close()


def test_repeated_requests_get_the_same_answer_changed_ones_a_fresh_one(scp):
    """echoscp keeps its A-ASSOCIATE-AC per request PDU (issue #17): identical requests get
    identical answers, anything that changes the request is negotiated afresh, and the
    peer's max PDU still governs each association's responses."""
    server = scp("-d")

    def answer(**kwargs) -> bytes:
        client = RawAssociation(server.port, **kwargs)
        event = client.associate()
        assert isinstance(event, dul_events.AssociationAccepted)
        assert client.echo(1, context_id=event.ac.contexts[-1].id) == 0
        client.release()
        client.close()
        return event.raw

    first = answer()
    assert answer() == first
    renamed = answer(calling_ae="OTHERSCU")
    assert renamed != first and pdu.decode(renamed).calling_ae == "OTHERSCU"
    explicit = pdu.decode(answer(contexts=[(uids.VERIFICATION, [EXPLICIT_LE])]))
    assert [c.transfer_syntax for c in explicit.contexts] == [EXPLICIT_LE]
    assert answer() == first
    # another max PDU is another request with the same answer; each association's
    # responses still fit its own peer's limit (the echo is fragmented for this one)
    assert answer(max_pdu=40) == answer(max_pdu=40) == first
    server.stop()
    assert server.stderr.count("I: Accepting Association") == 7
    assert server.stderr.count("I: Received Echo Request (MsgID 1)") == 7


def test_answers_are_bounded_and_keyed_by_the_request_bytes():
    from echoscp import negotiation
    from echoscp.options import ServerOptions

    answers = negotiation.Answers(ServerOptions(port=0), size=2)
    requests = [pdu.AssociateRQ("ANY-SCP", f"SCU{n}",
                                [pdu.PresentationContextRQ(1, uids.VERIFICATION, [IMPLICIT])],
                                pdu.UserInformation(16384, "1.2.3", "X"))
                for n in range(4)]
    got = [answers.get(pdu.encode(rq), rq) for rq in requests]
    assert len(answers) == 2
    assert [ac.calling_ae for ac, _, _ in got] == ["SCU0", "SCU1", "SCU2", "SCU3"]
    assert all(data == pdu.encode(ac) and ids == frozenset({1}) for ac, data, ids in got)
    again = answers.get(pdu.encode(requests[3]), requests[3])
    assert again is got[3]


def test_a_peer_that_reads_late_gets_every_response_in_order(scp):
    """Responses the socket cannot take are buffered (reading pauses meanwhile) and all
    arrive, in order, once the peer reads; other associations are served meanwhile."""
    from dul import echo_rq_pdu

    server = scp()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.settimeout(10.0)
    sock.connect(("127.0.0.1", server.port))
    client = RawAssociation(server.port, sock=sock)
    client.associate()
    count = 60000  # ~4.4 MB of responses: more than the kernel buffers on both sides take
    sender = threading.Thread(
        target=client.send, args=(b"".join(echo_rq_pdu(1, n) for n in range(count)),))
    sender.start()  # it blocks until we read: the server stops reading while it cannot write
    time.sleep(0.5)
    assert dcmtk_echo(server.port).returncode == 0
    ids = []
    while len(ids) < count:
        event = client.next_event()
        assert isinstance(event, dul_events.MessageReceived), event
        ids.append(dimse.decode_command(event.command)[dimse.MESSAGE_ID_RESPONDED])
    assert ids == list(range(count))
    sender.join()
    client.release()
    client.close()


def test_a_reset_association_is_logged_and_the_server_goes_on(scp):
    server = scp("-v")
    client = RawAssociation(server.port)
    client.associate()
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
    client.close()  # RST instead of FIN
    assert dcmtk_echo(server.port).returncode == 0
    server.stop()
    assert info_lines(server.stderr)[:2] == ["I: Accepting Association",
                                             "I: Association Aborted (A-P-ABORT)"]


def test_peer_max_pdu_too_small_for_any_response(scp):
    server = scp()
    client = RawAssociation(server.port, max_pdu=10)
    client.associate()
    client.send(client.machine.send_message(1, dimse.echo_rq(1)))
    assert isinstance(client.next_event(), dul_events.Aborted)
    client.close()
    server.stop()
    assert "E: Aborting Association with 127.0.0.1: peer's maximum PDU length 10" in server.stderr


@pytest.mark.dcmtk
def test_max_pdu_option_announced_and_respected(scp):
    server = scp("-pdu", "40")
    client = RawAssociation(server.port)
    assert client.associate().ac.user_info.max_pdu == 40
    client.close()
    result = dcmtk_echo(server.port, "-v")
    assert result.returncode == 0, result.stderr
    server2 = scp("-pdu", "0")
    client = RawAssociation(server2.port)
    assert client.associate().ac.user_info.max_pdu == 0
    assert client.echo() == 0
    client.close()


@pytest.mark.parametrize("garbage", [
    b"\x09\x00\x00\x00\x00\x04\x00\x00\x00\x00",    # unknown PDU type
    b"\x04\x00\x7f\xff\xff\xff",                    # P-DATA-TF claiming 2 GiB
    b"\x01\x00\x00\x00\x00\x02\xff\xff",            # truncated A-ASSOCIATE-RQ body
])
def test_garbage_is_aborted_and_server_survives(scp, garbage):
    server = scp()
    sock = connect(server.port)
    sock.sendall(garbage)
    answer = receive_until_closed(sock)
    sock.close()
    assert answer[:1] == b"\x07"  # A-ABORT
    assert answer[8] == 2  # source: service provider
    client = RawAssociation(server.port)
    client.associate()
    assert client.echo() == 0
    client.release()
    client.close()
    server.stop()
    assert server.returncode == 0
    assert "Traceback" not in server.stderr
    assert "E: Protocol error from 127.0.0.1" in server.stderr


def test_lying_length_after_association_never_allocates(scp):
    server = scp()
    client = RawAssociation(server.port)
    client.associate()
    client.send(b"\x04\x00\xff\xff\xff\xff")
    assert isinstance(client.next_event(), dul_events.Aborted)
    client.close()


# --------------------------------------------------------------------------- binding


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not _ipv6_available(), reason="no IPv6 loopback here")


def _echo_from(host: str, port: int) -> int:
    client = RawAssociation(port, host=host)
    client.associate()
    status = client.echo()
    client.release()
    client.close()
    return status


@needs_ipv6
@pytest.mark.parametrize("bind", [None, "::"])
def test_default_and_dual_stack_bind_serve_ipv4_and_ipv6(scp, bind):
    server = scp(*(["-ba", bind] if bind else []))
    assert _echo_from("127.0.0.1", server.port) == 0
    assert _echo_from("::1", server.port) == 0


@needs_ipv6
def test_bind_address_restricts_family(scp):
    server = scp("-ba", "127.0.0.1")
    assert _echo_from("127.0.0.1", server.port) == 0
    with pytest.raises(OSError):
        socket.create_connection(("::1", server.port), timeout=5).close()
    server6 = scp("-ba", "::1")
    assert _echo_from("::1", server6.port) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server6.port), timeout=5).close()


def test_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run([sys.executable, "-m", "echoscp", "-ba", "0.0.0.0", str(port)], timeout=30)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"E: Cannot listen on 0.0.0.0:{port}: Address already in use"]


def test_second_echoscp_on_the_same_port_fails(scp):
    first = scp("-ba", "127.0.0.1")
    second = run([sys.executable, "-m", "echoscp", "-ba", "127.0.0.1", str(first.port)],
                 timeout=30)
    assert second.returncode == 1
    assert second.stderr.splitlines() == [
        f"E: Cannot listen on 127.0.0.1:{first.port}: Address already in use"]
    assert _echo_from("127.0.0.1", first.port) == 0  # the first one still has the port


@pytest.mark.parametrize(("os_name", "expected"), [
    ("posix", [("SO_REUSEADDR", 1)]),
    ("nt", [("SO_EXCLUSIVEADDRUSE", 1)]),  # never SO_REUSEADDR: it would share the port
])
def test_listening_socket_options(monkeypatch, os_name, expected):
    from echoscp import server

    class Recorder:
        def __init__(self):
            self.options = []

        def setsockopt(self, level, option, value):
            assert level == socket.SOL_SOCKET
            self.options.append((names[option], value))

    monkeypatch.setattr(socket, "SO_EXCLUSIVEADDRUSE", -4, raising=False)
    names = {socket.SO_REUSEADDR: "SO_REUSEADDR", socket.SO_EXCLUSIVEADDRUSE: "SO_EXCLUSIVEADDRUSE"}
    monkeypatch.setattr(server.os, "name", os_name)
    recorder = Recorder()
    server._own_port(recorder)
    assert recorder.options == expected


def test_windows_without_exclusiveaddruse_sets_nothing(monkeypatch):
    from echoscp import server

    monkeypatch.delattr(socket, "SO_EXCLUSIVEADDRUSE", raising=False)
    monkeypatch.setattr(server.os, "name", "nt")

    class Refuser:
        def setsockopt(self, *args):
            raise AssertionError(f"setsockopt{args}")

    server._own_port(Refuser())


@pytest.mark.skipif(sys.platform == "win32", reason="SO_REUSEADDR is for POSIX only")
def test_posix_listener_has_reuseaddr():
    from echoscp import server

    (sock,) = server.listening_sockets("127.0.0.1", 0)
    with sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0


# --------------------------------------------------------------------------- operators' options


@pytest.mark.dcmtk
def test_status_option(scp):
    server = scp("--status", "0x0122")
    result = dcmtk_echo(server.port, "-v")
    assert result.returncode == 0
    assert "I: Received Echo Response (Unknown Status: 0x122)" in result.stderr
    client = RawAssociation(server.port)
    client.associate()
    assert client.echo() == 0x0122
    client.close()


def test_delay_does_not_block_other_associations(scp):
    server = scp("--delay", "3")
    slow = RawAssociation(server.port)
    slow.associate()
    slow.send(slow.machine.send_message(1, dimse.echo_rq(1)))
    # while the first response is held back, a second association is served
    other = RawAssociation(server.port)
    assert isinstance(other.associate(), dul_events.AssociationAccepted)
    other.send(other.machine.release())
    assert isinstance(other.next_event(), dul_events.ReleaseConfirmed)
    other.close()
    readable, _, _ = select.select([slow.sock], [], [], 0)
    assert readable == [], "the delayed response came before the other association finished"
    event = slow.next_event()
    assert dimse.decode_command(event.command)[dimse.STATUS] == 0
    slow.release()
    slow.close()


def test_release_waits_for_delayed_responses(scp):
    server = scp("--delay", "0.3")
    client = RawAssociation(server.port)
    client.associate()
    client.send(client.machine.send_message(1, dimse.echo_rq(1))
                + client.machine.send_message(1, dimse.echo_rq(2)))
    client.send(pdu.encode(pdu.ReleaseRQ()))  # before any response came
    responded = [dimse.decode_command(client.next_event().command)[dimse.MESSAGE_ID_RESPONDED]
                 for _ in range(2)]
    assert responded == [1, 2]
    client.machine.release()  # our side's state machine: now waiting for the RP
    assert isinstance(client.next_event(), dul_events.ReleaseConfirmed)
    client.close()


@pytest.mark.dcmtk
@pytest.mark.parametrize(("reject", "reason_line"), [
    (("1", "1", "3"), "F: Reason: Calling AE Title Not Recognized"),
    (("2", "3", "1"), "F: Reason: Temporary Congestion"),
])
def test_reject_option(scp, tmp_path, reject, reason_line):
    log = tmp_path / "assoc.jsonl"
    server = scp("-v", "--reject", *reject, "--log-json", str(log))
    result = dcmtk_echo(server.port)
    assert result.returncode == 1
    assert "F: Association Rejected:" in result.stderr
    assert reason_line in result.stderr
    (record,) = wait_for_records(log, 1)
    assert record["ended"] == "rejected"
    server.stop()
    assert info_lines(server.stderr) == ["I: Rejecting Association"]


@pytest.mark.dcmtk
def test_require_called_aet(scp):
    server = scp("-aet", "MYSCP", "--require-called-aet")
    assert dcmtk_echo(server.port, "-aec", "MYSCP").returncode == 0
    wrong = dcmtk_echo(server.port, "-aec", "OTHER")
    assert wrong.returncode == 1
    assert "F: Result: Rejected Permanent, Source: Service User" in wrong.stderr
    assert "F: Reason: Called AE Title Not Recognized" in wrong.stderr


@pytest.mark.dcmtk
def test_require_calling_aet(scp):
    server = scp("--require-calling-aet", "GOOD", "--require-calling-aet", "ALSO")
    assert dcmtk_echo(server.port, "-aet", "GOOD").returncode == 0
    assert dcmtk_echo(server.port, "-aet", "ALSO").returncode == 0
    wrong = dcmtk_echo(server.port, "-aet", "BAD")
    assert wrong.returncode == 1
    assert "F: Reason: Calling AE Title Not Recognized" in wrong.stderr


@pytest.mark.dcmtk
def test_log_json_records(scp, tmp_path):
    log = tmp_path / "assoc.jsonl"
    server = scp("--log-json", str(log), "-ta", "1")
    assert dcmtk_echo(server.port, "--repeat", "3").returncode == 0
    assert dcmtk_echo(server.port, "--abort").returncode == 0
    silent = connect(server.port)
    records = wait_for_records(log, 3)
    silent.close()
    released, peer_aborted, timed_out = records
    assert released["ended"] == "released"
    assert released["echoes"] == 3
    assert released["calling_ae"] == "ECHOSCU"
    assert released["called_ae"] == "ANY-SCP"
    assert released["peer"] == "127.0.0.1"
    assert isinstance(released["peer_port"], int)
    assert released["tls_version"] is None and released["client_subject"] is None
    assert released["time"].endswith("Z")
    assert peer_aborted["ended"] == "peer-aborted"
    assert peer_aborted["echoes"] == 1
    assert timed_out["ended"] == "timeout"
    assert timed_out["calling_ae"] is None
    # a probe that connects and leaves leaves no record
    connect(server.port).close()
    assert dcmtk_echo(server.port).returncode == 0
    assert [r["ended"] for r in wait_for_records(log, 4)] == [
        "released", "peer-aborted", "timeout", "released"]


# --------------------------------------------------------------------------- limits and timeouts


@pytest.mark.dcmtk
def test_association_cap(scp, tmp_path):
    log = tmp_path / "assoc.jsonl"
    server = scp("--max-associations", "2", "--log-json", str(log))
    held = [RawAssociation(server.port) for _ in range(2)]
    for client in held:
        assert isinstance(client.associate(), dul_events.AssociationAccepted)
    third = dcmtk_echo(server.port, "-v")
    assert third.returncode == 1
    assert "F: Association Rejected:" in third.stderr
    assert ("F: Result: Rejected Transient, Source: Service Provider (Presentation Related)"
            in third.stderr)
    assert "F: Reason: Local Limit Exceeded" in third.stderr
    held[0].release()
    held[0].close()
    wait_for_records(log, 2)  # the rejection and the release are accounted for
    assert dcmtk_echo(server.port).returncode == 0
    held[1].release()
    held[1].close()


@pytest.mark.dcmtk
def test_artim_closes_silent_connection_without_blocking_others(scp):
    server = scp("-ta", "1")
    silent = connect(server.port)
    assert dcmtk_echo(server.port).returncode == 0  # served while the silent one waits
    assert receive_until_closed(silent) == b""  # closed by the server, nothing sent
    silent.close()
    server.stop()
    assert "E: ACSE timeout reached while waiting for an A-ASSOCIATE-RQ from 127.0.0.1" \
        in server.stderr


def test_artim_after_release_runs_from_the_release(scp):
    """After our A-RELEASE-RP the peer has -ta seconds to close, counted from the release
    (not from the connect, whose timer is still pending then)."""
    server = scp("-ta", "1")
    client = RawAssociation(server.port)
    client.associate()
    time.sleep(0.6)
    client.release()
    released = time.monotonic()
    assert receive_until_closed(client.sock) == b""
    waited = time.monotonic() - released
    assert 0.9 <= waited < 3.0, waited
    client.close()


def test_idle_timeout_aborts(scp):
    server = scp("-tn", "1", "-v")
    client = RawAssociation(server.port)
    client.associate()
    assert client.echo() == 0
    event = client.next_event()  # nothing sent: the server gives up after -tn
    assert isinstance(event, dul_events.Aborted)
    client.close()
    server.stop()
    assert "E: Network timeout reached\nI: Aborting Association" in server.stderr


def test_dimse_timeout_for_a_started_pdu(scp):
    server = scp("-td", "1", "-tn", "30")
    client = RawAssociation(server.port)
    client.associate()
    client.send(b"\x04\x00\x00\x00\x00\x50")  # a P-DATA-TF header, then nothing
    assert isinstance(client.next_event(), dul_events.Aborted)
    client.close()
    server.stop()
    assert "E: DIMSE timeout reached while waiting for the rest of a message" in server.stderr


# --------------------------------------------------------------------------- shutdown and logging


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_aborts_open_association_and_exits_0(scp, signum):
    server = scp()
    client = RawAssociation(server.port)
    client.associate()
    assert client.echo() == 0
    assert server.signal(signum) == 0
    assert isinstance(client.next_event(), dul_events.Aborted)
    client.close()
    assert "Traceback" not in server.stderr


SITECUSTOMIZE_WITHOUT_SIGNAL_HANDLERS = """
import asyncio.unix_events
import os


def add_signal_handler(self, sig, callback, *args):
    with open(os.environ["ECHOSCP_TEST_MARKER"], "a") as marker:
        marker.write(f"{sig}\\n")
    raise {exception}("add_signal_handler refused by the test")


asyncio.unix_events._UnixSelectorEventLoop.add_signal_handler = add_signal_handler
"""


@pytest.mark.skipif(sys.platform == "win32", reason="patches the Unix event loop")
@pytest.mark.parametrize(("signum", "exception"), [
    (signal.SIGTERM, "NotImplementedError"),  # as on Windows
    (signal.SIGINT, "NotImplementedError"),
    (signal.SIGTERM, "RuntimeError"),         # as off the main thread
])
def test_signals_stop_cleanly_without_add_signal_handler(scp, tmp_path, signum, exception):
    import os

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        SITECUSTOMIZE_WITHOUT_SIGNAL_HANDLERS.replace("{exception}", exception))
    marker = tmp_path / "add_signal_handler-called"
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    server = scp("-v", env={"PYTHONPATH": path, "ECHOSCP_TEST_MARKER": str(marker)})
    assert marker.exists()  # the fallback, not the loop's handlers, is what runs
    client = RawAssociation(server.port)
    client.associate()
    assert client.echo() == 0
    assert server.signal(signum) == 0  # bounded by STOP_TIMEOUT; SIGKILL's -9 fails it
    assert isinstance(client.next_event(), dul_events.Aborted)
    client.close()
    assert "Traceback" not in server.stderr
    assert "I: Aborting Association" in server.stderr


def test_signal_handlers_off_the_main_thread_do_not_break_serving():
    """Off the main thread neither add_signal_handler nor signal.signal work: serve
    anyway, leave the process's handlers alone."""
    import asyncio
    import threading

    from echoscp import server

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    outcome = []

    async def install_and_stop():
        stop = asyncio.Event()
        restore = server._stop_on_signals(asyncio.get_running_loop(), stop)
        restore()
        outcome.append("ok")

    thread = threading.Thread(target=asyncio.run, args=(install_and_stop(),))
    thread.start()
    thread.join(10)
    assert outcome == ["ok"]
    assert {signum: signal.getsignal(signum) for signum in before} == before


@pytest.mark.dcmtk
def test_quiet_and_default_levels(scp):
    quiet = scp("-q")
    default = scp()
    for server in (quiet, default):
        assert dcmtk_echo(server.port).returncode == 0
        sock = connect(server.port)
        sock.sendall(b"\x09\x00\x00\x00\x00\x00")
        receive_until_closed(sock)
        sock.close()
    quiet.stop()
    default.stop()
    assert quiet.stderr == ""
    assert default.stderr.startswith("E: Protocol error from 127.0.0.1")
    assert "I: " not in default.stderr


@pytest.mark.dcmtk
def test_log_level_debug(scp):
    server = scp("-ll", "debug")
    assert dcmtk_echo(server.port).returncode == 0
    server.stop()
    assert "D: Request Parameters:" in server.stderr


def test_thousand_concurrent_associations_then_the_cap(scp):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1200
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"open-files hard limit {hard} < {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    server = scp()  # default --max-associations 1000
    clients = []
    try:
        for _ in range(1000):
            client = RawAssociation(server.port)
            assert isinstance(client.associate(), dul_events.AssociationAccepted)
            clients.append(client)
        extra = RawAssociation(server.port)
        rejected = extra.associate()
        extra.close()
        assert isinstance(rejected, dul_events.AssociationRejected)
        assert (rejected.rj.result, rejected.rj.source, rejected.rj.reason) == (2, 3, 2)
        for number, client in enumerate(clients):  # every request out before any answer
            client.send(client.machine.send_message(1, dimse.echo_rq(number + 1)))
        for number, client in enumerate(clients):
            command = dimse.decode_command(client.next_event().command)
            assert (command[dimse.MESSAGE_ID_RESPONDED], command[dimse.STATUS]) == \
                (number + 1, 0)
    finally:
        for client in clients:
            client.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize(("nodelay", "expected"), [(True, 1), (False, 0)])
def test_tcp_nodelay_on_accepted_sockets(nodelay, expected):
    """In-process on a real socket: TCP_NODELAY is on unless TCP_NODELAY=0 asked for Nagle."""
    import asyncio

    from echoscp.connection import Connection
    from echoscp.options import ServerOptions
    from echoscp.server import Server, listening_sockets

    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        server = Server(ServerOptions(port=0, nodelay=nodelay), loop, None, None)
        (listener,) = listening_sockets("127.0.0.1", 0)
        port = listener.getsockname()[1]
        serving = await loop.create_server(lambda: Connection(server), sock=listener)
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        for _ in range(1000):
            if server.connections:
                break
            await asyncio.sleep(0.01)
        (connection,) = server.connections
        sock = connection.transport.get_extra_info("socket")
        value = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        serving.close()
        await server.shutdown()
        return value

    assert asyncio.run(scenario()) == expected
