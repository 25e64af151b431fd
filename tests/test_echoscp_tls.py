"""echoscp with TLS: DCMTK's acceptor options, interop with DCMTK, pynetdicom and our
echoscu, client-certificate modes, and handshakes that never block other clients.

Certificates come from ``certs.pki.make_pki`` in a temporary directory.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from pathlib import Path

import pytest
from support.peers import DCMTK_ECHOSCU, pynetdicom_echoes, run
from support.scp import RawAssociation, connect, receive_until_closed

from certs.pki import Pki, make_pki

pytestmark = [pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def secret_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A PKI whose PEM private keys are encrypted with the password ``secret``."""
    return make_pki(tmp_path_factory.mktemp("secret-pki"), password="secret")


def tls_server_args(pki: Pki, *extra: str) -> list[str]:
    """``+tls server.key server.pem +cf ca.pem`` plus ``extra``."""
    return ["+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert, *extra]


def dcmtk_tls_echo(port: int, *args: str):
    """DCMTK's echoscu with ``args`` (TLS options) against 127.0.0.1:port."""
    return run([DCMTK_ECHOSCU, "-v", *args, "127.0.0.1", str(port)], timeout=30,
               env={"TCP_NODELAY": "1"})


def client_args(pki: Pki) -> list[str]:
    """DCMTK options for a client with pki's client certificate trusting pki's CA."""
    return ["+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert]


def records(path: Path) -> list[dict]:
    """The --log-json lines."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --------------------------------------------------------------------------- interop


@pytest.mark.dcmtk
def test_dcmtk_client_certificate_required(scp, pki, tmp_path):
    log = tmp_path / "tls.jsonl"
    server = scp("-v", "--log-json", str(log), *tls_server_args(pki))
    result = dcmtk_tls_echo(server.port, *client_args(pki))
    assert result.returncode == 0, result.stderr
    anonymous = dcmtk_tls_echo(server.port, "+tla", "+cf", pki.ca.cert)
    assert anonymous.returncode == 1
    plain = dcmtk_tls_echo(server.port)
    assert plain.returncode == 1
    assert server.stop() == 0
    lines = server.stderr.splitlines()
    assert lines[:4] == [
        "I: TLS connection from 127.0.0.1: TLSv1.3, TLS_AES_256_GCM_SHA384, "
        "client certificate: /CN=client1",
        "I: Accepting Association",
        "I: Received Echo Request (MsgID 1)",
        "I: Association Released",
    ]
    assert ("E: TLS handshake with 127.0.0.1 failed: 000b:08c7 TLS error: "
            "peer did not return a certificate") in lines
    assert "E: TLS handshake with 127.0.0.1 failed: 000b:090b TLS error: wrong version number" \
        in lines
    first, second, third = records(log)
    assert (first["ended"], first["echoes"]) == ("released", 1)
    assert first["tls_version"] == "TLSv1.3"
    assert first["cipher"] == "TLS_AES_256_GCM_SHA384"
    assert first["client_subject"] == "/CN=client1"
    assert second["ended"] == third["ended"] == "error"


@pytest.mark.dcmtk
def test_verify_if_present(scp, pki, other_pki):
    server = scp("-vc", *tls_server_args(pki))
    assert dcmtk_tls_echo(server.port, "+tla", "+cf", pki.ca.cert).returncode == 0
    assert dcmtk_tls_echo(server.port, *client_args(pki)).returncode == 0
    untrusted = ["+tls", other_pki.client.key, other_pki.client.cert, "+cf", pki.ca.cert]
    assert dcmtk_tls_echo(server.port, *untrusted).returncode == 1


@pytest.mark.dcmtk
def test_ignore_client_certificate(scp, pki, other_pki, tmp_path):
    log = tmp_path / "tls.jsonl"
    server = scp("-ic", "--log-json", str(log), *tls_server_args(pki))
    untrusted = ["+tls", other_pki.client.key, other_pki.client.cert, "+cf", pki.ca.cert]
    assert dcmtk_tls_echo(server.port, *untrusted).returncode == 0
    assert dcmtk_tls_echo(server.port, "+tla", "+cf", pki.ca.cert).returncode == 0
    server.stop()
    assert [r["client_subject"] for r in records(log)] == [None, None]


def _client_tls_context(pki: Pki, check_hostname: bool = True):
    """A client context with client1's certificate that trusts the PKI's CA."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=pki.ca.cert)
    context.check_hostname = check_hostname
    context.load_cert_chain(pki.client.cert, pki.client.key)
    return context


def _pynetdicom_tls_association(port: int, context):
    """pynetdicom's requestor over TLS (SNI "localhost"), every timeout 10 s."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    ae = AE()
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    return ae.associate("127.0.0.1", port, tls_args=(context, "localhost"))


def test_pynetdicom_tls_client(scp, pki):

    server = scp(*tls_server_args(pki))
    context = _client_tls_context(pki)
    assert pynetdicom_echoes(lambda: _pynetdicom_tls_association(server.port, context), 1) == [0]


def test_our_echoscu_tls(scp, pki):
    server = scp(*tls_server_args(pki))
    result = run([sys.executable, "-m", "echoscu", "-v", *client_args(pki),
                  "127.0.0.1", str(server.port)], timeout=30)
    if result.returncode != 0 and "No module named" in result.stderr:
        pytest.skip(f"our echoscu cannot run yet: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert "I: Received Echo Response (Success)" in result.stderr


# --------------------------------------------------------------------------- handshake isolation


@pytest.mark.dcmtk
def test_silent_connection_never_blocks_tls_clients(scp, pki):
    server = scp(*tls_server_args(pki))
    stallers = [connect(server.port) for _ in range(3)]
    stallers[0].sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
    for _ in range(2):
        assert dcmtk_tls_echo(server.port, *client_args(pki)).returncode == 0
    for staller in stallers:
        staller.close()


def client_context(pki: Pki):
    """A Python TLS client context with pki's client certificate, trusting pki's CA."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=pki.ca.cert)
    context.load_cert_chain(pki.client.cert, pki.client.key)
    return context


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP/SIGCONT")
def test_client_hello_waiting_at_accept(scp, pki):
    """Issue #12: a ClientHello already queued when echoscp accepts must be answered.

    On Python 3.10 echoscp's early pause_reading() did not hold, so such a ClientHello
    went to asyncio's SSLProtocol before it was ready and was dropped: the client
    waited forever. The server is stopped while the clients connect and send their
    ClientHello, so every one of them is waiting at accept. ``-ta 5`` and the socket
    timeouts bound the test: a dropped ClientHello fails it instead of hanging it.
    """
    import os
    import socket
    import ssl

    from dul import association

    server = scp("-ta", "5", *tls_server_args(pki))
    context = client_context(pki)
    clients = []
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        for _ in range(3):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            tls = context.wrap_socket(raw, server_hostname="localhost",
                                      do_handshake_on_connect=False)
            tls.setblocking(False)
            with pytest.raises(ssl.SSLWantReadError):
                tls.do_handshake()  # the ClientHello is on its way; no answer yet
            clients.append(tls)
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    for tls in clients:
        tls.settimeout(10)
        tls.do_handshake()
        client = RawAssociation(server.port, sock=tls)
        assert isinstance(client.associate(), association.AssociationAccepted)
        assert client.echo() == 0
        client.release()
        client.close()
    assert server.stop() == 0
    assert "E: " not in server.stderr


@pytest.mark.dcmtk
def test_tls_echoes_in_a_row_dcmtk_and_ours(scp, pki):
    """Issue #12 as reported: each client sends its ClientHello at once, so on 3.10
    about half of these handshakes hung. ``-ta 5`` bounds a lost one."""
    server = scp("-ta", "5", *tls_server_args(pki))
    for _ in range(6):
        dcmtk = dcmtk_tls_echo(server.port, *client_args(pki))
        assert dcmtk.returncode == 0, dcmtk.stderr
        ours = run([sys.executable, "-m", "echoscu", *client_args(pki),
                    "localhost", str(server.port)], timeout=30)
        assert ours.returncode == 0, ours.stderr
    assert server.stop() == 0
    assert "E: " not in server.stderr


def test_handshake_timeout(scp, pki, tmp_path):
    log = tmp_path / "tls.jsonl"
    server = scp("-ta", "1", "--log-json", str(log), *tls_server_args(pki))
    silent = connect(server.port)
    assert receive_until_closed(silent) == b""
    silent.close()
    server.stop()
    assert "E: TLS handshake with 127.0.0.1 failed: TLS handshake timed out" in server.stderr
    assert [r["ended"] for r in records(log)] == ["timeout"]


# --------------------------------------------------------------------------- acceptor options


@pytest.mark.dcmtk
def test_crl_refuses_revoked_client(scp, pki):
    server = scp("+crl", pki.crl, *tls_server_args(pki))
    revoked = ["+tls", pki.revoked.key, pki.revoked.cert, "+cf", pki.ca.cert]
    assert dcmtk_tls_echo(server.port, *revoked).returncode == 1
    assert dcmtk_tls_echo(server.port, *client_args(pki)).returncode == 0
    server.stop()
    assert "certificate revoked" in server.stderr


@pytest.mark.dcmtk
def test_der_files(scp, pki):
    server = scp("-der", "+tls", pki.server.key_der, pki.server.cert_der,
                 "+cf", pki.ca.cert_der)
    assert dcmtk_tls_echo(server.port, *client_args(pki)).returncode == 0


@pytest.mark.dcmtk
def test_cert_dir(scp, pki):
    server = scp("+tls", pki.server.key, pki.server.cert, "+cd", pki.ca_dir)
    assert dcmtk_tls_echo(server.port, *client_args(pki)).returncode == 0


@pytest.mark.dcmtk
def test_password_options(scp, secret_pki, tmp_path):
    server = scp("+pw", "secret", *tls_server_args(secret_pki))
    client = ["+tls", secret_pki.client.key, secret_pki.client.cert, "+pw", "secret",
              "+cf", secret_pki.ca.cert]
    assert dcmtk_tls_echo(server.port, *client).returncode == 0
    prompted = scp("+ps", *tls_server_args(secret_pki), stdin=b"secret\n")
    assert dcmtk_tls_echo(prompted.port, *client).returncode == 0
    for wrong_password in (["+pw", "wrong"], ["-pw"]):
        wrong = run([sys.executable, "-m", "echoscp", *wrong_password,
                     *tls_server_args(secret_pki), "0"], timeout=30)
        assert wrong.returncode == 1
        assert wrong.stderr.splitlines()[-1] == \
            f"F: 000b:0004 Unable to load private TLS key from '{secret_pki.server.key}'"


def test_tls_setup_errors_exit_1(pki, tmp_path):
    missing = run([sys.executable, "-m", "echoscp", "+tls", str(tmp_path / "nokey.pem"),
                   pki.server.cert, "0"], timeout=30)
    assert missing.returncode == 1
    assert "F: 000b:0004 Unable to load private TLS key from" in missing.stderr
    cipher = run([sys.executable, "-m", "echoscp", *tls_server_args(pki),
                  "+cs", "TLS_RSA_WITH_AES_128_CBC_SHA", "0"], timeout=30)
    assert cipher.returncode == 1
    assert "F: 000b:000a Ciphersuite not allowed in current DICOM security profile" \
        in cipher.stderr
    assert "Traceback" not in missing.stderr + cipher.stderr


@pytest.mark.dcmtk
def test_profile_and_cipher_options(scp, pki):
    server = scp("+px", "+cs", "TLS_RSA_WITH_AES_256_GCM_SHA384", *tls_server_args(pki))
    result = dcmtk_tls_echo(server.port, "+pz", *client_args(pki))
    assert result.returncode == 0, result.stderr


def test_expect_sni(scp, pki):
    """pynetdicom asking for the expected name is served; a client asking for another
    name is refused in the handshake (that client is a plain ssl socket: pynetdicom
    leaves the socket of a refused handshake unclosed, which warnings-as-errors flags)."""
    import ssl

    server = scp("--expect-sni", "localhost", "-v", *tls_server_args(pki))
    context = _client_tls_context(pki, check_hostname=False)  # "otherhost" is asked for
    assoc = _pynetdicom_tls_association(server.port, context)
    assert assoc.is_established
    assoc.release()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
            pytest.raises(ssl.SSLError):  # the handshake is refused (asyncio sends no alert)
        context.wrap_socket(raw, server_hostname="otherhost")
    server.stop()
    assert "SNI failure: client requested server 'otherhost', my name is 'localhost'." \
        in server.stderr


@pytest.mark.dcmtk
def test_dhparam_unusable_file_warns_and_serves(scp, pki, tmp_path):
    server = scp("-v", "+dp", str(tmp_path / "missing.pem"), *tls_server_args(pki))
    assert dcmtk_tls_echo(server.port, *client_args(pki)).returncode == 0
    server.stop()
    assert f"W: unable to load temporary DH parameter file '{tmp_path / 'missing.pem'}', " \
        "ignoring" in server.stderr


def test_shutdown_with_open_tls_association(scp, pki):
    import ssl

    from dul import association

    server = scp(*tls_server_args(pki))
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=pki.ca.cert)
    context.load_cert_chain(pki.client.cert, pki.client.key)
    client = RawAssociation(server.port, ssl_context=context)
    assert isinstance(client.associate(), association.AssociationAccepted)
    assert client.echo() == 0
    server.process.send_signal(signal.SIGTERM)
    assert isinstance(client.next_event(), association.Aborted)
    client.close()
    assert server.wait_exit() == 0


def test_no_tls13_session_tickets(scp, pki):
    """Issue #17: echoscp sends no TLS 1.3 session tickets (OpenSSL 3.0 re-encodes the
    client certificate for each; echo clients do not resume)."""
    import ssl

    server = scp(*tls_server_args(pki))
    context = client_context(pki)
    context.check_hostname = False
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:
        assert tls.version() == "TLSv1.3"
        tls.sendall(bytes.fromhex("05 00 00000004 00000000"))  # A-RELEASE-RQ in Sta2
        answer = tls.recv(64)  # tickets, had there been any, arrive before the answer
        assert answer[:1] == b"\x07"  # A-ABORT
        assert not tls.session.has_ticket
