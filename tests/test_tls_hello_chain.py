"""What our requestor offers in its ClientHello, and how +pg/+pm judge the peer's chain.

Issue #13 item 6: DCMTK offers P-256 first with a P-256 key share, so OpenSSL's default
X25519 share cost a HelloRetryRequest against every DCMTK peer; and 3.7.0 refuses a weak
server certificate inside the handshake under +pg/+pm. Issue #14 item 5: the RFC 9325
checks must cover intermediates the peer sends, not only the leaf and our trust store.
Real handshakes on loopback with DCMTK 3.6.7's storescp and our echoscp as peers;
ClientHellos are read from a raw listening socket or a relay that keeps the server's bytes.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time

import pytest
from support.peers import dcmtk, dcmtk_installed, ours
from support.tls import TIMEOUT, RecordingLog, connect, echo_as_requestor, expected_lines

from certs import pki as pkimod
from certs import profiles, session
from certs.context import client_context
from certs.options import TLSOptions

pytestmark = [pytest.mark.timeout(180)]

#: ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3)
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
P256, X25519 = 0x0017, 0x001D
SHA1_SIGALGS = {0x0201, 0x0203, 0x0202}  # rsa_pkcs1_sha1, ecdsa_sha1, dsa_sha1
VERIFIED_CHAIN = hasattr(ssl.SSLSocket, "get_verified_chain")  # Python 3.13+


# --- ClientHello capture and parsing ---------------------------------------------------

def _read_record(sock: socket.socket) -> bytes:
    data = b""
    while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def parse_hello(record: bytes) -> dict[int, bytes] | dict[str, object]:
    """Fields of a ClientHello or ServerHello record: random, suites, extensions."""
    assert record[0] == 0x16, record[:8].hex()
    body = record[9:]
    kind = record[5]
    pos = 2 + 32
    fields: dict[str, object] = {"type": kind, "random": body[2:34]}
    pos += 1 + body[pos]  # session id
    if kind == 1:
        length = int.from_bytes(body[pos:pos + 2], "big")
        pos += 2 + length
        pos += 1 + body[pos]  # compression methods
    else:
        pos += 3  # cipher suite, compression method
    end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
    pos += 2
    extensions = {}
    while pos < end:
        kind_ext = int.from_bytes(body[pos:pos + 2], "big")
        length = int.from_bytes(body[pos + 2:pos + 4], "big")
        extensions[kind_ext] = body[pos + 4:pos + 4 + length]
        pos += 4 + length
    fields["extensions"] = extensions
    return fields


def _u16_list(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def groups(hello) -> list[int]:
    return _u16_list(hello["extensions"][10][2:])


def key_shares(hello) -> list[int]:
    data = hello["extensions"][51][2:]
    shares, pos = [], 0
    while pos < len(data):
        shares.append(int.from_bytes(data[pos:pos + 2], "big"))
        pos += 4 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return shares


def sigalgs(hello) -> list[int]:
    return _u16_list(hello["extensions"][13][2:])


@contextlib.contextmanager
def hello_catcher():
    """A raw listener on a port from the OS; ``caught()`` is the first ClientHello."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(TIMEOUT)
    records: list[bytes] = []

    def catch() -> None:
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(TIMEOUT)
                records.append(_read_record(connection))

    thread = threading.Thread(target=catch, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], lambda: (thread.join(TIMEOUT), parse_hello(records[0]))[1]
    finally:
        listener.close()


def our_hello(options: TLSOptions):
    with hello_catcher() as (port, caught):
        context = client_context(options, RecordingLog())
        with contextlib.suppress(OSError), connect(context, port, timeout=5):
            pass
        return caught()


@contextlib.contextmanager
def relay(target_port: int):
    """A one-connection TCP relay to ``target_port``; ``first()`` parses the first
    record the server sent (its ServerHello, or a HelloRetryRequest)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(TIMEOUT)
    from_server: list[bytes] = []

    def pump(source: socket.socket, sink: socket.socket, keep: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if keep:
                    from_server.append(chunk)
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def run() -> None:
        with contextlib.suppress(OSError):
            client, _ = listener.accept()
            server = socket.create_connection(("127.0.0.1", target_port), timeout=TIMEOUT)
            client.settimeout(TIMEOUT)
            back = threading.Thread(target=pump, args=(server, client, True), daemon=True)
            back.start()
            pump(client, server, False)
            back.join(TIMEOUT)
            client.close()
            server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], lambda: parse_hello(b"".join(from_server))
    finally:
        thread.join(TIMEOUT)
        listener.close()


# --- PKI with weak intermediates ---------------------------------------------------------

#: name -> (intermediate key type, hash the CA signs the intermediate with)
INTERMEDIATES = {"i1024": ("rsa1024", "sha256"), "imd5": ("rsa2048", "md5"),
                 "isha1": ("rsa2048", "sha1"), "igood": ("rsa2048", "sha256")}


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> pkimod.Pki:
    made = pkimod.make_pki(tmp_path_factory.mktemp("pki"))
    for name, (key_type, hash_name) in INTERMEDIATES.items():
        intermediate = pkimod.make_intermediate(made.directory, name, made.ca,
                                                key_type=key_type, hash_name=hash_name)
        leaf = pkimod.issue(made.directory, f"{name}-leaf", intermediate)
        pkimod.write_chain(made.directory, f"{name}-chain", [leaf, intermediate])
    pkimod.issue(made.directory, "client1024", made.ca, key_type="rsa1024", server=False)
    return made


def chain_args(pki: pkimod.Pki, name: str) -> tuple[str, ...]:
    """+tls key cert for a server sending leaf and intermediate; client certs not needed."""
    return ("+tls", f"{pki.directory}/{name}-leaf.key", f"{pki.directory}/{name}-chain.pem")


def client_args(pki: pkimod.Pki, *extra: str) -> tuple[str, ...]:
    return ("+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert, *extra)


def client_options(pki: pkimod.Pki, **changes) -> TLSOptions:
    options = dict(key_file=pki.client.key, cert_file=pki.client.cert, ca_files=[pki.ca.cert])
    options.update(changes)
    return TLSOptions(**options)


# --- the ClientHello -----------------------------------------------------------------------

@pytest.mark.parametrize("profile", ["8996", "8996-mod", "bcp195-nd", "bcp195", "bcp195-ex"])
def test_client_hello_offers_p256_with_a_p256_share(pki, profile):
    hello = our_hello(client_options(pki, profile=profile))
    assert groups(hello) == [P256]
    if 51 in hello["extensions"]:  # profiles with TLS 1.3
        assert key_shares(hello) == [P256]
    assert sigalgs(hello)  # OpenSSL's list: Python cannot set DCMTK's (README)


@pytest.mark.parametrize("profile", ["8996", "8996-mod"])
def test_rfc8996_hello_has_no_sha1_signature_algorithms(pki, profile):
    # the security level drops what it refuses from the offer: closer to DCMTK's 12
    offered = set(sigalgs(our_hello(client_options(pki, profile=profile))))
    assert not offered & SHA1_SIGALGS
    assert {0x0401, 0x0804, 0x0403} <= offered  # rsa_pkcs1/rsa_pss_rsae/ecdsa SHA-256


@pytest.mark.dcmtk
def test_key_share_matches_dcmtk_echoscu(pki):
    if not dcmtk_installed():
        pytest.skip("DCMTK not installed")
    with hello_catcher() as (port, caught):
        dcmtk(*client_args(pki, "+py"), "-to", "5", "-ta", "5", "localhost", str(port))
        theirs = caught()
    ours_hello = our_hello(client_options(pki, profile="bcp195-nd"))
    assert key_shares(ours_hello) == key_shares(theirs) == [P256]
    assert groups(ours_hello)[0] == groups(theirs)[0] == P256


@pytest.mark.dcmtk
@pytest.mark.parametrize("profile", ["8996", "8996-mod", "bcp195-nd"])
def test_no_hello_retry_against_storescp(storescp, pki, profile):
    peer = storescp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    with relay(peer.port) as (port, first):
        context = client_context(client_options(pki, profile=profile), RecordingLog())
        with connect(context, port) as sock:
            assert sock.version() == "TLSv1.3"
            assert echo_as_requestor(sock) == 0
    server_hello = first()
    assert server_hello["type"] == 2 and server_hello["random"] != HRR_RANDOM


@pytest.mark.dcmtk
def test_openssl_default_groups_would_retry(storescp, pki):
    """The control: OpenSSL's default X25519 share gets a HelloRetryRequest from storescp,
    so the relay above can see one."""
    peer = storescp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(pki.ca.cert)
    with relay(peer.port) as (port, first), connect(context, port):
        pass
    assert first()["random"] == HRR_RANDOM


# --- weak intermediates: +pg/+pm refuse them in the handshake --------------------------

def _refusal(intermediate: str, profile: str) -> str:
    """DCMTK 3.7.0's line for the weak intermediate (Python 3.13+ shows the chain)."""
    if intermediate == "i1024":
        if profile == "+pg":
            return ("E: Server RSA key length too short: RFC 9325 requires at least 2048 bits, "
                    "but server provided RSA certificate with 1024 bits. Refusing TLS "
                    "connection.")
        return ("E: RSA key length too short: the DICOM TLS profile requires at least 2048 "
                "bits, but peer provided RSA certificate with 1024 bits. Refusing TLS "
                "connection.")
    if intermediate == "imd5":
        return "E: Weak certificate hash key: peer provided certificate with 'MD5'. Refusing " \
               "TLS connection."
    return ("E: Weak certificate hash key: the DICOM TLS profile requires SHA-256 (or better) "
            "for certificates, but peer provided certificate with 'RSA-SHA1'. Refusing TLS "
            "connection.")


_LEVEL_REASON = {"i1024": "CA certificate key too weak",
                 "imd5": "CA signature digest algorithm too weak",
                 "isha1": "CA signature digest algorithm too weak"}


def expected_refusal(intermediate: str, profile: str) -> list[str]:
    if not VERIFIED_CHAIN:  # 3.10-3.12: no chain after a failed handshake (README)
        lines = [f"E: Peer certificate refused by the security level of the TLS profile: "
                 f"{_LEVEL_REASON[intermediate]}. Refusing TLS connection."]
    elif intermediate == "isha1" and profile == "+pg":
        # 3.7.0 only warns; security level 2 refuses SHA-1 (README, stricter than DCMTK)
        lines = ["W: Weak certificate hash key: RFC 9325 recommends SHA-256 (or better, but "
                 "peer provided certificate with 'RSA-SHA1'.",
                 "E: Peer certificate refused by the security level of the TLS profile: "
                 "CA signature digest algorithm too weak. Refusing TLS connection."]
    else:
        lines = [_refusal(intermediate, profile)]
    return [*lines, "F: Association Request Failed: 000b:0886 TLS error: certificate verify "
                    "failed"]


def _serve(kind: str, storescp, scp, pki, name: str):
    if kind == "storescp":
        return storescp(*chain_args(pki, name), "+cf", pki.ca.cert)
    return scp(*chain_args(pki, name), "+cf", pki.ca.cert, "-ic")


@pytest.mark.dcmtk
@pytest.mark.parametrize("server", ["storescp", "echoscp"])
@pytest.mark.parametrize("intermediate", ["i1024", "imd5", "isha1"])
def test_weak_intermediate_refused_under_rfc8996(storescp, scp, pki, server, intermediate):
    peer = _serve(server, storescp, scp, pki, intermediate)
    for profile in ("+pg", "+pm"):
        result = ours(*client_args(pki, profile), "localhost", str(peer.port))
        assert (result.returncode, expected_lines(result.stderr)) == (
            1, expected_refusal(intermediate, profile)), result.stderr
        time.sleep(0.15)


@pytest.mark.dcmtk
@pytest.mark.parametrize("server", ["storescp", "echoscp"])
def test_good_intermediate_accepted(storescp, scp, pki, server):
    peer = _serve(server, storescp, scp, pki, "igood")
    for profile in ("+pg", "+pm", "+py"):
        result = ours(*client_args(pki, profile), "localhost", str(peer.port))
        assert (result.returncode, expected_lines(result.stderr)) == (0, []), profile
        time.sleep(0.15)


@pytest.mark.dcmtk
@pytest.mark.parametrize("intermediate", ["i1024", "isha1", "imd5"])
def test_retired_profiles_keep_level_zero(storescp, pki, intermediate):
    """+py: no security level, as before; 3.13+ sees the intermediate and gives 3.7.0's
    verdict (warnings; MD5 refused in every profile), 3.10-3.12 only leaf and CA."""
    peer = storescp(*chain_args(pki, intermediate), "+cf", pki.ca.cert)
    result = ours(*client_args(pki, "+py"), "localhost", str(peer.port))
    if not VERIFIED_CHAIN:
        assert (result.returncode, result.stderr) == (0, "")
    elif intermediate == "imd5":
        assert (result.returncode, result.stderr_lines) == (1, [
            _refusal("imd5", "+py"),
            "F: Association Request Failed: 000b:0886 TLS error: certificate verify failed"])
    else:
        warning = {"i1024": "W: RSA key length too short: RFC 9325 recommends at least 2048 "
                            "bits, but peer provided RSA certificate with 1024 bits.",
                   "isha1": "W: Weak certificate hash key: RFC 9325 recommends SHA-256 (or "
                            "better, but peer provided certificate with 'RSA-SHA1'."}
        assert (result.returncode, result.stderr_lines) == (0, [warning[intermediate]])


def test_verified_chain_includes_the_sent_intermediate(pki, tmp_path):
    """check_peer_certificates on 3.13+ sees the intermediate a server sent."""
    if not VERIFIED_CHAIN:
        pytest.skip("Python < 3.13 has no SSLSocket.get_verified_chain()")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.set_ciphers("DEFAULT:@SECLEVEL=0")
    server.load_cert_chain(f"{pki.directory}/i1024-chain.pem", f"{pki.directory}/i1024-leaf.key")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)

    def serve() -> None:
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            with server.wrap_socket(connection, server_side=True) as tls:
                tls.settimeout(TIMEOUT)
                tls.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    options = client_options(pki, profile="bcp195-nd")
    log = RecordingLog()
    with connect(client_context(options, RecordingLog()), listener.getsockname()[1]) as sock:
        assert session.check_peer_certificates(sock, options, "requestor", log)
    thread.join(TIMEOUT)
    listener.close()
    assert log.lines == [("W", "RSA key length too short: RFC 9325 recommends at least 2048 "
                               "bits, but peer provided RSA certificate with 1024 bits.")]


# --- our own weak certificate keeps level 0 -------------------------------------------------

def test_security_level_by_profile_role_and_own_chain(pki):
    from certs import der
    with open(pki.client.cert, "rb") as handle:
        good = [der.Certificate(der.load_pem_certificates(handle.read())[0])]
    with open(f"{pki.directory}/client1024.pem", "rb") as handle:
        weak = [der.Certificate(der.load_pem_certificates(handle.read())[0])]
    assert profiles.security_level("8996", False, good) == 2
    assert profiles.security_level("8996", False, None) == 2  # +tla
    assert profiles.security_level("8996-mod", True, good) == 2
    assert profiles.security_level("8996", True, good) == 0  # acceptor +pg only warns
    assert profiles.security_level("8996", False, weak) == 0  # DCMTK takes it with a warning
    for retired in ("bcp195-nd", "bcp195", "bcp195-ex", "aes", "null"):
        assert profiles.security_level(retired, False, good) == 0


@pytest.mark.dcmtk
def test_own_rsa1024_certificate_still_works_under_pg(storescp, pki):
    """DCMTK 3.7.0 +pg warns about an own 1024-bit key and connects; so do we (level 0)."""
    peer = storescp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    cert = f"{pki.directory}/client1024.pem"
    result = ours("+tls", f"{pki.directory}/client1024.key", cert, "+cf", pki.ca.cert,
                  "localhost", str(peer.port))
    assert (result.returncode, result.stderr_lines) == (0, [
        "W: Key length of RSA public key too short: RFC 9325 recommends at least 2048 bits "
        f"for RSA keys, but the key in certificate file '{cert}' is only 1024 bits."])
