"""Our requestor context against DCMTK 3.6.7's storescp: real handshakes and echoes,
compared where possible with what DCMTK's own echoscu negotiates on the same peer."""

from __future__ import annotations

import ssl

import pytest
from support.peers import dcmtk
from support.tls import RecordingLog, connect, echo_as_requestor

from certs import pki as pkimod
from certs import session
from certs.context import client_context
from certs.options import TLSOptions

pytestmark = [pytest.mark.dcmtk, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> pkimod.Pki:
    made = pkimod.make_pki(tmp_path_factory.mktemp("pki"))
    ca = made.ca
    for name, kwargs in {"rsa1024": dict(key_type="rsa1024"), "sha1": dict(hash_name="sha1"),
                         "small": dict(serial=4660)}.items():
        pkimod.issue(made.directory, name, ca, client=False, **kwargs)
    weak_root = pkimod.make_ca(made.directory, "weakroot", common_name="SHA-1 Root",
                               hash_name="sha1", key_type="rsa1024")
    pkimod.issue(made.directory, "underweak", weak_root, client=False, key_type="ec256")
    return made


def server_args(pki: pkimod.Pki, name: str = "server", *extra: str) -> tuple[str, ...]:
    return ("+tls", f"{pki.directory}/{name}.key", f"{pki.directory}/{name}.pem",
            "+cf", pki.ca.cert, *extra)


def client_options(pki: pkimod.Pki, **changes) -> TLSOptions:
    options = dict(key_file=pki.client.key, cert_file=pki.client.cert, ca_files=[pki.ca.cert])
    options.update(changes)
    return TLSOptions(**options)


def dcmtk_client_args(pki: pkimod.Pki, *extra: str) -> list[str]:
    return ["+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert, *extra]


def dcmtk_tls_block(stderr: str) -> list[str]:
    lines = [line[3:] for line in stderr.splitlines() if line.startswith("D: ")]
    start = lines.index("================== BEGIN TLS CONNECTION DETAILS =================")
    end = lines.index("=================== END TLS CONNECTION DETAILS ==================")
    return lines[start:end + 1]


def failure_condition(context: ssl.SSLContext, port: int) -> str:
    with pytest.raises((ssl.SSLError, OSError)) as caught:
        with connect(context, port) as sock:
            echo_as_requestor(sock)
    return session.tls_error_condition(caught.value)


#: (our profile, storescp profile option, DCMTK 3.6.7 echoscu option or None, protocol, suite)
PROFILE_CASES = [
    ("8996", (), None, "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ("8996-mod", (), None, "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ("bcp195-nd", (), "+py", "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ("bcp195", ("+px",), "+px", "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ("bcp195-ex", ("+pz",), "+pz", "TLSv1.2", "DHE-RSA-AES256-GCM-SHA384"),
    ("aes", ("+pa",), "+pa", "TLSv1.2", "AES128-SHA"),
    ("null", ("+pn",), "+pn", "TLSv1.2", "NULL-SHA"),
]


@pytest.mark.parametrize(("profile", "server_profile", "dcmtk_option", "protocol", "suite"),
                         PROFILE_CASES, ids=[case[0] for case in PROFILE_CASES])
def test_profile_handshake_and_echo(storescp, pki, profile, server_profile, dcmtk_option,
                                    protocol, suite):
    peer = storescp(*server_args(pki, "server", *server_profile))
    context = client_context(client_options(pki, profile=profile), RecordingLog())
    with connect(context, peer.port) as sock:
        assert (sock.version(), sock.cipher()[0]) == (protocol, suite)
        ours = session.connection_details(sock)
        assert sock.selected_alpn_protocol() is None  # storescp 3.6.7 ignores ALPN
        assert session.check_peer_certificates(sock, client_options(pki), "requestor",
                                               RecordingLog())
        assert echo_as_requestor(sock) == 0
    if dcmtk_option is None:  # +pg/+pm do not exist in 3.6.7 (3.7.0 options, docs/design.md D5)
        return
    result = dcmtk("-d", *dcmtk_client_args(pki, dcmtk_option), "localhost", str(peer.port))
    assert result.returncode == 0, result.stderr
    assert dcmtk_tls_block(result.stderr)[2:4] == ours[2:4]


def test_connection_details_match_dcmtk(storescp, pki):
    for server in ("server", "small"):
        peer = storescp(*server_args(pki, server))
        context = client_context(client_options(pki, profile="bcp195-nd"), RecordingLog())
        with connect(context, peer.port) as sock:
            ours = session.connection_details(sock)
            assert session.peer_certificate_subject(sock) == f"/CN={server}"
            echo_as_requestor(sock)
        theirs = dcmtk_tls_block(dcmtk("-d", *dcmtk_client_args(pki), "localhost",
                                       str(peer.port)).stderr)
        assert ours == theirs
    assert "  Serial no.  : 4660" in ours
    assert "  Public key  : RSA, 2048 bits" in ours


def test_no_common_suite_fails_like_dcmtk(storescp, pki):
    peer = storescp(*server_args(pki))
    context = client_context(client_options(pki, profile="aes"), RecordingLog())
    condition = failure_condition(context, peer.port)
    assert condition == "000b:0c10 TLS error: sslv3 alert handshake failure"
    result = dcmtk(*dcmtk_client_args(pki, "+pa"), "localhost", str(peer.port))
    assert result.stderr_lines[-1] == f"F: Association Request Failed: {condition}"


def test_hashed_directory_and_der_material(storescp, pki):
    peer = storescp(*server_args(pki))
    for options in (
        client_options(pki, ca_files=[], ca_dirs=[pki.ca_dir]),
        client_options(pki, file_format="der", key_file=pki.client.key_der,
                       cert_file=pki.client.cert_der, ca_files=[pki.ca.cert_der]),
        client_options(pki, file_format="der", key_file=pki.client.key_der,
                       cert_file=pki.client.cert_der, ca_files=[], ca_dirs=[pki.ca_dir_der]),
    ):
        with connect(client_context(options, RecordingLog()), peer.port) as sock:
            assert echo_as_requestor(sock) == 0


def test_revoked_server(storescp, pki):
    peer = storescp(*server_args(pki, "revoked"))
    revoked = client_options(pki, crl_files=[pki.crl])
    condition = failure_condition(client_context(revoked, RecordingLog()), peer.port)
    assert condition == "000b:0886 TLS error: certificate verify failed"
    result = dcmtk(*dcmtk_client_args(pki, "+crl", pki.crl), "localhost", str(peer.port))
    assert result.stderr_lines[-1] == f"F: Association Request Failed: {condition}"
    for options in (client_options(pki, crl_files=[pki.empty_crl]),
                    client_options(pki, crl_files=[pki.empty_crl], crl_mode="all")):
        with connect(client_context(options, RecordingLog()), peer.port) as sock:
            assert echo_as_requestor(sock) == 0


def test_crl_check_without_crl_fails(storescp, pki):
    peer = storescp(*server_args(pki))
    options = client_options(pki, crl_mode="leaf")
    condition = failure_condition(client_context(options, RecordingLog()), peer.port)
    assert condition == "000b:0886 TLS error: certificate verify failed"


def test_unreadable_crl_does_not_switch_crl_checks_on(storescp, pki, tmp_path):
    # 3.7.0: only a loaded CRL enables the implicit leaf check (3.6.7 enables it anyway)
    peer = storescp(*server_args(pki))
    log = RecordingLog()
    options = client_options(pki, crl_files=[str(tmp_path / "missing.crl")])
    with connect(client_context(options, log), peer.port) as sock:
        assert echo_as_requestor(sock) == 0
    assert log.text() == ["E: OpenSSL error 80000002: OpenSSL error",
                          f"W: unable to load CRL file '{tmp_path / 'missing.crl'}', ignoring"]


def test_peer_verification_and_ignore(storescp, pki):
    peer = storescp(*server_args(pki))
    untrusted = client_options(pki, ca_files=[])
    condition = failure_condition(client_context(untrusted, RecordingLog()), peer.port)
    assert condition == "000b:0886 TLS error: certificate verify failed"
    result = dcmtk("+tls", pki.client.key, pki.client.cert, "localhost", str(peer.port))
    assert result.stderr_lines[-1] == f"F: Association Request Failed: {condition}"
    ignoring = client_options(pki, ca_files=[], peer_cert="ignore")
    with connect(client_context(ignoring, RecordingLog()), peer.port) as sock:
        assert session.check_peer_certificates(sock, ignoring, "requestor", RecordingLog())
        assert echo_as_requestor(sock) == 0


_SHA1_WARNING = ("W", "Weak certificate hash key: RFC 9325 recommends SHA-256 (or better, but "
                      "peer provided certificate with 'RSA-SHA1'.")


@pytest.mark.parametrize(("server", "profile", "accepted", "expected"), [
    ("rsa1024", "8996", False,
     ("E", "Server RSA key length too short: RFC 9325 requires at least 2048 bits, but server "
           "provided RSA certificate with 1024 bits. Refusing TLS connection.")),
    ("rsa1024", "bcp195-nd", True,
     ("W", "RSA key length too short: RFC 9325 recommends at least 2048 bits, but peer "
           "provided RSA certificate with 1024 bits.")),
    ("rsa1024", "8996-mod", False,
     ("E", "RSA key length too short: the DICOM TLS profile requires at least 2048 bits, but "
           "peer provided RSA certificate with 1024 bits. Refusing TLS connection.")),
    ("sha1", "bcp195-nd", True, _SHA1_WARNING),
    ("sha1", "8996-mod", False,
     ("E", "Weak certificate hash key: the DICOM TLS profile requires SHA-256 (or better) for "
           "certificates, but peer provided certificate with 'RSA-SHA1'. Refusing TLS "
           "connection.")),
])
def test_peer_certificate_checks(storescp, pki, server, profile, accepted, expected):
    # 3.6.7 has no such checks; these are DCMTK 3.7.0's texts (tlslayer.cc). Where the
    # profile refuses, OpenSSL's security level does it inside the handshake
    peer = storescp(*server_args(pki, server))
    options = client_options(pki, profile=profile)
    log = RecordingLog()
    if accepted:
        with connect(client_context(options, RecordingLog()), peer.port) as sock:
            assert session.check_peer_certificates(sock, options, "requestor", log)
            assert session.check_peer_certificates(sock, options, "client", log)
        assert log.lines == [expected, expected]
        return
    assert refused_in_handshake(client_context(options, RecordingLog()), peer.port, options,
                                log) == "000b:0886 TLS error: certificate verify failed"
    if hasattr(ssl.SSLSocket, "get_unverified_chain"):  # 3.13+: the chain after a failure
        assert log.lines == [expected]
    else:
        assert len(log.lines) == 1 and log.lines[0][0] == "E"
        assert log.lines[0][1].startswith("Peer certificate refused by the security level of "
                                          "the TLS profile: ")


def test_sha1_server_under_pg_is_refused_by_the_security_level(storescp, pki):
    """Stricter than 3.7.0, which only warns (README): OpenSSL ranks SHA-1 below RSA-1024,
    so no security level refuses the one and takes the other."""
    peer = storescp(*server_args(pki, "sha1"))
    options = client_options(pki, profile="8996")
    log = RecordingLog()
    assert refused_in_handshake(client_context(options, RecordingLog()), peer.port, options,
                                log) == "000b:0886 TLS error: certificate verify failed"
    refusal = ("E", "Peer certificate refused by the security level of the TLS profile: CA "
                    "signature digest algorithm too weak. Refusing TLS connection.")
    if hasattr(ssl.SSLSocket, "get_unverified_chain"):
        assert log.lines == [_SHA1_WARNING, refusal]
    else:
        assert log.lines == [refusal]


def refused_in_handshake(context: ssl.SSLContext, port: int, options: TLSOptions,
                         log: RecordingLog) -> str:
    """Handshake that must fail; explain_refusal's lines go to ``log``; the condition."""
    import socket

    raw = socket.create_connection(("127.0.0.1", port), timeout=15)
    with context.wrap_socket(raw, do_handshake_on_connect=False) as sock:
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            sock.do_handshake()
        session.explain_refusal(caught.value, sock, options, "requestor", log)
    return session.tls_error_condition(caught.value)


def test_peer_checks_cover_the_trusted_root_first(storescp, pki):
    peer = storescp("+tls", f"{pki.directory}/underweak.key", f"{pki.directory}/underweak.pem",
                    "+cf", pki.ca.cert)
    options = client_options(pki, profile="bcp195-nd", ca_files=[f"{pki.directory}/weakroot.pem"])
    log = RecordingLog()
    with connect(client_context(options, RecordingLog()), peer.port) as sock:
        assert session.check_peer_certificates(sock, options, "requestor", log)
        assert session.connection_details(sock)[9] == "  Public key  : unknown, 256 bits"
    assert log.lines == [  # the root (RSA-1024, SHA-1), then the leaf (P-256, SHA-256): none
        ("W", "RSA key length too short: RFC 9325 recommends at least 2048 bits, but peer "
              "provided RSA certificate with 1024 bits."),
        ("W", "Weak certificate hash key: RFC 9325 recommends SHA-256 (or better, but peer "
              "provided certificate with 'RSA-SHA1'."),
    ]
