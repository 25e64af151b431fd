"""dul.association over real sockets: our requestor against DCMTK storescp and a
pynetdicom SCP; our acceptor serving DCMTK echoscu and a pynetdicom SCU."""

from __future__ import annotations

import socket
import subprocess
import threading

import pytest
from support.peers import DCMTK_ECHOSCU, pynetdicom_echo

from dul import dimse
from dul.association import (
    Aborted,
    Acceptor,
    AssociationAccepted,
    AssociationRequested,
    ConnectionClosed,
    EchoAnswered,
    EchoRequested,
    MessageReceived,
    ProtocolViolation,
    ReleaseConfirmed,
    ReleaseRequested,
    Requestor,
)
from dul.pdu import (
    AssociateAC,
    AssociateRQ,
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
)
from dul.uids import IMPLICIT_VR_LITTLE_ENDIAN, VERIFICATION

pytestmark = pytest.mark.timeout(60)

OUR_UID = "2.25.211717524918349529527401668842660094394"
WAIT = 20.0


def _request(called: str = "ANY-SCP") -> AssociateRQ:
    return AssociateRQ(
        called,
        "DULTEST",
        [PresentationContextRQ(1, VERIFICATION, [IMPLICIT_VR_LITTLE_ENDIAN])],
        UserInformation(16384, OUR_UID, "ECHOSCU_0.1.0"),
    )


def _next(machine, sock: socket.socket):
    """Block (bounded by the socket timeout) until the machine has an event."""
    while (event := machine.next_event()) is None:
        machine.receive_data(sock.recv(65536))
    return event


def _echo_session(port: int, echoes: int) -> list:
    """Associate, echo ``echoes`` times, release; return every event the requestor saw."""
    seen = []
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        machine = Requestor(_request(), 16384)
        sock.sendall(machine.start())
        seen.append(_next(machine, sock))
        assert isinstance(seen[-1], AssociationAccepted), seen
        for message_id in range(1, echoes + 1):
            sock.sendall(machine.send_message(1, dimse.echo_rq(message_id)))
            seen.append(_next(machine, sock))
            response = dimse.decode_command(seen[-1].command)
            assert response[dimse.COMMAND_FIELD] == dimse.C_ECHO_RSP
            assert response[dimse.MESSAGE_ID_RESPONDED] == message_id
            assert response[dimse.STATUS] == 0
        sock.sendall(machine.release())
        seen.append(_next(machine, sock))
        assert machine.state == "Sta1"
    return seen


@pytest.mark.dcmtk
def test_requestor_against_dcmtk_storescp(storescp) -> None:
    peer = storescp()
    seen = _echo_session(peer.port, 3)
    assert seen[0].ac.user_info.implementation_version_name.startswith("OFFIS_DCMTK_")
    assert [type(e) for e in seen[1:]] == [EchoAnswered] * 3 + [ReleaseConfirmed]


def test_requestor_against_pynetdicom_scp(pynetdicom_scp) -> None:
    scp = pynetdicom_scp(max_pdu=16382)
    seen = _echo_session(scp.port, 2)
    assert seen[0].ac.user_info.max_pdu == 16382
    assert scp.echoes == [("DULTEST", 1), ("DULTEST", 2)]


def _answer(rq: AssociateRQ) -> AssociateAC:
    contexts = []
    for ctx in rq.contexts:
        if ctx.abstract_syntax != VERIFICATION:
            contexts.append(PresentationContextAC(ctx.id, 3, None))
        elif IMPLICIT_VR_LITTLE_ENDIAN not in ctx.transfer_syntaxes:
            contexts.append(PresentationContextAC(ctx.id, 4, None))
        else:
            contexts.append(PresentationContextAC(ctx.id, 0, IMPLICIT_VR_LITTLE_ENDIAN))
    info = UserInformation(16384, OUR_UID, "ECHOSCP_0.1.0")
    return AssociateAC(rq.called_ae, rq.calling_ae, contexts, info)


class _EchoServer:
    """One-association Verification SCP built on Acceptor, in a thread; records events."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT)
        self.port = self.listener.getsockname()[1]
        self.events: list = []
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
            with connection:
                connection.settimeout(WAIT)
                self._converse(connection)
        except BaseException as failure:  # reported by join()
            self.failure = failure

    def _converse(self, sock: socket.socket) -> None:
        machine = Acceptor(16384)
        while True:
            event = _next(machine, sock)
            self.events.append(event)
            if isinstance(event, AssociationRequested):
                sock.sendall(machine.accept(_answer(event.rq)))
            elif isinstance(event, MessageReceived):
                command = dimse.decode_command(event.command)
                response = dimse.echo_rsp(command[dimse.MESSAGE_ID], 0)
                sock.sendall(machine.send_message(event.context_id, response))
            elif isinstance(event, ReleaseRequested):
                sock.sendall(machine.release_response())
            else:
                return

    def join(self) -> list:
        self.thread.join(WAIT + 5)
        self.listener.close()
        assert not self.thread.is_alive(), "echo server hung"
        if self.failure is not None:
            raise self.failure
        return self.events


def _run_echoscu(port: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DCMTK_ECHOSCU, "-v", *args, "127.0.0.1", str(port)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


@pytest.mark.dcmtk
def test_acceptor_serves_dcmtk_echoscu() -> None:
    server = _EchoServer()
    result = _run_echoscu(server.port, "--repeat", "3", "-ppc", "2", "-pts", "2")
    events = server.join()
    assert result.returncode == 0, result.stderr + result.stdout
    output = result.stdout + result.stderr
    assert output.count("I: Received Echo Response (Success)") == 3
    assert "Association Accepted (Max Send PDV: 16372)" in output
    assert [type(e) for e in events] == [
        AssociationRequested,
        EchoRequested,
        EchoRequested,
        EchoRequested,
        ReleaseRequested,
        ConnectionClosed,
    ]
    assert [dimse.decode_command(e.command)[dimse.MESSAGE_ID] for e in events[1:4]] == [1, 2, 3]


@pytest.mark.dcmtk
def test_acceptor_sees_dcmtk_abort() -> None:
    server = _EchoServer()
    result = _run_echoscu(server.port, "--abort")
    events = server.join()
    assert result.returncode == 0, result.stderr + result.stdout
    assert events[-1] == Aborted(0, 0)
    assert not any(isinstance(e, ProtocolViolation) for e in events)


def test_acceptor_serves_pynetdicom_scu() -> None:
    from pynetdicom import AE

    server = _EchoServer()
    ae = AE(ae_title="PNDSCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = WAIT
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", server.port, ae_title="OURSCP")
    try:
        assert assoc.is_established
        assert pynetdicom_echo(assoc, msg_id=9) == 0
    finally:
        assoc.release()
        ae.shutdown()
    events = server.join()
    assert events[0].rq.calling_ae == "PNDSCU" and events[0].rq.called_ae == "OURSCP"
    assert dimse.decode_command(events[1].command)[dimse.MESSAGE_ID] == 9
    assert [type(e) for e in events[-2:]] == [ReleaseRequested, ConnectionClosed]
