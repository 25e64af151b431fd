"""Helpers of the TLS tests: a recording logger, a DICOM echo over a TLS socket (both
roles, PDUs from our dul codec), and a one-shot TLS acceptor thread built on
``certs.context.server_context``."""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field

import pytest

from certs import session
from certs.options import TLSOptions
from dul import dimse, echo_rq_pdu, echo_rsp_pdu, pdu
from dul.uids import IMPLICIT_VR_LITTLE_ENDIAN, VERIFICATION

TIMEOUT = 15.0
IMPLEMENTATION_UID = "2.25.211717524918349529527401668842660094394"


class RecordingLog:
    """The TLS layer's logger interface, keeping ``(letter, text)`` pairs."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def fatal(self, msg: str) -> None:
        self.lines.append(("F", msg))

    def error(self, msg: str) -> None:
        self.lines.append(("E", msg))

    def warn(self, msg: str) -> None:
        self.lines.append(("W", msg))

    def info(self, msg: str) -> None:
        self.lines.append(("I", msg))

    def debug(self, msg: str) -> None:
        self.lines.append(("D", msg))

    def text(self) -> list[str]:
        """The lines as DCMTK prints them (``X: text``)."""
        return [f"{letter}: {text}" for letter, text in self.lines]


def _receive_exactly(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("peer closed the connection")
        data += chunk
    return bytes(data)


def read_pdu(sock: socket.socket) -> pdu.PDU:
    """One whole PDU from the socket, decoded."""
    header = _receive_exactly(sock, 6)
    return pdu.decode(header + _receive_exactly(sock, int.from_bytes(header[2:6], "big")))


def connect(context: ssl.SSLContext, port: int, server_hostname: str | None = None,
            timeout: float = TIMEOUT) -> ssl.SSLSocket:
    """TCP connect to 127.0.0.1:port and complete the TLS handshake."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        return context.wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise


def echo_as_requestor(sock: ssl.SSLSocket, called_ae: str = "ANY-SCP") -> int:
    """Associate, send one C-ECHO, release; returns the C-ECHO status."""
    rq = pdu.AssociateRQ(
        called_ae, "ECHOSCU",
        [pdu.PresentationContextRQ(1, VERIFICATION, [IMPLICIT_VR_LITTLE_ENDIAN])],
        pdu.UserInformation(max_pdu=16384, implementation_class_uid=IMPLEMENTATION_UID,
                            implementation_version_name="ECHOSCU_0.1.0"))
    sock.sendall(pdu.encode(rq))
    answer = read_pdu(sock)
    if not isinstance(answer, pdu.AssociateAC):
        raise AssertionError(f"association not accepted: {answer!r}")
    sock.sendall(echo_rq_pdu(1, 1))
    response = read_pdu(sock)
    command = dimse.decode_command(b"".join(pdv.data for pdv in response.pdvs))
    sock.sendall(pdu.encode(pdu.ReleaseRQ()))
    if not isinstance(read_pdu(sock), pdu.ReleaseRP):
        raise AssertionError("no A-RELEASE-RP")
    return command[dimse.STATUS]


def echo_as_acceptor(sock: ssl.SSLSocket) -> None:
    """Accept Verification, answer every C-ECHO with Success, answer the release."""
    rq = read_pdu(sock)
    contexts = [pdu.PresentationContextAC(c.id, 0 if c.abstract_syntax == VERIFICATION else 3,
                                          IMPLICIT_VR_LITTLE_ENDIAN) for c in rq.contexts]
    sock.sendall(pdu.encode(pdu.AssociateAC(
        rq.called_ae, rq.calling_ae, contexts,
        pdu.UserInformation(max_pdu=16384, implementation_class_uid=IMPLEMENTATION_UID,
                            implementation_version_name="ECHOSCP_0.1.0"))))
    while True:
        message = read_pdu(sock)
        if isinstance(message, pdu.ReleaseRQ):
            sock.sendall(pdu.encode(pdu.ReleaseRP()))
            return
        pdv = message.pdvs[0]
        command = dimse.decode_command(b"".join(p.data for p in message.pdvs))
        sock.sendall(echo_rsp_pdu(pdv.context_id, command[dimse.MESSAGE_ID]))


@dataclass
class AcceptorResult:
    """What the one-shot acceptor saw."""

    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    details: list[str] = field(default_factory=list)
    peer_subject: str = ""
    peer_accepted: bool | None = None
    condition: str | None = None
    error: BaseException | None = None


class OneShotAcceptor:
    """Accept one TCP connection on 127.0.0.1, run the TLS handshake with ``context``,
    apply the peer checks, then serve one echo association. Runs in a thread."""

    def __init__(self, context: ssl.SSLContext, opts: TLSOptions, log: RecordingLog) -> None:
        self.context, self.opts, self.log = context, opts, log
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.result = AcceptorResult()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> OneShotAcceptor:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.listener.close()
        self.thread.join(TIMEOUT)

    def _serve(self) -> None:
        try:
            raw, _ = self.listener.accept()
        except OSError as exc:
            self.result.error = exc
            return
        raw.settimeout(TIMEOUT)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            with self.context.wrap_socket(raw, server_side=True) as sock:
                self.result.version, self.result.cipher = sock.version(), sock.cipher()[0]
                self.result.alpn = sock.selected_alpn_protocol()
                self.result.peer_subject = session.peer_certificate_subject(sock)
                self.result.details = session.connection_details(sock)
                self.result.peer_accepted = session.check_peer_certificates(
                    sock, self.opts, "acceptor", self.log)
                if self.result.peer_accepted:
                    echo_as_acceptor(sock)
        except (OSError, ssl.SSLError, pdu.PDUError) as exc:
            self.result.error = exc
            self.result.condition = session.tls_error_condition(exc)
        finally:
            raw.close()

    def wait(self) -> AcceptorResult:
        """Wait for the served connection to end; its result."""
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "acceptor still busy"
        return self.result


def tls13_suites_settable() -> bool:
    """Whether a profile's own TLS 1.3 suite list can be set here: the ctypes route of
    certs.context, absent in the portable mode (which then keeps OpenSSL's defaults)."""
    from certs.context import _tls13_setter

    return _tls13_setter(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)) is not None


#: for tests of the TLS 1.3 suite list itself (tests/test_portable_fallbacks.py covers
#: the fallback)
needs_tls13_suites = pytest.mark.skipif(
    not tls13_suites_settable(),
    reason="no ctypes route to SSL_CTX_set_ciphersuites here (portable mode)")


def expected_lines(stderr: str) -> list[str]:
    """``stderr``'s lines without the one warning the portable mode adds under +pm, where
    the profile's TLS 1.3 suites cannot be set (the documented degradation)."""
    lines = stderr.splitlines()
    if tls13_suites_settable():
        return lines
    return [line for line in lines
            if not line.startswith("W: cannot set the TLS 1.3 ciphersuites")]

