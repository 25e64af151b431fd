"""Our acceptor context (server_context) against DCMTK 3.6.7's echoscu, our own
requestor (SNI, ALPN) and OpenSSL's s_client (explicit TLS 1.3 suites of +pm)."""

from __future__ import annotations

import ssl
import subprocess

import pytest
from support.peers import dcmtk
from support.tls import (
    OneShotAcceptor,
    RecordingLog,
    connect,
    echo_as_requestor,
    needs_tls13_suites,
)

from certs import pki as pkimod
from certs import session
from certs.context import client_context, server_context, sni_hostname
from certs.options import TLSOptions

pytestmark = [pytest.mark.timeout(120)]



def server_options(pki: pkimod.Pki, **changes) -> TLSOptions:
    options = dict(key_file=pki.server.key, cert_file=pki.server.cert, ca_files=[pki.ca.cert])
    options.update(changes)
    return TLSOptions(**options)


def dcmtk_echo(pki: pkimod.Pki, port: int, *options: str, client: bool = True):
    identity = ("+tls", pki.client.key, pki.client.cert) if client else ("+tla",)
    return dcmtk(*identity, "+cf", pki.ca.cert, *options, "localhost", str(port))


#: (our acceptor profile, DCMTK 3.6.7 echoscu options, protocol, suite)
PROFILE_CASES = [
    ("8996", (), "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ("bcp195-nd", ("+py",), "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ("bcp195", ("+px",), "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    # 3.7.0's strongest-first server order puts ECDHE above DHE (3.6.7's storescp
    # picks DHE-RSA-AES256-GCM-SHA384 here: its table had the DHE block last)
    ("bcp195-ex", ("+pz",), "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384"),
    ("aes", ("+pa",), "TLSv1.2", "AES128-SHA"),
    ("null", ("+pn",), "TLSv1.2", "NULL-SHA"),
    # only DHE in common: works with the built-in ffdhe2048 group
    ("bcp195", ("+pa", "+cs", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"), "TLSv1.2",
     "DHE-RSA-AES128-GCM-SHA256"),
]


@pytest.mark.dcmtk
@pytest.mark.parametrize(("profile", "dcmtk_options", "protocol", "suite"), PROFILE_CASES)
def test_dcmtk_echoscu_against_our_acceptor(pki, profile, dcmtk_options, protocol, suite):
    options = server_options(pki, profile=profile)
    log = RecordingLog()
    with OneShotAcceptor(server_context(options, log), options, log) as acceptor:
        result = dcmtk_echo(pki, acceptor.port, *dcmtk_options)
        seen = acceptor.wait()
    assert result.returncode == 0, result.stderr
    assert (seen.version, seen.cipher) == (protocol, suite)
    assert seen.peer_subject == "/CN=client1" and seen.peer_accepted
    assert seen.alpn is None  # 3.6.7 offers no ALPN
    bits = 0 if suite == "NULL-SHA" else 128 if "128" in suite else 256
    assert seen.details[2:4] == [f"  Protocol    : {protocol}",
                                 f"  Ciphersuite : {suite}, encryption: {bits} bits"]
    assert log.lines == []


@pytest.mark.dcmtk
def test_client_certificate_modes(pki):
    required = server_options(pki)
    log = RecordingLog()
    with OneShotAcceptor(server_context(required, log), required, log) as acceptor:
        result = dcmtk_echo(pki, acceptor.port, client=False)
        seen = acceptor.wait()
    assert result.returncode == 1
    assert seen.condition == "000b:08c7 TLS error: peer did not return a certificate"
    for mode, client, subject in (("verify", False, ""), ("verify", True, "/CN=client1"),
                                  ("ignore", True, "")):
        options = server_options(pki, peer_cert=mode)
        with OneShotAcceptor(server_context(options, log), options, log) as acceptor:
            result = dcmtk_echo(pki, acceptor.port, client=client)
            seen = acceptor.wait()
        assert result.returncode == 0, result.stderr
        assert seen.peer_subject == subject
        if not subject:
            assert seen.details[4] == ("Peer did not provide a certificate or certificate "
                                       "verification is disabled.")


@pytest.mark.dcmtk
def test_dh_parameter_file(pki, tmp_path):
    small = tmp_path / "dh1024.pem"
    subprocess.run(["/usr/bin/openssl", "genpkey", "-genparam", "-algorithm", "DH",
                    "-pkeyopt", "dh_rfc5114:1", "-out", str(small)], check=True, timeout=60)
    warning = ("W", "Key length of Diffie-Hellman parameter file too short: RFC 9325 recommends "
                    f"at least 2048 bits, but the key in file '{small}' is only 1024 bits.")
    dhe_only = ("+pa", "+cs", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256")
    for profile, expected in (
        ("bcp195", [warning]),
        # the Extended profile refuses short parameters and keeps the built-in group
        ("bcp195-ex", [warning, ("W", f"unable to load temporary DH parameter file '{small}', "
                                      "ignoring")]),
        ("bcp195", [("W", f"unable to load temporary DH parameter file '{tmp_path}', "
                          "ignoring")]),
    ):
        log = RecordingLog()
        dh_file = str(small) if expected[0] == warning else str(tmp_path)
        options = server_options(pki, profile=profile, dhparam_file=dh_file)
        context = server_context(options, log)
        assert log.lines == expected
        if profile == "bcp195":
            with OneShotAcceptor(context, options, log) as acceptor:
                assert dcmtk_echo(pki, acceptor.port, *dhe_only).returncode == 0
                assert acceptor.wait().cipher == "DHE-RSA-AES128-GCM-SHA256"


def client_options(pki: pkimod.Pki, **changes) -> TLSOptions:
    options = dict(key_file=pki.client.key, cert_file=pki.client.cert, ca_files=[pki.ca.cert])
    options.update(changes)
    return TLSOptions(**options)


def test_alpn_and_sni_between_our_sides(pki):
    server = server_options(pki, expect_sni="pacs.example")
    for requested in ("pacs.example", None):
        log = RecordingLog()
        with OneShotAcceptor(server_context(server, log), server, log) as acceptor:
            requestor = client_options(pki, sni=requested)
            name = sni_hostname(requestor, log)
            with connect(client_context(requestor, log), acceptor.port, name) as sock:
                assert sock.selected_alpn_protocol() == "dicom"
                assert echo_as_requestor(sock) == 0
            seen = acceptor.wait()
        assert seen.alpn == "dicom" and seen.version == "TLSv1.3" and log.lines == []


def test_sni_mismatch_is_fatal(pki):
    server = server_options(pki, expect_sni="pacs.example")
    log = RecordingLog()
    with OneShotAcceptor(server_context(server, log), server, log) as acceptor:
        requestor = client_options(pki, sni="other.example")
        with pytest.raises(ssl.SSLError) as caught:
            connect(client_context(requestor, RecordingLog()), acceptor.port, "other.example")
        acceptor.wait()
    assert session.tls_error_condition(caught.value) == \
        "000b:0c58 TLS error: tlsv1 unrecognized name"
    assert log.lines == [("E", "SNI failure: client requested server 'other.example', my name "
                               "is 'pacs.example'.")]


@pytest.mark.parametrize("name", ["", "x" * 300, ".leading", "a..b"])
def test_unusable_sni_name_warns(name):
    log = RecordingLog()
    assert sni_hostname(TLSOptions(sni=name), log) is None
    assert log.lines == [("W", "Unable to set the server name for the TLS SNI extension, "
                               "ignoring.")]
    assert sni_hostname(TLSOptions(sni=None), log) is None and len(log.lines) == 1


@pytest.mark.parametrize(("profile", "negotiated"), [
    pytest.param("8996-mod", "TLS_AES_128_CCM_SHA256", marks=needs_tls13_suites),
    ("8996", None),  # OpenSSL's default TLS 1.3 list has no CCM suite
])
def test_modified_profile_offers_tls13_ccm(pki, profile, negotiated):
    options = server_options(pki, profile=profile, peer_cert="ignore")
    log = RecordingLog()
    with OneShotAcceptor(server_context(options, log), options, log) as acceptor:
        subprocess.run(
            ["/usr/bin/openssl", "s_client", "-connect", f"127.0.0.1:{acceptor.port}",
             "-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256", "-CAfile", pki.ca.cert],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        seen = acceptor.wait()
    assert seen.cipher == negotiated


@pytest.mark.dcmtk
def test_acceptor_warns_about_a_short_client_key(pki):
    weak = pkimod.issue(pki.directory, "weakclient", pki.ca, key_type="rsa1024", server=False)
    options = server_options(pki)  # +pg: only a *server* key under 2048 bits is refused
    log = RecordingLog()
    with OneShotAcceptor(server_context(options, log), options, log) as acceptor:
        result = dcmtk("+tls", weak.key, weak.cert, "+cf", pki.ca.cert, "localhost",
                       str(acceptor.port))
        seen = acceptor.wait()
    assert result.returncode == 0 and seen.peer_accepted
    assert log.lines == [("W", "RSA key length too short: RFC 9325 recommends at least 2048 "
                               "bits, but peer provided RSA certificate with 1024 bits.")]
