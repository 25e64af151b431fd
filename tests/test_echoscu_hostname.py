"""--verify-hostname / --verify-hostname-as: the RFC 6125 matcher and real TLS handshakes.

The matcher (certs.hostname) is tested on its own; the whole program against our echoscp
and a raw TLS server that records what arrives after the handshake, with certificates
made here: DNS localhost + IP 127.0.0.1 (the session PKI's server), IP ::1, a wildcard
``*.example.test``, and one without SANs. Without the option nothing changes: against a
certificate that names another host our echoscu and DCMTK's both succeed, alike.
"""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from support.beyond import echoscu, validated
from support.peers import DCMTK_ECHOSCU, assert_same, dcmtk, ours

from certs import hostname
from certs.pki import issue

pytestmark = [pytest.mark.timeout(90)]

MISMATCH_FATAL = "F: Association Request Failed: 000b:0886 TLS error: certificate verify failed"


# --- the matcher ------------------------------------------------------------------------


@pytest.mark.parametrize(("reference", "presented", "expected"), [
    ("localhost", "localhost", True),
    ("LocalHost", "LOCALHOST", True),
    ("localhost.", "localhost", True),
    ("localhost", "localhost.", True),
    ("pacs.example.test", "pacs.example.test", True),
    ("pacs.example.test", "pacs.example.tes", False),
    ("a.example.test", "*.example.test", True),
    ("A.EXAMPLE.TEST.", "*.Example.Test", True),
    ("example.test", "*.example.test", False),             # one label, never none
    ("b.a.example.test", "*.example.test", False),         # ... and never two
    (".example.test", "*.example.test", False),
    ("foo.example.test", "f*.example.test", False),        # partial-label wildcards
    ("foo.example.test", "*o.example.test", False),
    ("foo.example.test", "f*o.example.test", False),
    ("a.b.example.test", "a.*.example.test", False),       # not leftmost
    ("a.test", "*.test", False),                           # too wide
    ("a.example.test", "*.*.test", False),
    ("*.example.test", "*.example.test", False),           # a reference is no pattern
    ("xn--bcher-kva.example.test", "*.example.test", True),
    ("bücher.example.test", "xn--bcher-kva.example.test", True),   # IDN as A-labels
    ("BÜCHER.example.test", "xn--bcher-kva.example.test", True),
    ("bücher.example.test", "bücher.example.test", False),  # a U-label SAN is invalid
    ("a..example.test", "a..example.test", False),
    ("", "", False),
])
def test_dns_name_matching(reference, presented, expected):
    assert hostname.dns_name_matches(reference, presented) is expected


@pytest.mark.parametrize(("reference", "names", "expected"), [
    ("127.0.0.1", [("IP", "127.0.0.1")], True),
    ("127.0.0.1", [("DNS", "127.0.0.1")], False),           # an IP only as an IP SAN
    ("127.0.0.1", [("DNS", "*.0.0.1")], False),
    ("127.0.0.2", [("IP", "127.0.0.1")], False),
    ("::1", [("IP", "::1")], True),
    ("[::1]", [("IP", "::1")], True),
    ("0:0:0:0:0:0:0:1", [("IP", "::1")], True),
    ("::ffff:127.0.0.1", [("IP", "127.0.0.1")], False),
    ("fe80::1%eth0", [("IP", "fe80::1")], True),
    ("localhost", [("IP", "127.0.0.1")], False),
    ("localhost", [("email", "localhost"), ("URI", "localhost")], False),
    ("localhost", [], False),
])
def test_ip_and_kind_matching(reference, names, expected):
    assert hostname.matches(reference, names) is expected


@pytest.mark.parametrize(("name", "usable"), [
    ("localhost", True), ("pacs.example.test", True), ("127.0.0.1", True), ("::1", True),
    ("[::1]", True), ("bücher.example.test", True), ("", False), ("a b", False),
    ("*.example.test", False), ("a..b", False), ("a/b", False),
])
def test_usable_reference(name, usable):
    assert hostname.usable_reference(name) is usable


def test_messages():
    names = [("DNS", "localhost"), ("IP", "127.0.0.1"), ("email", "a@b"), ("DirName", "")]
    assert hostname.mismatch_text("pacs", names) == (
        "TLS peer certificate does not match host name 'pacs' (subject alternative names: "
        "DNS:localhost, IP:127.0.0.1, email:a@b, DirName)")
    assert hostname.mismatch_text("10.0.0.1", []) == (
        "TLS peer certificate does not match IP address '10.0.0.1' (no subject alternative "
        "names; the common name is not used)")
    many = [("DNS", f"h{i}.test") for i in range(13)]
    assert hostname.describe_names(many).endswith("DNS:h9.test, ... (3 more)")
    assert hostname.describe_names([("DNS", "a\nF: b")]) == "DNS:a\\x0aF: b"


@pytest.fixture(scope="module")
def certificates(pki, tmp_path_factory):
    """Server certificates of the session PKI's CA: the PKI's own (localhost, 127.0.0.1),
    ``ipv6`` (::1), ``wild`` (*.example.test), ``nosan`` (none), ``mixed`` (every kind)."""
    directory = tmp_path_factory.mktemp("hostname-certs")
    made = {"server": pki.server}
    made["ipv6"] = issue(directory, "ipv6", pki.ca, hosts=(), ips=("::1",))
    made["wild"] = issue(directory, "wild", pki.ca, hosts=("*.example.test",), ips=())
    made["nosan"] = issue(directory, "nosan", pki.ca, hosts=(), ips=())
    return made


def test_der_reader_agrees_with_cryptography(pki, tmp_path):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = pki.ca.private_key
    names = [x509.DNSName("a.test"), x509.RFC822Name("x@a.test"),
             x509.UniformResourceIdentifier("https://a.test/"),
             x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
             x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "d")])),
             x509.DNSName("*.b.test")]
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(pki.ca.certificate.subject)
                   .issuer_name(pki.ca.certificate.subject).public_key(key.public_key())
                   .serial_number(7).not_valid_before(now).not_valid_after(now)
                   .add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .sign(key, hashes.SHA256()))
    from cryptography.hazmat.primitives.serialization import Encoding

    data = certificate.public_bytes(Encoding.DER)
    expected = [("DNS", "a.test"), ("email", "x@a.test"), ("URI", "https://a.test/"),
                ("IP", "2001:db8::1"), ("DirName", ""), ("DNS", "*.b.test")]
    assert hostname.subject_alt_names(data) == expected
    fallback = [(kind, hostname._text(kind, value))
                for kind, value in hostname._from_cryptography(data)]
    assert [name for name in fallback if name[0] != "othername"] == \
        [name for name in expected if name[0] != "DirName"]
    assert hostname.subject_alt_names(Path(pki.ca.cert_der).read_bytes()) == []


# --- whole runs against our echoscp ---------------------------------------------------------


def _server(certificates, name: str) -> list[str]:
    identity = certificates[name]
    return ["-v", "+tls", identity.key, identity.cert, "-ic"]


def _log(server) -> str:
    """Stop our echoscp; its log (stderr)."""
    server.stop()
    return server.stderr


def _client(pki) -> list[str]:
    return ["+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert]


@pytest.mark.parametrize("peer", ["localhost", "127.0.0.1"])
def test_match_by_dns_name_and_by_ip(scp, pki, certificates, peer):
    server = scp(*_server(certificates, "server"))
    result = echoscu(*_client(pki), "--verify-hostname", peer, str(server.port))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert "I: Accepting Association" in _log(server)


def test_mismatch_sends_nothing_of_the_association(scp, pki, certificates):
    server = scp(*_server(certificates, "server"))
    result = echoscu(*_client(pki), "--verify-hostname-as", "pacs.example.test", "localhost",
                     str(server.port))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "F: TLS peer certificate does not match host name 'pacs.example.test' (subject "
        "alternative names: DNS:localhost, IP:127.0.0.1)", MISMATCH_FATAL]
    log = _log(server)
    assert "I: TLS connection from" in log  # the handshake happened ...
    assert "Association" not in log         # ... and nothing after it


@pytest.mark.parametrize(("name", "peer", "as_name", "ok"), [
    ("wild", "localhost", "a.example.test", True),
    ("wild", "localhost", "A.Example.Test.", True),
    ("wild", "localhost", "b.a.example.test", False),
    ("wild", "localhost", "example.test", False),
    ("wild", "localhost", None, False),
    ("nosan", "localhost", None, False),
    ("nosan", "127.0.0.1", None, False),
    ("server", "localhost", "127.0.0.1", True),
    ("server", "127.0.0.1", "localhost", True),
    ("server", "127.0.0.1", "127.0.0.2", False),
])
def test_certificates(scp, pki, certificates, name, peer, as_name, ok):
    server = scp(*_server(certificates, name))
    option = ["--verify-hostname"] if as_name is None else ["--verify-hostname-as", as_name]
    result = echoscu(*_client(pki), *option, peer, str(server.port))
    assert result.returncode == (0 if ok else 1), result.stderr
    reference = as_name or peer
    if ok:
        assert result.stderr == ""
    else:
        names = hostname.subject_alt_names(Path(certificates[name].cert_der).read_bytes())
        assert result.stderr.splitlines() == [
            f"F: {hostname.mismatch_text(reference, names)}", MISMATCH_FATAL]
    assert ("Accepting Association" in _log(server)) is ok


def test_debug_line_on_match(scp, pki, certificates):
    server = scp(*_server(certificates, "server"))
    result = echoscu("-d", *_client(pki), "--verify-hostname", "localhost", str(server.port))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    details_end = lines.index("D: =================== END TLS CONNECTION DETAILS "
                              "==================")
    assert lines[details_end + 1] == "D: TLS peer certificate matches host name 'localhost'"


def test_json_nagios_and_detailed_exit_codes(scp, pki, certificates):
    server = scp(*_server(certificates, "server"))
    port = str(server.port)
    good = echoscu(*_client(pki), "--verify-hostname", "--json", "localhost", port)
    document = validated(good.stdout)
    assert good.returncode == 0
    assert (document["tls"]["hostname"], document["tls"]["hostname_verified"]) == \
        ("localhost", True)
    bad = echoscu(*_client(pki), "--verify-hostname-as", "other.test", "--json",
                  "--exit-codes", "detailed", "localhost", port)
    document = validated(bad.stdout)
    assert bad.returncode == 8
    assert (document["tls"]["hostname"], document["tls"]["hostname_verified"]) == \
        ("other.test", False)
    assert document["failure"]["class"] == "tls-verify"
    assert document["failure"]["phase"] == "tls_handshake"
    assert document["association"] is None
    assert document["hint"].startswith("the peer's certificate does not name 'other.test'")
    assert document["failure"]["log"][0].startswith("F: TLS peer certificate does not match")
    plain = echoscu(*_client(pki), "--json", "localhost", port)
    document = validated(plain.stdout)
    assert (document["tls"]["hostname"], document["tls"]["hostname_verified"]) == (None, None)
    nagios = echoscu(*_client(pki), "--verify-hostname-as", "other.test", "--nagios",
                     "localhost", port)
    assert nagios.returncode == 2
    assert nagios.stdout.startswith(
        f"DICOM CRITICAL - ANY-SCP@localhost:{port}: tls-verify: TLS peer certificate does "
        "not match host name 'other.test' (subject alternative names: DNS:localhost, "
        "IP:127.0.0.1); hint: the peer's certificate does not name 'other.test': connect by "
        "a name it lists, or name the expected one with --verify-hostname-as | ")
    nagios = echoscu(*_client(pki), "--verify-hostname", "--nagios", "localhost", port)
    assert nagios.returncode == 0
    assert ", certificate matches localhost, " in nagios.stdout
    assert "Association" in _log(server)


@pytest.mark.parametrize(("args", "message"), [
    (["--verify-hostname", "localhost", "104"],
     "--verify-hostname only allowed with --enable-tls or --anonymous-tls"),
    (["-tls", "--verify-hostname-as", "x.test", "localhost", "104"],
     "--verify-hostname-as only allowed with --enable-tls or --anonymous-tls"),
    (["+tla", "-ic", "--verify-hostname", "localhost", "104"],
     "--verify-hostname not allowed with --ignore-peer-cert"),
    (["+tla", "--verify-hostname", "+vc", "x.pem"],
     "--verify-hostname not allowed with --verify-cert or --is-root-cert"),
    (["+tla", "--verify-hostname-as", "*.example.test", "localhost", "104"],
     "Invalid value for option --verify-hostname-as (*.example.test)"),
])
def test_command_line_errors(args, message):
    result = echoscu(*args)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"error: {message}"


# --- a raw TLS server: what arrives after the handshake ---------------------------------


class RecordingServer:
    """Accepts one TLS connection, completes the handshake and keeps every byte the client
    sends after it, until the client closes."""

    def __init__(self, identity, family: int = socket.AF_INET, address: str = "127.0.0.1"):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(identity.cert, identity.key)
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind((address, 0))
        self.listener.listen(1)
        self.listener.settimeout(30)
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self.handshake_done = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(10)
            try:
                with self.context.wrap_socket(connection, server_side=True) as tls:
                    self.handshake_done = True
                    while True:
                        chunk = tls.recv(65536)
                        if not chunk:
                            break
                        self.received += chunk
                        if len(self.received) >= 6:
                            break  # a PDU header arrived: enough to tell
            except (OSError, ssl.SSLError):
                pass

    def wait(self) -> bytes:
        self.thread.join(30)
        self.listener.close()
        return self.received


@pytest.mark.parametrize(("name", "family", "address", "peer", "ok"), [
    ("server", socket.AF_INET, "127.0.0.1", "localhost", True),
    ("server", socket.AF_INET, "127.0.0.1", "127.0.0.1", True),
    ("nosan", socket.AF_INET, "127.0.0.1", "localhost", False),
    ("wild", socket.AF_INET, "127.0.0.1", "127.0.0.1", False),
    ("ipv6", socket.AF_INET6, "::1", "::1", True),
    ("server", socket.AF_INET6, "::1", "::1", False),
])
def test_bytes_after_the_handshake(pki, certificates, name, family, address, peer, ok):
    if family == socket.AF_INET6 and not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = RecordingServer(certificates[name], family, address)
    except OSError as error:
        pytest.skip(f"cannot listen on {address}: {error}")
    ip_option = ["-i6"] if family == socket.AF_INET6 else []
    result = echoscu(*ip_option, *_client(pki), "-ta", "5", "--verify-hostname", peer,
                     str(server.port))
    received = server.wait()
    assert server.handshake_done
    if ok:
        assert received[:1] == b"\x01"  # the A-ASSOCIATE-RQ came
    else:
        assert result.returncode == 1
        assert result.stderr.splitlines()[-1] == MISMATCH_FATAL
        assert received == b""


# --- the fleet check ------------------------------------------------------------------------


def test_fleet_settings_and_outputs(scp, pki, certificates, tmp_path):
    server = scp(*_server(certificates, "server"))
    wild = scp(*_server(certificates, "wild"))
    peers = tmp_path / "peers"
    peers.write_text(f"localhost:{server.port} verify-hostname=on\n"
                     f"localhost:{wild.port} hostname=a.example.test\n"
                     f"localhost:{wild.port} verify-hostname=on\n"
                     f"localhost:{wild.port}\n")
    table = echoscu(*_client(pki), "--peers", str(peers))
    assert table.returncode == 1
    rows = table.stdout.splitlines()
    assert "TLSv1.3 (hostname ok)" in rows[1] and " ok " in rows[1]
    assert "TLSv1.3 (hostname ok)" in rows[2]
    assert "TLSv1.3 (hostname mismatch)" in rows[3] and "tls-verify" in rows[3]
    assert "TLS peer certificate does not match host name 'localhost'" in rows[3]
    assert "hostname" not in rows[4]
    document = validated(echoscu(*_client(pki), "--peers", str(peers), "--format",
                                 "json").stdout)
    verdicts = [(result["tls"]["hostname"], result["tls"]["hostname_verified"])
                for result in document["results"]]
    assert verdicts == [("localhost", True), ("a.example.test", True), ("localhost", False),
                        (None, None)]
    # the global option: every TLS peer; a line may switch it off
    peers.write_text(f"localhost:{server.port}\nlocalhost:{wild.port} verify-hostname=off\n")
    csv = echoscu(*_client(pki), "--verify-hostname", "--peers", str(peers), "--format", "csv")
    lines = csv.stdout.splitlines()
    assert lines[0].endswith(",hint,probes,find,hostname_verified")
    assert lines[1].endswith(",yes") and lines[2].endswith(",")
    assert csv.returncode == 0


@pytest.mark.parametrize(("line", "problem"), [
    ("h:1 verify-hostname=yes", "verify-hostname=yes: use verify-hostname=on or "
                                "verify-hostname=off"),
    ("h:1 hostname=a..b", "hostname=a..b: not a host name or IP address"),
    ("h:1 hostname=a.test verify-hostname=off", "hostname= with verify-hostname=off"),
    ("h:1 tls=off verify-hostname=on", "tls=off with TLS settings"),
    ("h:1 tls=off hostname=a.test", "tls=off with TLS settings"),
])
def test_bad_peer_lines(tmp_path, line, problem):
    peers = tmp_path / "peers"
    peers.write_text(line + "\n")
    result = echoscu("--peers", str(peers))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"error: peers file '{peers}' line 1: {problem}"


# --- without the option: DCMTK's behaviour --------------------------------------------------


@pytest.mark.dcmtk
def test_without_the_option_a_mismatch_passes_like_dcmtk(storescp, pki, certificates):
    """storescp +tls with a certificate naming no host: both echoscu succeed, alike."""
    nosan = certificates["nosan"]
    peer = storescp("+tls", nosan.key, nosan.cert, "+cf", pki.ca.cert, "-ic")
    mine = ours("-v", *_client(pki), "localhost", str(peer.port))
    theirs = dcmtk("-v", *_client(pki), "localhost", str(peer.port))
    assert mine.returncode == 0, mine.stderr
    assert_same(mine, theirs)
    with_check = ours(*_client(pki), "--verify-hostname", "localhost", str(peer.port))
    assert with_check.returncode == 1
    assert with_check.stderr.splitlines()[-1] == MISMATCH_FATAL
    assert Path(DCMTK_ECHOSCU).exists()
