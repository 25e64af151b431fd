"""Handshake failures against misbehaving peers: our condition text vs DCMTK 3.6.7's."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time

import pytest
from support.peers import dcmtk
from support.tls import RecordingLog

from certs import session
from certs.context import client_context
from certs.options import TLSOptions

pytestmark = [pytest.mark.timeout(120)]


def misbehave(connection: socket.socket, mode: str) -> None:
    """What the fake peer does after accepting a TLS client's TCP connection."""
    if mode == "close":  # read the ClientHello, then FIN
        connection.recv(65536)
    elif mode == "reset":  # read the ClientHello, then RST
        connection.recv(65536)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif mode == "silent":  # never answer (the client's socket timeout ends it)
        connection.recv(65536)
        time.sleep(1.5)
    elif mode == "http":  # a non-TLS answer
        connection.recv(65536)
        connection.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        time.sleep(0.5)
    elif mode == "dicom-abort":  # a plain DICOM peer aborting
        connection.recv(65536)
        connection.sendall(bytes.fromhex("07000000000400000200"))
        time.sleep(0.5)
    connection.close()


class MisbehavingPeer:
    """Accepts connections on 127.0.0.1 and misbehaves on each, in a thread."""

    def __init__(self, mode: str, count: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(30)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, args=(mode, count), daemon=True)

    def _serve(self, mode: str, count: int) -> None:
        for _ in range(count):
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            misbehave(connection, mode)

    def __enter__(self) -> MisbehavingPeer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.listener.close()
        self.thread.join(30)


def our_condition(port: int) -> str:
    context = client_context(TLSOptions(mode="anonymous", peer_cert="ignore"), RecordingLog())
    raw = socket.create_connection(("127.0.0.1", port), timeout=1)
    with raw, pytest.raises((ssl.SSLError, OSError)) as caught:
        context.wrap_socket(raw)
    return session.tls_error_condition(caught.value)


@pytest.mark.dcmtk
@pytest.mark.parametrize(("mode", "expected"), [
    ("close", "000b:0926 TLS error: unexpected eof while reading"),
    ("reset", "000b:0017 OpenSSL I/O error (SSL_ERROR_SYSCALL)"),
    ("silent", "000b:000b TLS read operation did not complete (SSL_ERROR_WANT_READ)"),
    ("http", "000b:090b TLS error: wrong version number"),
    ("dicom-abort", "000b:090b TLS error: wrong version number"),
])
def test_failure_condition_like_dcmtk(mode, expected):
    with MisbehavingPeer(mode, 2) as peer:
        theirs = dcmtk("-ts", "1", "+tla", "-ic", "localhost", str(peer.port))
        ours = our_condition(peer.port)
    assert theirs.stderr_lines == [f"F: Association Request Failed: {expected}"]
    assert ours == expected


def test_conditions_of_other_exceptions():
    assert session.tls_error_condition(ssl.SSLZeroReturnError()) == \
        "000b:000e TLS connection closed by peer (SSL_ERROR_ZERO_RETURN)"
    assert session.tls_error_condition(ConnectionResetError(104, "reset")) == \
        "000b:0017 OpenSSL I/O error (SSL_ERROR_SYSCALL)"
    assert session.tls_error_condition(TimeoutError()) == \
        "000b:000b TLS read operation did not complete (SSL_ERROR_WANT_READ)"
